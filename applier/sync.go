package applier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

// Outcome is what a sync did for one app.
type Outcome struct {
	App         string `json:"app"`
	Environment string `json:"environment,omitempty"`
	Cluster     string `json:"cluster"`
	Commit      string `json:"commit"`
	// State is "applied", "failed", "skipped" (older than what the app
	// already runs, or applying turned off) or "unchanged".
	State   string            `json:"state"`
	Summary string            `json:"summary"`
	Error   string            `json:"error,omitempty"`
	Changes cluster.ChangeSet `json:"changes"`
	Healthy bool              `json:"healthy"`
}

// syncApp applies one app at t.Commit, holding the app's lease so applies
// of one app never overlap, even across replicas.
func (a *Applier) syncApp(ctx context.Context, gh GitHub, t Target, repo *gitops.Repository, app gitops.App) Outcome {
	log := a.log.With("repo", t.Repo.String(), "app", app.Name, "env", app.Environment, "revision", short(t.Commit))
	out := Outcome{App: app.Name, Environment: app.Environment, Cluster: app.Server, Commit: t.Commit}
	if !app.Apply {
		out.State, out.Summary = "skipped", "applying is turned off in .promobot.yaml"
		return out
	}
	lease, err := a.locks.Acquire(ctx, t.Repo.String()+"/"+app.Name, a.opts.HealthTimeout+2*time.Minute)
	if err != nil {
		out.State, out.Error = "failed", err.Error()
		return out
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()

	rec, _, err := a.records.Get(ctx, t.Repo, app.Name)
	if err != nil {
		out.State, out.Error = "failed", err.Error()
		return out
	}
	if stale, err := a.isStale(ctx, gh, t, rec); err != nil {
		out.State, out.Error = "failed", err.Error()
		return out
	} else if stale {
		out.State, out.Summary = "skipped", fmt.Sprintf("already at newer commit %s", short(rec.Seen))
		log.Info("push older than what the app already runs, skipped", "app_revision", short(rec.Seen))
		a.fact(ctx, t.Repo, "apply", "skipped", app, out)
		return out
	}

	a.fact(ctx, t.Repo, "apply", "requested", app, out)
	env := app.Environment
	if env == "" {
		env = app.Name
	}
	// Reports never wait on GitHub's pacing: what its rate limits refuse
	// is queued (see Report) and the apply goes on.
	nowait := github.WithMaxWait(ctx, 0)
	spec := github.Deployment{
		Ref: t.Commit, Environment: env, Description: "promobot applies " + app.Name,
		Production: isProduction(env), Payload: map[string]any{"app": app.Name, "path": app.Path},
	}
	var depID int64
	var queuedDeploy *github.Deployment
	deploy := func() {
		id, err := gh.CreateDeployment(nowait, t.Repo, spec)
		switch {
		case err == nil:
			depID = id
		case github.Temporary(err):
			queuedDeploy = &spec
		default:
			log.Warn("GitHub deployment not created", "error", err)
		}
	}
	// A re-sync of the commit the app already runs records a GitHub
	// Deployment only if it changed something (a rebuilt cluster, drift),
	// so re-syncs do not clutter the environment's history.
	resync := rec.Commit == t.Commit && rec.State == "applied"
	if !resync {
		deploy()
		if depID != 0 {
			_ = gh.CreateDeploymentStatus(nowait, t.Repo, depID, github.DeploymentStatus{State: "in_progress", Environment: env, Description: "applying " + short(t.Commit)})
		}
	}

	res, applyErr := a.applyApp(ctx, repo, app, rec, t, log)
	if resync && (applyErr != nil || res.ChangeSet.Changed()) {
		deploy()
	}
	out.Changes = res.ChangeSet
	out.Summary = res.ChangeSet.Summary()
	rec.Repo, rec.App, rec.Environment, rec.Path = t.Repo.String(), app.Name, app.Environment, app.Path
	rec.Server, rec.Namespace, rec.Seen = app.Server, app.DestNamespace, t.Commit
	if len(res.Inventory.Objects) > 0 || applyErr == nil {
		rec.Inventory = res.Inventory
	}
	if applyErr != nil {
		out.State, out.Error = "failed", applyErr.Error()
		rec.State, rec.Message, rec.Healthy = "failed", applyErr.Error(), false
		log.Warn("apply failed", "error", applyErr)
	} else {
		out.State, out.Healthy = "applied", true
		rec.State, rec.Message, rec.Summary = "applied", "", out.Summary
		rec.Commit, rec.AppliedAt, rec.Healthy = t.Commit, time.Now().UTC(), true
		log.Info("applied", "changes", res.ChangeSet)
	}
	if err := a.records.Put(ctx, t.Repo, rec); err != nil {
		log.Error("record not stored", "error", err)
	}

	a.report(ctx, gh, t, app, env, depID, queuedDeploy, out)
	verb := "completed"
	if out.State == "failed" {
		verb = "failed"
	}
	a.fact(ctx, t.Repo, "apply", verb, app, out)
	return out
}

// isStale reports whether the app already saw a commit newer than t.Commit.
func (a *Applier) isStale(ctx context.Context, gh GitHub, t Target, rec Record) (bool, error) {
	if rec.Seen == "" || rec.Seen == t.Commit {
		return false, nil
	}
	cmp, err := gh.Compare(ctx, t.Repo, t.Commit, rec.Seen)
	if err != nil {
		return false, errorf(t.Repo.String(), err)
	}
	// "ahead": what the app saw descends from this commit, so this push is late.
	return cmp.Status == "ahead", nil
}

// applyApp renders the app and applies it. A render error applies nothing.
func (a *Applier) applyApp(ctx context.Context, repo *gitops.Repository, app gitops.App, rec Record, t Target, log *slog.Logger) (cluster.Result, error) {
	prev := rec.Inventory
	rendered, err := kustomize.Render(ctx, repo.Root, app.Path, kustomize.RenderOptions{EnableHelm: repo.Config.Render.Helm, Class: kustomize.ClassApply})
	if err != nil {
		return cluster.Result{Inventory: prev}, &RenderError{Path: app.Path, Err: err}
	}
	objs, err := kustomize.Objects(rendered)
	if err != nil {
		return cluster.Result{Inventory: prev}, &RenderError{Path: app.Path, Err: err}
	}
	dest, err := a.clusters.For(t.Repo.String(), app, repo.Config)
	if err != nil {
		return cluster.Result{Inventory: prev}, err
	}
	res, err := dest.Cluster.Apply(ctx, objs, prev, a.clusterOptions(repo, app, t, dest, false))
	if err != nil {
		return res, fmt.Errorf("cluster %s: %w", destName(app), err)
	}
	return res, nil
}

// clusterOptions are the options of one apply or drift check of app: its
// own field manager (the default), and what its project permits.
func (a *Applier) clusterOptions(repo *gitops.Repository, app gitops.App, t Target, dest *Destination, heal bool) cluster.Options {
	return cluster.Options{
		Permit:          dest.Permit,
		AllowMassPrune:  repo.Config.AllowsMassPrune(app.Name) || t.AllowMassPrune,
		App:             app.Name,
		Repo:            t.Repo.String(),
		Namespace:       app.DestNamespace,
		CreateNamespace: app.CreateNamespace,
		Prune:           app.Prune,
		PruneNamespaces: repo.Config.Prune.Namespaces,
		PruneCRDs:       repo.Config.Prune.CRDs,
		Force:           repo.Config.Force || heal,
		HealthTimeout:   a.opts.HealthTimeout,
	}
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

func isProduction(env string) bool {
	return env == "production" || env == "prod"
}
