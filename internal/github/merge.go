package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/internal/markdown"
)

// RequiredChecks returns the status checks branch protection requires on
// branch before a pull request into it may merge (none when the branch is
// not protected), read from the branch itself (1 call): reading the
// protection settings would need the Administration permission, which
// promobot does not ask for.
func (i *InstallationClient) RequiredChecks(ctx context.Context, repo Repo, branch string) ([]string, error) {
	req, err := i.c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/branches/%s",
		url.PathEscape(repo.Owner), url.PathEscape(repo.Name), url.PathEscape(branch)), nil)
	if err != nil {
		return nil, err
	}
	var b struct {
		Protected  bool `json:"protected"`
		Protection struct {
			Enabled              bool `json:"enabled"`
			RequiredStatusChecks *struct {
				Contexts []string `json:"contexts"`
				Checks   []struct {
					Context string `json:"context"`
				} `json:"checks"`
			} `json:"required_status_checks"`
		} `json:"protection"`
	}
	if _, err := i.c.Do(ctx, req, &b); err != nil {
		return nil, fmt.Errorf("%s: get branch %s: %w", repo, branch, apiErr(err))
	}
	rc := b.Protection.RequiredStatusChecks
	if !b.Protected || rc == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(c string) {
		if k := strings.ToLower(c); c != "" && !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	for _, c := range rc.Contexts {
		add(c)
	}
	for _, c := range rc.Checks {
		add(c.Context)
	}
	return out, nil
}

// The states of a check as CheckStates reports them.
const (
	CheckSuccess = "success"
	CheckPending = "pending"
	CheckFailure = "failure"
)

// CheckStates returns the state of every commit status context and check
// run on sha, keyed by its lower-cased name (GitHub compares them without
// case): CheckSuccess, CheckPending or CheckFailure. The newest status of
// a context counts; a check run counts as success when it completed as
// success, neutral or skipped (2 calls).
func (i *InstallationClient) CheckStates(ctx context.Context, repo Repo, sha string) (map[string]string, error) {
	out := map[string]string{}
	combined, _, err := i.c.Repositories.GetCombinedStatus(ctx, repo.Owner, repo.Name, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("%s: statuses of %s: %w", repo, markdown.ShortSHA(sha), apiErr(err))
	}
	for _, s := range combined.Statuses {
		state := CheckFailure
		switch s.GetState() {
		case "success":
			state = CheckSuccess
		case "pending":
			state = CheckPending
		}
		out[strings.ToLower(s.GetContext())] = state
	}
	runs, _, err := i.c.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, sha, &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 100}})
	if err != nil {
		return nil, fmt.Errorf("%s: check runs of %s: %w", repo, markdown.ShortSHA(sha), apiErr(err))
	}
	for _, r := range runs.CheckRuns {
		state := CheckPending
		if r.GetStatus() == "completed" {
			switch r.GetConclusion() {
			case "success", "neutral", "skipped":
				state = CheckSuccess
			default:
				state = CheckFailure
			}
		}
		name := strings.ToLower(r.GetName())
		// A status and a check run of one name: GitHub requires both.
		if prev, ok := out[name]; !ok || prev == CheckSuccess {
			out[name] = state
		}
	}
	return out, nil
}

// Merge is how to merge a pull request.
type Merge struct {
	// SHA is the head the pull request must still have; GitHub refuses
	// the merge when it moved.
	SHA string
	// Method is "merge", "squash" or "rebase".
	Method string
	// Title and Message are the merge commit's; empty: GitHub's default.
	Title, Message string
}

// MergePullRequest merges pull request number and returns the commit the
// merge made on the base branch (1 call). GitHub's refusals (405: not
// mergeable, a required check, a method the repository does not allow;
// 409: the head moved) wrap *APIError.
func (i *InstallationClient) MergePullRequest(ctx context.Context, repo Repo, number int, m Merge) (string, error) {
	res, _, err := i.c.PullRequests.Merge(ctx, repo.Owner, repo.Name, number, m.Message,
		&gh.PullRequestOptions{CommitTitle: m.Title, SHA: m.SHA, MergeMethod: m.Method})
	if err != nil {
		return "", fmt.Errorf("%s#%d: merge: %w", repo, number, apiErr(err))
	}
	return res.GetSHA(), nil
}
