package applier

import (
	"context"
	"io"

	"github.com/promobot/promobot/internal/github"
)

// Repo names a GitHub repository.
type Repo = github.Repo

// RepoReader reads a repository at a commit: what a sync, a push and a
// drift check need to know what to apply. Implementations are safe for
// concurrent use; every method is a read and may be retried.
type RepoReader interface {
	// Repository returns the repository's default branch and URLs.
	Repository(ctx context.Context, repo github.Repo) (github.RepoInfo, error)
	// BranchHead returns the commit at the head of branch.
	BranchHead(ctx context.Context, repo github.Repo, branch string) (string, error)
	// Tarball streams the repository's content at ref as a gzipped tar,
	// each path under one top-level directory, as GitHub's tarball is.
	Tarball(ctx context.Context, repo github.Repo, ref string) (io.ReadCloser, error)
	// Compare compares two commits.
	Compare(ctx context.Context, repo github.Repo, base, head string) (github.Comparison, error)
	// ResolveRevision returns the commit an Application's targetRevision
	// (a branch, a tag or a SHA) names.
	ResolveRevision(ctx context.Context, repo github.Repo, rev string) (string, error)
}

// Reporter tells GitHub what a sync did: its check run, the environments'
// Deployments and, where a repository asks for them, commit statuses.
// Implementations are safe for concurrent use; none of the methods is
// idempotent (each call adds a status, a Deployment or a check run), so a
// report is sent once (see Report).
type Reporter interface {
	// CreateStatus sets a commit status.
	CreateStatus(ctx context.Context, repo github.Repo, sha string, s github.Status) error
	// CreateDeployment creates a Deployment and returns its id.
	CreateDeployment(ctx context.Context, repo github.Repo, d github.Deployment) (int64, error)
	// CreateDeploymentStatus adds a status to a Deployment.
	CreateDeploymentStatus(ctx context.Context, repo github.Repo, id int64, s github.DeploymentStatus) error
	// CreateCheckRun creates a check run and returns its id.
	CreateCheckRun(ctx context.Context, repo github.Repo, r github.CheckRun) (int64, error)
	// UpdateCheckRun updates a check run.
	UpdateCheckRun(ctx context.Context, repo github.Repo, id int64, r github.CheckRun) error
}

// GitHub is one installation's GitHub API in both of the applier's
// roles, and the installation it belongs to: a report GitHub's rate
// limits refused is queued with it (0: unknown, as for the client
// `promobot sync` passes). *github.InstallationClient plays both roles
// (tokens, rate limits and retries handled there).
type GitHub struct {
	RepoReader
	Reporter
	Installation int64
}

// Installations returns the GitHub API client of an installation.
type Installations interface {
	GitHub(ctx context.Context, installationID int64) (GitHub, error)
}

// idInstallations hands out clients that know their installation.
type idInstallations struct{ Installations }

func (i idInstallations) GitHub(ctx context.Context, id int64) (GitHub, error) {
	gh, err := i.Installations.GitHub(ctx, id)
	if err != nil {
		return GitHub{}, err
	}
	gh.Installation = id
	return gh, nil
}

// installationOf returns the installation of a client (0 when unknown).
func installationOf(gh GitHub) int64 { return gh.Installation }
