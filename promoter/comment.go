package promoter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/promoter/command"
)

// repoPayload is the part of a webhook's repository object the promoter
// reads.
type repoPayload struct {
	Name          string `json:"name"`
	DefaultBranch string `json:"default_branch"`
	HTMLURL       string `json:"html_url"`
	CloneURL      string `json:"clone_url"`
	SSHURL        string `json:"ssh_url"`
	Owner         struct {
		Login string `json:"login"`
		Name  string `json:"name"`
	} `json:"owner"`
}

func (r repoPayload) repo() Repo {
	owner := r.Owner.Login
	if owner == "" {
		owner = r.Owner.Name
	}
	return Repo{Owner: owner, Name: r.Name}
}

func (r repoPayload) info() github.RepoInfo {
	return github.RepoInfo{DefaultBranch: r.DefaultBranch, HTMLURL: r.HTMLURL, CloneURL: r.CloneURL, SSHURL: r.SSHURL}
}

// commentPayload is the part of an issue_comment delivery the promoter
// reads.
type commentPayload struct {
	Action string `json:"action"`
	Issue  struct {
		Number      int `json:"number"`
		PullRequest *struct {
			MergedAt *string `json:"merged_at"`
		} `json:"pull_request"`
	} `json:"issue"`
	Comment struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User struct {
			Login string `json:"login"`
			ID    int64  `json:"id"`
			Type  string `json:"type"`
		} `json:"user"`
	} `json:"comment"`
	Repository   repoPayload `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

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
}

func (c *commandRun) react(ctx context.Context, content string) error {
	return c.gh.React(ctx, c.repo, c.comment, content)
}

func (c *commandRun) reply(ctx context.Context, body string) error {
	_, err := c.gh.CreateComment(ctx, c.repo, c.number, body)
	return err
}

// refuse answers with 😕 and a reply.
func (c *commandRun) refuse(ctx context.Context, body string) error {
	if err := c.react(ctx, ReactionConfused); err != nil {
		return err
	}
	return c.reply(ctx, body)
}

// handleComment answers a command in a pull request comment; it returns
// the command line answered (what the ledger records), or "" for a comment
// that is no command.
func (p *Promoter) handleComment(ctx context.Context, d events.Delivery) (string, error) {
	var c commentPayload
	if err := json.Unmarshal(d.Event.Data(), &c); err != nil {
		return "", events.Permanent(fmt.Errorf("issue_comment %s: decode: %w", d.Event.ID(), err))
	}
	if c.Action != "created" || c.Issue.PullRequest == nil {
		return "", nil
	}
	if command.IsBot(c.Comment.User.Login, c.Comment.User.Type, p.opts.AppSlug) {
		return "", nil
	}
	// A first pass with no names known tells commands from chatter without
	// a single API call.
	res := command.Parse(c.Comment.Body, command.Known{})
	if res.Kind == command.KindIgnore {
		return "", nil
	}
	repo := c.Repository.repo()
	if c.Installation.ID == 0 {
		return "", events.Permanent(fmt.Errorf("issue_comment %s on %s: no installation in the payload", d.Event.ID(), repo))
	}
	log := events.Logger(ctx).With("repo", repo.String(), "pr", c.Issue.Number)
	gh, err := p.gh.GitHub(ctx, c.Installation.ID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	run := &commandRun{gh: gh, repo: repo, info: c.Repository.info(), number: c.Issue.Number, comment: c.Comment.ID,
		login: c.Comment.User.Login, userID: c.Comment.User.ID, line: res.Line, log: log}
	merged := c.Issue.PullRequest.MergedAt != nil && *c.Issue.PullRequest.MergedAt != ""
	if err := p.runCommand(ctx, run, res, c.Comment.Body, merged); err != nil {
		if p.lastAttempt(d, err) {
			log.Error("command failed", "error", err)
			p.publish(ctx, repo, "failed", fmt.Sprint(run.number), factData{SourcePR: run.number, RequestedBy: run.login,
				Command: run.line, Reason: err.Error()})
			if rerr := run.refuse(ctx, replyFailure(run.line, err)); rerr != nil {
				log.Error("failure reply not posted", "error", rerr)
			}
		}
		return "", err
	}
	return cmp.Or(res.Line, "answered"), nil
}

// runCommand carries out a parsed command.
func (p *Promoter) runCommand(ctx context.Context, run *commandRun, res command.Result, body string, merged bool) error {
	if res.Kind == command.KindReply {
		// A misspelt /promote: the reply offers the right command.
		return run.reply(ctx, res.Reply)
	}
	if res.Command.Verb == command.VerbHelp {
		if err := run.react(ctx, ReactionEyes); err != nil {
			return err
		}
		w, err := loadWorld(ctx, run.gh, run.repo, run.info)
		if err != nil {
			return err
		}
		defer w.close()
		if w.err != nil {
			return run.refuse(ctx, replyConfig(run.line, w.err))
		}
		return run.reply(ctx, command.HelpText(w.steps, w.repo.Config.Promoters))
	}

	base := factData{SourcePR: run.number, RequestedBy: run.login, Command: run.line}
	p.publish(ctx, run.repo, "requested", fmt.Sprint(run.number), base)
	refused := func(reason, reply string) error {
		p.publish(ctx, run.repo, "refused", fmt.Sprint(run.number), withReason(base, reason))
		promotionsTotal.WithLabelValues(string(outcomeRefused)).Inc()
		return run.refuse(ctx, reply)
	}

	// 👀 at once, while the reads a promotion needs run alongside: who
	// the commenter is, the merge commit, and the default branch's head.
	r := p.readForCommand(ctx, run, merged)
	w := r.world
	defer func() { w.close() }()
	for _, err := range []error{r.eyesErr, r.roleErr, r.prErr, r.worldErr} {
		if err != nil {
			return err
		}
	}

	// Who may.
	if !r.role.CanWrite() {
		var err error
		if w == nil {
			if w, err = loadWorld(ctx, run.gh, run.repo, run.info); err != nil {
				return err
			}
		}
		ok := false
		if w.err == nil {
			if ok, err = p.listedPromoter(ctx, run, w.repo.Config.Promoters); err != nil {
				return err
			}
		}
		if !ok {
			who := gitops.Promoters{}
			if w.err == nil {
				who = w.repo.Config.Promoters
			}
			return refused(fmt.Sprintf("%s has %s permission", run.login, r.role.Role), replyRefused(run.line, run.login, r.role.Role, who))
		}
	}

	// What: the merge commit of a merged pull request.
	pr := r.pr
	if !merged || !pr.Merged || pr.MergeCommitSHA == "" {
		return refused("not merged", replyNotMerged(run.line))
	}
	if w.err != nil {
		return refused("invalid configuration: "+w.err.Error(), replyConfig(run.line, w.err))
	}
	apps, envs := KnownNames(w.steps)
	res = command.Parse(body, command.Known{Apps: apps, Environments: envs})
	if res.Kind != command.KindCommand {
		return refused("unknown app or environment", res.Reply)
	}
	cmd := res.Command
	promo := &promotion{
		gh: run.gh, repo: run.repo, info: run.info, world: w,
		sourceCommit: pr.MergeCommitSHA, sourcePR: run.number, requestedBy: run.login, command: cmd.String(),
		sel: Selection{App: cmd.App, To: cmd.Env}, log: run.log.With("revision", short(pr.MergeCommitSHA)),
	}
	outs, err := p.promote(ctx, promo)
	var nothing errNothing
	if errors.As(err, &nothing) {
		return refused(stripMarkdown(nothing.reason), replyReason(run.line, nothing.reason))
	}
	if err != nil {
		return err
	}
	up, held := false, false
	for _, o := range outs {
		switch o.Kind {
		case outcomeOpened, outcomeUpdated, outcomeAlreadyOpen:
			up = true
		case outcomeRefused, outcomeFailed:
			held = true
		}
	}
	if up {
		if err := run.react(ctx, ReactionRocket); err != nil {
			return err
		}
	}
	if held {
		if err := run.react(ctx, ReactionConfused); err != nil {
			return err
		}
	}
	if needsReply(outs) {
		return run.reply(ctx, replyOutcomes(run.line, outs))
	}
	return nil
}

// commandReads are the reads a /promote needs, made concurrently.
type commandReads struct {
	eyesErr  error
	role     github.RepoPermission
	roleErr  error
	pr       github.PR
	prErr    error
	world    *world
	worldErr error
}

// readForCommand reacts 👀 and reads the commenter's permission, and, for
// a merged pull request, the pull request and the default branch's head,
// all at once: none depends on another.
func (p *Promoter) readForCommand(ctx context.Context, run *commandRun, merged bool) commandReads {
	var r commandReads
	var wg sync.WaitGroup
	do := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	do(func() { r.eyesErr = run.react(ctx, ReactionEyes) })
	do(func() { r.role, r.roleErr = run.gh.Permission(ctx, run.repo, run.login) })
	if merged {
		do(func() { r.pr, r.prErr = run.gh.PullRequest(ctx, run.repo, run.number) })
		do(func() { r.world, r.worldErr = loadWorld(ctx, run.gh, run.repo, run.info) })
	}
	wg.Wait()
	return r
}

// listedPromoter reports whether .promobot.yaml lets the commenter promote:
// listed under promoters.users, or an active member of a team under
// promoters.teams.
func (p *Promoter) listedPromoter(ctx context.Context, run *commandRun, who gitops.Promoters) (bool, error) {
	if who.AllowsUser(run.userID) {
		return true, nil
	}
	for _, t := range who.Teams {
		org, team, ok := strings.Cut(t, "/")
		if !ok {
			continue
		}
		member, err := run.gh.TeamMember(ctx, org, team, run.login)
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
