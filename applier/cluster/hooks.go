package cluster

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// HookRun is what one hook did in one apply.
type HookRun struct {
	Object ObjectRef `json:"object"`
	// Phase is the sync phase it ran in: PreSync, Sync, PostSync or
	// SyncFail.
	Phase string `json:"phase"`
	// Status is its kstatus when the apply stopped waiting: Current (a Job
	// that completed), Failed, InProgress (still running at the timeout);
	// empty when the apply does not wait (Options.HealthTimeout zero).
	Status string `json:"status,omitempty"`
	// Deleted says its delete policy deleted it after it ran.
	Deleted bool `json:"deleted,omitempty"`
}

// startHooks creates the hooks of st: a hook whose delete policy is
// BeforeHookCreation (the default) and that is left from an earlier apply
// is deleted first, and gone, before it is created again.
func (r *syncRun) startHooks(ctx context.Context, st syncStep) error {
	if len(st.hooks) == 0 {
		return nil
	}
	until := r.deadline
	if r.opts.HealthTimeout <= 0 {
		until = time.Now().Add(30 * time.Second)
	}
	for _, h := range st.hooks {
		if hookDeletePolicies(h)[BeforeHookCreation] {
			if _, err := r.c.deleteHook(ctx, h, r.opts, until); err != nil {
				return err
			}
		}
	}
	// A hook's run is in Result.Hooks; the change set is the app's own
	// objects, so a sync that only ran hooks changed nothing of the app.
	var runs ChangeSet
	return r.c.applyAll(ctx, st.hooks, r.opts, nil, &runs)
}

// finishHooks records how st's hooks ended (health holds their kstatus, in
// order) and deletes those whose policy asks for it: HookSucceeded when
// one completed, HookFailed when one failed.
func (r *syncRun) finishHooks(ctx context.Context, st syncStep, health []ObjectHealth) error {
	var errs []error
	for i, h := range st.hooks {
		run := HookRun{Object: refOf(h), Phase: st.phase}
		if i < len(health) {
			run.Status = health[i].Status
		}
		pol := hookDeletePolicies(h)
		if (run.Status == status.CurrentStatus.String() && pol[HookSucceeded]) || (run.Status == status.FailedStatus.String() && pol[HookFailed]) {
			deleted, err := r.c.deleteHook(ctx, h, r.opts, time.Time{})
			run.Deleted = deleted
			if err != nil {
				errs = append(errs, err)
			}
		}
		r.res.Hooks = append(r.res.Hooks, run)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", st.name(), errs[0])
	}
	return nil
}

// deleteHook deletes the live object of hook u, when there is one and it is
// this app's, and waits until it is gone unless until is zero. An object of
// that name that is not this app's is an error: promobot deletes only what
// it applied.
func (c *Cluster) deleteHook(ctx context.Context, u *unstructured.Unstructured, opts Options, until time.Time) (bool, error) {
	ref := refOf(u)
	get := func() (*unstructured.Unstructured, error) {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		return live, c.client.Get(ctx, client.ObjectKeyFromObject(u), live)
	}
	live, err := get()
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s hook get: %w", ref, err)
	}
	if !hasLabels(live.GetLabels(), OwnerLabels(opts.App, opts.Repo)) {
		return false, fmt.Errorf("%s hook: an object of this name exists that is not app %s's; promobot does not delete it", ref, opts.App)
	}
	if live.GetDeletionTimestamp() == nil {
		uid := live.GetUID()
		err := c.client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("%s hook delete: %w", ref, err)
		}
	}
	if until.IsZero() {
		return true, nil
	}
	wait := 50 * time.Millisecond
	for {
		if _, err := get(); apierrors.IsNotFound(err) {
			return true, nil
		} else if err != nil {
			return true, fmt.Errorf("%s hook get: %w", ref, err)
		}
		remaining := time.Until(until)
		if remaining <= 0 {
			return true, fmt.Errorf("%s hook: still being deleted; it is created again once gone", ref)
		}
		timer := time.NewTimer(min(wait, remaining))
		select {
		case <-ctx.Done():
			timer.Stop()
			return true, fmt.Errorf("%s hook delete: %w", ref, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, time.Second)
	}
}
