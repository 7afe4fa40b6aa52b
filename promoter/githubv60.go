package promoter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHubV60 implements GitHub over go-github v60, for one installation.
// go-github's types stay inside this file. It is safe for concurrent use;
// retries, rate limits and authentication are the given client's
// transport's business.
type GitHubV60 struct {
	c *github.Client
	// download fetches the pre-signed archive URLs a tarball request
	// redirects to; it carries no credentials.
	download *http.Client
}

// NewGitHubV60 wraps an installation's authenticated client.
func NewGitHubV60(c *github.Client) *GitHubV60 {
	return &GitHubV60{c: c, download: &http.Client{}}
}

// InstallationsV60 adapts a source of per-installation go-github clients
// (authenticated as the installation, rate-limit aware) to Installations.
func InstallationsV60(client func(ctx context.Context, installationID int64) (*github.Client, error)) Installations {
	return InstallationsFunc(func(ctx context.Context, id int64) (GitHub, error) {
		c, err := client(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("installation %d client: %w", id, err)
		}
		return NewGitHubV60(c), nil
	})
}

var _ GitHub = (*GitHubV60)(nil)

// apiError turns go-github errors into the promoter's: a 404 wraps
// ErrNotFound; anything else keeps GitHub's message.
func apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if er.Response.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		msg := er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + e.Message
			}
		}
		return fmt.Errorf("%s: GitHub %d: %s", what, er.Response.StatusCode, msg)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// Repository reads GET /repos/{owner}/{repo}.
func (g *GitHubV60) Repository(ctx context.Context, repo Repo) (RepoInfo, error) {
	r, _, err := g.c.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return RepoInfo{}, apiError(repo.String()+": read repository", err)
	}
	return RepoInfo{DefaultBranch: r.GetDefaultBranch(), HTMLURL: r.GetHTMLURL(), CloneURL: r.GetCloneURL(), SSHURL: r.GetSSHURL()}, nil
}

// Permission reads GET /repos/{owner}/{repo}/collaborators/{username}/permission.
// It reads role_name, which go-github v60 does not model, so that maintain
// and triage are told apart from write and read.
func (g *GitHubV60) Permission(ctx context.Context, repo Repo, login string) (string, error) {
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", repo.Owner, repo.Name, url.PathEscape(login))
	req, err := g.c.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	var out struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	if _, err := g.c.Do(ctx, req, &out); err != nil {
		if status(err) == http.StatusNotFound {
			return "none", nil
		}
		return "", apiError(repo.String()+": permission of "+login, err)
	}
	if out.RoleName != "" {
		return out.RoleName, nil
	}
	return out.Permission, nil
}

// TeamMember reads GET /orgs/{org}/teams/{team_slug}/memberships/{username}.
func (g *GitHubV60) TeamMember(ctx context.Context, org, team, login string) (bool, error) {
	m, _, err := g.c.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
	if err != nil {
		if status(err) == http.StatusNotFound {
			return false, nil
		}
		return false, apiError(org+"/"+team+": membership of "+login, err)
	}
	return m.GetState() == "active", nil
}

func pullOf(pr *github.PullRequest) PullRequest {
	out := PullRequest{
		Number: pr.GetNumber(), Title: pr.GetTitle(), Body: pr.GetBody(), State: pr.GetState(),
		Merged: pr.GetMerged() || pr.MergedAt != nil, MergeCommitSHA: pr.GetMergeCommitSHA(),
		Head: pr.GetHead().GetRef(), HeadSHA: pr.GetHead().GetSHA(),
		Base: pr.GetBase().GetRef(), BaseSHA: pr.GetBase().GetSHA(),
		Author: pr.GetUser().GetLogin(), URL: pr.GetHTMLURL(),
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// PullRequest reads GET /repos/{owner}/{repo}/pulls/{pull_number}.
func (g *GitHubV60) PullRequest(ctx context.Context, repo Repo, number int) (PullRequest, error) {
	pr, _, err := g.c.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return PullRequest{}, apiError(fmt.Sprintf("%s#%d: read pull request", repo, number), err)
	}
	return pullOf(pr), nil
}

func filesOf(files []*github.CommitFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.GetFilename())
		if p := f.GetPreviousFilename(); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Commit reads GET /repos/{owner}/{repo}/commits/{ref}.
func (g *GitHubV60) Commit(ctx context.Context, repo Repo, ref string) (Commit, error) {
	c, _, err := g.c.Repositories.GetCommit(ctx, repo.Owner, repo.Name, ref, &github.ListOptions{PerPage: 300})
	if err != nil {
		return Commit{}, apiError(fmt.Sprintf("%s@%s: read commit", repo, ref), err)
	}
	out := Commit{SHA: c.GetSHA(), Tree: c.GetCommit().GetTree().GetSHA(), Files: filesOf(c.Files)}
	for _, p := range c.Parents {
		out.Parents = append(out.Parents, p.GetSHA())
	}
	return out, nil
}

// Compare reads GET /repos/{owner}/{repo}/compare/{base}...{head}.
func (g *GitHubV60) Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error) {
	c, _, err := g.c.Repositories.CompareCommits(ctx, repo.Owner, repo.Name, base, head, nil)
	if err != nil {
		return Comparison{}, apiError(fmt.Sprintf("%s: compare %s...%s", repo, short(base), short(head)), err)
	}
	return Comparison{Status: c.GetStatus(), MergeBase: c.GetMergeBaseCommit().GetSHA(), Files: filesOf(c.Files)}, nil
}

// Tarball reads GET /repos/{owner}/{repo}/tarball/{ref} and downloads the
// archive it redirects to. The redirect URL is pre-signed, so the download
// carries no token.
func (g *GitHubV60) Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error) {
	u, _, err := g.c.Repositories.GetArchiveLink(ctx, repo.Owner, repo.Name, github.Tarball, &github.RepositoryContentGetOptions{Ref: ref}, 0)
	if err != nil {
		return nil, apiError(fmt.Sprintf("%s@%s: tarball", repo, short(ref)), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.download.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: tarball download: %w", repo, short(ref), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s@%s: tarball download: %s", repo, short(ref), resp.Status)
	}
	return resp.Body, nil
}

// OpenPullRequest reads GET /repos/{owner}/{repo}/pulls?head=owner:head&state=open.
func (g *GitHubV60) OpenPullRequest(ctx context.Context, repo Repo, head string) (PullRequest, bool, error) {
	prs, _, err := g.c.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{
		State: "open", Head: repo.Owner + ":" + head, ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return PullRequest{}, false, apiError(fmt.Sprintf("%s: find pull request from %s", repo, head), err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == head {
			return pullOf(pr), true, nil
		}
	}
	return PullRequest{}, false, nil
}

// CreatePullRequest calls POST /repos/{owner}/{repo}/pulls.
func (g *GitHubV60) CreatePullRequest(ctx context.Context, repo Repo, p NewPullRequest) (PullRequest, error) {
	pr, _, err := g.c.PullRequests.Create(ctx, repo.Owner, repo.Name, &github.NewPullRequest{
		Title: github.String(p.Title), Body: github.String(p.Body), Head: github.String(p.Head), Base: github.String(p.Base),
		MaintainerCanModify: github.Bool(true),
	})
	if err != nil {
		return PullRequest{}, apiError(fmt.Sprintf("%s: create pull request from %s", repo, p.Head), err)
	}
	return pullOf(pr), nil
}

// EditPullRequest calls PATCH /repos/{owner}/{repo}/pulls/{pull_number}.
func (g *GitHubV60) EditPullRequest(ctx context.Context, repo Repo, number int, e PullRequestEdit) error {
	pr := &github.PullRequest{}
	if e.Title != "" {
		pr.Title = github.String(e.Title)
	}
	if e.Body != "" {
		pr.Body = github.String(e.Body)
	}
	if e.State != "" {
		pr.State = github.String(e.State)
	}
	if _, _, err := g.c.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, pr); err != nil {
		return apiError(fmt.Sprintf("%s#%d: edit pull request", repo, number), err)
	}
	return nil
}

// AddLabels calls POST /repos/{owner}/{repo}/issues/{issue_number}/labels.
func (g *GitHubV60) AddLabels(ctx context.Context, repo Repo, number int, labels []string) error {
	if _, _, err := g.c.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return apiError(fmt.Sprintf("%s#%d: add labels", repo, number), err)
	}
	return nil
}

// Comments reads GET /repos/{owner}/{repo}/issues/{issue_number}/comments,
// every page.
func (g *GitHubV60) Comments(ctx context.Context, repo Repo, number int) ([]Comment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var out []Comment
	for {
		cs, resp, err := g.c.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, apiError(fmt.Sprintf("%s#%d: list comments", repo, number), err)
		}
		for _, c := range cs {
			out = append(out, Comment{ID: c.GetID(), Author: c.GetUser().GetLogin(), Body: c.GetBody()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateComment calls POST /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (g *GitHubV60) CreateComment(ctx context.Context, repo Repo, number int, body string) (int64, error) {
	c, _, err := g.c.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return 0, apiError(fmt.Sprintf("%s#%d: comment", repo, number), err)
	}
	return c.GetID(), nil
}

// EditComment calls PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (g *GitHubV60) EditComment(ctx context.Context, repo Repo, id int64, body string) error {
	if _, _, err := g.c.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &github.IssueComment{Body: github.String(body)}); err != nil {
		return apiError(fmt.Sprintf("%s: edit comment %d", repo, id), err)
	}
	return nil
}

// React calls POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions.
func (g *GitHubV60) React(ctx context.Context, repo Repo, commentID int64, content string) error {
	if _, _, err := g.c.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, commentID, content); err != nil {
		return apiError(fmt.Sprintf("%s: react %s to comment %d", repo, content, commentID), err)
	}
	return nil
}

// CreateTree calls POST /repos/{owner}/{repo}/git/trees with the files'
// content inline.
func (g *GitHubV60) CreateTree(ctx context.Context, repo Repo, baseTree string, files []TreeFile) (string, error) {
	entries := make([]*github.TreeEntry, 0, len(files))
	for _, f := range files {
		entries = append(entries, &github.TreeEntry{
			Path: github.String(f.Path), Mode: github.String("100644"), Type: github.String("blob"),
			Content: github.String(string(f.Content)),
		})
	}
	t, _, err := g.c.Git.CreateTree(ctx, repo.Owner, repo.Name, baseTree, entries)
	if err != nil {
		return "", apiError(repo.String()+": create tree", err)
	}
	return t.GetSHA(), nil
}

// CreateCommit calls POST /repos/{owner}/{repo}/git/commits.
func (g *GitHubV60) CreateCommit(ctx context.Context, repo Repo, message, tree string, parents []string) (string, error) {
	c := &github.Commit{Message: github.String(message), Tree: &github.Tree{SHA: github.String(tree)}}
	for _, p := range parents {
		c.Parents = append(c.Parents, &github.Commit{SHA: github.String(p)})
	}
	out, _, err := g.c.Git.CreateCommit(ctx, repo.Owner, repo.Name, c, nil)
	if err != nil {
		return "", apiError(repo.String()+": create commit", err)
	}
	return out.GetSHA(), nil
}

// CreateBranch calls POST /repos/{owner}/{repo}/git/refs.
func (g *GitHubV60) CreateBranch(ctx context.Context, repo Repo, branch, sha string) error {
	_, _, err := g.c.Git.CreateRef(ctx, repo.Owner, repo.Name, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	})
	if err != nil {
		if status(err) == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(err.Error()), "already exists") {
			return fmt.Errorf("%s: branch %s: %w", repo, branch, ErrExists)
		}
		return apiError(fmt.Sprintf("%s: create branch %s", repo, branch), err)
	}
	return nil
}

// UpdateBranch calls PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}.
func (g *GitHubV60) UpdateBranch(ctx context.Context, repo Repo, branch, sha string, force bool) error {
	_, _, err := g.c.Git.UpdateRef(ctx, repo.Owner, repo.Name, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	}, force)
	if err != nil {
		return apiError(fmt.Sprintf("%s: update branch %s", repo, branch), err)
	}
	return nil
}
