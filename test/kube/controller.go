package kube

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// RollOut stands in for the workload controllers a test cluster lacks:
// until ctx ends it polls every interval and marks each Deployment and
// StatefulSet whose status lags its generation as rolled out (see
// MarkRolledOut), as a healthy cluster would shortly after an apply. It
// returns when ctx ends.
func RollOut(ctx context.Context, client kubernetes.Interface, interval time.Duration) {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		deps, err := client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, d := range deps.Items {
				if d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != replicas(d.Spec.Replicas) {
					_ = MarkRolledOut(ctx, client, "Deployment", d.Namespace, d.Name)
				}
			}
		}
		sts, err := client.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, s := range sts.Items {
				if s.Status.ObservedGeneration != s.Generation {
					_ = MarkRolledOut(ctx, client, "StatefulSet", s.Namespace, s.Name)
				}
			}
		}
	}
}
