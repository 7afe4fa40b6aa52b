package github

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Repo names a repository.
type Repo struct {
	Owner, Name string
}

// String formats the repository as owner/name.
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// RepoInfo is what promobot reads of a repository.
type RepoInfo struct {
	ID            int64
	DefaultBranch string
	Private       bool
	// HTMLURL, CloneURL and SSHURL are the repository's own URLs, to tell
	// Argo CD Applications that name this repository from others.
	HTMLURL, CloneURL, SSHURL string
	// MergeMethods are the ways the repository allows pull requests to be
	// merged ("merge", "squash", "rebase"), in that order.
	MergeMethods []string
}

// URLs lists the repository's own URLs that are set.
func (r RepoInfo) URLs() []string {
	var out []string
	for _, u := range []string{r.HTMLURL, r.CloneURL, r.SSHURL} {
		if u != "" {
			out = append(out, u)
		}
	}
	return out
}

// PR is a pull request.
type PR struct {
	Number int
	Title  string
	Body   string
	// State is "open" or "closed".
	State  string
	Draft  bool
	Merged bool
	// MergeCommitSHA is the commit the merge made on the base branch.
	MergeCommitSHA string
	// Head and Base are branch names; HeadSHA and BaseSHA their commits.
	Head, Base       string
	HeadSHA, BaseSHA string
	// Author is the login that opened it.
	Author string
	Labels []string
	// URL is the pull request's web page.
	URL string
	// Mergeable is known only when read one at a time (PullRequest), and
	// not always then: GitHub computes it in the background.
	Mergeable *bool
	// MergeableState is GitHub's mergeable_state ("clean", "blocked",
	// "behind", "unstable", "dirty", "unknown"); like Mergeable, only read
	// one at a time.
	MergeableState string
}

// NewPR is a pull request to open. Head is a branch of the same
// repository.
type NewPR struct {
	Title, Body string
	Head, Base  string
	Draft       bool
}

// PREdit changes a pull request; nil and empty fields stay as they are.
type PREdit struct {
	Title *string
	Body  *string
	// State "closed" closes, "open" reopens.
	State string
	// Base retargets the pull request to another branch.
	Base string
}

// PRFilter selects pull requests.
type PRFilter struct {
	// Head is a branch of the repository itself.
	Head string
	Base string
	// State is "open" (default), "closed" or "all".
	State string
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID     int64
	Author string
	// Bot is true for comments by a bot account (promobot's own, too).
	Bot       bool
	Body      string
	URL       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TreeFile is one change of a new tree: a file with its content inline (no
// separate blob call), or a deletion.
type TreeFile struct {
	Path    string
	Content []byte
	// Delete removes Path (a file or a whole directory).
	Delete bool
	// Mode defaults to "100644"; "100755" for executables.
	Mode string
}

// FileWrite is one file committed on a branch through the Contents API.
type FileWrite struct {
	Branch, Path, Message string
	Content               []byte
	// BlobSHA is the file's blob on the branch now (BlobSHA of its
	// content), "" for a new file: GitHub refuses the write, wrapping
	// ErrConflict, when the branch holds another.
	BlobSHA string
}

// Commit is a git commit.
type Commit struct {
	SHA     string
	Tree    string
	Parents []string
	Message string
}

// NewCommit is a commit to create.
type NewCommit struct {
	Message string
	Tree    string
	Parents []string
}

// ChangedFile is one file of a comparison.
type ChangedFile struct {
	Path string
	// PreviousPath is set for renames.
	PreviousPath string
	// Status is GitHub's: added, removed, modified, renamed, copied, changed.
	Status    string
	Additions int
	Deletions int
}

// Comparison is how head relates to base.
type Comparison struct {
	// Status is "ahead", "behind", "identical" or "diverged".
	Status   string
	AheadBy  int
	BehindBy int
	// MergeBase is the best common ancestor.
	MergeBase string
	// Files changed from the merge base to head.
	Files []ChangedFile
	// Truncated is set when GitHub listed its maximum of MaxCompareFiles:
	// the comparison may change more files than Files.
	Truncated bool
}

// GitHub's limits on the files it lists ("Compare two commits", "Get a
// commit" and the push webhook in GitHub's REST documentation).
const (
	// MaxCompareFiles is how many files a comparison lists at most.
	MaxCompareFiles = 300
	// MaxCommitFiles is how many files a commit lists at most, over every
	// page of get-commit and in each commit of a push webhook.
	MaxCommitFiles = 3000
	// MaxPushCommits is how many commits a push webhook lists at most.
	MaxPushCommits = 2048
)

// Paths returns every path the comparison touches (both sides of renames).
func (c Comparison) Paths() []string { return paths(c.Files) }

// ChangedCommit is a commit with the files it changed compared with its
// first parent, as GitHub's commit page shows it.
type ChangedCommit struct {
	Commit
	Files []ChangedFile
	// Truncated is set when GitHub listed its maximum of MaxCommitFiles:
	// the commit may change more files than Files.
	Truncated bool
}

// Paths returns every path the commit touches (both sides of renames).
func (c ChangedCommit) Paths() []string { return paths(c.Files) }

func paths(files []ChangedFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
		if f.PreviousPath != "" {
			out = append(out, f.PreviousPath)
		}
	}
	return out
}

// Status is a commit status.
type Status struct {
	// State is "pending", "success", "failure" or "error".
	State   string
	Context string
	// Description is cut to GitHub's 140 characters.
	Description string
	TargetURL   string
}

// Deployment is a GitHub Deployment. It never waits for commit statuses
// (required_contexts is sent empty) and never auto-merges: promobot deploys
// exactly the commit it names.
type Deployment struct {
	Ref         string
	Environment string
	Description string
	// Task defaults to "deploy".
	Task       string
	Production bool
	Transient  bool
	Payload    map[string]any
}

// DeploymentStatus is one state of a Deployment.
type DeploymentStatus struct {
	// State is "queued", "in_progress", "success", "failure", "error" or
	// "inactive".
	State          string
	Description    string
	Environment    string
	LogURL         string
	EnvironmentURL string
}

// CheckRun is a check run to create or update.
type CheckRun struct {
	Name       string
	HeadSHA    string
	DetailsURL string
	ExternalID string
	// Status is "queued", "in_progress" or "completed" (set by a
	// Conclusion).
	Status string
	// Conclusion completes the run: success, failure, neutral, cancelled,
	// skipped, timed_out, action_required.
	Conclusion string
	Title      string
	Summary    string
	Text       string
	// Annotations point at files and lines (at most 50, as GitHub takes
	// in one request).
	Annotations []Annotation
}

// Annotation is a check run's note on a file's lines.
type Annotation struct {
	Path string
	// StartLine and EndLine are 1-based; 0 means line 1.
	StartLine, EndLine int
	// Level is "notice", "warning" or "failure".
	Level          string
	Title, Message string
}

// Delivery is one attempt GitHub made to deliver a webhook to the App.
// Attempts of the same webhook (the original and every redelivery) share a
// GUID and have distinct IDs.
type Delivery struct {
	ID             int64
	GUID           string
	Event          string
	Action         string
	Status         string // "OK" for a 2xx answer
	StatusCode     int    // 0 when the receiver could not be reached
	Redelivery     bool
	DeliveredAt    time.Time
	InstallationID int64
	RepositoryID   int64
}

// OK reports whether the receiver accepted the attempt.
func (d Delivery) OK() bool {
	return d.Status == "OK" || (d.StatusCode >= 200 && d.StatusCode < 300)
}

// Installation is one installation of the App.
type Installation struct {
	ID int64
	// Account is the login of the user or organization it is installed on.
	Account string
}

var (
	// ErrNotFound is wrapped when what was asked for does not exist (404),
	// or the installation cannot see it.
	ErrNotFound = errors.New("not found")
	// ErrExists is wrapped when creating something that exists already
	// (a branch, a pull request for the same head).
	ErrExists = errors.New("already exists")
	// ErrConflict is wrapped when GitHub refused a write because what it
	// was based on changed (409: a stale file SHA, a moved head).
	ErrConflict = errors.New("conflict")
)

// APIError is any other refusal by GitHub, with its status and message.
type APIError struct {
	Status  int
	Message string
	// Errors are GitHub's field errors, "field: code message".
	Errors []string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("github: %d %s", e.Status, e.Message)
	if len(e.Errors) > 0 {
		msg += " (" + strings.Join(e.Errors, "; ") + ")"
	}
	return msg
}
