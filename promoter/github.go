package promoter

import (
	"context"
	"errors"
	"io"
)

// Repo names a GitHub repository.
type Repo struct {
	Owner, Name string
}

// String formats the repository as owner/name.
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// PullRequest is what the promoter reads of a pull request.
type PullRequest struct {
	Number int
	Title  string
	Body   string
	// State is "open" or "closed".
	State  string
	Merged bool
	// MergeCommitSHA is the commit the merge made on the base branch (for
	// a merged pull request).
	MergeCommitSHA string
	// Head and Base are branch names; HeadSHA and BaseSHA their commits.
	Head, Base       string
	HeadSHA, BaseSHA string
	// Author is the login that opened it.
	Author string
	// Labels are the label names.
	Labels []string
	// URL is the web page of the pull request.
	URL string
}

// Commit is a commit as the promoter reads it.
type Commit struct {
	SHA  string
	Tree string
	// Parents are the parent commits, first parent first.
	Parents []string
	// Files are the paths the commit changed compared with its first
	// parent (both sides of a rename).
	Files []string
}

// RepoInfo is what the promoter reads of a repository itself.
type RepoInfo struct {
	DefaultBranch string
	// HTMLURL, CloneURL and SSHURL are the repository's own URLs
	// (Applications naming another repository are skipped).
	HTMLURL, CloneURL, SSHURL string
}

// URLs lists the repository's own URLs.
func (r RepoInfo) URLs() []string {
	var out []string
	for _, u := range []string{r.HTMLURL, r.CloneURL, r.SSHURL} {
		if u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Comparison is how head relates to base.
type Comparison struct {
	// Status is GitHub's: "ahead" (head descends from base), "behind",
	// "identical" or "diverged".
	Status string
	// MergeBase is the best common ancestor of the two commits.
	MergeBase string
	// Files are the paths changed from the merge base to head (both sides
	// of a rename).
	Files []string
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID     int64
	Author string
	Body   string
}

// TreeFile is one file of a new tree, with its full content inline (no
// blob call).
type TreeFile struct {
	Path    string
	Content []byte
}

// NewPullRequest is a pull request to open.
type NewPullRequest struct {
	Title, Body string
	Head, Base  string
}

// PullRequestEdit changes a pull request; empty fields stay as they are.
type PullRequestEdit struct {
	Title, Body string
	// State "closed" closes the pull request.
	State string
}

// Reactions promobot leaves on a command comment.
const (
	ReactionEyes     = "eyes"
	ReactionRocket   = "rocket"
	ReactionConfused = "confused"
)

// ErrNotFound is wrapped by GitHub methods when what they read does not
// exist (404).
var ErrNotFound = errors.New("not found")

// ErrExists is wrapped by CreateBranch when the branch exists already.
var ErrExists = errors.New("already exists")

// Reader reads a repository. Every method is one REST call (Tarball: one
// API call and the download it redirects to), is safe for concurrent use
// and changes nothing.
type Reader interface {
	// Repository reads the repository's default branch and URLs.
	Repository(ctx context.Context, repo Repo) (RepoInfo, error)
	// Permission returns login's role on the repository: "admin",
	// "maintain", "write", "triage", "read" or "none" (also for an
	// unknown login).
	Permission(ctx context.Context, repo Repo, login string) (string, error)
	// TeamMember reports whether login is an active member of org/team.
	TeamMember(ctx context.Context, org, team, login string) (bool, error)
	// PullRequest reads a pull request.
	PullRequest(ctx context.Context, repo Repo, number int) (PullRequest, error)
	// Commit reads the commit ref (a branch, tag or SHA) with the files it
	// changed.
	Commit(ctx context.Context, repo Repo, ref string) (Commit, error)
	// Compare compares two commits.
	Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error)
	// Tarball streams the repository's content at ref as a gzipped tar,
	// each path under one top-level directory, as GitHub's tarball is.
	Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error)
}

// PullRequests finds, opens and edits pull requests and their comments.
// Methods are safe for concurrent use; each is one REST call (listing
// comments pages through them).
type PullRequests interface {
	// OpenPullRequest returns the open pull request from branch head of
	// the repository itself; ok is false when there is none.
	OpenPullRequest(ctx context.Context, repo Repo, head string) (pr PullRequest, ok bool, err error)
	// CreatePullRequest opens a pull request.
	CreatePullRequest(ctx context.Context, repo Repo, pr NewPullRequest) (PullRequest, error)
	// EditPullRequest changes a pull request's title, body or state.
	EditPullRequest(ctx context.Context, repo Repo, number int, e PullRequestEdit) error
	// AddLabels adds labels (created when new) to an issue or pull
	// request. Idempotent.
	AddLabels(ctx context.Context, repo Repo, number int, labels []string) error
	// Comments lists the comments of an issue or pull request, oldest
	// first.
	Comments(ctx context.Context, repo Repo, number int) ([]Comment, error)
	// CreateComment comments on an issue or pull request and returns the
	// comment's id.
	CreateComment(ctx context.Context, repo Repo, number int, body string) (int64, error)
	// EditComment replaces a comment's body.
	EditComment(ctx context.Context, repo Repo, id int64, body string) error
	// React adds a reaction to an issue comment. Idempotent: GitHub keeps
	// one reaction per user and content.
	React(ctx context.Context, repo Repo, commentID int64, content string) error
}

// Committer writes commits and branches through the Git Data API.
// Methods are safe for concurrent use; each is one REST call.
type Committer interface {
	// CreateTree creates a tree from baseTree (a tree SHA) with files
	// replaced or added, their content inline, and returns its SHA.
	CreateTree(ctx context.Context, repo Repo, baseTree string, files []TreeFile) (string, error)
	// CreateCommit creates a commit and returns its SHA.
	CreateCommit(ctx context.Context, repo Repo, message, tree string, parents []string) (string, error)
	// CreateBranch creates branch at sha; the error wraps ErrExists when
	// the branch exists.
	CreateBranch(ctx context.Context, repo Repo, branch, sha string) error
	// UpdateBranch moves branch to sha, force-pushing when force is set.
	UpdateBranch(ctx context.Context, repo Repo, branch, sha string, force bool) error
}

// GitHub is what the promoter needs of one installation's GitHub API.
// Implementations retry transient failures themselves and are safe for
// concurrent use. GitHubV60 implements it over go-github.
type GitHub interface {
	Reader
	PullRequests
	Committer
}

// Installations returns the GitHub API client of an installation.
type Installations interface {
	GitHub(ctx context.Context, installationID int64) (GitHub, error)
}

// InstallationsFunc adapts a function to Installations.
type InstallationsFunc func(ctx context.Context, installationID int64) (GitHub, error)

// GitHub calls f.
func (f InstallationsFunc) GitHub(ctx context.Context, installationID int64) (GitHub, error) {
	return f(ctx, installationID)
}
