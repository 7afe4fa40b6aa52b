package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/ssa/jsondiff"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// IgnoreDifference is one entry of an app's ignoreDifferences (Argo CD's
// spec.ignoreDifferences): the objects it matches and the fields of them
// that drift detection never reports and self-heal never takes back.
type IgnoreDifference struct {
	// Group and Kind match the object's, "*" matching any run of
	// characters; an empty Group is the core group.
	Group, Kind string
	// Name and Namespace, when set, must equal the object's.
	Name, Namespace string
	// JSONPointers are RFC 6901 pointers to the ignored fields.
	JSONPointers []string
	// ManagedFieldsManagers ignore every field these field managers own in
	// the live object.
	ManagedFieldsManagers []string
}

// ignoreRules turns opts.IgnoreDifferences into fluxcd/pkg/ssa's drift
// ignore rules for objs: JSON pointers as they are, the fields of
// managedFieldsManagers as pointers into each matching live object.
func (c *Cluster) ignoreRules(ctx context.Context, objs []*unstructured.Unstructured, opts Options) ([]jsondiff.IgnoreRule, error) {
	var rules []jsondiff.IgnoreRule
	for _, d := range opts.IgnoreDifferences {
		for _, p := range d.JSONPointers {
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("ignoreDifferences %s: JSON pointer %q does not start with /", d.Kind, p)
			}
		}
		sel := &jsondiff.Selector{Group: globRegex(d.Group), Kind: globRegex(d.Kind), Name: exactRegex(d.Name), Namespace: exactRegex(d.Namespace)}
		if len(d.JSONPointers) > 0 {
			rules = append(rules, jsondiff.IgnoreRule{Paths: d.JSONPointers, Selector: sel})
		}
		if len(d.ManagedFieldsManagers) == 0 {
			continue
		}
		match, err := jsondiff.NewSelectorRegex(sel)
		if err != nil {
			return nil, fmt.Errorf("ignoreDifferences %s: %w", d.Kind, err)
		}
		for _, u := range objs {
			if !match.MatchUnstructured(u) {
				continue
			}
			paths, err := c.managedPaths(ctx, u, d.ManagedFieldsManagers)
			if err != nil {
				return nil, err
			}
			if len(paths) > 0 {
				rules = append(rules, jsondiff.IgnoreRule{Paths: paths, Selector: &jsondiff.Selector{
					Group: exactRegex(u.GroupVersionKind().Group), Kind: exactRegex(u.GetKind()),
					Name: exactRegex(u.GetName()), Namespace: exactRegex(u.GetNamespace()),
				}})
			}
		}
	}
	return rules, nil
}

// managedPaths returns JSON pointers to the fields managers own in the live
// object of u (none when it does not exist).
func (c *Cluster) managedPaths(ctx context.Context, u *unstructured.Unstructured, managers []string) ([]string, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(u), live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s get: %w", refOf(u), err)
	}
	var paths []string
	for _, mf := range live.GetManagedFields() {
		if !slices.Contains(managers, mf.Manager) || mf.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.GetRawBytes())); err != nil {
			return nil, fmt.Errorf("%s managed fields of %q: %w", refOf(u), mf.Manager, err)
		}
		set.Leaves().Iterate(func(p fieldpath.Path) {
			if ptr, ok := jsonPointer(live.Object, p); ok {
				paths = append(paths, ptr)
			}
		})
	}
	return paths, nil
}

// jsonPointer turns a managed-fields path into an RFC 6901 pointer into
// obj, finding list elements by their keys or values; ok is false when obj
// does not hold the path.
func jsonPointer(obj any, p fieldpath.Path) (string, bool) {
	var b strings.Builder
	cur := obj
	for _, pe := range p {
		if pe.FieldName != nil {
			m, ok := cur.(map[string]any)
			if !ok {
				return "", false
			}
			v, ok := m[*pe.FieldName]
			if !ok {
				return "", false
			}
			b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(*pe.FieldName, "~", "~0"), "/", "~1"))
			cur = v
			continue
		}
		l, ok := cur.([]any)
		if !ok {
			return "", false
		}
		i := listIndex(l, pe)
		if i < 0 || i >= len(l) {
			return "", false
		}
		b.WriteString("/" + strconv.Itoa(i))
		cur = l[i]
	}
	return b.String(), b.Len() > 0
}

// listIndex finds the element pe selects in l, -1 when none.
func listIndex(l []any, pe fieldpath.PathElement) int {
	switch {
	case pe.Index != nil:
		return *pe.Index
	case pe.Value != nil:
		want := (*pe.Value).Unstructured()
		return slices.IndexFunc(l, func(e any) bool { return sameJSON(e, want) })
	case pe.Key != nil:
		return slices.IndexFunc(l, func(e any) bool {
			m, ok := e.(map[string]any)
			if !ok {
				return false
			}
			for _, f := range *pe.Key {
				if !sameJSON(m[f.Name], f.Value.Unstructured()) {
					return false
				}
			}
			return true
		})
	}
	return -1
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// globRegex is Argo CD's glob as a regular expression: "*" matches any run
// of characters; "" matches only "" (the core group).
func globRegex(glob string) string {
	return "^" + strings.ReplaceAll(regexp.QuoteMeta(glob), `\*`, ".*") + "$"
}

// exactRegex matches s only; "" matches anything, as an unset selector
// field does.
func exactRegex(s string) string {
	if s == "" {
		return ""
	}
	return regexp.QuoteMeta(s)
}

// ignoredFields returns the check of whether a field of an object, as a
// server-side apply conflict names it (".spec.replicas"), is one rules keep
// the live value of; nil without rules. Only plain field paths are matched:
// a path through a list element is not.
func ignoredFields(rules []jsondiff.IgnoreRule) (func(*unstructured.Unstructured, string) bool, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	type compiled struct {
		sel   *jsondiff.SelectorRegex
		paths []string
	}
	var cs []compiled
	for _, r := range rules {
		sel, err := jsondiff.NewSelectorRegex(r.Selector)
		if err != nil {
			return nil, fmt.Errorf("ignoreDifferences: %w", err)
		}
		cs = append(cs, compiled{sel: sel, paths: r.Paths})
	}
	return func(u *unstructured.Unstructured, field string) bool {
		if !strings.HasPrefix(field, ".") || strings.ContainsAny(field, "[]=") {
			return false
		}
		ptr := strings.ReplaceAll(field, ".", "/")
		for _, c := range cs {
			if c.sel.MatchUnstructured(u) && slices.Contains(c.paths, ptr) {
				return true
			}
		}
		return false
	}, nil
}
