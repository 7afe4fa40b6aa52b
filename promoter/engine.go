package promoter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/promoter/prbody"
)

// factData is the data of a promobot.promotion.* fact: who asked for
// what, and what came of it.
type factData struct {
	// Version is state.FactVersion, set when the fact is published.
	Version      int    `json:"version"`
	Repo         string `json:"repo"`
	App          string `json:"app,omitempty"`
	From         string `json:"from,omitempty"`
	To           string `json:"to,omitempty"`
	SourcePR     int    `json:"source_pr,omitempty"`
	SourceCommit string `json:"source_commit,omitempty"`
	RequestedBy  string `json:"requested_by,omitempty"`
	Auto         bool   `json:"auto,omitempty"`
	Command      string `json:"command,omitempty"`
	// Reason says why a promotion was refused, failed or changed nothing.
	Reason string `json:"reason,omitempty"`
	// PR is the promotion pull request; Branch and Commit what it holds.
	PR     int    `json:"pr,omitempty"`
	PRURL  string `json:"pr_url,omitempty"`
	Branch string `json:"branch,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Images are what the promotion sets; Previous what the superseded
	// promotion set.
	Images   []prbody.Image `json:"images,omitempty"`
	Previous []prbody.Image `json:"previous,omitempty"`
	// Revision is what a revision promotion pins.
	Revision *prbody.Revision `json:"revision,omitempty"`
}

func withReason(f factData, reason string) factData {
	f.Reason = reason
	return f
}

// outcomeKind is what came of promoting one app.
type outcomeKind string

const (
	outcomeOpened      outcomeKind = "opened"
	outcomeUpdated     outcomeKind = "updated"
	outcomeAlreadyOpen outcomeKind = "already-open"
	outcomeUnchanged   outcomeKind = "unchanged"
	outcomeRefused     outcomeKind = "refused"
	outcomeFailed      outcomeKind = "failed"
)

// outcome is what came of promoting one app.
type outcome struct {
	Kind outcomeKind
	Plan Plan
	// PR is the promotion pull request (opened, updated, already open).
	PR github.PR
	// Reason explains a refusal (a gate) or failure, in Markdown.
	Reason string
}

// promotion is one promotion request, from a command or an apply.
type promotion struct {
	gh    GitHub
	repo  Repo
	info  github.RepoInfo
	world *world
	// sourceCommit is the commit whose source overlays are promoted;
	// sourcePR the pull request that made it (0 for none).
	sourceCommit string
	sourcePR     int
	// sourceDir is the checkout of sourceCommit while the promotion runs.
	sourceDir string
	// requestedBy is who commented; empty for an automatic promotion.
	requestedBy string
	auto        bool
	command     string
	sel         Selection
	log         *slog.Logger
}

func (pr *promotion) fact(p Plan) factData {
	return factData{
		App: p.App, From: p.From(), To: p.To(), SourcePR: pr.sourcePR, SourceCommit: pr.sourceCommit,
		RequestedBy: pr.requestedBy, Auto: pr.auto, Command: pr.command, Branch: p.Branch(),
	}
}

// errNothing reports a selection with nothing in it, with the reason as
// Markdown for the reply.
type errNothing struct{ reason string }

func (e errNothing) Error() string { return e.reason }

// promote plans and carries out a promotion on the loaded world: the
// promoted commit is read into the snapshot, the planner plans each
// selected app, the gates are checked, and each plan that passes is
// published as its promotion pull request. A problem with one app is its
// outcome; the error is for what stops the whole promotion (GitHub
// unavailable, a selection that matches nothing: errNothing).
func (p *Promoter) promote(ctx context.Context, pr *promotion) ([]outcome, error) {
	snap, done, err := loadSource(ctx, pr)
	if err != nil {
		return nil, err
	}
	defer done()
	pr.sourceDir = snap.Source
	planned, err := PlanPromotion(snap, pr.sel)
	if errors.Is(err, ErrNothingSelected) {
		return nil, errNothing{reason: nothingSelected(pr.world.steps, pr.sel)}
	}
	if err != nil {
		return nil, err
	}
	var outs []outcome
	for _, pl := range planned {
		o, err := p.promoteOne(ctx, pr, pl)
		if err != nil {
			promotionsTotal.WithLabelValues(string(outcomeFailed)).Inc()
			return outs, fmt.Errorf("%s to %s: %w", pl.Plan.App, pl.Plan.To(), err)
		}
		promotionsTotal.WithLabelValues(string(o.Kind)).Inc()
		outs = append(outs, o)
	}
	return outs, nil
}

// loadSource completes pr's snapshot with the commit promoted: the files
// it changed, when the selection needs them to pick the apps (/promote)
// or the step (/promote <app>), its checkout unless it is the head already
// loaded, and its parent's checkout when a step carries fields. done
// removes what it fetched.
func loadSource(ctx context.Context, pr *promotion) (snap Snapshot, done func(), err error) {
	w := pr.world
	var dirs []string
	done = func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	needChanged := pr.sel.Changed == nil && (pr.sel.App == "" || pr.sel.To == "")
	source, dir := w.head, w.dir
	if pr.sourceCommit != w.head.SHA {
		if needChanged || carriesFields(w.steps) {
			if source, err = pr.gh.CommitChanges(ctx, pr.repo, pr.sourceCommit); err != nil {
				return Snapshot{}, nil, err
			}
		}
		if dir, err = fetchCheckout(ctx, pr.gh, pr.repo, pr.sourceCommit); err != nil {
			return Snapshot{}, nil, err
		}
		dirs = append(dirs, dir)
	}
	if needChanged {
		pr.sel.Changed = changedPaths(source)
	}
	snap = w.snapshot(dir, pr.sourceCommit)
	if carriesFields(w.steps) && len(source.Parents) > 0 {
		before, err := fetchCheckout(ctx, pr.gh, pr.repo, source.Parents[0])
		if err != nil {
			done()
			return Snapshot{}, nil, err
		}
		dirs = append(dirs, before)
		snap.SourceBefore = before
	}
	return snap, done, nil
}

// carriesFields reports whether a step promotes with the fields strategy.
func carriesFields(steps []gitops.Step) bool {
	for _, s := range steps {
		if s.Strategy == gitops.StrategyFields {
			return true
		}
	}
	return false
}

// promoteOne carries out one planned pair. What keeps the pair from being
// promoted (no images, a gate) is its outcome; the error is for GitHub or
// the bus failing, which a retry may fix.
func (p *Promoter) promoteOne(ctx context.Context, pr *promotion, pl Planned) (outcome, error) {
	o := outcome{Plan: pl.Plan}
	app := pl.Plan.App
	if pl.Err != nil {
		o.Kind, o.Reason = outcomeRefused, planRefusal(pl)
		p.publish(ctx, pr.repo, "refused", app, withReason(pr.fact(o.Plan), pl.Err.Error()))
		return o, nil
	}
	if !o.Plan.Changed() {
		o.Kind = outcomeUnchanged
		reason := o.Plan.To() + " already runs these images"
		if o.Plan.Revision != nil {
			reason = o.Plan.To() + " already runs " + o.Plan.Revision.To
		}
		p.publish(ctx, pr.repo, "unchanged", app, withReason(pr.fact(o.Plan), reason))
		return o, nil
	}
	now := p.opts.Now()
	ev, err := p.gateEvidence(ctx, pr, o.Plan, now)
	if err != nil {
		return o, err
	}
	if reason := checkGates(o.Plan, pr.sourceCommit, ev, now); reason != "" {
		o.Kind, o.Reason = outcomeRefused, reason
		p.publish(ctx, pr.repo, "refused", app, withReason(pr.fact(o.Plan), stripMarkdown(reason)))
		return o, nil
	}
	err = p.withLease(ctx, pr.repo, app, o.Plan.To(), func(ctx context.Context) error {
		var err error
		if o, err = p.publishPlan(ctx, pr, o.Plan); err != nil {
			return err
		}
		return p.mergeAfterPublish(ctx, pr, o)
	})
	return o, err
}
