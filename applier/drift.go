package applier

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/render"
	"github.com/promobot/promobot/internal/state"
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

// driftJob is the periodic job (events.Locker.Turn) of the drift check.
const driftJob = "drift-check"

// driftTick runs CheckDrift unless another replica sharing the bus ran it
// within the last DriftInterval, and reports whether it ran here.
func (a *Applier) driftTick(ctx context.Context) bool {
	ran, err := a.locks.Turn(ctx, driftJob, a.opts.DriftInterval, func(ctx context.Context) { a.CheckDrift(ctx) })
	if err != nil {
		a.log.Warn("drift check: turn not taken", "error", err)
	}
	return ran
}

// CheckDrift compares every applied app of every installed repository with
// the render of the commit it last applied, publishes a promobot.drift.found
// fact for each app that drifted and, for apps with selfHeal, re-applies
// them (taking back fields changed by hand). It returns what it found.
// It checks here and now, whatever other replicas do; Run's periodic check
// calls it on one replica per DriftInterval (driftTick).
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

// driftAt checks the apps of recs, which last applied commit, against
// one checkout of it; a repository whose .promobot.yaml sets driftInterval
// to 0 is not checked.
func (a *Applier) driftAt(ctx context.Context, gh RepoReader, repo Repo, commit string, recs []Record) []DriftReport {
	dir, err := fetchCheckout(ctx, gh, repo, commit)
	if err != nil {
		a.log.Warn("drift check: checkout failed", "repo", repo.String(), "revision", markdown.ShortSHA(commit), "error", err)
		return nil
	}
	defer os.RemoveAll(dir)
	r, err := render.LoadDirWith(ctx, dir, gitops.LoadOptions{Clusters: a.clusters.ForGenerator(repo.String())}, kustomize.RenderOptions{Class: kustomize.ClassApply})
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
		rep := a.driftApp(ctx, repo, commit, r, app)
		if len(rep.Drift) > 0 || rep.Error != "" {
			out = append(out, rep)
		}
	}
	return out
}

// driftApp checks one app through reconcile in compare mode, holding the
// app's lease: it publishes promobot.drift.found when the live objects
// differ from the render and, for apps with selfHeal, re-applies the
// render (promobot.drift.healed or heal-failed).
func (a *Applier) driftApp(ctx context.Context, repo Repo, commit string, r *gitops.Repository, app gitops.App) DriftReport {
	rep := DriftReport{Repo: repo.String(), App: app.Name, Commit: commit}
	log := a.log.With("repo", repo.String(), "app", app.Name, "revision", markdown.ShortSHA(commit))
	release, err := a.holdApp(ctx, repo, app.Name)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer release()
	// A push may have moved the app on while the lease was awaited.
	rec, _, _ := a.records.Get(ctx, repo, app.Name)
	if rec.Commit != commit {
		return rep
	}
	if _, frozen, err := a.freezes.Frozen(ctx, repo, app.Environment); err == nil && frozen {
		app.SelfHeal = false // a frozen environment is only watched
	}
	res := a.reconcile(ctx, reconcileInput{repo: r, app: app, t: Target{Repo: repo, Commit: commit}, prev: rec.Inventory, compare: true,
		onDrift: func(drift []cluster.Drift) {
			rep.Drift = drift
			log.Info("drift found", "drift", driftSummary(drift), "self_heal", app.SelfHeal)
			a.publishDrift(ctx, repo, app, "found", rep)
		}})
	err = res.Err
	var refused *cluster.PruneRefusedError
	if res.Applied && errors.As(err, &refused) {
		// The render was re-applied; only the prune waits for a commit
		// that allows it.
		log.Warn("self-heal kept stale objects", "error", err)
		err = nil
	}
	observeDrift(repo, app, res, err)
	if err != nil {
		rep.Error = err.Error()
		if res.Applied {
			log.Warn("self-heal failed", "error", err)
			a.publishDrift(ctx, repo, app, "heal-failed", rep)
		}
		return rep
	}
	if !res.Applied {
		return rep
	}
	rec.Inventory = res.Inventory
	_ = a.records.Put(ctx, repo, rec)
	rep.Healed = true
	log.Info("self-healed", "changes", res.ChangeSet)
	a.publishDrift(ctx, repo, app, "healed", rep)
	return rep
}

// driftSummary lists drifted objects as "Deployment/ns/api: [.spec.replicas]; …".
func driftSummary(drift []cluster.Drift) string {
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

// DriftFact is the data of a promobot.drift.{found,healed,heal-failed}
// fact.
type DriftFact struct {
	// Version is state.FactVersion.
	Version int `json:"version"`
	DriftReport
	// Summary is one line for people: "<app> drift <verb>: <objects>".
	Summary string `json:"summary"`
}

func (a *Applier) publishDrift(ctx context.Context, repo Repo, app gitops.App, verb string, rep DriftReport) {
	a.publish(ctx, repo, "drift", verb, app.Name, DriftFact{Version: state.FactVersion, DriftReport: rep,
		Summary: app.Name + " drift " + verb + ": " + driftSummary(rep.Drift)})
}
