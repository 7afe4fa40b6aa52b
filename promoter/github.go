package promoter

import (
	"context"
	"io"

	"github.com/promobot/promobot/internal/github"
)

// Repo names a GitHub repository.
type Repo = github.Repo

// Reactions promobot leaves on a command comment.
const (
	ReactionEyes     = "eyes"
	ReactionRocket   = "rocket"
	ReactionConfused = "confused"
)

// Reader reads what a promotion is planned on: the repository, the pull
// request and commits it starts from, and checkouts. Every method changes
// nothing and is safe for concurrent use; each is one REST call (Tarball:
// one call and the download it redirects to).
type Reader interface {
	// Repository reads the repository's default branch and URLs.
	Repository(ctx context.Context, repo Repo) (github.RepoInfo, error)
	// PullRequest reads a pull request.
	PullRequest(ctx context.Context, repo Repo, number int) (github.PR, error)
	// CommitChanges reads the commit ref names (a branch, tag or SHA),
	// with the files it changed compared with its first parent.
	CommitChanges(ctx context.Context, repo Repo, ref string) (github.ChangedCommit, error)
	// Compare compares two commits (three-dot).
	Compare(ctx context.Context, repo Repo, base, head string) (github.Comparison, error)
	// Tarball streams the repository's content at ref as a gzipped tar,
	// each path under one top-level directory, as GitHub's tarball is.
	Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error)
}

// Access reads what authorization needs: who the commenter is to the
// repository, and the rules of .promobot.yaml. Every method changes
// nothing, is safe for concurrent use and is one REST call.
type Access interface {
	// Permission returns login's access to the repository: its role
	// (built-in or custom) and the base permission of the role; "none"
	// for an unknown login.
	Permission(ctx context.Context, repo Repo, login string) (github.RepoPermission, error)
	// TeamMember reports whether login is an active member of the team
	// org/teamSlug; a team the App cannot see is false. Without the
	// App's organization permission Members: read the error wraps a 403
	// *github.APIError.
	TeamMember(ctx context.Context, org, teamSlug, login string) (bool, error)
	// File returns the content of path at ref (empty: the default
	// branch); a missing file wraps github.ErrNotFound.
	File(ctx context.Context, repo Repo, ref, path string) ([]byte, error)
}

// PullRequestWriter finds, opens and edits pull requests. Methods are
// safe for concurrent use; each is one REST call (listing pages through
// the results).
type PullRequestWriter interface {
	// PullRequests lists the pull requests f selects, newest first.
	PullRequests(ctx context.Context, repo Repo, f github.PRFilter) ([]github.PR, error)
	// CreatePullRequest opens a pull request.
	CreatePullRequest(ctx context.Context, repo Repo, pr github.NewPR) (github.PR, error)
	// UpdatePullRequest changes a pull request's title, body or state and
	// returns it as it is now.
	UpdatePullRequest(ctx context.Context, repo Repo, number int, e github.PREdit) (github.PR, error)
	// AddLabels adds labels (created when new) to an issue or pull
	// request. Idempotent.
	AddLabels(ctx context.Context, repo Repo, number int, labels []string) error
}

// Commenter reads and writes the comments of issues and pull requests,
// and reacts to them. Methods are safe for concurrent use; each is one
// REST call (listing pages through the results).
type Commenter interface {
	// Comments lists the comments of an issue or pull request, oldest
	// first.
	Comments(ctx context.Context, repo Repo, number int) ([]github.Comment, error)
	// CreateComment comments on an issue or pull request.
	CreateComment(ctx context.Context, repo Repo, number int, body string) (github.Comment, error)
	// EditComment replaces a comment's body; a deleted comment wraps
	// github.ErrNotFound.
	EditComment(ctx context.Context, repo Repo, id int64, body string) error
	// React adds a reaction to an issue comment. Idempotent: GitHub keeps
	// one reaction per user and content.
	React(ctx context.Context, repo Repo, commentID int64, content string) error
}

// Committer writes commits and branches through the Git Data API, and
// one-file commits through the Contents API. Methods are safe for
// concurrent use; each is one REST call.
type Committer interface {
	// PutFile commits one file on a branch and returns the commit; a
	// branch whose file is not f.BlobSHA wraps github.ErrConflict.
	PutFile(ctx context.Context, repo Repo, f github.FileWrite) (github.Commit, error)
	// CreateTree creates a tree from baseTree (a tree SHA) with files
	// replaced or added, their content inline, and returns its SHA.
	CreateTree(ctx context.Context, repo Repo, baseTree string, files []github.TreeFile) (string, error)
	// CreateCommit creates a commit and returns its SHA.
	CreateCommit(ctx context.Context, repo Repo, c github.NewCommit) (string, error)
	// CreateBranch creates branch at sha; the error wraps
	// github.ErrExists when the branch exists.
	CreateBranch(ctx context.Context, repo Repo, branch, sha string) error
	// UpdateBranch moves branch to sha, force-pushing when force is set;
	// the error wraps github.ErrNotFound when the branch does not exist.
	UpdateBranch(ctx context.Context, repo Repo, branch, sha string, force bool) error
}

// GitHub is one installation's GitHub API client (tokens, rate limits,
// retries and serialized writes are handled there). Each step of the
// promoter takes only the roles it uses: Reader, Access,
// PullRequestWriter, Commenter and Committer. It is safe for concurrent
// use.
type GitHub = *github.InstallationClient

var (
	_ Reader            = GitHub(nil)
	_ Access            = GitHub(nil)
	_ PullRequestWriter = GitHub(nil)
	_ Commenter         = GitHub(nil)
	_ Committer         = GitHub(nil)
)

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
