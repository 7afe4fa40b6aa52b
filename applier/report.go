package applier

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
)

// StatusContext is the commit status context of an app.
func StatusContext(app string) string { return "promobot/" + app }

// reportConfigError fails the sync's check run when the repository's
// configuration cannot be read, so the author sees why nothing was
// applied.
func (a *Applier) reportConfigError(ctx context.Context, gh GitHub, t Target, err error) {
	a.failSync(ctx, gh, t, "configuration", err)
}

// failSync reports a sync that applied nothing: its check run fails with
// why, and an apply failed fact says it.
func (a *Applier) failSync(ctx context.Context, gh GitHub, t Target, what string, err error) {
	(&syncReport{a: a, gh: gh, t: t}).fail(ctx, what, err)
	a.fact(ctx, t.Repo, "apply", "failed", gitops.App{}, Outcome{Commit: t.Commit, State: "failed", Error: what + ": " + err.Error()})
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
