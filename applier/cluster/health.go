package cluster

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ObjectHealth is one object's kstatus.
type ObjectHealth struct {
	Object ObjectRef `json:"object"`
	// Status is the kstatus status: Current, InProgress, Failed,
	// Terminating, NotFound or Unknown.
	Status string `json:"status"`
	// Message is kstatus's explanation, e.g. "Updated: 0/2".
	Message string `json:"message,omitempty"`
}

// String formats the health as "Deployment/ns/api InProgress (Updated: 0/2)".
func (h ObjectHealth) String() string {
	if h.Message == "" {
		return h.Object.String() + " " + h.Status
	}
	return fmt.Sprintf("%s %s (%s)", h.Object, h.Status, h.Message)
}

// waitHealthy polls the objects until every one is Current, one has Failed
// and the rest are Current or Failed, or timeout passes. The objects whose
// keys hooks holds are hooks: a hook Pod is Current only once it succeeded. The last poll happens
// at the deadline, so an object that gets healthy just in time counts.
//
// Polls start 50 ms apart and back off to interval, so a rollout that
// completes at once is seen at once; objects already Current are not read
// again.
func (c *Cluster) waitHealthy(ctx context.Context, refs []ObjectRef, hooks map[string]bool, timeout, interval time.Duration) ([]ObjectHealth, error) {
	deadline := time.Now().Add(timeout)
	health := make([]ObjectHealth, len(refs))
	pending := make([]int, len(refs))
	for i := range refs {
		pending[i] = i
	}
	wait := 50 * time.Millisecond
	for {
		polled := make([]ObjectRef, len(pending))
		for j, i := range pending {
			polled[j] = refs[i]
		}
		got, err := c.health(ctx, polled, hooks)
		for j, i := range pending {
			if j < len(got) && got[j].Object.Name != "" {
				health[i] = got[j]
			}
		}
		if err != nil {
			return health, fmt.Errorf("health: %w", err)
		}
		var unhealthy []ObjectHealth
		var still []int
		failed, settled := false, true
		for _, i := range pending {
			h := health[i]
			switch h.Status {
			case status.CurrentStatus.String():
			case status.FailedStatus.String():
				failed = true
				unhealthy = append(unhealthy, h)
				still = append(still, i)
			default:
				settled = false
				unhealthy = append(unhealthy, h)
				still = append(still, i)
			}
		}
		pending = still
		if len(unhealthy) == 0 {
			return health, nil
		}
		if failed && settled {
			return health, &HealthError{Unhealthy: unhealthy}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return health, &HealthError{TimedOut: true, Unhealthy: unhealthy}
		}
		timer := time.NewTimer(min(wait, interval, remaining))
		select {
		case <-ctx.Done():
			timer.Stop()
			return health, fmt.Errorf("health: %w", ctx.Err())
		case <-timer.C:
		}
		wait *= 2
	}
}

// alwaysCurrent are kinds without a status: kstatus reports them Current as
// soon as they exist, and the apply that just succeeded says they do, so
// they are not read back.
var alwaysCurrent = map[string]bool{
	"/ConfigMap": true, "/Secret": true, "/ServiceAccount": true,
	"rbac.authorization.k8s.io/Role": true, "rbac.authorization.k8s.io/RoleBinding": true,
	"rbac.authorization.k8s.io/ClusterRole": true, "rbac.authorization.k8s.io/ClusterRoleBinding": true,
}

// health computes every object's status once (hooks: see hookPodStatus).
func (c *Cluster) health(ctx context.Context, refs []ObjectRef, hooks map[string]bool) ([]ObjectHealth, error) {
	out := make([]ObjectHealth, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, ref := range refs {
		if alwaysCurrent[ref.Group+"/"+ref.Kind] {
			out[i] = ObjectHealth{Object: ref, Status: status.CurrentStatus.String(), Message: "Resource is always ready"}
			continue
		}
		g.Go(func() error {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(ref.GroupKind().WithVersion(ref.Version))
			err := c.client.Get(gctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
			if apierrors.IsNotFound(err) {
				out[i] = ObjectHealth{Object: ref, Status: status.NotFoundStatus.String(), Message: "not found"}
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s get: %w", ref, err)
			}
			res, err := status.Compute(u)
			if err != nil {
				return fmt.Errorf("%s kstatus: %w", ref, err)
			}
			out[i] = ObjectHealth{Object: ref, Status: res.Status.String(), Message: res.Message}
			if hooks[ref.key()] && ref.Group == "" && ref.Kind == "Pod" {
				out[i] = hookPodStatus(ref, u)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// hookPodStatus is a hook Pod's status as Argo CD judges hooks: done when
// it succeeded, failed when it failed, running (not done) otherwise, even
// when ready.
func hookPodStatus(ref ObjectRef, u *unstructured.Unstructured) ObjectHealth {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	switch phase {
	case "Succeeded":
		return ObjectHealth{Object: ref, Status: status.CurrentStatus.String(), Message: "hook Pod succeeded"}
	case "Failed":
		return ObjectHealth{Object: ref, Status: status.FailedStatus.String(), Message: "hook Pod failed"}
	default:
		return ObjectHealth{Object: ref, Status: status.InProgressStatus.String(), Message: "hook Pod has not finished"}
	}
}
