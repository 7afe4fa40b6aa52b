package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/ssa/jsondiff"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// syncRun is one Apply's way through its plan, step by step.
type syncRun struct {
	c    *Cluster
	opts Options
	plan syncPlan
	prev Inventory
	res  *Result
	// deadline bounds every wait of the apply together.
	deadline time.Time
	// ignore are the ignoreDifferences rules the apply keeps live values
	// of (RespectIgnoreDifferences).
	ignore []jsondiff.IgnoreRule
	// refused is a mass prune the guard did not do.
	refused *PruneRefusedError
	// deferred are stale objects to prune after the last wave is healthy
	// (their own PruneLast=true).
	deferred []ObjectRef
	// newNS is the namespace this apply created ("" for none): its
	// objects cannot exist yet, so they are created (createAll) without
	// ssa's read and dry run of each.
	newNS string
}

// run applies every step in order, each waiting for its objects to be
// healthy (and its hooks done) before the next; prune runs once the last
// Sync wave is applied, or once it is healthy with PruneLast. A step that
// fails stops the run, naming the step when there are several.
func (r *syncRun) run(ctx context.Context) error {
	last := r.plan.lastSyncStep()
	for i, st := range r.plan.steps {
		if err := r.apply(ctx, st); err != nil {
			return r.stepErr(st, err)
		}
		if i == last && !r.opts.SyncOptions.PruneLast {
			if err := r.prune(ctx, true); err != nil {
				return err
			}
		}
		if err := r.wait(ctx, st); err != nil {
			return r.stepErr(st, err)
		}
		if i == last {
			if err := r.pruneLast(ctx); err != nil {
				return err
			}
		}
	}
	if r.refused != nil {
		return r.refused
	}
	return nil
}

func (r *syncRun) stepErr(st syncStep, err error) error {
	if len(r.plan.steps) == 1 {
		return err
	}
	return fmt.Errorf("%s: %w", st.name(), err)
}

// apply writes st's objects: server-side apply, or replace for those with
// Replace=true; then its hooks.
func (r *syncRun) apply(ctx context.Context, st syncStep) error {
	var viaSSA, viaReplace, fresh []*unstructured.Unstructured
	for _, u := range st.resources {
		switch {
		case r.opts.SyncOptions.Replace || objectSyncOptions(u).Replace:
			viaReplace = append(viaReplace, u)
		case r.newNS != "" && u.GetNamespace() == r.newNS:
			fresh = append(fresh, u)
		default:
			viaSSA = append(viaSSA, u)
		}
	}
	if len(viaSSA) > 0 {
		if err := r.c.applyAll(ctx, viaSSA, r.opts, r.ignore, &r.res.ChangeSet); err != nil {
			return err
		}
	}
	if len(fresh) > 0 {
		if err := r.c.createAll(ctx, fresh, r.opts, &r.res.ChangeSet); err != nil {
			return err
		}
	}
	for _, u := range viaReplace {
		ch, err := r.c.replace(ctx, u, r.opts)
		if err != nil {
			return err
		}
		r.res.ChangeSet.Changes = append(r.res.ChangeSet.Changes, ch)
	}
	return r.startHooks(ctx, st)
}

// wait waits until st's objects are healthy and its hooks done, within
// what is left of the apply's HealthTimeout (no wait without one), and
// deletes its hooks by policy.
func (r *syncRun) wait(ctx context.Context, st syncStep) error {
	if r.opts.HealthTimeout <= 0 {
		return r.finishHooks(ctx, st, nil)
	}
	refs := append(refsOf(st.resources), refsOf(st.hooks)...)
	hooks := map[string]bool{}
	for _, ref := range refs[len(st.resources):] {
		hooks[ref.key()] = true
	}
	health, err := r.c.waitHealthy(ctx, refs, hooks, max(time.Until(r.deadline), 0), r.opts.HealthInterval)
	n := min(len(st.resources), len(health))
	r.res.Health = append(r.res.Health, health[:n]...)
	if herr := r.finishHooks(ctx, st, health[n:]); err == nil {
		err = herr
	}
	return err
}

// prune deletes the stale objects; with deferLast, those marked
// PruneLast=true wait for pruneLast.
func (r *syncRun) prune(ctx context.Context, deferLast bool) error {
	refused, deferred, err := r.c.pruneStale(ctx, r.prev, refsOf(r.plan.resources), r.plan.hookRefs, r.opts, r.res, deferLast)
	r.refused, r.deferred = refused, deferred
	return err
}

// pruneLast runs after the last Sync wave is healthy: the whole prune
// with the app's PruneLast, else the objects marked PruneLast=true.
func (r *syncRun) pruneLast(ctx context.Context) error {
	if r.opts.SyncOptions.PruneLast {
		return r.prune(ctx, false)
	}
	if len(r.deferred) == 0 {
		return nil
	}
	changes, kept, _, err := r.c.prune(ctx, r.deferred, r.opts, false)
	r.res.ChangeSet.Changes = append(r.res.ChangeSet.Changes, changes...)
	gone := map[string]bool{}
	for _, ref := range r.deferred {
		gone[ref.key()] = true
	}
	for _, ref := range kept {
		delete(gone, ref.key())
	}
	var inv []ObjectRef
	for _, ref := range r.res.Inventory.Objects {
		if !gone[ref.key()] {
			inv = append(inv, ref)
		}
	}
	r.res.Inventory = newInventory(inv)
	return err
}

// syncFail runs the SyncFail hooks after a failed apply, with a timeout
// of their own.
func (r *syncRun) syncFail(ctx context.Context) error {
	r.deadline = time.Now().Add(r.opts.HealthTimeout)
	for _, st := range r.plan.syncFail {
		if err := r.apply(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st.name(), err)
		}
		if err := r.wait(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st.name(), err)
		}
	}
	return nil
}
