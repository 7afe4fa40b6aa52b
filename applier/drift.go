package applier

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

// DriftReport is one app's drift as found by CheckDrift.
type DriftReport struct {
	Repo   string          `json:"repo"`
	App    string          `json:"app"`
	Commit string          `json:"commit"`
	Drift  []cluster.Drift `json:"drift"`
	// Healed says the app was re-applied (selfHeal on).
	Healed bool   `json:"healed"`
	Error  string `json:"error,omitempty"`
}

// CheckDrift compares every applied app of every installed repository with
// the render of the commit it last applied, publishes a promobot.drift.found
// fact for each app that drifted and, for apps with selfHeal, re-applies
// them (taking back fields changed by hand). It returns what it found.
func (a *Applier) CheckDrift(ctx context.Context) []DriftReport {
	repos, err := a.registry.Repos(ctx)
	if err != nil {
		a.log.Warn("drift check: installations not listed", "error", err)
		return nil
	}
	var out []DriftReport
	for _, ri := range repos {
		repo := Repo{Owner: ri.Owner, Name: ri.Repo}
		recs, err := a.records.List(ctx, repo)
		if err != nil || len(recs) == 0 {
			continue
		}
		gh, err := a.gh.GitHub(ctx, ri.InstallationID)
		if err != nil {
			a.log.Warn("drift check: no GitHub client", "repo", repo.String(), "error", err)
			continue
		}
		byCommit := map[string][]Record{}
		for _, r := range recs {
			if r.Commit != "" {
				byCommit[r.Commit] = append(byCommit[r.Commit], r)
			}
		}
		for commit, recs := range byCommit {
			out = append(out, a.driftAt(ctx, gh, repo, commit, recs)...)
		}
	}
	return out
}

func (a *Applier) driftAt(ctx context.Context, gh GitHub, repo Repo, commit string, recs []Record) []DriftReport {
	dir, err := fetchCheckout(ctx, gh, repo, commit)
	if err != nil {
		a.log.Warn("drift check: checkout failed", "repo", repo.String(), "revision", short(commit), "error", err)
		return nil
	}
	defer os.RemoveAll(dir)
	r, err := gitops.LoadDir(dir, nil)
	if err != nil {
		return nil
	}
	if r.HasConfig && r.Config.DriftInterval.D() == 0 {
		return nil // drift detection turned off for this repository
	}
	var out []DriftReport
	for _, rec := range recs {
		app, ok := r.App(rec.App)
		if !ok || !app.Apply {
			continue
		}
		rep := a.driftApp(ctx, gh, repo, commit, r, app)
		if len(rep.Drift) > 0 || rep.Error != "" {
			out = append(out, rep)
		}
	}
	return out
}

func (a *Applier) driftApp(ctx context.Context, gh GitHub, repo Repo, commit string, r *gitops.Repository, app gitops.App) DriftReport {
	rep := DriftReport{Repo: repo.String(), App: app.Name, Commit: commit}
	log := a.log.With("repo", repo.String(), "app", app.Name, "revision", short(commit))
	lease, err := a.locks.Acquire(ctx, repo.String()+"/"+app.Name, a.opts.HealthTimeout+2*time.Minute)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	// A push may have moved the app on while the lease was awaited.
	if rec, _, _ := a.records.Get(ctx, repo, app.Name); rec.Commit != commit {
		return rep
	}
	rendered, err := kustomize.Render(ctx, r.Root, app.Path, kustomize.RenderOptions{EnableHelm: r.Config.Render.Helm, Class: kustomize.ClassApply})
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	objs, err := kustomize.Objects(rendered)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	dest, err := a.clusters.For(repo.String(), app, r.Config)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	cl := dest.Cluster
	t := Target{Repo: repo, Commit: commit}
	drift, err := cl.Drift(ctx, objs, a.clusterOptions(r, app, t, dest, false))
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	if len(drift) == 0 {
		return rep
	}
	rep.Drift = drift
	var parts []string
	for _, d := range drift {
		parts = append(parts, d.String())
	}
	log.Info("drift found", "drift", strings.Join(parts, "; "), "self_heal", app.SelfHeal)
	a.publishDrift(ctx, repo, app, "found", rep)
	if !app.SelfHeal {
		return rep
	}
	rec, _, _ := a.records.Get(ctx, repo, app.Name)
	res, err := cl.Apply(ctx, objs, rec.Inventory, a.clusterOptions(r, app, t, dest, true))
	var refused *cluster.PruneRefusedError
	if errors.As(err, &refused) {
		// The render was re-applied; only the prune waits for a commit
		// that allows it.
		log.Warn("self-heal kept stale objects", "error", err)
		err = nil
	}
	if err != nil {
		rep.Error = err.Error()
		log.Warn("self-heal failed", "error", err)
		a.publishDrift(ctx, repo, app, "heal-failed", rep)
		return rep
	}
	rec.Inventory = res.Inventory
	_ = a.records.Put(ctx, repo, rec)
	rep.Healed = true
	log.Info("self-healed", "changes", res.ChangeSet)
	a.publishDrift(ctx, repo, app, "healed", rep)
	return rep
}

func (a *Applier) publishDrift(ctx context.Context, repo Repo, app gitops.App, verb string, rep DriftReport) {
	var parts []string
	for _, d := range rep.Drift {
		parts = append(parts, d.String())
	}
	data := struct {
		DriftReport
		Summary string `json:"summary"`
	}{rep, app.Name + " drift " + verb + ": " + strings.Join(parts, "; ")}
	a.publish(ctx, repo, "drift", verb, app.Name, data)
}
