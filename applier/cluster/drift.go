package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Drift is one rendered object whose live state differs from what applying
// the render would produce.
type Drift struct {
	Object ObjectRef `json:"object"`
	// Missing is true when the object does not exist in the cluster.
	Missing bool `json:"missing,omitempty"`
	// Fields lists the differing field paths (e.g. ".spec.replicas"), at most
	// maxDriftFields of them. Never values: they may be Secret data.
	Fields []string `json:"fields,omitempty"`
}

// String formats the drift as "Deployment/ns/api: .spec.replicas" or
// "Deployment/ns/api: missing".
func (d Drift) String() string {
	if d.Missing {
		return d.Object.String() + ": missing"
	}
	return fmt.Sprintf("%s: %v", d.Object, d.Fields)
}

const maxDriftFields = 20

// Drift compares the live objects with objs, the app's render, by a
// server-side apply dry run of each object (what Apply with Force would
// produce) and returns the objects that would change, in render order.
// Fields opts.IgnoreDifferences names are never drift, and hooks are not
// compared. It writes nothing; objects the render no longer has are not
// its concern (prune is), so every such object is ignored as Argo CD's
// IgnoreExtraneous would. An empty result means no drift.
func (c *Cluster) Drift(ctx context.Context, objs []*unstructured.Unstructured, opts Options) ([]Drift, error) {
	opts = opts.withDefaults()
	if opts.App == "" {
		return nil, errors.New("drift: app name is required")
	}
	prepared, err := c.prepare(ctx, objs, opts)
	if err != nil {
		return nil, err
	}
	// Hooks run in a sync; they are not the app's state.
	desired := planSync(prepared).resources
	ignore, err := c.ignoreRules(ctx, desired, opts)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	m, _ := c.manager(opts, true)
	found := make([]*Drift, len(desired))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, obj := range desired {
		g.Go(func() error {
			d, err := diffOne(gctx, m, obj, ignore)
			if err != nil {
				return fmt.Errorf("drift: %w", err)
			}
			found[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Drift
	for _, d := range found {
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

func diffOne(ctx context.Context, m *ssa.ResourceManager, obj *unstructured.Unstructured, ignore []jsondiff.IgnoreRule) (*Drift, error) {
	ref := refOf(obj)
	entry, live, merged, err := m.Diff(ctx, obj, ssa.DiffOptions{DriftIgnoreRules: ignore})
	if err != nil {
		if apierrors.IsNotFound(err) {
			// The object's namespace is gone too.
			return &Drift{Object: ref, Missing: true}, nil
		}
		return nil, err
	}
	switch entry.Action {
	case ssa.CreatedAction:
		return &Drift{Object: ref, Missing: true}, nil
	case ssa.ConfiguredAction:
		fields := changedFields(driftView(live), driftView(merged))
		return &Drift{Object: ref, Fields: fields}, nil
	default:
		return nil, nil
	}
}

// driftView keeps what a drift can be about: the labels, annotations and
// everything outside metadata and status.
func driftView(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range u.Object {
		if k != "metadata" && k != "status" {
			out[k] = v
		}
	}
	meta := map[string]any{}
	if l := u.GetLabels(); len(l) > 0 {
		meta["labels"] = toAny(l)
	}
	if a := u.GetAnnotations(); len(a) > 0 {
		meta["annotations"] = toAny(a)
	}
	if len(meta) > 0 {
		out["metadata"] = meta
	}
	return out
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// changedFields lists the paths where a and b differ, sorted, at most
// maxDriftFields (the last entry then says how many more there were).
func changedFields(a, b map[string]any) []string {
	var paths []string
	walkDiff("", a, b, &paths)
	sort.Strings(paths)
	if len(paths) > maxDriftFields {
		more := len(paths) - maxDriftFields + 1
		paths = append(slices.Clip(paths[:maxDriftFields-1]), fmt.Sprintf("(%d more)", more))
	}
	return paths
}

func walkDiff(path string, a, b any, out *[]string) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			walkDiff(path+"."+k, am[k], bm[k], out)
		}
		return
	}
	as, aIsSlice := a.([]any)
	bs, bIsSlice := b.([]any)
	if aIsSlice && bIsSlice && len(as) == len(bs) {
		for i := range as {
			walkDiff(path+"["+strconv.Itoa(i)+"]", as[i], bs[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		if path == "" {
			path = "."
		}
		*out = append(*out, path)
	}
}
