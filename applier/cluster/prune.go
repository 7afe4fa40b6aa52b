package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// prune deletes the stale objects that carry this app's ownership labels,
// Namespaces and CRDs last and only when opted in, with the app's
// PrunePropagationPolicy. Objects it leaves alone on purpose are reported
// as Skipped and forgotten, except those marked Prune=false: they are
// reported as requiring pruning (unless compare-options IgnoreExtraneous
// says not to) and kept in the inventory, as are objects
// it failed to delete, to be tried again by the next apply. With deferLast,
// objects marked PruneLast=true are not deleted but returned in deferred.
func (c *Cluster) prune(ctx context.Context, stale []ObjectRef, opts Options, deferLast bool) (changes []Change, kept, deferred []ObjectRef, err error) {
	slices.SortStableFunc(stale, func(a, b ObjectRef) int {
		return cmp.Or(cmp.Compare(pruneRank(a), pruneRank(b)), cmp.Compare(a.String(), b.String()))
	})
	owner := OwnerLabels(opts.App, opts.Repo)
	var errs []error
	for _, ref := range stale {
		skip := func(reason string) {
			changes = append(changes, Change{Subject: ref.String(), Object: ref, Action: Skipped, Reason: reason})
		}
		switch {
		case isNamespace(ref) && !opts.PruneNamespaces:
			skip("namespaces are pruned only when opted in")
			continue
		case isCRD(ref) && !opts.PruneCRDs:
			skip("CustomResourceDefinitions are pruned only when opted in")
			continue
		}

		gvk, served, err := c.servedGVK(ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s prune: %w", ref, err))
			kept = append(kept, ref)
			continue
		}
		if !served {
			continue // the kind is gone, and with it the object
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live); err != nil {
			if apierrors.IsNotFound(err) {
				continue // already gone
			}
			errs = append(errs, fmt.Errorf("%s prune: %w", ref, err))
			kept = append(kept, ref)
			continue
		}
		if !hasLabels(live.GetLabels(), owner) {
			skip(fmt.Sprintf("not labelled as promobot's for app %q", opts.App))
			continue
		}
		if so := objectSyncOptions(live); so.NoPrune {
			// IgnoreExtraneous: Argo CD does not count it as out of sync.
			if !ignoresExtraneous(live) {
				skip("Prune=false: requires pruning")
			}
			kept = append(kept, ref)
			continue
		} else if deferLast && so.PruneLast {
			deferred = append(deferred, ref)
			continue
		}
		if live.GetDeletionTimestamp() == nil {
			uid := live.GetUID()
			propagation := opts.SyncOptions.PrunePropagationPolicy
			if propagation == "" {
				propagation = metav1.DeletePropagationBackground
			}
			err := c.client.Delete(ctx, live,
				client.PropagationPolicy(propagation),
				client.Preconditions{UID: &uid})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("%s prune: %w", ref, err))
				kept = append(kept, ref)
				continue
			}
		}
		changes = append(changes, Change{Subject: ref.String(), Object: ref, Action: Deleted})
	}
	return changes, kept, deferred, errors.Join(errs...)
}

// servedGVK returns the version to read ref with: its own if still served,
// else the cluster's preferred version of its kind. served is false when the
// cluster no longer serves the kind at all.
func (c *Cluster) servedGVK(ref ObjectRef) (gvk schema.GroupVersionKind, served bool, err error) {
	mapping, err := c.mapper.RESTMapping(ref.GroupKind(), ref.Version)
	if meta.IsNoMatchError(err) {
		mapping, err = c.mapper.RESTMapping(ref.GroupKind())
	}
	if meta.IsNoMatchError(err) {
		return schema.GroupVersionKind{}, false, nil
	}
	if err != nil {
		return schema.GroupVersionKind{}, false, err
	}
	return mapping.GroupVersionKind, true, nil
}

// pruneRank orders deletions: ordinary objects, then Namespaces, then CRDs.
func pruneRank(r ObjectRef) int {
	switch {
	case isCRD(r):
		return 2
	case isNamespace(r):
		return 1
	default:
		return 0
	}
}

func isNamespace(r ObjectRef) bool { return r.Group == "" && r.Kind == "Namespace" }

func isCRD(r ObjectRef) bool {
	return r.Group == "apiextensions.k8s.io" && r.Kind == "CustomResourceDefinition"
}

func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}
