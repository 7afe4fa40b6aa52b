package kube

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// CompleteJob sets the status of Job namespace/name to what the Job
// controller writes when every pod it needed succeeded (conditions
// SuccessCriteriaMet and Complete), so kstatus computes Current. No
// controllers run in a test cluster; without this a Job runs forever.
func CompleteJob(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	return finishJob(ctx, client, namespace, name, true)
}

// FailJob sets the status of Job namespace/name to what the Job controller
// writes when it gave up (conditions FailureTarget and Failed, reason
// BackoffLimitExceeded), so kstatus computes Failed.
func FailJob(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	return finishJob(ctx, client, namespace, name, false)
}

// CompleteJob is [CompleteJob] on this cluster, as its admin.
func (c *Cluster) CompleteJob(ctx context.Context, namespace, name string) error {
	return CompleteJob(ctx, c.Client, namespace, name)
}

// FailJob is [FailJob] on this cluster, as its admin.
func (c *Cluster) FailJob(ctx context.Context, namespace, name string) error {
	return FailJob(ctx, c.Client, namespace, name)
}

func finishJob(ctx context.Context, client kubernetes.Interface, namespace, name string, succeeded bool) error {
	jobs := client.BatchV1().Jobs(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		start := j.CreationTimestamp
		cond := func(t batchv1.JobConditionType, reason string) batchv1.JobCondition {
			return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, LastProbeTime: now, LastTransitionTime: now}
		}
		j.Status = batchv1.JobStatus{StartTime: &start}
		zero := int32(0)
		j.Status.Ready = &zero
		j.Status.Terminating = &zero
		if succeeded {
			j.Status.Succeeded = completions(j.Spec.Completions)
			j.Status.CompletionTime = &now
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"), cond(batchv1.JobComplete, "CompletionsReached")}
		} else {
			j.Status.Failed = 1
			if j.Spec.BackoffLimit != nil {
				j.Status.Failed = *j.Spec.BackoffLimit + 1
			}
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded"), cond(batchv1.JobFailed, "BackoffLimitExceeded")}
		}
		_, err = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("Job/%s/%s finish: %w", namespace, name, err)
	}
	return nil
}

func completions(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
