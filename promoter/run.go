package promoter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/promoter/command"
)

// commandRun is one command comment being answered.
type commandRun struct {
	gh      GitHub
	repo    Repo
	info    github.RepoInfo
	number  int
	comment int64
	login   string
	userID  int64
	line    string
	log     *slog.Logger
	// settleAck stops the pending 👀 (ackLater); nil when none.
	settleAck func()
}

// answer is what the commenter sees of a command once it has run, besides
// the 👀 of a command that ran long: reactions, then a reply.
type answer struct {
	reactions []string
	// reply is Markdown; "" for none.
	reply string
}

// refusal is the answer to a command that changed nothing: 😕 and why.
func refusal(reply string) answer {
	return answer{reactions: []string{ReactionConfused}, reply: reply}
}

// ackLater reacts 👀 to the command once it has run for after, so that a
// command that takes a while shows it is under way; a command answered
// sooner gets its outcome alone. A failed 👀 is logged: it changes
// nothing the command does.
func (c *commandRun) ackLater(ctx context.Context, after time.Duration) {
	done := make(chan struct{})
	t := time.AfterFunc(max(after, 0), func() {
		defer close(done)
		if err := c.gh.React(ctx, c.repo, c.comment, ReactionEyes); err != nil {
			c.log.Warn("command not acknowledged", "error", err)
		}
	})
	c.settleAck = sync.OnceFunc(func() {
		if !t.Stop() {
			<-done
		}
	})
}

// respond posts a: the one place a command's outcome reaches its
// commenter.
func (c *commandRun) respond(ctx context.Context, a answer) error {
	if c.settleAck != nil {
		// A 👀 under way comes before the outcome.
		c.settleAck()
	}
	for _, r := range a.reactions {
		if err := c.gh.React(ctx, c.repo, c.comment, r); err != nil {
			return err
		}
	}
	if a.reply == "" {
		return nil
	}
	_, err := c.gh.CreateComment(ctx, c.repo, c.number, a.reply)
	return err
}

// answerCommand runs a command comment and answers it.
func (p *Promoter) answerCommand(ctx context.Context, run *commandRun, res command.Result, merged bool) error {
	a, err := p.runCommand(ctx, run, res, merged)
	if err != nil {
		return err
	}
	return run.respond(ctx, a)
}

// runCommand carries out a command from the comment's one parse (res;
// names are checked once the repository is loaded): a /promote is
// acknowledged and authorized, then the repository is loaded, the
// promotion planned and published. It returns what the commenter is told;
// the error is for what a retry may fix.
func (p *Promoter) runCommand(ctx context.Context, run *commandRun, res command.Result, merged bool) (answer, error) {
	if res.Kind == command.KindReply {
		// A misspelt /promote: the reply offers the right command.
		return answer{reply: res.Reply}, nil
	}
	cmd := res.Command
	switch cmd.Verb {
	case command.VerbFreeze, command.VerbUnfreeze:
		return p.freezeCommand(ctx, run, cmd)
	case command.VerbRollback:
		return p.rollbackCommand(ctx, run, cmd)
	case command.VerbDiff:
		return p.diffCommand(ctx, run)
	case command.VerbSync:
		return p.syncCommand(ctx, run, cmd)
	}
	var source github.PR
	if cmd.Verb == command.VerbPromote {
		p.publish(ctx, run.repo, "requested", fmt.Sprint(run.number), run.fact())
		pr, denied, err := p.admit(ctx, run, merged)
		if err != nil {
			return answer{}, err
		}
		if denied != nil {
			return *denied, nil
		}
		source = pr
	}
	return withWorld(ctx, run.gh, run.repo, run.info, func(w *world) (answer, error) {
		if cmd.Verb == command.VerbHelp {
			if w.err != nil {
				return refusal(replyConfig(run.line, w.err)), nil
			}
			return answer{reply: command.HelpText(w.steps, w.repo.Config.Promoters)}, nil
		}
		return p.promoteCommand(ctx, run, cmd, source, w)
	})
}

// fact is the fact of the command, before anything came of it.
func (c *commandRun) fact() factData {
	return factData{SourcePR: c.number, RequestedBy: c.login, Command: c.line}
}

// refuse records the refusal of a /promote and returns its answer.
func (p *Promoter) refuse(ctx context.Context, run *commandRun, reason, reply string) answer {
	p.publish(ctx, run.repo, "refused", fmt.Sprint(run.number), withReason(run.fact(), reason))
	promotionsTotal.WithLabelValues(string(outcomeRefused)).Inc()
	return refusal(reply)
}

// admit decides, before the repository is loaded, whether a /promote may
// go on: the commenter may promote (authorize) and the pull request is
// merged. It returns the merged pull request, or the refusal. The reads
// run at once: neither depends on the other. The merge commit comes from
// the pull request's closed event when promobot has handled it, else from
// GitHub.
func (p *Promoter) admit(ctx context.Context, run *commandRun, merged bool) (github.PR, *answer, error) {
	var roleErr, prErr error
	var role github.RepoPermission
	var pr github.PR
	var wg sync.WaitGroup
	wg.Go(func() { role, roleErr = run.gh.Permission(ctx, run.repo, run.login) })
	if merged {
		if m, ok := p.merges.Get(ctx, run.repo, run.number); ok {
			pr = github.PR{Number: run.number, State: "closed", Merged: true, MergeCommitSHA: m.Commit}
		} else {
			wg.Go(func() { pr, prErr = run.gh.PullRequest(ctx, run.repo, run.number) })
		}
	}
	wg.Wait()
	if err := cmp.Or(roleErr, prErr); err != nil {
		return pr, nil, err
	}
	ok, who, err := p.authorize(ctx, run.gh, run, role)
	if err != nil {
		return pr, nil, err
	}
	if !ok {
		a := p.refuse(ctx, run, fmt.Sprintf("%s has %s permission", run.login, role.Role), replyRefused(run.line, run.login, role.Role, who))
		return pr, &a, nil
	}
	if !merged || !pr.Merged || pr.MergeCommitSHA == "" {
		a := p.refuse(ctx, run, "not merged", replyNotMerged(run.line))
		return pr, &a, nil
	}
	return pr, nil, nil
}

// admitAction reads the commenter's permission for a command that acts
// without a merged pull request (/rollback, /sync, /diff, /freeze), and
// lets it go on when the commenter may promote, or with adminOnly only
// when they are an admin. It returns the permission, or the refusal.
func (p *Promoter) admitAction(ctx context.Context, run *commandRun, verb command.Verb, adminOnly bool) (github.RepoPermission, *answer, error) {
	role, err := run.gh.Permission(ctx, run.repo, run.login)
	if err != nil {
		return role, nil, err
	}
	if adminOnly {
		if role.IsAdmin() {
			return role, nil, nil
		}
		a := refusal(fmt.Sprintf("%s@%s, only the repository's admins may `/%s` (you have %s permission).",
			quoteLine(run.line), mdText(run.login), verb, mdText(cmp.Or(role.Role, "no"))))
		return role, &a, nil
	}
	ok, who, err := p.authorize(ctx, run.gh, run, role)
	if err != nil || ok {
		return role, nil, err
	}
	a := refusal(replyRefused(run.line, run.login, role.Role, who))
	return role, &a, nil
}

// authorize decides whether the commenter, whose permission is role, may
// promote: write (or higher) permission on the repository, or a place
// under promoters in the default branch's .promobot.yaml (listed by
// account id, or an active member of a listed team). The rules are read
// only for a commenter without write permission; who is what they list.
func (p *Promoter) authorize(ctx context.Context, gh Access, run *commandRun, role github.RepoPermission) (ok bool, who gitops.Promoters, err error) {
	if role.CanWrite() {
		return true, who, nil
	}
	if who, err = readPromoters(ctx, gh, run.repo, run.info.DefaultBranch); err != nil {
		return false, who, err
	}
	ok, err = listedPromoter(ctx, gh, run, who)
	return ok, who, err
}

// readPromoters reads promoters from .promobot.yaml on the default branch
// (one call). A repository without the file, or with one promobot cannot
// use, lists nobody: only write permission lets a user promote there.
func readPromoters(ctx context.Context, gh Access, repo Repo, branch string) (gitops.Promoters, error) {
	raw, err := gh.File(ctx, repo, branch, gitops.ConfigFile)
	if errors.Is(err, github.ErrNotFound) {
		return gitops.Promoters{}, nil
	}
	if err != nil {
		return gitops.Promoters{}, fmt.Errorf("%s: read promoters: %w", repo, err)
	}
	cfg, err := gitops.ParseConfig(raw)
	if err != nil {
		return gitops.Promoters{}, nil
	}
	return cfg.Promoters, nil
}

// listedPromoter reports whether .promobot.yaml lets the commenter promote:
// listed under promoters.users, or an active member of a team under
// promoters.teams.
func listedPromoter(ctx context.Context, gh Access, run *commandRun, who gitops.Promoters) (bool, error) {
	if who.AllowsUser(run.userID) {
		return true, nil
	}
	for _, t := range who.Teams {
		org, team, ok := strings.Cut(t, "/")
		if !ok {
			continue
		}
		member, err := gh.TeamMember(ctx, org, team, run.login)
		var api *github.APIError
		if errors.As(err, &api) && api.Status == http.StatusForbidden {
			// Asking again will not help: the App lacks the permission.
			return false, events.Permanent(fmt.Errorf("promoters.teams lists %s, but GitHub does not let promobot read its members "+
				"(grant the GitHub App the organization permission Members: read): %w", t, err))
		}
		if err != nil {
			return false, err
		}
		if member {
			return true, nil
		}
	}
	return false, nil
}

// promoteCommand checks the command's names against the loaded world and
// promotes the merge commit of source, the merged pull request.
func (p *Promoter) promoteCommand(ctx context.Context, run *commandRun, cmd command.Command, source github.PR, w *world) (answer, error) {
	if w.err != nil {
		return p.refuse(ctx, run, "invalid configuration: "+w.err.Error(), replyConfig(run.line, w.err)), nil
	}
	apps, envs := KnownNames(w.steps)
	res := command.Resolve(cmd, command.Known{Apps: apps, Environments: envs})
	if res.Kind != command.KindCommand {
		return p.refuse(ctx, run, "unknown app or environment", res.Reply), nil
	}
	cmd = res.Command
	outs, err := p.promote(ctx, &promotion{
		gh: run.gh, repo: run.repo, info: run.info, world: w,
		sourceCommit: source.MergeCommitSHA, sourcePR: run.number, requestedBy: run.login, command: cmd.String(),
		sel: Selection{App: cmd.App, To: cmd.Env}, log: run.log.With("revision", markdown.ShortSHA(source.MergeCommitSHA)),
	})
	var nothing errNothing
	if errors.As(err, &nothing) {
		return p.refuse(ctx, run, stripMarkdown(nothing.reason), replyReason(run.line, nothing.reason)), nil
	}
	if err != nil {
		return answer{}, err
	}
	return answerOutcomes(run.line, outs), nil
}

// answerOutcomes answers a command that promoted: 🚀 when a promotion pull
// request is up, 😕 when an app was held back, and a reply unless every
// app's pull request was opened or updated.
func answerOutcomes(line string, outs []outcome) answer {
	up, held := false, false
	for _, o := range outs {
		switch o.Kind {
		case outcomeOpened, outcomeUpdated, outcomeAlreadyOpen:
			up = true
		case outcomeRefused, outcomeFailed:
			held = true
		}
	}
	var a answer
	if up {
		a.reactions = append(a.reactions, ReactionRocket)
	}
	if held {
		a.reactions = append(a.reactions, ReactionConfused)
	}
	if needsReply(outs) {
		a.reply = replyOutcomes(line, outs)
	}
	return a
}

// deref is the answer a refusal points at, or none.
func deref(a *answer) answer {
	if a == nil {
		return answer{}
	}
	return *a
}

// withResolved loads the repository (withWorld), checks cmd's names
// against its pipeline and runs fn with the command in the repository's
// spelling; an invalid configuration or an unknown name is the refusal.
func withResolved(ctx context.Context, run *commandRun, cmd command.Command, fn func(*world, command.Command) (answer, error)) (answer, error) {
	return withWorld(ctx, run.gh, run.repo, run.info, func(w *world) (answer, error) {
		if w.err != nil {
			return refusal(replyConfig(run.line, w.err)), nil
		}
		apps, envs := KnownNames(w.steps)
		res := command.Resolve(cmd, command.Known{Apps: apps, Environments: envs})
		if res.Kind != command.KindCommand {
			return refusal(res.Reply), nil
		}
		return fn(w, res.Command)
	})
}
