package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/fluxcd/pkg/ssa"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LegacyFieldManager is the field manager every app applied as before each
// app got its own (FieldManagerFor). An app takes its fields over from it
// on the first apply of an object it owns by labels.
const LegacyFieldManager = "promobot"

// maxFieldManager is the API server's limit on a field manager's length.
const maxFieldManager = 128

// FieldManagerFor is the server-side apply field manager of app of repo
// ("owner/name"): "promobot/<owner>/<name>/<app>", at most 128 characters
// (a longer one is cut and ends in a hash of the whole).
func FieldManagerFor(repo, app string) string {
	m := LegacyFieldManager + "/" + repo + "/" + app
	if repo == "" {
		m = LegacyFieldManager + "/" + app
	}
	if len(m) <= maxFieldManager {
		return m
	}
	sum := sha256.Sum256([]byte(m))
	suffix := hex.EncodeToString(sum[:])[:16]
	return m[:maxFieldManager-len(suffix)-1] + "-" + suffix
}

// Owner is the app an object belongs to, read from its ownership labels.
type Owner struct {
	Object ObjectRef `json:"object"`
	App    string    `json:"app"`
	Repo   string    `json:"repo,omitempty"`
}

// OwnershipError refuses an apply that renders objects another app owns:
// nothing of the app was applied.
type OwnershipError struct {
	Owners []Owner
}

// Error reads "ConfigMap/team-b/settings belongs to app team-b of acme/b".
func (e *OwnershipError) Error() string {
	parts := make([]string, len(e.Owners))
	for i, o := range e.Owners {
		parts[i] = fmt.Sprintf("%s belongs to app %s", o.Object, o.App)
		if o.Repo != "" {
			parts[i] += " of " + o.Repo
		}
	}
	return strings.Join(parts, ", ")
}

// NotPermittedError refuses a render with objects Options.Permit does not
// allow: nothing of the app was applied.
type NotPermittedError struct {
	Refusals []Refusal
}

// Refusal is one object Options.Permit refused, and why.
type Refusal struct {
	Object ObjectRef
	Reason error
}

// Error reads "Deployment/kube-system/x: namespace kube-system is not
// allowed for acme/payments (project payments)", one refusal after another.
func (e *NotPermittedError) Error() string {
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = r.Object.String() + ": " + r.Reason.Error()
	}
	return strings.Join(parts, "; ")
}

// PruneRefusedError is an apply that would have pruned more than half of
// an app's objects (of at least MassPruneMin) without Options.AllowMassPrune.
// Everything rendered was applied; the stale objects were kept and stay in
// the inventory.
type PruneRefusedError struct {
	Stale, Total int
}

// Error says how to allow it.
func (e *PruneRefusedError) Error() string {
	return fmt.Sprintf("prune refused: would delete %d of %d objects; add a line \"promobot: allow-mass-prune\" to the commit message or set prune.allowMass in .promobot.yaml to allow it",
		e.Stale, e.Total)
}

// MassPruneMin is the smallest inventory the mass-prune guard protects:
// apps with fewer objects may prune any of them.
const MassPruneMin = 4

// massPrune reports whether pruning n of total objects is a mass prune.
func massPrune(n, total int) bool {
	return total >= MassPruneMin && 2*n > total
}

// ownerOfLabels reads the app an object belongs to from its labels, or ok
// false when no promobot app owns it. Object is left for the caller.
func ownerOfLabels(l map[string]string) (Owner, bool) {
	if l[LabelManagedBy] != ManagedByValue || l[LabelApp] == "" {
		return Owner{}, false
	}
	o := Owner{App: l[LabelApp]}
	if r := l[LabelRepo]; r != "" {
		// Logins have no dots, so the first dot was the slash.
		owner, name, _ := strings.Cut(r, ".")
		o.Repo = owner + "/" + name
	}
	return o, true
}

// claim reads the live state of every desired object before anything is
// applied. An object another app owns (by its ownership labels) refuses the
// whole apply with an *OwnershipError. An object this app owns whose fields
// the shared legacy field manager holds is handed to opts.FieldManager, so
// the first apply with an app's own manager is not a conflict with itself.
//
// Both only concern objects labelled managed-by promobot, so the live state
// is read with one metadata-only list per kind and namespace (a Get per
// object where listing is forbidden), not a request per object; objects in
// missingNS, a namespace that does not exist, are not read at all.
func (c *Cluster) claim(ctx context.Context, desired []*unstructured.Unstructured, opts Options, missingNS string) error {
	mine := OwnerLabels(opts.App, opts.Repo)
	var (
		mu     sync.Mutex
		owners []Owner
	)
	judge := func(ctx context.Context, obj *unstructured.Unstructured, live *metav1.PartialObjectMetadata) error {
		if o, ok := ownerOfLabels(live.Labels); ok && !hasLabels(live.Labels, mine) {
			o.Object = refOf(obj)
			mu.Lock()
			owners = append(owners, o)
			mu.Unlock()
			return nil
		}
		if opts.FieldManager == LegacyFieldManager || !hasLabels(live.Labels, mine) {
			return nil
		}
		return c.takeOver(ctx, obj.GroupVersionKind(), live, opts.FieldManager)
	}
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(8)
	for _, g := range byKind(desired) {
		if missingNS != "" && g.ns == missingNS {
			continue // in a namespace that does not exist: nobody's yet
		}
		eg.Go(func() error { return c.claimKind(gctx, g, judge) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if len(owners) > 0 {
		sortOwners(owners)
		return &OwnershipError{Owners: owners}
	}
	return nil
}

// kindGroup is the objects of one kind in one namespace ("": cluster-scoped).
type kindGroup struct {
	gvk  schema.GroupVersionKind
	ns   string
	objs []*unstructured.Unstructured
}

// byKind groups objs by kind and namespace, in the order each group first
// appears.
func byKind(objs []*unstructured.Unstructured) []*kindGroup {
	index := map[string]*kindGroup{}
	var out []*kindGroup
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		key := gvk.String() + "/" + o.GetNamespace()
		g, ok := index[key]
		if !ok {
			g = &kindGroup{gvk: gvk, ns: o.GetNamespace()}
			index[key] = g
			out = append(out, g)
		}
		g.objs = append(g.objs, o)
	}
	return out
}

// claimKind lists the promobot-managed objects of g's kind in its
// namespace with one request and judges each of g's objects found live;
// where listing is forbidden it reads them one by one (claimEach).
func (c *Cluster) claimKind(ctx context.Context, g *kindGroup, judge func(context.Context, *unstructured.Unstructured, *metav1.PartialObjectMetadata) error) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(g.gvk.GroupVersion().WithKind(g.gvk.Kind + "List"))
	listOpts := []client.ListOption{client.MatchingLabels{LabelManagedBy: ManagedByValue}}
	if g.ns != "" {
		listOpts = append(listOpts, client.InNamespace(g.ns))
	}
	err := c.client.List(ctx, list, listOpts...)
	switch {
	case meta.IsNoMatchError(err), apierrors.IsNotFound(err):
		return nil // the kind is not served yet: nobody has these objects
	case apierrors.IsForbidden(err):
		return c.claimEach(ctx, g.objs, judge)
	case err != nil:
		return fmt.Errorf("%s list in %q: %w", g.gvk.Kind, g.ns, err)
	}
	live := make(map[string]*metav1.PartialObjectMetadata, len(list.Items))
	for i := range list.Items {
		live[list.Items[i].Name] = &list.Items[i]
	}
	for _, obj := range g.objs {
		if l, ok := live[obj.GetName()]; ok {
			if err := judge(ctx, obj, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimEach reads objs one by one (where the applier may get but not list
// them, e.g. the Namespaces a namespaced-scope install may patch).
func (c *Cluster) claimEach(ctx context.Context, objs []*unstructured.Unstructured, judge func(context.Context, *unstructured.Unstructured, *metav1.PartialObjectMetadata) error) error {
	for _, obj := range objs {
		live := &metav1.PartialObjectMetadata{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		err := c.client.Get(ctx, client.ObjectKeyFromObject(obj), live)
		switch {
		case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
			continue
		case err != nil:
			return fmt.Errorf("%s get: %w", refOf(obj), err)
		}
		if err := judge(ctx, obj, live); err != nil {
			return err
		}
	}
	return nil
}

// takeOver renames the legacy manager's Apply entry of live to manager (or
// merges it into manager's), with a JSON patch guarded by the object's
// resourceVersion.
func (c *Cluster) takeOver(ctx context.Context, gvk schema.GroupVersionKind, live *metav1.PartialObjectMetadata, manager string) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(live.Namespace)
	u.SetName(live.Name)
	u.SetManagedFields(live.ManagedFields)
	ref := refOf(u)
	patches, err := ssa.PatchReplaceFieldsManagers(u, []ssa.FieldManager{{Name: LegacyFieldManager, ExactMatch: true, OperationType: metav1.ManagedFieldsOperationApply}}, manager)
	if err != nil {
		return fmt.Errorf("%s take over from field manager %q: %w", ref, LegacyFieldManager, err)
	}
	if len(patches) == 0 {
		return nil
	}
	ops := []any{map[string]string{"op": "test", "path": "/metadata/resourceVersion", "value": live.ResourceVersion}}
	for _, p := range patches {
		ops = append(ops, p)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	if err := c.client.Patch(ctx, u, client.RawPatch(types.JSONPatchType, raw)); err != nil {
		return fmt.Errorf("%s take over from field manager %q: %w", ref, LegacyFieldManager, err)
	}
	return nil
}

func sortOwners(owners []Owner) {
	for i := 1; i < len(owners); i++ {
		for j := i; j > 0 && owners[j].Object.String() < owners[j-1].Object.String(); j-- {
			owners[j], owners[j-1] = owners[j-1], owners[j]
		}
	}
}
