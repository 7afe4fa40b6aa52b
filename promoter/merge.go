package promoter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// Auto-merge: a pipeline step with autoMerge has its promotion pull
// request merged by promobot once the checks branch protection requires on
// the default branch are green on the commit promobot made, and nothing
// froze the target since the gates passed. It is tried right after the
// pull request is opened or updated, and again on every green status or
// check run on a promotion branch. promobot never merges past the
// protection: it reads the required checks itself and passes the head it
// checked, so GitHub refuses the merge when anything moved.

// Merger merges pull requests once their required checks are green.
// Methods are safe for concurrent use.
type Merger interface {
	// RequiredChecks lists the checks branch protection requires on
	// branch (1 call).
	RequiredChecks(ctx context.Context, repo Repo, branch string) ([]string, error)
	// CheckStates returns the state of every status context and check
	// run on sha, keyed by lower-cased name (2 calls).
	CheckStates(ctx context.Context, repo Repo, sha string) (map[string]string, error)
	// MergePullRequest merges a pull request (1 call).
	MergePullRequest(ctx context.Context, repo Repo, number int, m github.Merge) (string, error)
}

var _ Merger = GitHub(nil)

// mergeTarget is a promotion pull request auto-merge may merge.
type mergeTarget struct {
	repo Repo
	info github.RepoInfo
	// step is the pipeline step (AutoMerge set).
	step gitops.Step
	app  string
	// pr is the open promotion pull request; commit the commit promobot
	// made on its branch, which its head must still be.
	pr     github.PR
	commit string
}

// checkPayload is what the promoter reads of a status or check_run
// delivery: the commit it is about, whether it passed, and the branches
// at it.
type checkPayload struct {
	Action   string `json:"action"`
	SHA      string `json:"sha"`
	State    string `json:"state"`
	Branches []struct {
		Name string `json:"name"`
	} `json:"branches"`
	CheckRun *struct {
		HeadSHA    string `json:"head_sha"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		CheckSuite struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
		App struct {
			Slug string `json:"slug"`
		} `json:"app"`
	} `json:"check_run"`
	Repository   repoPayload `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// passed returns the commit a green status or completed check run is
// about, and the promotion branches at it; ok is false for anything that
// cannot unblock a merge (a pending or failing check, another branch).
func (c checkPayload) passed() (sha string, branches []string, ok bool) {
	var names []string
	switch {
	case c.CheckRun != nil:
		r := c.CheckRun
		if c.Action != "completed" || r.Status != "completed" || !slices.Contains([]string{"success", "neutral", "skipped"}, r.Conclusion) {
			return "", nil, false
		}
		sha, names = r.HeadSHA, []string{r.CheckSuite.HeadBranch}
	case c.State == "success":
		sha = c.SHA
		for _, b := range c.Branches {
			names = append(names, b.Name)
		}
	default:
		return "", nil, false
	}
	for _, n := range names {
		if strings.HasPrefix(n, BranchPrefix) && !slices.Contains(branches, n) {
			branches = append(branches, n)
		}
	}
	if sha == "" || len(branches) == 0 {
		return "", nil, false
	}
	return sha, branches, true
}

// handleCheck tries to merge the promotion pull requests at the commit a
// green status or check run is about. Anything else costs no call.
func (p *Promoter) handleCheck(ctx context.Context, d events.Delivery) (string, error) {
	c, err := ghevent.DecodePayload[checkPayload](d)
	if err != nil {
		return "", err
	}
	sha, branches, ok := c.passed()
	if !ok {
		return "", nil
	}
	if c.CheckRun != nil && p.isSelf(c.CheckRun.App.Slug) {
		// promobot's own check on a promotion is posted before the merge
		// is tried right after it (mergeAfterPublish): nothing to redo.
		return "", nil
	}
	repo := c.Repository.repo()
	if c.Installation.ID == 0 {
		return "", events.Permanent(fmt.Errorf("%s %s on %s: no installation in the payload", ghevent.EventName(d.Event), d.Event.ID(), repo))
	}
	gh, err := p.gh.GitHub(ctx, c.Installation.ID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	for _, branch := range branches {
		app, env, ok := promotionOf(branch)
		if !ok {
			continue
		}
		err := p.withLease(ctx, repo, app, env, func(ctx context.Context) error {
			t, found, err := p.loadMergeTarget(ctx, gh, repo, branch, sha)
			if err != nil || !found {
				return err
			}
			return p.mergeWhenGreen(ctx, gh, t)
		})
		if err != nil {
			return "", err
		}
	}
	return sha, nil
}

// promotionOf parses a promotion branch (BranchFor) into its app and
// environment.
func promotionOf(branch string) (app, env string, ok bool) {
	rest, ok := strings.CutPrefix(branch, BranchPrefix)
	if !ok {
		return "", "", false
	}
	app, env, ok = strings.Cut(rest, "/")
	if !ok || app == "" || env == "" || strings.Contains(env, "/") {
		return "", "", false
	}
	return app, env, true
}

// loadMergeTarget reads what auto-merge needs of the promotion on branch
// whose head is sha: found is false when it is not one to merge (no
// autoMerge step, not the commit promobot made, not open).
func (p *Promoter) loadMergeTarget(ctx context.Context, gh GitHub, repo Repo, branch, sha string) (mergeTarget, bool, error) {
	log := events.Logger(ctx).With("repo", repo.String(), "branch", branch, "revision", markdown.ShortSHA(sha))
	m, ok := p.memo.get(ctx, repo, branch)
	if !ok || m.Commit != sha {
		log.Debug("not a commit promobot made on its promotion branch; not merged")
		return mergeTarget{}, false, nil
	}
	app, env, _ := promotionOf(branch)
	info, err := gh.Repository(ctx, repo)
	if err != nil {
		return mergeTarget{}, false, err
	}
	step, ok, err := autoMergeStep(ctx, gh, repo, env)
	if err != nil || !ok {
		return mergeTarget{}, false, err
	}
	pr, err := gh.PullRequest(ctx, repo, m.PR)
	if err != nil {
		return mergeTarget{}, false, err
	}
	return mergeTarget{repo: repo, info: info, step: step, app: app, pr: pr, commit: m.Commit}, true, nil
}

// autoMergeStep returns the pipeline step into env with autoMerge, from
// the default branch's .promobot.yaml; ok is false when there is none or
// the file does not parse (the applier reports that).
func autoMergeStep(ctx context.Context, gh Access, repo Repo, env string) (gitops.Step, bool, error) {
	data, err := gh.File(ctx, repo, "", gitops.ConfigFile)
	if errors.Is(err, github.ErrNotFound) {
		return gitops.Step{}, false, nil
	}
	if err != nil {
		return gitops.Step{}, false, err
	}
	cfg, err := gitops.ParseConfig(data)
	if err != nil {
		return gitops.Step{}, false, nil
	}
	for _, s := range cfg.Steps {
		if s.To == env && s.AutoMerge {
			return gitops.Step{From: s.From, To: s.To, AutoMerge: true, MergeMethod: s.MergeMethod, Gates: s.Gates}, true, nil
		}
	}
	return gitops.Step{}, false, nil
}

// mergeAfterPublish tries to merge the promotion pull request o just
// opened, updated or found open, when its step has autoMerge. It runs
// under the promotion's lease.
func (p *Promoter) mergeAfterPublish(ctx context.Context, pr *promotion, o outcome) error {
	plan := o.Plan
	switch {
	case !plan.Step.AutoMerge || plan.Rollback != nil:
		return nil
	case o.Kind != outcomeOpened && o.Kind != outcomeUpdated && o.Kind != outcomeAlreadyOpen:
		return nil
	}
	m, ok := p.memo.get(ctx, pr.repo, plan.Branch())
	if !ok || m.PR != o.PR.Number {
		return nil // not remembered: the next green check merges it
	}
	return p.mergeWhenGreen(ctx, pr.gh, mergeTarget{repo: pr.repo, info: pr.info, step: plan.Step, app: plan.App, pr: o.PR, commit: m.Commit})
}

// mergeWhenGreen merges t's pull request when it is still promobot's
// commit, nothing froze the target, and every required check is green;
// otherwise it records why it waits. GitHub's refusals are waits too;
// only errors a retry may fix are returned.
func (p *Promoter) mergeWhenGreen(ctx context.Context, gh GitHub, t mergeTarget) error {
	log := events.Logger(ctx).With("repo", t.repo.String(), "app", t.app, "env", t.step.To, "promotion_pr", t.pr.Number)
	fact := factData{App: t.app, From: t.step.From, To: t.step.To, PR: t.pr.Number, PRURL: t.pr.URL, Branch: t.pr.Head, Commit: t.commit, Auto: true}
	wait := func(reason string) error {
		log.Info("promotion not merged yet", "reason", reason)
		p.publish(ctx, t.repo, "waiting", t.app, withReason(fact, reason))
		return nil
	}
	pr := t.pr
	switch {
	case pr.State != "open" || pr.Merged:
		return nil
	case !p.isSelf(pr.Author) || pr.Head != BranchFor(t.app, t.step.To) || pr.Base != t.info.DefaultBranch:
		return wait("not a promotion pull request promobot opened into " + t.info.DefaultBranch)
	case pr.HeadSHA != t.commit:
		return wait(fmt.Sprintf("its head %s is not the commit promobot made (%s): someone pushed to it", markdown.ShortSHA(pr.HeadSHA), markdown.ShortSHA(t.commit)))
	}
	if reason, err := p.mergeFrozen(ctx, t); err != nil || reason != "" {
		if err != nil {
			return err
		}
		return wait(reason)
	}
	required, reason, err := requiredChecksGreen(ctx, gh, t.repo, pr)
	if err != nil || reason != "" {
		if err != nil {
			return err
		}
		return wait(reason)
	}
	if len(t.info.MergeMethods) == 0 {
		// A webhook's repository may not say which methods it allows.
		if t.info, err = gh.Repository(ctx, t.repo); err != nil {
			return err
		}
	}
	methods := mergeMethods(t.step.MergeMethod, t.info.MergeMethods)
	if len(methods) == 0 {
		return wait(fmt.Sprintf("the repository does not allow the %s merge method", t.step.MergeMethod))
	}
	var method, merged string
	for _, method = range methods {
		merged, err = gh.MergePullRequest(ctx, t.repo, pr.Number, github.Merge{SHA: pr.HeadSHA, Method: method})
		var apiErr *github.APIError
		if errors.As(err, &apiErr) && apiErr.Status == 405 && strings.Contains(apiErr.Message, "not allowed on this repository") {
			continue // the repository's settings changed, or were not said
		}
		if errors.As(err, &apiErr) && (apiErr.Status == 405 || apiErr.Status == 409 || apiErr.Status == 422) {
			return wait("GitHub refused the merge: " + apiErr.Message)
		}
		break
	}
	if err != nil {
		return err
	}
	return p.announceMerge(ctx, gh, t, required, method, merged, fact)
}

// mergeFrozen says why t's target may not take a merge now: a /freeze or
// a freeze window of its step ("" when neither holds).
func (p *Promoter) mergeFrozen(ctx context.Context, t mergeTarget) (string, error) {
	f, frozen, err := p.freezes.Frozen(ctx, t.repo, t.step.To)
	if err != nil {
		return "", err
	}
	if frozen {
		return fmt.Sprintf("%s is %s", t.step.To, f.Describe()), nil
	}
	if w, frozen := t.step.Gates.Frozen(p.opts.Now()); frozen {
		return fmt.Sprintf("promotions into %s are frozen now (%s)", t.step.To, w), nil
	}
	return "", nil
}

// requiredChecksGreen returns the checks the base branch requires, and
// why the pull request's head does not pass them yet ("" when it does).
func requiredChecksGreen(ctx context.Context, gh Merger, repo Repo, pr github.PR) ([]string, string, error) {
	required, err := gh.RequiredChecks(ctx, repo, pr.Base)
	if err != nil || len(required) == 0 {
		return required, "", err
	}
	states, err := gh.CheckStates(ctx, repo, pr.HeadSHA)
	if err != nil {
		return nil, "", err
	}
	var notGreen []string
	for _, c := range required {
		switch s := states[strings.ToLower(c)]; s {
		case github.CheckSuccess:
		case "":
			notGreen = append(notGreen, c+" (expected)")
		default:
			notGreen = append(notGreen, c+" ("+s+")")
		}
	}
	if len(notGreen) > 0 {
		return required, "required checks not green: " + strings.Join(notGreen, ", "), nil
	}
	return required, "", nil
}

// mergeMethods are the merge methods to try, in order: the step's when
// the repository allows it (none when it does not), else those the
// repository allows, else all of them (GitHub did not say).
func mergeMethods(want string, allowed []string) []string {
	switch {
	case want != "" && (len(allowed) == 0 || slices.Contains(allowed, want)):
		return []string{want}
	case want != "":
		return nil
	case len(allowed) == 0:
		return gitops.MergeMethods
	}
	return allowed
}

// announceMerge says on the pull request and as a fact who merged it and
// why.
func (p *Promoter) announceMerge(ctx context.Context, gh Commenter, t mergeTarget, required []string, method, merged string, fact factData) error {
	checks := fmt.Sprintf("`%s` requires no checks", t.pr.Base)
	if len(required) > 0 {
		checks = fmt.Sprintf("the checks `%s` requires are green (%s)", t.pr.Base, "`"+strings.Join(required, "`, `")+"`")
	}
	reason := fmt.Sprintf("autoMerge is on for %s → %s in %s; the gates passed, nothing froze %s, and %s",
		t.step.From, t.step.To, gitops.ConfigFile, t.step.To, stripMarkdown(checks))
	body := fmt.Sprintf("Merged by promobot (%s merge, %s): `autoMerge` is on for `%s` → `%s` in `%s`; the gates passed when this promotion was made, nothing froze `%s` since, and %s.",
		method, markdown.ShortSHA(merged), t.step.From, t.step.To, gitops.ConfigFile, t.step.To, checks)
	p.publish(ctx, t.repo, "merged", t.app, withReason(fact, reason))
	events.Logger(ctx).Info("promotion merged", "repo", t.repo.String(), "app", t.app, "env", t.step.To, "promotion_pr", t.pr.Number, "revision", markdown.ShortSHA(merged))
	_, err := gh.CreateComment(ctx, t.repo, t.pr.Number, body)
	return err
}
