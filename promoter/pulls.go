package promoter

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter/command"
)

// pullPayload is the part of a pull_request delivery the promoter reads.
type pullPayload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Number         int       `json:"number"`
		State          string    `json:"state"`
		HTMLURL        string    `json:"html_url"`
		Merged         bool      `json:"merged"`
		MergeCommitSHA string    `json:"merge_commit_sha"`
		MergedAt       time.Time `json:"merged_at"`
		Head           struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository   repoPayload `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// handlePullRequest keeps the sticky rendered-diff comment of an open pull
// request up to date: for every app whose output the pull request changes,
// the manifests rendered at the merge base and at the head.
//
// Promotion pull requests (branches under promobot/promote/) carry their
// own diff comment; when one closes, the promoter forgets it, so the next
// promotion of that app opens a new one.
//
// It returns the head commit whose diff it posted (what the ledger
// records), or "" for a delivery it leaves alone.
func (p *Promoter) handlePullRequest(ctx context.Context, d events.Delivery) (string, error) {
	pp, err := ghevent.DecodePayload[pullPayload](d)
	if err != nil {
		return "", err
	}
	pr := pp.PullRequest
	repo := pp.Repository.repo()
	if pp.Action == "closed" && pr.Merged && pr.MergeCommitSHA != "" {
		// A /promote on it needs no read of the pull request, and its
		// promotion's lead time starts here.
		if err := p.merges.Put(ctx, repo, pr.Number, state.Merge{Commit: pr.MergeCommitSHA, MergedAt: pr.MergedAt}); err != nil {
			return "", err
		}
	}
	if strings.HasPrefix(pr.Head.Ref, BranchPrefix) {
		// A promotion pull request carries its own diff comment; once it
		// is closed, the next promotion opens a new one.
		if pp.Action == "closed" {
			return "", p.memo.forget(ctx, repo, pr.Head.Ref)
		}
		return "", nil
	}
	switch pp.Action {
	case "opened", "synchronize", "reopened":
	default:
		return "", nil
	}
	if pr.State != "open" || p.opts.NoPullRequestDiffs {
		return "", nil
	}
	if pp.Installation.ID == 0 {
		return "", events.Permanent(fmt.Errorf("pull_request %s on %s: no installation in the payload", d.Event.ID(), repo))
	}
	log := events.Logger(ctx).With("repo", repo.String(), "pr", pr.Number, "revision", markdown.ShortSHA(pr.Head.SHA))
	gh, err := p.gh.GitHub(ctx, pp.Installation.ID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	if err := p.diffPullRequest(ctx, gh, repo, pp); err != nil {
		if p.lastAttempt(d, err) {
			log.Error("diff comment not posted", "error", err)
		}
		return "", err
	}
	return pr.Head.SHA, nil
}

func (p *Promoter) diffPullRequest(ctx context.Context, gh GitHub, repo Repo, pp pullPayload) error {
	pr := pp.PullRequest
	ch := change{base: pr.Base.SHA, head: pr.Head.SHA, baseRef: pr.Base.Ref, what: "this pull request", info: pp.Repository.info(), defaultBranch: pp.Repository.DefaultBranch}
	c, apps, configErr, err := p.renderChange(ctx, gh, repo, ch)
	if err != nil || c == nil {
		return err
	}
	if len(c.Direct) > 0 {
		p.publishDirect(ctx, repo, pr.Number, pr.Head.SHA, c.Direct)
	}
	cm := *c
	// The head is checked after the render and the comment posted under
	// one lease per pull request: a delivery for a newer head either
	// checked and posted before this one checks (which then sees the head
	// moved on), or posts after it.
	return p.holding(ctx, fmt.Sprintf("prdiff/%s/%d", repo, pr.Number), func(ctx context.Context) error {
		if moved, err := headMovedOn(ctx, gh, repo, pr.Number, pr.Head.SHA); err != nil {
			return err
		} else if moved {
			p.log.Info("pull request diff not posted: its head moved on", "repo", repo.String(), "pr", pr.Number, "revision", markdown.ShortSHA(pr.Head.SHA))
			return nil
		}
		id, err := p.postPullRequestDiff(ctx, gh, repo, pr.Number, cm.Body, apps)
		if err != nil {
			return err
		}
		url := ""
		if id != 0 && pr.HTMLURL != "" {
			url = fmt.Sprintf("%s#issuecomment-%d", pr.HTMLURL, id)
		}
		_, err = gh.CreateCheckRun(ctx, repo, pullRequestCheck(pr.Head.SHA, cm, configErr, url))
		return err
	})
}

// postPullRequestDiff creates or edits the pull request's sticky diff
// comment and returns its id; with no app to show and none posted before
// it says nothing (0).
func (p *Promoter) postPullRequestDiff(ctx context.Context, gh Commenter, repo Repo, number int, body string, apps int) (int64, error) {
	return p.upsertSticky(ctx, gh, repo, number, sticky{key: PullRequestDiffKey, body: body, create: apps > 0})
}

// publishDirect tells, as a promobot.promotion.bypassed fact, that
// merging pull request number changes environments that promotions
// should reach, without one.
func (p *Promoter) publishDirect(ctx context.Context, repo Repo, number int, head string, changes []diff.Change) {
	apps := map[string]bool{}
	var envs []string
	for _, c := range changes {
		apps[c.App] = true
		if !slices.Contains(envs, c.Environment) {
			envs = append(envs, c.Environment)
		}
	}
	slices.Sort(envs)
	p.publish(ctx, repo, "bypassed", fmt.Sprintf("pr-%d", number), factData{
		SourcePR: number, SourceCommit: head, To: strings.Join(envs, ","),
		Reason: fmt.Sprintf("merging #%d changes %s directly, without a promotion (resources: %d, apps: %d)", number, strings.Join(envs, ", "), len(changes), len(apps)),
	})
}

// diffCommand runs /diff: the pull request's sticky diff comment is
// rendered again from its base and head now, as a push to it would. Who
// may promote may ask for it (each render costs the sandbox's time).
func (p *Promoter) diffCommand(ctx context.Context, run *commandRun) (answer, error) {
	if _, denied, err := p.admitAction(ctx, run, command.VerbDiff, false); err != nil || denied != nil {
		return deref(denied), err
	}
	pr, err := run.gh.PullRequest(ctx, run.repo, run.number)
	if err != nil {
		return answer{}, err
	}
	if pr.State != "open" {
		return refusal(quoteLine(run.line) + "This pull request is closed: its diff comment stays as it was."), nil
	}
	var pp pullPayload
	pp.PullRequest.Number, pp.PullRequest.State = pr.Number, pr.State
	pp.PullRequest.Head.Ref, pp.PullRequest.Head.SHA = pr.Head, pr.HeadSHA
	pp.PullRequest.Base.Ref, pp.PullRequest.Base.SHA = pr.Base, pr.BaseSHA
	pp.Repository = repoPayload{Name: run.repo.Name, DefaultBranch: run.info.DefaultBranch, HTMLURL: run.info.HTMLURL,
		CloneURL: run.info.CloneURL, SSHURL: run.info.SSHURL}
	pp.Repository.Owner.Login = run.repo.Owner
	if err := p.diffPullRequest(ctx, run.gh, run.repo, pp); err != nil {
		return answer{}, err
	}
	return answer{reactions: []string{ReactionDone}}, nil
}

// change is a change to render: the commits of its two ends, the base's
// branch, how the comment names the head ("this pull request"), and the
// repository.
type change struct {
	base, head, baseRef, what string
	info                      github.RepoInfo
	defaultBranch             string
}

// renderChange renders ch's apps at its merge base and at its head, and
// reads the head's .promobot.yaml (configErr: why it is invalid). A nil
// comment with a nil error means the base's configuration is broken: the
// neutral check saying so is posted on the head, nothing else.
func (p *Promoter) renderChange(ctx context.Context, gh GitHub, repo Repo, ch change) (c *diff.Comment, apps int, configErr, err error) {
	cmp, err := gh.Compare(ctx, repo, ch.base, ch.head)
	unknown := ""
	switch {
	case github.FilesUnknown(err):
		// Without the merge base the base branch's head stands in for it:
		// the comment's label names the commit rendered.
		unknown = fmt.Sprintf("GitHub could not list the files %s changes.", ch.what)
		p.log.Warn("changed files unknown: every app is rendered", "repo", repo.String(), "revision", markdown.ShortSHA(ch.head), "error", err)
	case err != nil:
		return nil, 0, nil, err
	case cmp.Truncated:
		unknown = fmt.Sprintf("%s changes more files than GitHub lists (%d).", strings.ToUpper(ch.what[:1])+ch.what[1:], github.MaxCompareFiles)
	}
	base := cmp.MergeBase
	if base == "" {
		base = ch.base
	}
	baseDir, err := fetchCheckout(ctx, gh, repo, base)
	if err != nil {
		return nil, 0, nil, err
	}
	defer os.RemoveAll(baseDir)
	headDir, err := fetchCheckout(ctx, gh, repo, ch.head)
	if err != nil {
		return nil, 0, nil, err
	}
	defer os.RemoveAll(headDir)
	cm, apps, err := PullRequestDiff(ctx,
		Side{Root: baseDir, Label: fmt.Sprintf("`%s` (%s)", mdCode(ch.baseRef), markdown.ShortSHA(base))},
		Side{Root: headDir, Label: fmt.Sprintf("%s (%s)", ch.what, markdown.ShortSHA(ch.head))},
		cmp.Paths(), DiffOptions{RepoURLs: ch.info.URLs(), FingerprintKey: p.opts.FingerprintKey, Limit: p.opts.DiffLimit,
			ChangedUnknown: unknown, DefaultBranch: ch.defaultBranch})
	if err != nil {
		// The base's configuration is broken: the applier reports that on
		// the commit; a diff cannot be made, and the check does not hold
		// back the change that may fix it.
		p.log.Warn("change not rendered", "repo", repo.String(), "revision", markdown.ShortSHA(ch.head), "error", err)
		_, cerr := gh.CreateCheckRun(ctx, repo, github.CheckRun{Name: PullRequestCheckName, HeadSHA: ch.head, Status: "completed",
			Conclusion: "neutral", Title: "Nothing rendered: the base's configuration is invalid", Summary: markdown.Clip(err.Error(), 60000)})
		return nil, 0, nil, cerr
	}
	return &cm, apps, headConfigError(headDir), nil
}
