package promoter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/promoter/prbody"
)

// factData is the data of a promobot.promotion.* fact: who asked for
// what, and what came of it.
type factData struct {
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
}

// world is the repository at the head of its default branch: where rules
// (.promobot.yaml) and the target environments' current state come from.
type world struct {
	head github.ChangedCommit
	// dir is a scratch checkout of head; the caller removes it.
	dir  string
	repo *gitops.Repository
	// steps is the pipeline; err says why there is none (an invalid
	// .promobot.yaml, a pipeline naming an unknown environment).
	steps []gitops.Step
	err   error
}

func (w *world) close() {
	if w != nil && w.dir != "" {
		os.RemoveAll(w.dir)
	}
}

// loadWorld reads the default branch's head (one commit read, one
// tarball) and the repository model at it.
func loadWorld(ctx context.Context, gh Reader, repo Repo, info github.RepoInfo) (*world, error) {
	head, err := gh.CommitChanges(ctx, repo, info.DefaultBranch)
	if err != nil {
		return nil, err
	}
	dir, err := fetchCheckout(ctx, gh, repo, head.SHA)
	if err != nil {
		return nil, err
	}
	w := &world{head: head, dir: dir}
	w.repo, w.err = gitops.LoadDir(dir, info.URLs())
	if w.err == nil {
		w.steps, w.err = w.repo.Config.Pipeline(w.repo.Apps)
	}
	return w, nil
}

// changedPaths are the paths c changed, nil (unknown: every app is
// considered) when GitHub listed its maximum of files for it.
func changedPaths(c github.ChangedCommit) []string {
	if c.Truncated {
		return nil
	}
	return c.Paths()
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

// promote plans and carries out a promotion: for each selected app, the
// target kustomization edit, the gates, and the promotion pull request
// with its diff comment. A problem with one app is its outcome; the error
// is for what stops the whole promotion (GitHub unavailable, a selection
// that matches nothing: errNothing).
func (p *Promoter) promote(ctx context.Context, pr *promotion) ([]outcome, error) {
	w := pr.world
	srcDir := w.dir
	// What the change touched picks the apps (/promote) or, for an app in
	// several steps, the step (/promote <app>).
	if pr.sourceCommit != w.head.SHA {
		if pr.sel.Changed == nil && (pr.sel.App == "" || pr.sel.To == "") {
			c, err := pr.gh.CommitChanges(ctx, pr.repo, pr.sourceCommit)
			if err != nil {
				return nil, err
			}
			pr.sel.Changed = changedPaths(c)
		}
		dir, err := fetchCheckout(ctx, pr.gh, pr.repo, pr.sourceCommit)
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		srcDir = dir
	} else if pr.sel.Changed == nil && (pr.sel.App == "" || pr.sel.To == "") {
		pr.sel.Changed = changedPaths(w.head)
	}
	steps, pairs, err := Select(w.steps, pr.sel, srcDir)
	if errors.Is(err, ErrNothingSelected) {
		return nil, errNothing{reason: nothingSelected(w.steps, pr.sel)}
	}
	if err != nil {
		return nil, err
	}
	var outs []outcome
	for i, pair := range pairs {
		o, err := p.promoteOne(ctx, pr, steps[i], pair, srcDir)
		if err != nil {
			promotionsTotal.WithLabelValues(string(outcomeFailed)).Inc()
			return outs, fmt.Errorf("%s to %s: %w", pair.Base, steps[i].To, err)
		}
		promotionsTotal.WithLabelValues(string(o.Kind)).Inc()
		outs = append(outs, o)
	}
	return outs, nil
}

// promoteOne promotes one pair. What keeps the pair from being promoted
// (no images, a gate) is its outcome; the error is for GitHub or the bus
// failing, which a retry may fix.
func (p *Promoter) promoteOne(ctx context.Context, pr *promotion, step gitops.Step, pair gitops.Pair, srcDir string) (outcome, error) {
	o := outcome{Plan: Plan{App: pair.Base, Step: step, Pair: pair}}
	src, err := ReadSourceKustomization(srcDir, pair.From)
	if err == nil {
		o.Plan, err = PlanPair(step, pair, src, pr.world.dir)
	}
	if err != nil {
		o.Kind, o.Reason = outcomeRefused, fmt.Sprintf("`%s` cannot be promoted: %s", pair.Base, mdText(err.Error()))
		p.publish(ctx, pr.repo, "refused", pair.Base, withReason(pr.fact(o.Plan), err.Error()))
		return o, nil
	}
	if !o.Plan.Changed() {
		o.Kind = outcomeUnchanged
		p.publish(ctx, pr.repo, "unchanged", pair.Base, withReason(pr.fact(o.Plan), step.To+" already runs these images"))
		return o, nil
	}
	reason, err := p.gate(ctx, pr, o.Plan)
	if err != nil {
		return o, err
	}
	if reason != "" {
		o.Kind, o.Reason = outcomeRefused, reason
		p.publish(ctx, pr.repo, "refused", pair.Base, withReason(pr.fact(o.Plan), stripMarkdown(reason)))
		return o, nil
	}
	err = p.withLease(ctx, pr.repo, pair.Base, step.To, func(ctx context.Context) error {
		var err error
		o, err = p.publishPlan(ctx, pr, o.Plan)
		return err
	})
	return o, err
}

func withReason(f factData, reason string) factData {
	f.Reason = reason
	return f
}

// publishPlan makes the promotion pull request for plan, or updates the
// open one: one commit on the stable branch through the Git Data API
// (tree with inline content, commit, ref), the pull request with its
// title, body and labels, and the sticky diff comment.
//
// When promobot remembers the open pull request and what it promotes (the
// memo), an update makes no lookup: it moves the branch, edits the pull
// request and the remembered comment, and GitHub's answers correct a
// memory that turns out stale (a deleted branch, a closed pull request, a
// deleted comment).
func (p *Promoter) publishPlan(ctx context.Context, pr *promotion, plan Plan) (outcome, error) {
	o := outcome{Plan: plan}
	repo, branch, gh := pr.repo, plan.Branch(), pr.gh
	promo := plan.promotion()
	promo.SourcePR, promo.SourceCommit, promo.RequestedBy, promo.Auto = pr.sourcePR, pr.sourceCommit, pr.requestedBy, pr.auto
	promo.RepoURL = pr.info.HTMLURL
	fact := pr.fact(plan)
	fact.Images = promo.Images

	// Render the diff while GitHub answers: it needs only the plan.
	var renders []diff.AppRender
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		renders = RenderPlans(ctx, pr.world.dir, []Plan{plan}, kustomize.RenderOptions{EnableHelm: pr.world.repo.Config.Render.Helm, Class: kustomize.ClassPreview})
	}()
	defer func() { <-rendered }()

	// The open promotion pull request: from the memo alone when it says
	// what the pull request promotes and that differs from this
	// promotion; asked of GitHub when the memo is older or the promotion
	// may already be open; not at all when promobot remembers none (a
	// first promotion).
	var cur *openPromotion
	looked := false
	memo, remembered := p.memo.get(ctx, repo, branch)
	if remembered {
		if memo.complete() && !(memo.Base == pr.info.DefaultBranch && sameTargets(memo.Images, promo.Images)) {
			cur = &openPromotion{number: memo.PR, comment: memo.Comment, fromMemo: true, hasPrevious: true,
				previous: prbody.Promotion{Images: memo.Images, SourcePR: memo.SourcePR}}
		} else {
			var err error
			if cur, err = findPromotionPR(ctx, gh, repo, branch); err != nil {
				return o, err
			}
			looked = true
			if cur != nil && cur.number == memo.PR {
				cur.comment = memo.Comment
			}
		}
	}
	if cur != nil && !cur.fromMemo && cur.hasPrevious && cur.pr.Base == pr.info.DefaultBranch && sameTargets(cur.previous.Images, promo.Images) {
		o.Kind, o.PR = outcomeAlreadyOpen, cur.pr
		fact.PR, fact.PRURL, fact.Reason = cur.pr.Number, cur.pr.URL, "already open"
		p.publish(ctx, repo, "unchanged", plan.App, fact)
		return o, nil
	}

	tree, err := gh.CreateTree(ctx, repo, pr.world.head.Tree, []github.TreeFile{{Path: plan.File, Content: plan.After}})
	if err != nil {
		return o, err
	}
	commit, err := gh.CreateCommit(ctx, repo, github.NewCommit{Message: commitMessage(plan, promo), Tree: tree,
		Parents: []string{pr.world.head.SHA}})
	if err != nil {
		return o, err
	}
	fact.Commit = commit
	if cur != nil {
		err = gh.UpdateBranch(ctx, repo, branch, commit, true)
		if cur.fromMemo && errors.Is(err, github.ErrNotFound) {
			// The branch is gone: its pull request was merged or closed
			// and the branch deleted before promobot heard of it.
			pr.log.Info("remembered promotion branch is gone; opening a new pull request", "branch", branch, "promotion_pr", cur.number)
			cur = nil
			err = gh.CreateBranch(ctx, repo, branch, commit)
		}
	} else if err = gh.CreateBranch(ctx, repo, branch, commit); errors.Is(err, github.ErrExists) {
		// Left over from a promotion merged or closed earlier, or from a
		// pull request promobot does not remember: it may still be open.
		if !looked {
			if cur, err = findPromotionPR(ctx, gh, repo, branch); err != nil {
				return o, err
			}
		}
		err = gh.UpdateBranch(ctx, repo, branch, commit, true)
	}
	if err != nil {
		return o, err
	}
	title, body := prbody.Title(promo), prbody.Body(promo)
	labels := []string{"promotion", "env/" + plan.To()}
	if cur != nil {
		updated, err := gh.UpdatePullRequest(ctx, repo, cur.number, github.PREdit{Title: &title, Body: &body})
		if err != nil {
			return o, err
		}
		if updated.State == "open" {
			o.Kind, o.PR = outcomeUpdated, updated
			if missing := missingLabels(updated.Labels, labels); len(missing) > 0 {
				if err := gh.AddLabels(ctx, repo, updated.Number, missing); err != nil {
					return o, err
				}
			}
		} else {
			// Closed before promobot heard of it: the promotion gets a
			// new pull request.
			pr.log.Info("remembered promotion pull request is closed; opening a new one", "branch", branch, "promotion_pr", cur.number)
			cur = nil
		}
	}
	if cur == nil {
		o.Kind = outcomeOpened
		o.PR, err = gh.CreatePullRequest(ctx, repo, github.NewPR{Title: title, Body: body, Head: branch, Base: pr.info.DefaultBranch})
		if err != nil {
			return o, err
		}
		if err := gh.AddLabels(ctx, repo, o.PR.Number, labels); err != nil {
			return o, err
		}
	}
	fact.PR, fact.PRURL = o.PR.Number, o.PR.URL

	// The diff comment: the target overlay rendered before and after.
	<-rendered
	c := PromotionDiff(renders, plan,
		fmt.Sprintf("`%s` now (`%s` %s)", plan.To(), pr.info.DefaultBranch, short(pr.world.head.SHA)),
		fmt.Sprintf("this promotion (%s)", short(commit)),
		DiffOptions{FingerprintKey: p.opts.FingerprintKey, Limit: p.opts.DiffLimit})
	known := int64(0)
	if cur != nil {
		known = cur.comment
	}
	key := PromotionDiffKey(plan.App, plan.To())
	commentID, err := p.upsertSticky(ctx, gh, repo, o.PR.Number, key, c.Body, cur == nil, known)
	if err != nil {
		return o, err
	}
	remember := memoEntry{PR: o.PR.Number, Comment: commentID, Base: o.PR.Base, Images: promo.Images, SourcePR: pr.sourcePR}
	if err := p.memo.put(ctx, repo, branch, remember); err != nil {
		pr.log.Warn("promotion pull request not remembered; the next promotion looks it up", "error", err)
	}

	verb := "opened"
	if cur != nil {
		verb = "updated"
		if cur.hasPrevious {
			sup := fact
			sup.Previous = cur.previous.Images
			sup.Reason = fmt.Sprintf("superseded by the promotion of %s", short(pr.sourceCommit))
			if cur.previous.SourcePR > 0 {
				sup.Reason = fmt.Sprintf("the promotion from #%d superseded by the promotion of %s", cur.previous.SourcePR, short(pr.sourceCommit))
			}
			p.publish(ctx, repo, "superseded", plan.App, sup)
		}
	}
	p.publish(ctx, repo, verb, plan.App, fact)
	pr.log.Info("promotion "+verb, "app", plan.App, "env", plan.To(), "promotion_pr", o.PR.Number, "promotion_commit", short(commit))
	return o, nil
}

// openPromotion is the open promotion pull request of a branch, as far as
// promobot knows it.
type openPromotion struct {
	number int
	// pr is the pull request as GitHub returned it; zero when it comes
	// from the memo alone.
	pr github.PR
	// fromMemo says it comes from the memo, unconfirmed by GitHub.
	fromMemo bool
	// previous is what the pull request promotes (hasPrevious: known).
	previous    prbody.Promotion
	hasPrevious bool
	// comment is its sticky diff comment; 0: look it up.
	comment int64
}

// findPromotionPR returns the open pull request from branch, or nil when
// there is none (one call).
func findPromotionPR(ctx context.Context, gh PullRequests, repo Repo, branch string) (*openPromotion, error) {
	prs, err := gh.PullRequests(ctx, repo, github.PRFilter{Head: branch, State: "open"})
	if err != nil {
		return nil, err
	}
	for _, pr := range prs {
		if pr.Head != branch || pr.State != "open" {
			continue
		}
		cur := &openPromotion{number: pr.Number, pr: pr}
		prev, err := prbody.ParsePromotionBlock(pr.Body)
		cur.previous, cur.hasPrevious = prev, err == nil
		return cur, nil
	}
	return nil, nil
}

// upsertSticky edits the sticky comment for key on pull request number in
// place, or creates it, and returns its id. fresh says the pull request
// was just opened, so it has no comments to look through; known is the
// comment's id when promobot remembers it (0: look it up).
func (p *Promoter) upsertSticky(ctx context.Context, gh PullRequests, repo Repo, number int, key, body string, fresh bool, known int64) (int64, error) {
	if known != 0 {
		err := gh.EditComment(ctx, repo, known, body)
		if !errors.Is(err, github.ErrNotFound) {
			return known, err
		}
		// Deleted by someone: look for another, or make a new one.
	}
	if !fresh {
		id, old, found, err := p.findSticky(ctx, gh, repo, number, key)
		if err != nil {
			return 0, err
		}
		if found {
			if old == body {
				return id, nil
			}
			return id, gh.EditComment(ctx, repo, id, body)
		}
	}
	c, err := gh.CreateComment(ctx, repo, number, body)
	return c.ID, err
}

// findSticky finds promobot's sticky comment for key.
func (p *Promoter) findSticky(ctx context.Context, gh PullRequests, repo Repo, number int, key string) (id int64, body string, found bool, err error) {
	cs, err := gh.Comments(ctx, repo, number)
	if err != nil {
		return 0, "", false, err
	}
	for _, c := range cs {
		if p.isSelf(c.Author) && diff.HasMarker(c.Body, key) {
			return c.ID, c.Body, true, nil
		}
	}
	return 0, "", false, nil
}

// isSelf reports whether login is the App's bot user.
func (p *Promoter) isSelf(login string) bool {
	return strings.EqualFold(login, p.opts.AppSlug+"[bot]") || strings.EqualFold(login, p.opts.AppSlug)
}

// sameTargets reports whether two promotions set the same images.
func sameTargets(a, b []prbody.Image) bool {
	key := func(imgs []prbody.Image) []string {
		var out []string
		for _, i := range imgs {
			out = append(out, fmt.Sprintf("%s=%s|%s|%s", i.Name, i.To.NewName, i.To.NewTag, i.To.Digest))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func missingLabels(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			out = append(out, w)
		}
	}
	return out
}

// commitMessage describes the promotion commit.
func commitMessage(plan Plan, promo prbody.Promotion) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Promote %s to %s\n\n", plan.App, plan.To())
	for _, c := range plan.Changes {
		from := "(new)"
		if c.From != (kustomize.Image{}) {
			from = c.From.Reference()
		}
		fmt.Fprintf(&b, "%s: %s → %s\n", c.Name, from, c.To.Reference())
	}
	fmt.Fprintf(&b, "\nSource: %s at %s", plan.From(), short(promo.SourceCommit))
	if promo.SourcePR > 0 {
		fmt.Fprintf(&b, " (#%d)", promo.SourcePR)
	}
	b.WriteString("\n")
	if promo.RequestedBy != "" {
		fmt.Fprintf(&b, "Requested-by: @%s\n", promo.RequestedBy)
	}
	return b.String()
}
