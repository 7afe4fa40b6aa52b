package applier

import (
	"context"
	"io"
)

// Repo names a GitHub repository.
type Repo struct {
	Owner, Name string
}

// String formats the repository as owner/name.
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// RepoInfo is what the applier reads of a repository.
type RepoInfo struct {
	DefaultBranch string
	// URLs are the repository's own URLs (web, clone, SSH): Applications
	// naming another repository are skipped.
	URLs []string
}

// Comparison is how head relates to base.
type Comparison struct {
	// Status is GitHub's: "ahead" (head is a descendant of base),
	// "behind", "identical" or "diverged".
	Status string
	// Files are the paths changed from base to head (both sides of a
	// rename).
	Files []string
}

// Status is a commit status.
type Status struct {
	// State is "pending", "success", "failure" or "error".
	State string
	// Context names the check, e.g. promobot/my-api-service-staging.
	Context string
	// Description is at most 140 characters.
	Description string
	// TargetURL links to details; may be empty.
	TargetURL string
}

// Deployment is a GitHub Deployment of one app at one commit.
type Deployment struct {
	Ref         string
	Environment string
	Description string
	// Production marks the environment as production in GitHub.
	Production bool
	// Payload is stored with the deployment (JSON object).
	Payload map[string]any
}

// DeploymentStatus is one state of a Deployment.
type DeploymentStatus struct {
	// State is "in_progress", "success", "failure", "error" or "inactive".
	State       string
	Description string
	// Environment is repeated so GitHub's environment view stays right.
	Environment string
}

// GitHub is what the applier needs of one installation's GitHub API.
// Implementations retry transient failures themselves and are safe for
// concurrent use.
type GitHub interface {
	// Repository returns the repository's default branch and URLs.
	Repository(ctx context.Context, repo Repo) (RepoInfo, error)
	// BranchHead returns the commit at the head of branch.
	BranchHead(ctx context.Context, repo Repo, branch string) (string, error)
	// Tarball streams the repository's content at ref as a gzipped tar,
	// each path under one top-level directory, as GitHub's tarball is.
	Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error)
	// Compare compares two commits.
	Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error)
	// CreateStatus sets a commit status.
	CreateStatus(ctx context.Context, repo Repo, sha string, s Status) error
	// CreateDeployment creates a Deployment and returns its id.
	CreateDeployment(ctx context.Context, repo Repo, d Deployment) (int64, error)
	// CreateDeploymentStatus adds a status to a Deployment.
	CreateDeploymentStatus(ctx context.Context, repo Repo, id int64, s DeploymentStatus) error
}

// Installations returns the GitHub API client of an installation.
type Installations interface {
	GitHub(ctx context.Context, installationID int64) (GitHub, error)
}
