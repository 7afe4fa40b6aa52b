package promoter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/render"
	"github.com/promobot/promobot/promoter/prbody"
)

// prWriter publishes one plan as its promotion pull request. It is the
// promoter's one writer of promotions: one commit on the plan's stable
// branch (the Contents API for one file, else the Git Data API), the
// pull request with its title, body and labels, and its sticky
// diff comment.
//
// When promobot remembers the open pull request and what it promotes (the
// memo), an update makes no lookup: it moves the branch, edits the pull
// request and the remembered comment, and GitHub's answers correct a
// memory that turns out stale (a deleted branch, a closed pull request, a
// deleted comment).
type prWriter struct {
	p  *Promoter
	pr *promotion
	// git, prs and comments are the installation's client in the roles
	// the writer uses.
	git      Committer
	prs      PullRequestWriter
	comments Commenter
	plan     Plan
	branch   string
	// promo is what the pull request's title, body and hidden block say.
	promo prbody.Promotion
	// cur is the open promotion pull request as far as promobot knows it
	// (nil: none); looked says GitHub was asked for it.
	cur    *openPromotion
	looked bool
}

// publishPlan makes the promotion pull request for plan, or updates the
// open one, and records what it did as facts.
func (p *Promoter) publishPlan(ctx context.Context, pr *promotion, plan Plan) (outcome, error) {
	w := &prWriter{p: p, pr: pr, git: pr.gh, prs: pr.gh, comments: pr.gh, plan: plan, branch: plan.Branch(), promo: plan.promotion()}
	w.promo.SourcePR, w.promo.SourceCommit, w.promo.RequestedBy, w.promo.Auto = pr.sourcePR, pr.sourceCommit, pr.requestedBy, pr.auto
	w.promo.RepoURL = pr.info.HTMLURL
	o := outcome{Plan: plan}

	// Render the diff while GitHub answers: it needs only the plan. The
	// render reads the world's checkout, so it is waited for in any case.
	var renders []diff.AppRender
	rendered := make(chan struct{})
	go func() {
		defer close(rendered)
		renders = p.renderPlan(ctx, pr, plan)
	}()
	defer func() { <-rendered }()

	if err := w.findOpen(ctx); err != nil {
		return o, err
	}
	if cur := w.cur; cur != nil && !cur.fromMemo && cur.hasPrevious && cur.pr.Base == pr.info.DefaultBranch && sameTargets(cur.previous, w.promo) {
		o.Kind, o.PR = outcomeAlreadyOpen, cur.pr
		fact := w.fact(cur.pr, "")
		fact.Reason = "already open"
		p.publish(ctx, pr.repo, "unchanged", plan.App, fact)
		return o, nil
	}
	commit, err := w.commit(ctx)
	if err != nil {
		return o, err
	}
	if o.Kind, o.PR, err = w.pullRequest(ctx); err != nil {
		return o, err
	}
	<-rendered
	if err := w.diffComment(ctx, renders, commit, o.PR); err != nil {
		return o, err
	}
	w.record(ctx, o, commit)
	return o, nil
}

// findOpen finds the open promotion pull request: from the memo alone
// when it says what the pull request promotes and that differs from this
// promotion; asked of GitHub when the memo is older or the promotion may
// already be open; not at all when promobot remembers none (a first
// promotion).
func (w *prWriter) findOpen(ctx context.Context) error {
	repo, info := w.pr.repo, w.pr.info
	memo, remembered := w.p.memo.get(ctx, repo, w.branch)
	if !remembered {
		return nil
	}
	previous := prbody.Promotion{Images: memo.Images, Revision: memo.Revision, SourcePR: memo.SourcePR}
	if memo.complete() && !(memo.Base == info.DefaultBranch && sameTargets(previous, w.promo)) {
		w.cur = &openPromotion{number: memo.PR, comment: memo.Comment, fromMemo: true, hasPrevious: true, previous: previous}
		return nil
	}
	cur, err := findPromotionPR(ctx, w.prs, repo, w.branch)
	if err != nil {
		return err
	}
	w.cur, w.looked = cur, true
	if cur != nil && cur.number == memo.PR {
		cur.comment = memo.Comment
	}
	return nil
}

// commit makes the promotion commit on top of the default branch's head
// and points the branch at it, creating the branch or moving it. A plan
// that edits one existing file costs two writes: the branch set to the
// head, then the file committed on it with the Contents API. Any other
// plan, or a branch someone moved in between, costs three through the Git
// Data API: tree, commit, then the branch set to the commit.
func (w *prWriter) commit(ctx context.Context) (string, error) {
	edits := w.plan.Edits()
	if len(edits) == 1 && edits[0].Before != nil {
		commit, err := w.commitFile(ctx, edits[0])
		if !errors.Is(err, errBranchMoved) {
			return commit, err
		}
		w.pr.log.Info("promotion branch moved while promobot wrote it; committing again on the head", "branch", w.branch)
	}
	gh, repo, head := w.git, w.pr.repo, w.pr.world.head
	var files []github.TreeFile
	for _, e := range edits {
		files = append(files, github.TreeFile{Path: e.Path, Content: e.After})
	}
	tree, err := gh.CreateTree(ctx, repo, head.Tree, files)
	if err != nil {
		return "", err
	}
	commit, err := gh.CreateCommit(ctx, repo, github.NewCommit{Message: commitMessage(w.plan, w.promo), Tree: tree,
		Parents: []string{head.SHA}})
	if err != nil {
		return "", err
	}
	return commit, w.moveBranch(ctx, commit)
}

// errBranchMoved says the promotion branch changed between promobot
// setting it to the head and committing on it.
var errBranchMoved = errors.New("promotion branch moved")

// commitFile sets the branch to the default branch's head and commits e
// on it, checking that the commit's one parent is that head: anything
// else (a push in between) is errBranchMoved.
func (w *prWriter) commitFile(ctx context.Context, e FileEdit) (string, error) {
	head := w.pr.world.head
	if err := w.moveBranch(ctx, head.SHA); err != nil {
		return "", err
	}
	c, err := w.git.PutFile(ctx, w.pr.repo, github.FileWrite{Branch: w.branch, Path: e.Path, Message: commitMessage(w.plan, w.promo),
		Content: e.After, BlobSHA: github.BlobSHA(e.Before)})
	if errors.Is(err, github.ErrConflict) {
		return "", fmt.Errorf("%w: %w", errBranchMoved, err)
	}
	if err != nil {
		return "", err
	}
	if len(c.Parents) != 1 || c.Parents[0] != head.SHA {
		return "", errBranchMoved
	}
	return c.SHA, nil
}

// moveBranch points the promotion branch at commit. A remembered branch
// that is gone is created again (its pull request was merged or closed);
// a branch that exists though none was known may still have an open pull
// request, which is then looked up.
func (w *prWriter) moveBranch(ctx context.Context, commit string) error {
	gh, repo := w.git, w.pr.repo
	if w.cur != nil {
		err := gh.UpdateBranch(ctx, repo, w.branch, commit, true)
		if w.cur.fromMemo && errors.Is(err, github.ErrNotFound) {
			w.pr.log.Info("remembered promotion branch is gone; opening a new pull request", "branch", w.branch, "promotion_pr", w.cur.number)
			w.cur = nil
			err = gh.CreateBranch(ctx, repo, w.branch, commit)
		}
		return err
	}
	err := gh.CreateBranch(ctx, repo, w.branch, commit)
	if !errors.Is(err, github.ErrExists) {
		return err
	}
	// Left over from a promotion merged or closed earlier, or from a pull
	// request promobot does not remember: it may still be open.
	if !w.looked {
		if w.cur, err = findPromotionPR(ctx, w.prs, repo, w.branch); err != nil {
			return err
		}
	}
	return gh.UpdateBranch(ctx, repo, w.branch, commit, true)
}

// pullRequest updates the open promotion pull request's title, body and
// labels, or opens one (also when the one known turns out closed).
func (w *prWriter) pullRequest(ctx context.Context) (outcomeKind, github.PR, error) {
	gh, repo := w.prs, w.pr.repo
	title, body := prbody.Title(w.promo), prbody.Body(w.promo)
	labels := w.plan.labels()
	if w.cur != nil {
		updated, err := gh.UpdatePullRequest(ctx, repo, w.cur.number, github.PREdit{Title: &title, Body: &body})
		if err != nil {
			return "", github.PR{}, err
		}
		if updated.State == "open" {
			if missing := missingLabels(updated.Labels, labels); len(missing) > 0 {
				if err := gh.AddLabels(ctx, repo, updated.Number, missing); err != nil {
					return "", github.PR{}, err
				}
			}
			return outcomeUpdated, updated, nil
		}
		// Closed before promobot heard of it: the promotion gets a new
		// pull request.
		w.pr.log.Info("remembered promotion pull request is closed; opening a new one", "branch", w.branch, "promotion_pr", w.cur.number)
		w.cur = nil
	}
	pr, err := gh.CreatePullRequest(ctx, repo, github.NewPR{Title: title, Body: body, Head: w.branch, Base: w.pr.info.DefaultBranch})
	if err != nil {
		return "", github.PR{}, err
	}
	return outcomeOpened, pr, gh.AddLabels(ctx, repo, pr.Number, labels)
}

// diffComment posts the target overlay rendered before and after as the
// pull request's sticky comment, and remembers the pull request.
func (w *prWriter) diffComment(ctx context.Context, renders []diff.AppRender, commit string, pr github.PR) error {
	plan, head := w.plan, w.pr.world.head
	c := PromotionDiff(renders, plan,
		fmt.Sprintf("`%s` now (`%s` %s)", plan.To(), w.pr.info.DefaultBranch, markdown.ShortSHA(head.SHA)),
		fmt.Sprintf("this promotion (%s)", markdown.ShortSHA(commit)),
		DiffOptions{FingerprintKey: w.p.opts.FingerprintKey, Limit: w.p.opts.DiffLimit})
	s := sticky{key: PromotionDiffKey(plan.App, plan.To()), body: c.Body, fresh: w.cur == nil, create: true}
	if w.cur != nil {
		s.known = w.cur.comment
	}
	commentID, err := w.p.upsertSticky(ctx, w.comments, w.pr.repo, pr.Number, s)
	if err != nil {
		return err
	}
	// The promotion's own check, as every pull request gets: a branch
	// rule that requires it holds a promotion that does not render.
	url := ""
	if pr.URL != "" && commentID != 0 {
		url = fmt.Sprintf("%s#issuecomment-%d", pr.URL, commentID)
	}
	if _, err := w.pr.gh.CreateCheckRun(ctx, w.pr.repo, pullRequestCheck(commit, c, nil, url)); err != nil {
		return err
	}
	remember := memoEntry{PR: pr.Number, Comment: commentID, Base: pr.Base, Images: w.promo.Images, Revision: w.promo.Revision, SourcePR: w.pr.sourcePR, Commit: commit}
	if err := w.p.memo.put(ctx, w.pr.repo, w.branch, remember); err != nil {
		w.pr.log.Warn("promotion pull request not remembered; the next promotion looks it up", "error", err)
	}
	return nil
}

// fact is the fact of this promotion, about pull request pr holding
// commit.
func (w *prWriter) fact(pr github.PR, commit string) factData {
	f := w.pr.fact(w.plan)
	f.Images, f.Revision, f.PR, f.PRURL, f.Commit = w.promo.Images, w.promo.Revision, pr.Number, pr.URL, commit
	return f
}

// record publishes the facts of a published promotion: superseded (the
// promotion the pull request held before) and opened or updated.
func (w *prWriter) record(ctx context.Context, o outcome, commit string) {
	repo, app := w.pr.repo, w.plan.App
	fact := w.fact(o.PR, commit)
	verb := "opened"
	if w.cur != nil {
		verb = "updated"
		if w.cur.hasPrevious {
			sup := fact
			sup.Previous = w.cur.previous.Images
			sup.Reason = fmt.Sprintf("superseded by the promotion of %s", markdown.ShortSHA(w.pr.sourceCommit))
			if w.cur.previous.SourcePR > 0 {
				sup.Reason = fmt.Sprintf("the promotion from #%d superseded by the promotion of %s", w.cur.previous.SourcePR, markdown.ShortSHA(w.pr.sourceCommit))
			}
			w.p.publish(ctx, repo, "superseded", app, sup)
		}
	}
	w.p.publish(ctx, repo, verb, app, fact)
	w.pr.log.Info("promotion "+verb, "app", app, "env", w.plan.To(), "promotion_pr", o.PR.Number, "promotion_commit", markdown.ShortSHA(commit))
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
func findPromotionPR(ctx context.Context, gh PullRequestWriter, repo Repo, branch string) (*openPromotion, error) {
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

// sticky is one sticky comment to keep up to date.
type sticky struct {
	// key is its hidden marker's key; body its text.
	key, body string
	// fresh says the pull request was just opened, so it has no comments
	// to look through; known is the comment's id when promobot remembers
	// it (0: look it up).
	fresh bool
	known int64
	// create says to create the comment when there is none; without it
	// only an existing comment is edited.
	create bool
}

// upsertSticky edits promobot's sticky comment s.key on pull request
// number in place, or creates it, and returns its id (0 when there is
// none and s.create is off). It is the promoter's one sticky-comment
// writer: promotion and pull request diff comments alike. An unchanged
// comment is not written.
func (p *Promoter) upsertSticky(ctx context.Context, gh Commenter, repo Repo, number int, s sticky) (int64, error) {
	if s.known != 0 {
		err := gh.EditComment(ctx, repo, s.known, s.body)
		if !errors.Is(err, github.ErrNotFound) {
			return s.known, err
		}
		// Deleted by someone: look for another, or make a new one.
	}
	if !s.fresh {
		id, old, found, err := p.findSticky(ctx, gh, repo, number, s.key)
		if err != nil {
			return 0, err
		}
		if found {
			if old == s.body {
				return id, nil
			}
			return id, gh.EditComment(ctx, repo, id, s.body)
		}
	}
	if !s.create {
		return 0, nil
	}
	c, err := gh.CreateComment(ctx, repo, number, s.body)
	return c.ID, err
}

// findSticky finds promobot's sticky comment for key.
func (p *Promoter) findSticky(ctx context.Context, gh Commenter, repo Repo, number int, key string) (id int64, body string, found bool, err error) {
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

// sameTargets reports whether two promotions set the same images and pin
// the same revision.
func sameTargets(a, b prbody.Promotion) bool {
	key := func(p prbody.Promotion) []string {
		var out []string
		for _, i := range p.Images {
			out = append(out, fmt.Sprintf("%s=%s|%s|%s", i.Name, i.To.NewName, i.To.NewTag, i.To.Digest))
		}
		if p.Revision != nil {
			out = append(out, "\x00revision="+p.Revision.To)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// renderPlan renders plan's target before and after, for its diff
// comment: the target overlay with and without the edit, or for a
// revision promotion at its current pin (checked out here) and at the
// commit promoted.
func (p *Promoter) renderPlan(ctx context.Context, pr *promotion, plan Plan) []diff.AppRender {
	opts := kustomize.RenderOptions{EnableHelm: pr.world.repo.Config.Render.Helm, Class: kustomize.ClassPreview}
	if plan.Revision == nil {
		return RenderPlans(ctx, pr.world.dir, []Plan{plan}, opts)
	}
	before, err := fetchCheckout(ctx, pr.gh, pr.repo, plan.Revision.From)
	if err != nil {
		ar := diff.AppRender{App: plan.Pair.To.Name, Environment: plan.To(), BeforeErr: fmt.Errorf("checkout of %s: %w", plan.Revision.From, err)}
		ar.After, ar.AfterErr = render.App(ctx, pr.sourceDir, plan.Pair.To, opts)
		return []diff.AppRender{ar}
	}
	defer os.RemoveAll(before)
	return []diff.AppRender{RenderRevision(ctx, before, pr.sourceDir, plan, opts)}
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
	if rb := plan.Rollback; rb != nil {
		fmt.Fprintf(&b, "Roll back %s in %s to %s\n\n", plan.App, plan.To(), markdown.ShortSHA(rb.Commit))
	} else {
		fmt.Fprintf(&b, "Promote %s to %s\n\n", plan.App, plan.To())
	}
	if r := plan.Revision; r != nil {
		fmt.Fprintf(&b, "targetRevision: %s → %s\n", r.From, r.To)
	}
	for _, c := range plan.Changes {
		from := "(new)"
		if c.From != (kustomize.Image{}) {
			from = c.From.Reference()
		}
		fmt.Fprintf(&b, "%s: %s → %s\n", c.Name, from, c.To.Reference())
	}
	fmt.Fprintf(&b, "\nSource: %s at %s", plan.From(), markdown.ShortSHA(promo.SourceCommit))
	if promo.SourcePR > 0 {
		fmt.Fprintf(&b, " (#%d)", promo.SourcePR)
	}
	b.WriteString("\n")
	if promo.RequestedBy != "" {
		fmt.Fprintf(&b, "Requested-by: @%s\n", promo.RequestedBy)
	}
	return b.String()
}
