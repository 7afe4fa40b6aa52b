package cluster

import (
	"context"
	"errors"
	"regexp"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// applyClient is the client one Apply hands to fluxcd/pkg/ssa. ssa always
// applies with force (it takes every field over silently); promobot forces only
// when asked, so without force this client drops ForceOwnership from
// server-side apply patches and turns a field-manager conflict into a
// *ConflictError. That error deliberately does not unwrap to the API's 409:
// ssa treats a 409 as an immutable-field error and, when recreation is on,
// would delete and recreate the object instead of reporting the conflict.
type applyClient struct {
	client.Client
	force bool
	// ignored says which fields of an object keep their live values
	// (ignoreDifferences with RespectIgnoreDifferences): a dry run that
	// conflicts only on those is forced, since ssa then applies the live
	// value there and takes nothing from anyone (nil: none).
	ignored func(obj *unstructured.Unstructured, field string) bool

	mu        sync.Mutex
	conflicts []Conflict
}

func (c *applyClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if patch.Type() != types.ApplyPatchType || c.force {
		return c.Client.Patch(ctx, obj, patch, opts...)
	}
	kept := opts[:0:0]
	for _, o := range opts {
		if o != client.ForceOwnership {
			kept = append(kept, o)
		}
	}
	// The object is overwritten with the response on success only; keep its
	// identity for the error.
	var ref ObjectRef
	if u, ok := obj.(*unstructured.Unstructured); ok {
		ref = refOf(u)
	}
	err := c.Client.Patch(ctx, obj, patch, kept...)
	if err == nil {
		return nil
	}
	conflicts := fieldConflicts(ref, err)
	if len(conflicts) == 0 {
		return err
	}
	if u, ok := obj.(*unstructured.Unstructured); ok && isDryRun(opts) && c.onlyIgnored(u, conflicts) {
		return c.Client.Patch(ctx, obj, patch, opts...)
	}
	c.mu.Lock()
	c.conflicts = append(c.conflicts, conflicts...)
	c.mu.Unlock()
	return &ConflictError{Conflicts: conflicts}
}

// isDryRun reports whether opts make a patch a dry run.
func isDryRun(opts []client.PatchOption) bool {
	var po client.PatchOptions
	po.ApplyOptions(opts)
	return len(po.DryRun) > 0
}

// onlyIgnored reports whether every conflict is on a field of u whose live
// value is kept.
func (c *applyClient) onlyIgnored(u *unstructured.Unstructured, conflicts []Conflict) bool {
	if c.ignored == nil {
		return false
	}
	for _, cf := range conflicts {
		if !c.ignored(u, cf.Field) {
			return false
		}
	}
	return true
}

// collected returns every conflict seen by this client's patches.
func (c *applyClient) collected() []Conflict {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Conflict(nil), c.conflicts...)
}

var conflictManager = regexp.MustCompile(`conflict with "([^"]*)"`)

// fieldConflicts extracts the field-manager conflicts of a 409 apply error.
func fieldConflicts(ref ObjectRef, err error) []Conflict {
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) {
		return nil
	}
	details := status.Status().Details
	if details == nil {
		return nil
	}
	var out []Conflict
	for _, cause := range details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := cause.Message
		if m := conflictManager.FindStringSubmatch(cause.Message); m != nil {
			manager = m[1]
		}
		out = append(out, Conflict{Object: ref, Manager: manager, Field: cause.Field})
	}
	return out
}
