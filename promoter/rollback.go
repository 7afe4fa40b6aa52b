package promoter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/promoter/command"
	"github.com/promobot/promobot/promoter/prbody"
)

// rollbackCommand runs /rollback <app> [to <point>]: it opens (or
// updates) the pull request that puts the app's environment back to what
// it ran at that point, on promobot/rollback/<app>/<env>, labelled
// rollback: the pin for a pinned app, the overlay's images for the
// others. Who may promote may roll back. No gate holds a rollback but a
// freeze of the environment, which only an admin's --force passes.
func (p *Promoter) rollbackCommand(ctx context.Context, run *commandRun, cmd command.Command) (answer, error) {
	role, denied, err := p.admitAction(ctx, run, cmd.Verb, false)
	if err != nil || denied != nil {
		return deref(denied), err
	}
	if cmd.Force && !role.IsAdmin() {
		return refusal(fmt.Sprintf("%s@%s, only the repository's admins may roll back with `--force`.", quoteLine(run.line), mdText(run.login))), nil
	}
	return withResolved(ctx, run, cmd, func(w *world, cmd command.Command) (answer, error) {
		return p.rollback(ctx, run, cmd, w)
	})
}

// rollback plans and publishes one rollback on the loaded world.
func (p *Promoter) rollback(ctx context.Context, run *commandRun, cmd command.Command, w *world) (answer, error) {
	step, pair, ok := rollbackPair(w.steps, cmd.App)
	if !ok {
		return refusal(fmt.Sprintf("%s`%s` is not promoted into any environment: there is nothing to roll back.", quoteLine(run.line), mdCode(cmd.App))), nil
	}
	commit, why, err := p.rollbackCommit(ctx, run, pair, cmd.Point)
	if err != nil || why != "" {
		return refusal(quoteLine(run.line) + why), err
	}
	if f, frozen, err := p.freezes.Frozen(ctx, run.repo, pair.To.Environment); err != nil {
		return answer{}, err
	} else if frozen && !cmd.Force {
		return refusal(fmt.Sprintf("%s`%s` is %s. `/unfreeze %s` first, or an admin rolls back with `--force`.",
			quoteLine(run.line), step.To, mdText(f.Describe()), step.To)), nil
	}
	at, err := fetchCheckout(ctx, run.gh, run.repo, commit)
	if err != nil {
		return answer{}, err
	}
	defer os.RemoveAll(at)
	plan, err := planRollback(step, pair, commit, at, w)
	if err != nil {
		return refusal(fmt.Sprintf("%s`%s` cannot be rolled back: %s", quoteLine(run.line), mdCode(pair.Base), mdText(err.Error()))), nil
	}
	plan.Rollback = &prbody.Rollback{Point: cmd.Point, Commit: commit}
	if !plan.Changed() {
		return refusal(fmt.Sprintf("%s`%s` already runs what it ran at %s.", quoteLine(run.line), step.To, markdown.ShortSHA(commit))), nil
	}
	pr := &promotion{gh: run.gh, repo: run.repo, info: run.info, world: w, sourceCommit: commit, sourcePR: run.number,
		sourceDir: at, requestedBy: run.login, command: cmd.String(), log: run.log.With("rollback_to", markdown.ShortSHA(commit))}
	var o outcome
	err = p.holding(ctx, fmt.Sprintf("promote/%s/%s/%s", run.repo, plan.App, plan.To()), func(ctx context.Context) error {
		var err error
		o, err = p.publishPlan(ctx, pr, plan)
		return err
	})
	if err != nil {
		return answer{}, err
	}
	return answerOutcomes(run.line, []outcome{o}), nil
}

// rollbackPair finds the pipeline pair whose target app is name: an
// Application's name, or a base name, which means its last environment.
func rollbackPair(steps []gitops.Step, name string) (gitops.Step, gitops.Pair, bool) {
	var step gitops.Step
	var pair gitops.Pair
	found := false
	for _, s := range steps {
		for _, pr := range s.Pairs {
			if strings.EqualFold(pr.To.Name, name) {
				return s, pr, true
			}
			if strings.EqualFold(pr.Base, name) {
				step, pair, found = s, pr, true
			}
		}
	}
	return step, pair, found
}

// rollbackCommit resolves a rollback point to a commit: previous (what
// the target ran before its current commit, from the applier's records),
// #<n> (pull request n's merge commit) or a commit. why, in Markdown, says
// why there is none.
func (p *Promoter) rollbackCommit(ctx context.Context, run *commandRun, pair gitops.Pair, point string) (commit, why string, err error) {
	switch {
	case point == "previous":
		rec, ok, err := p.records.Previous(ctx, run.repo, pair.To.Name)
		if err != nil || !ok {
			return "", fmt.Sprintf("promobot remembers no earlier commit `%s` ran. Name one: `/rollback %s to <commit>`.", mdCode(pair.To.Name), mdCode(pair.Base)), err
		}
		return rec.Commit, "", nil
	case strings.Trim(strings.TrimPrefix(point, "#"), "0123456789") == "" && (strings.HasPrefix(point, "#") || len(point) < 7):
		n, _ := strconv.Atoi(strings.TrimPrefix(point, "#"))
		pr, err := run.gh.PullRequest(ctx, run.repo, n)
		if errors.Is(err, github.ErrNotFound) {
			return "", fmt.Sprintf("There is no pull request #%d.", n), nil
		}
		if err != nil {
			return "", "", err
		}
		if !pr.Merged || pr.MergeCommitSHA == "" {
			return "", fmt.Sprintf("Pull request #%d is not merged: there is no state to roll back to.", n), nil
		}
		return pr.MergeCommitSHA, "", nil
	}
	c, err := run.gh.CommitChanges(ctx, run.repo, point)
	if errors.Is(err, github.ErrNotFound) {
		return "", fmt.Sprintf("There is no commit `%s`.", mdCode(point)), nil
	}
	return c.SHA, "", err
}

// planRollback plans putting pair's target back to what it ran at commit
// (checked out in at): its pin for a pinned app, else its overlay's
// images as they were then.
func planRollback(step gitops.Step, pair gitops.Pair, commit, at string, w *world) (Plan, error) {
	if step.StrategyFor(pair, w.branch) == gitops.StrategyRevision {
		return PlanRevision(step, pair, commit, w.dir)
	}
	repo, err := checkout.Open(at)
	if err != nil {
		return Plan{}, err
	}
	defer repo.Close()
	_, then, err := readKustomization(repo, pair.To)
	if err != nil {
		return Plan{}, err
	}
	plan, err := PlanPair(step, pair, then, w.dir)
	plan.Strategy = gitops.StrategyImages
	return plan, err
}
