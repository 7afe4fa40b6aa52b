package applier

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
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
	// attempted: the app was rendered and applied (not skipped, frozen or
	// refused before).
	attempted bool
}

// The states of an Outcome.
const (
	StateApplied   = "applied"
	StateFailed    = "failed"
	StateSkipped   = "skipped"
	StateUnchanged = "unchanged"
)

// syncApp applies one app at t.Commit through reconcile, holding the app's
// lease so applies of one app never overlap, even across replicas; it
// records, reports and publishes what the reconcile did.
func (a *Applier) syncApp(ctx context.Context, gh GitHub, t Target, src source, app gitops.App) Outcome {
	log := a.log.With("repo", t.Repo.String(), "app", app.Name, "env", app.Environment, "revision", markdown.ShortSHA(t.Commit))
	if src.pin != "" {
		log = log.With("target_revision", src.pin, "app_revision", markdown.ShortSHA(src.commit))
	}
	out := Outcome{App: app.Name, Environment: app.Environment, Cluster: app.Server, Commit: src.commit}
	if !app.Apply {
		out.State, out.Summary = StateSkipped, "applying is turned off in .promobot.yaml"
		return out
	}
	if src.err != nil {
		out.State, out.Error, out.Commit = StateFailed, src.err.Error(), t.Commit
		log.Warn("pinned revision not applied", "error", src.err)
		a.fact(ctx, t.Repo, "apply", "failed", app, out)
		return out
	}
	release, err := a.holdApp(ctx, t.Repo, app.Name)
	if err != nil {
		out.State, out.Error = StateFailed, err.Error()
		return out
	}
	defer release()

	rec, _, err := a.records.Get(ctx, t.Repo, app.Name)
	if err != nil {
		out.State, out.Error = StateFailed, err.Error()
		return out
	}
	if stale, err := a.isStale(ctx, gh, t, rec); err != nil {
		out.State, out.Error = StateFailed, err.Error()
		return out
	} else if stale {
		out.State, out.Summary = StateSkipped, fmt.Sprintf("already at newer commit %s", markdown.ShortSHA(rec.Seen))
		log.Info("push older than what the app already runs, skipped", "app_revision", markdown.ShortSHA(rec.Seen))
		a.fact(ctx, t.Repo, "apply", "skipped", app, out)
		return out
	}

	if f, frozen, err := a.freezes.Frozen(ctx, t.Repo, app.Environment); err != nil {
		out.State, out.Error = StateFailed, err.Error()
		return out
	} else if frozen && !(a.opts.FrozenAllowsRollback && t.rollsBack(app)) {
		return a.frozen(ctx, t, app, f, out, log)
	} else if frozen {
		log.Info("applied while frozen: the merge of a rollback, which the operator allows", "frozen_by", f.By)
	}
	a.fact(ctx, t.Repo, "apply", "requested", app, out)
	start := time.Now()
	r := a.reconcile(ctx, reconcileInput{repo: src.repo, app: app, t: t, prev: rec.Inventory})
	out = out.with(r)
	out.attempted = true
	a.observeApply(t, app, out, start)
	if r.Err != nil {
		log.Warn("apply failed", "error", r.Err)
	} else {
		log.Info("applied", "changes", r.ChangeSet)
	}
	if err := a.records.Put(ctx, t.Repo, recordOf(rec, t, src.commit, app, r)); err != nil {
		log.Error("record not stored", "error", err)
	}
	verb := "completed"
	if out.State == StateFailed {
		verb = "failed"
	}
	a.fact(ctx, t.Repo, "apply", verb, app, out)
	return out
}

// frozen reports that app was not applied because its environment is
// frozen (/freeze): the status says by whom and why, and the record is
// left as it was, so the first push after /unfreeze applies.
func (a *Applier) frozen(ctx context.Context, t Target, app gitops.App, f state.Freeze, out Outcome, log *slog.Logger) Outcome {
	env := cmp.Or(app.Environment, app.Name)
	out.State, out.Error = StateFailed, fmt.Sprintf("not applied: %s is %s; /unfreeze %s, then push", env, f.Describe(), env)
	log.Info("not applied: the environment is frozen", "frozen_by", f.By)
	a.fact(ctx, t.Repo, "apply", "skipped", app, out)
	return out
}

// with returns o completed with what reconcile did.
func (o Outcome) with(r reconciliation) Outcome {
	o.Changes = r.ChangeSet
	o.Summary = r.ChangeSet.Summary()
	if r.Err != nil {
		o.State, o.Error = StateFailed, r.Err.Error()
	} else {
		o.State, o.Healthy = StateApplied, true
	}
	return o
}

// recordOf returns rec updated with what reconciling app at commit (t's
// own, or the one a pinned app deploys) did: Seen is t's commit, the
// newest the app's Application was read at. A failed apply keeps the last
// good commit, and keeps the previous inventory unless the failure still
// listed objects the app may have.
func recordOf(rec Record, t Target, commit string, app gitops.App, r reconciliation) Record {
	rec.Repo, rec.App, rec.Environment, rec.Path = t.Repo.String(), app.Name, app.Environment, app.Path
	rec.Server, rec.Namespace, rec.Seen = app.Server, app.DestNamespace, t.Commit
	if len(r.Inventory.Objects) > 0 || r.Err == nil {
		rec.Inventory = r.Inventory
	}
	if r.Err != nil {
		rec.State, rec.Message, rec.Healthy = StateFailed, r.Err.Error(), false
		return rec
	}
	rec.State, rec.Message, rec.Summary = StateApplied, "", r.ChangeSet.Summary()
	rec.Commit, rec.AppliedAt, rec.Healthy = commit, time.Now().UTC(), true
	return rec
}

// isStale reports whether the app already saw a commit newer than t.Commit.
func (a *Applier) isStale(ctx context.Context, gh RepoReader, t Target, rec Record) (bool, error) {
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

func isProduction(env string) bool {
	return env == "production" || env == "prod"
}
