package applier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// reconcileInput is what one reconcile of one app works from.
type reconcileInput struct {
	// repo is the repository checked out at t.Commit.
	repo *gitops.Repository
	app  gitops.App
	t    Target
	// prev is the inventory of the app's last apply: what prune compares
	// the render with.
	prev cluster.Inventory
	// compare makes the reconcile a drift check: the render is compared
	// with the live objects first (a server-side dry run) and applied,
	// taking back fields changed by hand, only when something drifted and
	// the app has selfHeal.
	compare bool
	// onDrift, when set, is told what compare found before anything is
	// re-applied.
	onDrift func([]cluster.Drift)
}

// reconciliation is the typed outcome of one reconcile. Its change set has
// one entry per object with fluxcd/pkg/ssa's actions (created, configured,
// unchanged, deleted, skipped); outcomes, records, reports and facts are
// built from it.
type reconciliation struct {
	// Result is what the apply did: the change set, the inventory to store
	// and the objects' health. When nothing was applied its Inventory is
	// the input's prev.
	cluster.Result
	// Drift is what compare found (nil for a plain apply).
	Drift []cluster.Drift
	// Applied says the render was applied (prune and health included),
	// whether or not that succeeded.
	Applied bool
	// Err is a *RenderError when the overlay does not render (nothing is
	// applied), else why the destination or the cluster refused, naming
	// the cluster.
	Err error
}

// reconcile is the one path from an app's render input to its cluster:
// render → objects → destination → (compare) → apply, prune and health.
// Push, installation and `promobot sync` apply through it; the drift check
// compares through it and self-heals with the same apply. The caller holds
// the app's lease (holdApp).
func (a *Applier) reconcile(ctx context.Context, in reconcileInput) reconciliation {
	out := reconciliation{Result: cluster.Result{Inventory: in.prev}}
	objs, err := renderObjects(ctx, in.repo, in.app)
	if err != nil {
		out.Err = err
		return out
	}
	dest, err := a.clusters.For(in.t.Repo.String(), in.app, in.repo.Config)
	if err != nil {
		out.Err = err
		return out
	}
	opts, err := a.clusterOptions(in.repo, in.app, in.t, dest)
	if err != nil {
		out.Err = err
		return out
	}
	if in.compare {
		out.Drift, err = dest.Cluster.Drift(ctx, objs, opts)
		if err != nil {
			out.Err = fmt.Errorf("cluster %s: %w", destName(in.app), err)
			return out
		}
		if len(out.Drift) == 0 {
			return out
		}
		if in.onDrift != nil {
			in.onDrift(out.Drift)
		}
		if !in.app.SelfHeal {
			return out
		}
		// Self-heal takes back the fields changed by hand, but never those
		// ignoreDifferences names, whatever RespectIgnoreDifferences says.
		opts.Force = true
		opts.SyncOptions.RespectIgnoreDifferences = true
	}
	res, err := dest.Cluster.Apply(ctx, objs, in.prev, opts)
	out.Result, out.Applied = res, true
	if err != nil {
		out.Err = fmt.Errorf("cluster %s: %w", destName(in.app), err)
	}
	return out
}

// renderObjects renders app in the sandbox and decodes its objects. Either
// failure is a *RenderError: nothing of the app is applied.
func renderObjects(ctx context.Context, repo *gitops.Repository, app gitops.App) ([]*unstructured.Unstructured, error) {
	rendered, err := render.App(ctx, repo.Root, app, kustomize.RenderOptions{EnableHelm: repo.Config.Render.Helm, Class: kustomize.ClassApply})
	if err != nil {
		return nil, &RenderError{Path: app.Path, Err: err}
	}
	objs, err := kustomize.Objects(rendered)
	if err != nil {
		return nil, &RenderError{Path: app.Path, Err: err}
	}
	return objs, nil
}

// clusterOptions are the options of one apply or drift check of app: its
// own field manager (the default), what its project permits, and its Argo
// CD sync options and ignoreDifferences.
func (a *Applier) clusterOptions(repo *gitops.Repository, app gitops.App, t Target, dest *Destination) (cluster.Options, error) {
	syncOpts, err := cluster.ParseSyncOptions(app.SyncOptions)
	if err != nil {
		return cluster.Options{}, fmt.Errorf("app %s: %w", app.Name, err)
	}
	ignore := make([]cluster.IgnoreDifference, len(app.IgnoreDifferences))
	for i, d := range app.IgnoreDifferences {
		ignore[i] = cluster.IgnoreDifference{Group: d.Group, Kind: d.Kind, Name: d.Name, Namespace: d.Namespace,
			JSONPointers: d.JSONPointers, ManagedFieldsManagers: d.ManagedFieldsManagers}
	}
	return cluster.Options{
		Permit:            dest.Permit,
		AllowMassPrune:    repo.Config.AllowsMassPrune(app.Name) || t.AllowMassPrune,
		App:               app.Name,
		Repo:              t.Repo.String(),
		Namespace:         app.DestNamespace,
		CreateNamespace:   app.CreateNamespace,
		Prune:             app.Prune,
		PruneNamespaces:   repo.Config.Prune.Namespaces,
		PruneCRDs:         repo.Config.Prune.CRDs,
		Force:             repo.Config.Force,
		HealthTimeout:     a.opts.HealthTimeout,
		SyncOptions:       syncOpts,
		IgnoreDifferences: ignore,
	}, nil
}

// appLease names the lease that keeps the applies and drift checks of one
// app to one at a time, across replicas.
func appLease(repo Repo, app string) string { return repo.String() + "/" + app }

// appLeaseTTL is how long an applier that died holding an app's lease
// blocks the other replicas; a live holder keeps the lease alive however
// long the apply and its health wait take.
const appLeaseTTL = 15 * time.Second

// holdApp waits for app's lease (appLease) and returns the function that
// gives it back.
func (a *Applier) holdApp(ctx context.Context, repo Repo, app string) (release func(), err error) {
	_, release, err = a.locks.Hold(ctx, appLease(repo, app), appLeaseTTL)
	return release, err
}

// RenderError is an app whose overlay does not render: nothing of it is
// applied.
type RenderError struct {
	Path string
	Err  error
}

// Error names the overlay and kustomize's message, without the overlay's
// path repeated.
func (e *RenderError) Error() string {
	return "render " + e.Path + ": " + Describe(e.Err, e.Path)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Describe shortens err's message for a commit status: a sandbox refusal
// reads "outside the repository: resources \"../x\" in FILE"; other messages lose
// leading repetitions of path.
func Describe(err error, path string) string {
	var ref *kustomize.ReferenceError
	if errors.As(err, &ref) {
		return fmt.Sprintf("%v: %s %q in %s", ref.Err, ref.Field, ref.Ref, ref.File)
	}
	msg := err.Error()
	for _, p := range []string{"render " + path + ": ", path + ": "} {
		for strings.HasPrefix(msg, p) {
			msg = strings.TrimPrefix(msg, p)
		}
	}
	// kustomize nests the same words at every level of a resource tree.
	msg = strings.Replace(msg, "accumulating resources: accumulation err='accumulating resources from ", "cannot load resource ", 1)
	return msg
}
