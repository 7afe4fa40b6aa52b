package promoter

import (
	"cmp"
	"context"
	"fmt"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/github"
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

// handleComment answers a command in a pull request comment; it returns
// the command line answered (what the ledger records), or "" for a comment
// that is no command.
func (p *Promoter) handleComment(ctx context.Context, d events.Delivery) (string, error) {
	c, err := ghevent.DecodePayload[commentPayload](d)
	if err != nil {
		return "", err
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
	if res.Kind == command.KindCommand {
		run.ackLater(ctx, p.opts.AckAfter)
		defer run.settleAck()
	}
	if err := p.answerCommand(ctx, run, res, merged); err != nil {
		if p.lastAttempt(d, err) {
			log.Error("command failed", "error", err)
			p.publish(ctx, repo, "failed", fmt.Sprint(run.number), factData{SourcePR: run.number, RequestedBy: run.login,
				Command: run.line, Reason: err.Error()})
			if rerr := run.respond(ctx, refusal(replyFailure(run.line, err))); rerr != nil {
				log.Error("failure reply not posted", "error", rerr)
			}
		}
		return "", err
	}
	return cmp.Or(res.Line, "answered"), nil
}
