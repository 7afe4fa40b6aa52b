package applier

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// SyncCheckName is the check run each sync of a commit reports on.
const SyncCheckName = "promobot/sync"

// maxCheckText is what promobot puts in a check run's output text, under
// GitHub's 65,535 characters.
const maxCheckText = 60000

// syncReport is what one sync tells GitHub, in a few writes however many
// apps it syncs: one check run on the commit, in progress while the apps
// apply and then completed with a table of every app, its outcome and the
// objects it changed; one Deployment per environment whose deployed state
// changed, listing its apps; and, only where the repository asks for them
// (reporting.commitStatuses), a commit status per app. Nothing in it waits
// on GitHub's pacing: what the rate limits refuse is queued (see Report).
type syncReport struct {
	a        *Applier
	gh       GitHub
	t        Target
	statuses bool
	// checkID is the check run created in progress (0: none, the final
	// report creates a completed one), set once started is closed.
	checkID int64
	started chan struct{}
}

// startSyncReport creates the sync's check run, in progress, for n apps,
// while the apps sync: the applies do not wait for GitHub.
func (a *Applier) startSyncReport(ctx context.Context, gh GitHub, t Target, n int, cfg *gitops.Config) *syncReport {
	r := &syncReport{a: a, gh: gh, t: t, statuses: cfg != nil && cfg.Reporting.CommitStatuses, started: make(chan struct{})}
	go func() {
		defer close(r.started)
		id, err := gh.CreateCheckRun(github.WithMaxWait(ctx, 0), t.Repo, github.CheckRun{
			Name: SyncCheckName, HeadSHA: t.Commit, Status: "in_progress",
			Title: fmt.Sprintf("Applying %d %s", n, plural(n, "app")),
		})
		if err != nil {
			a.log.Info("sync check run not started; the final one reports", "repo", t.Repo.String(), "revision", markdown.ShortSHA(t.Commit), "error", err)
		}
		r.checkID = id
	}()
	return r
}

// finish reports outs: the environments' Deployments first, then the
// commit statuses if asked for, and the check run last, so whoever sees
// the check completed finds the rest done.
func (r *syncReport) finish(ctx context.Context, outs []Outcome) {
	<-r.started
	for _, env := range deployedEnvironments(outs) {
		r.a.deliver(ctx, r.gh, r.deployment(env, outs))
	}
	if r.statuses {
		for _, o := range outs {
			if s := commitStatus(o, r.t); s != nil {
				r.a.deliver(ctx, r.gh, r.report(o.App, func(rep *Report) { rep.Status = s }))
			}
		}
	}
	run := syncCheckRun(r.t, outs)
	r.a.deliver(ctx, r.gh, r.report(SyncCheckName, func(rep *Report) { rep.CheckRun, rep.CheckRunID = &run, r.checkID }))
}

// fail completes the sync's check run as failed before any app synced: the
// configuration or the checkout did not load.
func (r *syncReport) fail(ctx context.Context, what string, err error) {
	run := github.CheckRun{
		Name: SyncCheckName, HeadSHA: r.t.Commit, Status: "completed", Conclusion: "failure",
		Title:   markdown.Clip(what+": "+err.Error(), 200),
		Summary: fmt.Sprintf("Nothing of %s was applied: the %s did not load.\n\n```\n%s\n```", markdown.Code(markdown.ShortSHA(r.t.Commit)), what, strings.ReplaceAll(markdown.Clip(err.Error(), 4000), "```", "'''")),
	}
	r.a.deliver(ctx, r.gh, r.report(SyncCheckName, func(rep *Report) { rep.CheckRun, rep.CheckRunID = &run, r.checkID }))
}

func (r *syncReport) report(subject string, fill func(*Report)) Report {
	rep := Report{Installation: installationOf(r.gh), Owner: r.t.Repo.Owner, Repo: r.t.Repo.Name, App: subject, Commit: r.t.Commit}
	fill(&rep)
	return rep
}

// deployed reports whether o changed what its environment runs: an apply
// that changed objects, or one that failed part-way.
func (o Outcome) deployed() bool {
	return o.attempted && (o.State == StateFailed || o.Changes.Changed())
}

// environmentOf is the environment an outcome's Deployment belongs to
// (the app's name for an app without one).
func environmentOf(o Outcome) string { return cmp.Or(o.Environment, o.App) }

// deployedEnvironments lists, sorted, the environments with an app
// deployed.
func deployedEnvironments(outs []Outcome) []string {
	var envs []string
	for _, o := range outs {
		if env := environmentOf(o); o.deployed() && !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	slices.Sort(envs)
	return envs
}

// deployment is env's Deployment of the sync: its payload lists each app
// deployed with the commit it runs now, and its status says how many
// applied and failed.
func (r *syncReport) deployment(env string, outs []Outcome) Report {
	var apps []map[string]any
	var names []string
	failed := 0
	for _, o := range outs {
		if environmentOf(o) != env || !o.deployed() {
			continue
		}
		apps = append(apps, map[string]any{"app": o.App, "commit": o.Commit, "state": o.State, "summary": cmp.Or(o.Error, o.Summary)})
		names = append(names, o.App)
		if o.State == StateFailed {
			failed++
		}
	}
	state, desc := "success", fmt.Sprintf("%d %s applied", len(apps), plural(len(apps), "app"))
	if failed > 0 {
		state, desc = "failure", fmt.Sprintf("%d of %d %s failed", failed, len(apps), plural(len(apps), "app"))
	}
	return r.report(env, func(rep *Report) {
		rep.Deployment = &github.Deployment{
			Ref: r.t.Commit, Environment: env, Production: isProduction(env),
			Description: markdown.Clip("promobot applies "+strings.Join(names, ", "), 140),
			Payload:     map[string]any{"apps": apps},
		}
		rep.DeploymentStatus = &github.DeploymentStatus{State: state, Environment: env, Description: markdown.Clip(desc, 140)}
	})
}

// statusLine is what an app's row, and its commit status, say of o.
func statusLine(o Outcome, t Target) (state, desc string) {
	switch {
	case o.State == StateFailed:
		return "failure", o.Error
	case o.State == StateSkipped:
		return "success", "skipped: " + o.Summary
	case o.Commit != t.Commit:
		// A pinned app: the report is on the push, the apply of the pin.
		return "success", "applied " + markdown.ShortSHA(o.Commit) + ": " + o.Summary
	}
	return "success", "applied: " + o.Summary
}

// commitStatus is o's commit status promobot/<app>, or nil for an app not
// synced (skipped as older than what it runs).
func commitStatus(o Outcome, t Target) *github.Status {
	if o.State == StateSkipped {
		return nil
	}
	state, desc := statusLine(o, t)
	return &github.Status{State: state, Context: StatusContext(o.App), Description: markdown.Clip(desc, 140)}
}

// syncCheckRun is the completed check run of a sync: failure when an app
// failed; its text a table of every app.
func syncCheckRun(t Target, outs []Outcome) github.CheckRun {
	counts := map[string]int{}
	for _, o := range outs {
		counts[o.State]++
	}
	conclusion := "success"
	if counts[StateFailed] > 0 {
		conclusion = "failure"
	}
	var parts []string
	for _, s := range []string{StateApplied, StateUnchanged, StateSkipped, StateFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	title := fmt.Sprintf("%d %s: %s", len(outs), plural(len(outs), "app"), strings.Join(parts, ", "))
	if len(outs) == 0 {
		title = "No app to apply"
	}
	summary := fmt.Sprintf("promobot synced %s to the clusters: %s.", markdown.Code(markdown.ShortSHA(t.Commit)), title)
	return github.CheckRun{Name: SyncCheckName, HeadSHA: t.Commit, Status: "completed", Conclusion: conclusion,
		Title: title, Summary: summary, Text: syncTable(t, outs)}
}

// syncTable is a Markdown table of outs, one row per app, cut at
// maxCheckText with a line saying how many rows were left out.
func syncTable(t Target, outs []Outcome) string {
	var b strings.Builder
	b.WriteString("| App | Environment | Outcome | Details |\n|---|---|---|---|\n")
	for i, o := range outs {
		_, desc := statusLine(o, t)
		mark := map[string]string{StateApplied: "✅", StateUnchanged: "✅", StateSkipped: "⏭️", StateFailed: "❌"}[o.State]
		row := fmt.Sprintf("| %s | %s | %s %s | %s |\n", markdown.CellCode(o.App), markdown.CellCode(environmentOf(o)), mark, o.State,
			markdown.CellCode(markdown.Clip(desc, 500)))
		if b.Len()+len(row) > maxCheckText {
			fmt.Fprintf(&b, "\n…and %d more apps: `promobot events tail --subject 'promobot.apply.>'` lists every one.\n", len(outs)-i)
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
