package cluster

import (
	"context"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// prepare copies the rendered objects and readies them for apply: every
// object gets the ownership labels, namespaced objects without a namespace
// get the destination namespace, cluster-scoped objects lose any namespace
// (so their inventory entry matches what the API server stores), and an
// invalid or duplicate object, or one opts.Permit refuses, fails the whole
// render before anything is written.
func (c *Cluster) prepare(ctx context.Context, objs []*unstructured.Unstructured, opts Options) ([]*unstructured.Unstructured, error) {
	owner := OwnerLabels(opts.App, opts.Repo)
	crdScopes := renderedCRDScopes(objs)
	seen := map[string]bool{}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for i, o := range objs {
		if o == nil {
			return nil, fmt.Errorf("object %d of the render is empty", i)
		}
		u := o.DeepCopy()
		gvk := u.GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" {
			return nil, fmt.Errorf("object %d of the render (%q) has no apiVersion or kind", i, u.GetName())
		}
		if _, isHook := hookPhases(u); isHook && u.GetName() == "" && u.GetGenerateName() != "" {
			// A fresh name per sync, as the API server would give it.
			u.SetName(generatedName(u.GetGenerateName()))
			u.SetGenerateName("")
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s object %d of the render has no metadata.name", gvk.Kind, i)
		}
		namespaced, err := c.namespaced(gvk, crdScopes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", refOf(u), err)
		}
		switch {
		case !namespaced:
			u.SetNamespace("")
		case u.GetNamespace() == "" && opts.Namespace == "":
			return nil, fmt.Errorf("%s: namespaced object without a namespace, and the app has no destination namespace", refOf(u))
		case u.GetNamespace() == "":
			u.SetNamespace(opts.Namespace)
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, owner)
		u.SetLabels(labels)

		key := refOf(u).key()
		if seen[key] {
			return nil, fmt.Errorf("%s appears twice in the render", refOf(u))
		}
		seen[key] = true
		out = append(out, u)
	}
	if opts.Permit != nil {
		var refused []Refusal
		for _, u := range out {
			if err := opts.Permit(refOf(u)); err != nil {
				refused = append(refused, Refusal{Object: refOf(u), Reason: err})
			}
		}
		if len(refused) > 0 {
			return nil, &NotPermittedError{Refusals: refused}
		}
	}
	return out, nil
}

// namespaced reports whether objects of gvk live in a namespace, asking the
// cluster, or the render's own CRDs for kinds the cluster does not serve yet.
func (c *Cluster) namespaced(gvk schema.GroupVersionKind, crdScopes map[schema.GroupKind]string) (bool, error) {
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
	if meta.IsNoMatchError(err) {
		if scope, ok := crdScopes[gvk.GroupKind()]; ok {
			return scope != "Cluster", nil
		}
		return false, fmt.Errorf("the cluster serves no %s (is its CustomResourceDefinition installed?)", gvk.GroupVersion().WithKind(gvk.Kind))
	}
	return false, fmt.Errorf("discover %s: %w", gvk, err)
}

// renderedCRDScopes maps the kinds that the render's own
// CustomResourceDefinitions define to their scope ("Namespaced" or "Cluster").
func renderedCRDScopes(objs []*unstructured.Unstructured) map[schema.GroupKind]string {
	scopes := map[schema.GroupKind]string{}
	for _, o := range objs {
		if o == nil || o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if kind != "" {
			scopes[schema.GroupKind{Group: group, Kind: kind}] = scope
		}
	}
	return scopes
}
