package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// MarkRolledOut sets the status of the apps/v1 workload kind/namespace/name
// (kind Deployment, StatefulSet, DaemonSet or ReplicaSet) to what its
// controller writes once every replica of the current generation is updated,
// ready and available, so kstatus computes Current. No controllers run in a
// test cluster; without this a workload stays InProgress forever.
//
// It is idempotent. Call it again after changing the workload's spec: the
// status names the generation it observed.
func MarkRolledOut(ctx context.Context, client kubernetes.Interface, kind, namespace, name string) error {
	apps := client.AppsV1()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		switch kind {
		case "Deployment":
			d, err := apps.Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n := replicas(d.Spec.Replicas)
			now := metav1.Now()
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: d.Generation,
				Replicas:           n,
				UpdatedReplicas:    n,
				ReadyReplicas:      n,
				AvailableReplicas:  n,
				Conditions: []appsv1.DeploymentCondition{
					{
						Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
						Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.",
						LastUpdateTime: now, LastTransitionTime: now,
					},
					{
						Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
						Reason:         "NewReplicaSetAvailable",
						Message:        fmt.Sprintf("ReplicaSet %q has successfully progressed.", name+"-1"),
						LastUpdateTime: now, LastTransitionTime: now,
					},
				},
			}
			_, err = apps.Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return err
		case "StatefulSet":
			s, err := apps.StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n := replicas(s.Spec.Replicas)
			revision := name + "-1"
			s.Status = appsv1.StatefulSetStatus{
				ObservedGeneration: s.Generation,
				Replicas:           n,
				ReadyReplicas:      n,
				CurrentReplicas:    n,
				UpdatedReplicas:    n,
				AvailableReplicas:  n,
				CurrentRevision:    revision,
				UpdateRevision:     revision,
			}
			_, err = apps.StatefulSets(namespace).UpdateStatus(ctx, s, metav1.UpdateOptions{})
			return err
		case "DaemonSet":
			ds, err := apps.DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			// One node's worth of pods: the test cluster has no nodes, so any
			// positive count is as true as another.
			const n = 1
			ds.Status = appsv1.DaemonSetStatus{
				ObservedGeneration:     ds.Generation,
				DesiredNumberScheduled: n,
				CurrentNumberScheduled: n,
				UpdatedNumberScheduled: n,
				NumberReady:            n,
				NumberAvailable:        n,
			}
			_, err = apps.DaemonSets(namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{})
			return err
		case "ReplicaSet":
			rs, err := apps.ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n := replicas(rs.Spec.Replicas)
			rs.Status = appsv1.ReplicaSetStatus{
				ObservedGeneration:   rs.Generation,
				Replicas:             n,
				FullyLabeledReplicas: n,
				ReadyReplicas:        n,
				AvailableReplicas:    n,
			}
			_, err = apps.ReplicaSets(namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
			return err
		default:
			return fmt.Errorf("kind %q is not an apps/v1 workload (Deployment, StatefulSet, DaemonSet, ReplicaSet)", kind)
		}
	})
	if err != nil {
		return fmt.Errorf("%s/%s/%s mark rolled out: %w", kind, namespace, name, err)
	}
	return nil
}

// MarkRolledOut is [MarkRolledOut] on this cluster, as its admin.
func (c *Cluster) MarkRolledOut(ctx context.Context, kind, namespace, name string) error {
	return MarkRolledOut(ctx, c.Client, kind, namespace, name)
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
