package applier

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
)

// StatusContext is the commit status context of an app.
func StatusContext(app string) string { return "promobot/" + app }

// report finishes the app's Deployment and sets its commit status, or
// queues what GitHub's rate limits refused (see Report). depID is the
// Deployment created for the apply (0: none); queuedDeploy one GitHub's
// limits refused, created first when the report is delivered.
func (a *Applier) report(ctx context.Context, gh GitHub, t Target, app gitops.App, env string, depID int64, queuedDeploy *github.Deployment, o Outcome) {
	state, desc, dstate := "success", "applied: "+o.Summary, "success"
	if o.Commit != t.Commit {
		// A pinned app: the status is on the push, the apply of the pin.
		desc = "applied " + markdown.ShortSHA(o.Commit) + ": " + o.Summary
	}
	if o.State == "failed" {
		state, desc, dstate = "failure", o.Error, "failure"
	}
	// The Deployment first: the commit status is the last word, so whoever
	// sees it finds the Deployment finished too.
	r := Report{
		Installation: installationOf(gh), Owner: t.Repo.Owner, Repo: t.Repo.Name, App: app.Name, Commit: t.Commit,
		Deployment: queuedDeploy, DeploymentID: depID,
		Status: &github.Status{State: state, Context: StatusContext(app.Name), Description: markdown.Clip(desc, 140)},
	}
	if depID != 0 || queuedDeploy != nil {
		r.DeploymentStatus = &github.DeploymentStatus{State: dstate, Environment: env, Description: markdown.Clip(desc, 140)}
	}
	a.deliver(ctx, gh, r)
}

// reportConfigError fails the commit when the repository's configuration
// cannot be read, so the author sees why nothing was applied.
func (a *Applier) reportConfigError(ctx context.Context, gh GitHub, t Target, err error) {
	a.deliver(ctx, gh, Report{
		Installation: installationOf(gh), Owner: t.Repo.Owner, Repo: t.Repo.Name, Commit: t.Commit,
		Status: &github.Status{State: "failure", Context: "promobot", Description: markdown.Clip("configuration: "+err.Error(), 140)},
	})
	a.fact(ctx, t.Repo, "apply", "failed", gitops.App{}, Outcome{Commit: t.Commit, State: "failed", Error: err.Error()})
}

// fact publishes a promobot.apply.* fact (state.ApplyFact); failures to
// publish are logged.
func (a *Applier) fact(ctx context.Context, repo Repo, kind, verb string, app gitops.App, o Outcome) {
	changes, err := json.Marshal(o.Changes)
	if err != nil {
		a.log.Error("fact not published", "kind", kind, "verb", verb, "error", err)
		return
	}
	f := state.ApplyFact{App: o.App, Environment: o.Environment, Cluster: o.Cluster, Path: app.Path, Commit: o.Commit,
		State: o.State, Error: o.Error, Changes: changes, Healthy: o.Healthy}
	f.Summary = app.Name + " " + verb + " " + markdown.ShortSHA(o.Commit)
	if detail := firstNonEmpty(o.Error, o.Summary); detail != "" {
		f.Summary += ": " + detail
	}
	f.Summary = strings.TrimSpace(f.Summary)
	if err := state.PublishApply(context.WithoutCancel(ctx), a.bus, repo, verb, "promobot/applier", f); err != nil {
		a.log.Error("fact not published", "kind", kind, "verb", verb, "error", err)
	}
}

// publish records a fact about repo; failures to publish are logged.
func (a *Applier) publish(ctx context.Context, repo Repo, kind, verb, subject string, data any) {
	if _, err := a.bus.PublishFact(context.WithoutCancel(ctx), events.Fact{
		Kind: kind, Verb: verb, Owner: repo.Owner, Repo: repo.Name,
		Source: "promobot/applier", Subject: subject, Data: data,
	}); err != nil {
		a.log.Error("fact not published", "kind", kind, "verb", verb, "error", err)
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
