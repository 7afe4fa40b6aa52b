// Package cluster brings one Kubernetes cluster to exactly what an app
// renders: server-side apply (a field manager per app) through
// github.com/fluxcd/pkg/ssa, namespaces and CRDs first, ownership labels on
// every object, an inventory per app for safe pruning, health with kstatus,
// and drift detection for self-heal.
//
// It knows nothing of GitHub or repositories: the caller renders the app,
// keeps the inventory between applies and reports the result.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Options configure one Apply or Drift of one app.
type Options struct {
	// App names the app; it goes into the ownership labels. Required.
	App string
	// Repo is the app's repository as "owner/name"; it goes into the
	// ownership labels so two repositories' apps of the same name never
	// prune each other's objects.
	Repo string
	// Namespace is the app's destination namespace, given to namespaced
	// objects that name none.
	Namespace string
	// CreateNamespace creates Namespace when it does not exist (Argo CD's
	// CreateNamespace=true). Such a namespace is never pruned.
	CreateNamespace bool
	// Prune deletes objects of the previous inventory that the render no
	// longer has and that carry this app's ownership labels.
	Prune bool
	// PruneNamespaces lets prune delete Namespaces (and everything in them).
	PruneNamespaces bool
	// PruneCRDs lets prune delete CustomResourceDefinitions (and every
	// custom resource of them).
	PruneCRDs bool
	// Force takes over fields that other field managers own instead of
	// failing with a *ConflictError (kubectl's --force-conflicts). Self-heal
	// needs it to revert manual edits.
	Force bool
	// Recreate deletes and recreates an object whose change the API server
	// refuses as immutable (e.g. a Deployment's selector).
	Recreate bool
	// FieldManager is the server-side apply field manager. Default
	// FieldManagerFor(Repo, App), so apps never share field ownership.
	FieldManager string
	// Permit, when set, decides whether the app may apply an object (its
	// namespace filled in; "" for cluster-scoped objects). Every object of
	// the render is checked before anything is applied; any refusal fails
	// the whole apply with a *NotPermittedError.
	Permit func(ObjectRef) error
	// AllowMassPrune lets prune delete more than half of the app's objects
	// (see MassPruneMin); without it such a prune is refused with a
	// *PruneRefusedError after the render was applied.
	AllowMassPrune bool
	// HealthTimeout bounds the wait for every applied object to become
	// healthy (kstatus Current), all waves and hooks of one apply
	// together. Zero skips every wait: waves apply one after the other at
	// once, and hooks are created but not awaited (so HookSucceeded and
	// HookFailed delete nothing).
	HealthTimeout time.Duration
	// HealthInterval is how often health is polled. Default 500ms.
	HealthInterval time.Duration
	// SyncOptions are the app's Argo CD sync options
	// (spec.syncPolicy.syncOptions); an object's AnnotationSyncOptions add
	// Replace, PruneLast and Prune=false for that object.
	SyncOptions SyncOptions
	// IgnoreDifferences are fields Drift never reports. Apply keeps their
	// live values when SyncOptions.RespectIgnoreDifferences is set (the
	// applier sets it for self-heal) and overwrites them otherwise, as an
	// Argo CD sync does.
	IgnoreDifferences []IgnoreDifference
}

func (o Options) withDefaults() Options {
	if o.FieldManager == "" {
		o.FieldManager = FieldManagerFor(o.Repo, o.App)
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 500 * time.Millisecond
	}
	return o
}

// Result is what one Apply did.
type Result struct {
	// ChangeSet has one change per rendered object and per pruned or
	// prune-skipped object.
	ChangeSet ChangeSet `json:"changeSet"`
	// Inventory is what the caller stores and passes to the next Apply: the
	// rendered objects, plus objects the render dropped that were left in
	// the cluster because prune is off or failed, so a later prune still
	// finds them.
	Inventory Inventory `json:"inventory"`
	// Health is each applied object's kstatus after the wait (empty when
	// HealthTimeout is zero).
	Health []ObjectHealth `json:"health,omitempty"`
	// PruneSkipped says why prune did not run although Options.Prune was set.
	PruneSkipped string `json:"pruneSkipped,omitempty"`
	// Hooks are the hooks the apply ran, in the order it ran them.
	Hooks []HookRun `json:"hooks,omitempty"`
}

// Cluster applies apps to one Kubernetes cluster. It is safe for concurrent
// use; applies of the same app must not run concurrently (the caller
// serializes them, since the inventory is theirs).
type Cluster struct {
	client client.Client
	mapper meta.RESTMapper
	poller *polling.StatusPoller
}

// New connects to the cluster cfg describes. Discovery is lazy: New makes no
// request. Without a client-side rate limit in cfg (QPS 0), it allows 50
// requests/s with bursts of 100 instead of client-go's 5.
func New(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS = 50
		cfg.Burst = 100
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s http client: %w", cfg.Host, err)
	}
	return newWithHTTPClient(cfg, httpClient)
}

func newWithHTTPClient(cfg *rest.Config, httpClient *http.Client) (*Cluster, error) {
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("cluster %s rest mapper: %w", cfg.Host, err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("cluster %s client: %w", cfg.Host, err)
	}
	return &Cluster{
		client: c,
		mapper: mapper,
		poller: polling.NewStatusPoller(c, mapper, polling.Options{}),
	}, nil
}

// manager returns an ssa resource manager applying as opts.FieldManager,
// forcing field ownership only when opts.Force is set.
func (c *Cluster) manager(opts Options, force bool) (*ssa.ResourceManager, *applyClient) {
	ac := &applyClient{Client: c.client, force: force}
	m := ssa.NewResourceManager(ac, c.poller, ssa.Owner{Field: opts.FieldManager, Group: "promobot.dev"})
	m.SetConcurrency(8)
	return m, ac
}

// Apply brings the cluster to exactly objs, the rendered objects of one app:
// it server-side applies them (namespaces and CRDs first, then the rest),
// writing only objects that differ from the cluster; prunes what prev has
// and objs no longer has (when opts.Prune); and waits for health (when
// opts.HealthTimeout is set). objs are not modified.
//
// It syncs as Argo CD does: PreSync hooks, then the objects wave by wave
// (AnnotationSyncWave, lowest first) with the Sync hooks, each wave healthy
// before the next, then PostSync hooks; SyncFail hooks when that failed.
// Every wait shares opts.HealthTimeout; a step that is not healthy in time
// fails the apply with an error naming the step ("sync wave 1: health:
// …"). Hooks (AnnotationHook, or Helm's hooks as Argo CD maps them) are
// never in the inventory and never pruned; they are deleted by their delete
// policy. Prune runs once the last wave is applied, or once it is healthy
// with PruneLast.
//
// Re-applying an unchanged render makes no write request. On a conflict with
// another field manager nothing is written and the error is a
// *ConflictError; an unhealthy result is a *HealthError with the Result
// filled in. Objects another app owns refuse the apply with an
// *OwnershipError, objects opts.Permit refuses with a *NotPermittedError,
// before anything is written. A prune of more than half of the app's
// objects needs opts.AllowMassPrune, else the stale objects are kept and the
// error is a *PruneRefusedError. Nothing is pruned when objs is empty or
// anything failed. Store
// Result.Inventory after every call, failed or not: on failure it still lists
// every object the app may have in the cluster.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, prev Inventory, opts Options) (Result, error) {
	opts = opts.withDefaults()
	if opts.App == "" {
		return Result{Inventory: prev}, errors.New("apply: app name is required")
	}
	desired, err := c.prepare(ctx, objs, opts)
	if err != nil {
		return Result{Inventory: prev}, err
	}
	// The namespace CreateNamespace would create is read once: while it
	// does not exist, nothing in it can belong to anyone, so its objects
	// need no claim, and it is created without another read.
	missingNS, err := c.missingNamespace(ctx, desired, opts)
	if err != nil {
		return Result{Inventory: prev}, err
	}
	if err := c.claim(ctx, desired, opts, missingNS); err != nil {
		return Result{Inventory: prev}, err
	}
	var res Result
	if missingNS != "" {
		if err := c.createNamespace(ctx, opts.Namespace, &res.ChangeSet); err != nil {
			return Result{Inventory: prev}, err
		}
	}
	plan := planSync(desired)
	if len(plan.resources) == 0 {
		res.Inventory = prev
		if opts.Prune {
			res.PruneSkipped = "the render is empty"
		}
		return res, nil
	}
	// Until prune says otherwise the inventory is the previous one plus
	// whatever may now exist: a failed apply must not make a later prune
	// forget objects.
	res.Inventory = newInventory(append(append([]ObjectRef(nil), prev.Objects...), refsOf(plan.resources)...))
	run := &syncRun{c: c, opts: opts, plan: plan, prev: prev, res: &res, deadline: time.Now().Add(opts.HealthTimeout), newNS: missingNS}
	if opts.SyncOptions.RespectIgnoreDifferences && len(opts.IgnoreDifferences) > 0 {
		if run.ignore, err = c.ignoreRules(ctx, plan.resources, opts); err != nil {
			return res, err
		}
	}
	err = run.run(ctx)
	var refused *PruneRefusedError
	if err != nil && !errors.As(err, &refused) {
		if ferr := run.syncFail(ctx); ferr != nil {
			err = fmt.Errorf("%w; %w", err, ferr)
		}
	}
	return res, err
}

// missingNamespace returns opts.Namespace when opts.CreateNamespace asks
// for it, the render does not have it and the cluster does not either;
// "" otherwise.
func (c *Cluster) missingNamespace(ctx context.Context, desired []*unstructured.Unstructured, opts Options) (string, error) {
	if !opts.CreateNamespace || opts.Namespace == "" || rendersNamespace(desired, opts.Namespace) {
		return "", nil
	}
	err := c.client.Get(ctx, client.ObjectKey{Name: opts.Namespace}, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}})
	switch {
	case err == nil:
		return "", nil
	case apierrors.IsNotFound(err):
		return opts.Namespace, nil
	}
	return "", fmt.Errorf("Namespace/%s get: %w", opts.Namespace, err)
}

// createNamespace creates the namespace name (missingNamespace found it
// missing) and notes the creation in cs. It is labelled managed-by
// promobot but not with an app, so no app's prune ever deletes it; one
// created since it was read is left as it is.
func (c *Cluster) createNamespace(ctx context.Context, name string, cs *ChangeSet) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{LabelManagedBy: ManagedByValue},
	}}
	err := c.client.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Namespace/%s create: %w", name, err)
	}
	cs.Changes = append(cs.Changes, Change{
		Subject: "Namespace/" + name,
		Object:  ObjectRef{Version: "v1", Kind: "Namespace", Name: name},
		Action:  Created,
	})
	return nil
}

// applyAll server-side applies desired through ssa in stages (namespaces
// and CRDs first, then the rest), writing only objects that differ from
// the cluster, and adds what it did to cs. Fields ignore names keep their
// live values. A conflict with another field manager is a *ConflictError.
func (c *Cluster) applyAll(ctx context.Context, desired []*unstructured.Unstructured, opts Options, ignore []jsondiff.IgnoreRule, cs *ChangeSet) error {
	m, ac := c.manager(opts, opts.Force)
	if ignored, err := ignoredFields(ignore); err != nil {
		return err
	} else if ignored != nil {
		ac.ignored = ignored
	}
	applyOpts := ssa.DefaultApplyOptions()
	applyOpts.Force = opts.Recreate
	applyOpts.DriftIgnoreRules = ignore
	applyOpts.WaitInterval = 500 * time.Millisecond
	applyOpts.WaitTimeout = 2 * time.Minute
	set, err := m.ApplyAllStaged(ctx, desired, applyOpts)
	if set != nil {
		cs.Changes = append(cs.Changes, fromSSA(set.Entries)...)
	}
	if err != nil {
		if conflicts := ac.collected(); len(conflicts) > 0 {
			return &ConflictError{Conflicts: conflicts}
		}
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// createAll server-side applies objs, every one in a namespace this apply
// just created, so none exists yet: one request each, as kubectl makes,
// where ssa would first read and dry-run each (to find what changed: here
// everything is created). objs are applied as ssa applies them (its order,
// opts.FieldManager, ownership forced only with opts.Force) and noted
// created.
func (c *Cluster) createAll(ctx context.Context, objs []*unstructured.Unstructured, opts Options, cs *ChangeSet) error {
	sort.Sort(ssa.SortableUnstructureds(objs))
	// The client ssa would apply with: it forces only with opts.Force and
	// turns a conflict with another manager into a *ConflictError.
	_, ac := c.manager(opts, opts.Force)
	changes := make([]Change, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, u := range objs {
		g.Go(func() error {
			data, err := u.MarshalJSON()
			if err == nil {
				err = ac.Patch(gctx, u.DeepCopy(), client.RawPatch(types.ApplyPatchType, data), client.ForceOwnership, client.FieldOwner(opts.FieldManager))
			}
			if err != nil {
				return fmt.Errorf("%s apply failed: %w", refOf(u), err)
			}
			ref := refOf(u)
			changes[i] = Change{Subject: ref.String(), Object: ref, Action: Created}
			return nil
		})
	}
	err := g.Wait()
	for _, ch := range changes {
		if ch.Subject != "" {
			cs.Changes = append(cs.Changes, ch)
		}
	}
	if err != nil {
		if conflicts := ac.collected(); len(conflicts) > 0 {
			return &ConflictError{Conflicts: conflicts}
		}
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// pruneStale deletes what prev has and neither applied nor hooks (the
// render's hooks, never pruned as the app's objects) have, as opts allow,
// adds the deletions to res.ChangeSet and sets res.Inventory: applied plus
// the stale objects left in the cluster. With deferLast, objects marked
// PruneLast=true are left for later and returned. A prune of more than
// half of the app's objects without opts.AllowMassPrune is not done and is
// returned as refused.
func (c *Cluster) pruneStale(ctx context.Context, prev Inventory, applied, hooks []ObjectRef, opts Options, res *Result, deferLast bool) (refused *PruneRefusedError, deferred []ObjectRef, err error) {
	stale := staleRefs(prev, append(append([]ObjectRef(nil), applied...), hooks...))
	inventory := append([]ObjectRef(nil), applied...)
	switch {
	case len(stale) == 0:
	case !opts.Prune:
		inventory = append(inventory, stale...)
	case !opts.AllowMassPrune && massPrune(len(prunable(stale, opts)), len(prev.Objects)):
		refused = &PruneRefusedError{Stale: len(prunable(stale, opts)), Total: len(prev.Objects)}
		res.PruneSkipped = refused.Error()
		inventory = append(inventory, stale...)
	default:
		changes, kept, later, err := c.prune(ctx, stale, opts, deferLast)
		res.ChangeSet.Changes = append(res.ChangeSet.Changes, changes...)
		inventory = append(append(inventory, kept...), later...)
		deferred = later
		if err != nil {
			res.Inventory = newInventory(inventory)
			return nil, deferred, err
		}
	}
	res.Inventory = newInventory(inventory)
	return refused, deferred, nil
}

// prunable returns the stale objects prune would consider deleting:
// Namespaces and CRDs only when opted in.
func prunable(stale []ObjectRef, opts Options) []ObjectRef {
	var out []ObjectRef
	for _, r := range stale {
		if (isNamespace(r) && !opts.PruneNamespaces) || (isCRD(r) && !opts.PruneCRDs) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// fromSSA turns ssa's change set entries into Changes; an action outside
// the five a ChangeSet counts (ssa's unknown) is Skipped.
func fromSSA(entries []ssa.ChangeSetEntry) []Change {
	out := make([]Change, 0, len(entries))
	for _, e := range entries {
		ref := ObjectRef{
			Group:     e.ObjMetadata.GroupKind.Group,
			Version:   e.GroupVersion,
			Kind:      e.ObjMetadata.GroupKind.Kind,
			Namespace: e.ObjMetadata.Namespace,
			Name:      e.ObjMetadata.Name,
		}
		action := e.Action
		switch action {
		case ssa.CreatedAction, ssa.ConfiguredAction, ssa.UnchangedAction, ssa.DeletedAction, ssa.SkippedAction:
		default:
			action = Skipped
		}
		out = append(out, Change{Subject: ref.String(), Object: ref, Action: action})
	}
	return out
}

func refsOf(objs []*unstructured.Unstructured) []ObjectRef {
	refs := make([]ObjectRef, len(objs))
	for i, o := range objs {
		refs[i] = refOf(o)
	}
	return refs
}

// staleRefs returns the refs of prev that applied does not have, whatever
// API version either was recorded with.
func staleRefs(prev Inventory, applied []ObjectRef) []ObjectRef {
	have := map[string]bool{}
	for _, r := range applied {
		have[r.key()] = true
	}
	var stale []ObjectRef
	for _, r := range prev.Objects {
		if !have[r.key()] {
			stale = append(stale, r)
		}
	}
	return stale
}

func rendersNamespace(objs []*unstructured.Unstructured, name string) bool {
	for _, o := range objs {
		if ssautils.IsNamespace(o) && o.GetName() == name {
			return true
		}
	}
	return false
}
