package github

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/internal/markdown"
)

// InstallationClient is the GitHub API as one installation of the App. Its
// methods are safe for concurrent use; writes of one installation go out one
// at a time. Each method documents its REST calls (retries not counted).
type InstallationClient struct {
	id       int64
	c        *gh.Client
	app      *App
	download *http.Client // unauthenticated: archive links are pre-signed
}

// ID returns the installation id.
func (i *InstallationClient) ID() int64 { return i.id }

// GitHub returns the installation's go-github client (authenticated,
// rate-limit aware, retrying), for adapters written against go-github.
func (i *InstallationClient) GitHub() *gh.Client { return i.c }

// apiErr turns go-github errors into this package's.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	// go-github refuses on its own while it knows a limit is in force.
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		method, path := requestOf(rl.Response)
		return &RateLimitError{Method: method, Path: path, Attempts: 0, Reset: rl.Rate.Reset.Time}
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		reset := time.Now().Add(time.Minute)
		if ab.RetryAfter != nil {
			reset = time.Now().Add(*ab.RetryAfter)
		}
		method, path := requestOf(ab.Response)
		return &RateLimitError{Secondary: true, Method: method, Path: path, Attempts: 0, Reset: reset}
	}
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	status := er.Response.StatusCode
	msg := er.Message
	var fields []string
	for _, e := range er.Errors {
		f := strings.TrimSpace(e.Field + ": " + e.Code + " " + e.Message)
		fields = append(fields, strings.TrimPrefix(f, ": "))
	}
	all := strings.ToLower(msg + " " + strings.Join(fields, " "))
	api := &APIError{Status: status, Message: msg, Errors: fields}
	switch {
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, api)
	case status == http.StatusConflict:
		return fmt.Errorf("%w: %w", ErrConflict, api)
	case status == http.StatusUnprocessableEntity && strings.Contains(all, "already exists"):
		return fmt.Errorf("%w: %w", ErrExists, api)
	}
	return api
}

func requestOf(resp *http.Response) (string, string) {
	if resp == nil || resp.Request == nil {
		return "", ""
	}
	return resp.Request.Method, resp.Request.URL.Path
}

// Repository reads a repository (1 call).
func (i *InstallationClient) Repository(ctx context.Context, repo Repo) (RepoInfo, error) {
	r, _, err := i.c.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return RepoInfo{}, fmt.Errorf("%s: get repository: %w", repo, apiErr(err))
	}
	info := RepoInfo{ID: r.GetID(), DefaultBranch: r.GetDefaultBranch(), Private: r.GetPrivate(),
		HTMLURL: r.GetHTMLURL(), CloneURL: r.GetCloneURL(), SSHURL: r.GetSSHURL()}
	for _, m := range []struct {
		allowed bool
		method  string
	}{{r.GetAllowMergeCommit(), "merge"}, {r.GetAllowSquashMerge(), "squash"}, {r.GetAllowRebaseMerge(), "rebase"}} {
		if m.allowed {
			info.MergeMethods = append(info.MergeMethods, m.method)
		}
	}
	return info, nil
}

// BranchHead returns the commit at the head of branch (1 call).
func (i *InstallationClient) BranchHead(ctx context.Context, repo Repo, branch string) (string, error) {
	ref, _, err := i.c.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("%s: get branch %s: %w", repo, branch, apiErr(err))
	}
	return ref.GetObject().GetSHA(), nil
}

// File returns the content of path at ref (a branch, tag or SHA; empty for
// the default branch) (1 call). A missing file wraps ErrNotFound.
func (i *InstallationClient) File(ctx context.Context, repo Repo, ref, path string) ([]byte, error) {
	req, err := i.c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/contents/%s", url.PathEscape(repo.Owner),
		url.PathEscape(repo.Name), escapePath(path)), nil)
	if err != nil {
		return nil, err
	}
	if ref != "" {
		q := req.URL.Query()
		q.Set("ref", ref)
		req.URL.RawQuery = q.Encode()
	}
	req.Header.Set("Accept", "application/vnd.github.raw")
	var buf strings.Builder
	if _, err := i.c.Do(ctx, req, &buf); err != nil {
		return nil, fmt.Errorf("%s: get %s at %s: %w", repo, path, refName(ref), apiErr(err))
	}
	return []byte(buf.String()), nil
}

func refName(ref string) string {
	if ref == "" {
		return "the default branch"
	}
	return ref
}

func escapePath(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for k, s := range parts {
		parts[k] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// Tarball streams the repository's content at ref as a gzipped tar, each
// path under one top-level directory (1 call and the download it
// redirects to). The caller closes it.
func (i *InstallationClient) Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error) {
	u, _, err := i.c.Repositories.GetArchiveLink(ctx, repo.Owner, repo.Name, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: ref}, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: tarball of %s: %w", repo, ref, apiErr(err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: tarball of %s: %w", repo, ref, err)
	}
	resp, err := i.download.Do(req)
	if err != nil {
		// The URL carries a download token: report the host only.
		return nil, fmt.Errorf("%s: tarball of %s: download from %s failed", repo, ref, u.Host)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: tarball of %s: download: %s", repo, ref, resp.Status)
	}
	return resp.Body, nil
}

// Compare compares base with head, three-dot (1 call). GitHub lists the
// changed files on the first page only, at most MaxCompareFiles for the
// whole comparison (Truncated is then set); paging would page the commits,
// which promobot does not read, so one commit a page keeps the answer
// small. A comparison too large for GitHub to compute answers 5xx:
// FilesUnknown tells that error apart.
func (i *InstallationClient) Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error) {
	c, _, err := i.c.Repositories.CompareCommits(ctx, repo.Owner, repo.Name, base, head, &gh.ListOptions{PerPage: 1})
	if err != nil {
		return Comparison{}, fmt.Errorf("%s: compare %s...%s: %w", repo, markdown.ShortSHA(base), markdown.ShortSHA(head), apiErr(err))
	}
	out := Comparison{Status: c.GetStatus(), AheadBy: c.GetAheadBy(), BehindBy: c.GetBehindBy(),
		MergeBase: c.GetMergeBaseCommit().GetSHA(), Truncated: len(c.Files) >= MaxCompareFiles}
	for _, f := range c.Files {
		out.Files = append(out.Files, changedFile(f))
	}
	return out, nil
}

func changedFile(f *gh.CommitFile) ChangedFile {
	return ChangedFile{Path: f.GetFilename(), PreviousPath: f.GetPreviousFilename(),
		Status: f.GetStatus(), Additions: f.GetAdditions(), Deletions: f.GetDeletions()}
}

// FilesUnknown reports whether err, from Compare or CommitChanges, means
// GitHub could not list the changed files: a server error (5xx) after
// retries, which is how GitHub answers a diff too large to generate
// ("Server Error: Sorry, this diff is taking too long to generate.").
// Callers that need the files then consider every path changed.
func FilesUnknown(err error) bool {
	var un *UnavailableError
	if errors.As(err, &un) {
		return un.Status >= 500
	}
	var api *APIError
	return errors.As(err, &api) && api.Status >= 500
}

// Commit reads a git commit (1 call).
func (i *InstallationClient) Commit(ctx context.Context, repo Repo, sha string) (Commit, error) {
	c, _, err := i.c.Git.GetCommit(ctx, repo.Owner, repo.Name, sha)
	if err != nil {
		return Commit{}, fmt.Errorf("%s: get commit %s: %w", repo, markdown.ShortSHA(sha), apiErr(err))
	}
	out := Commit{SHA: c.GetSHA(), Tree: c.GetTree().GetSHA(), Message: c.GetMessage()}
	for _, p := range c.Parents {
		out.Parents = append(out.Parents, p.GetSHA())
	}
	return out, nil
}

// CommitChanges reads the commit ref names (a branch, tag or SHA) with the
// files it changed compared with its first parent (1 call per 300 files).
// GitHub lists at most MaxCommitFiles (Truncated is then set). A ref that
// names no commit wraps ErrNotFound.
func (i *InstallationClient) CommitChanges(ctx context.Context, repo Repo, ref string) (ChangedCommit, error) {
	var out ChangedCommit
	opts := &gh.ListOptions{PerPage: 300}
	for {
		c, resp, err := i.c.Repositories.GetCommit(ctx, repo.Owner, repo.Name, ref, opts)
		if err != nil {
			err = apiErr(err)
			// GitHub answers 422 "No commit found for SHA" for a ref that
			// resolves to nothing.
			var api *APIError
			if errors.As(err, &api) && api.Status == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(api.Message), "no commit found") {
				err = fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return ChangedCommit{}, fmt.Errorf("%s: get commit %s: %w", repo, markdown.ShortSHA(ref), err)
		}
		if opts.Page == 0 {
			out.SHA, out.Tree, out.Message = c.GetSHA(), c.GetCommit().GetTree().GetSHA(), c.GetCommit().GetMessage()
			for _, p := range c.Parents {
				out.Parents = append(out.Parents, p.GetSHA())
			}
		}
		for _, f := range c.Files {
			out.Files = append(out.Files, changedFile(f))
		}
		if resp.NextPage == 0 {
			out.Truncated = len(out.Files) >= MaxCommitFiles
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateStatus sets a commit status (1 call). The description is cut to
// GitHub's 140 characters.
func (i *InstallationClient) CreateStatus(ctx context.Context, repo Repo, sha string, s Status) error {
	st := &gh.RepoStatus{State: gh.String(s.State), Context: gh.String(s.Context), Description: gh.String(markdown.Clip(s.Description, 140))}
	if s.TargetURL != "" {
		st.TargetURL = gh.String(s.TargetURL)
	}
	if _, _, err := i.c.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st); err != nil {
		return fmt.Errorf("%s: status %s on %s: %w", repo, s.Context, markdown.ShortSHA(sha), apiErr(err))
	}
	return nil
}

// CreateDeployment creates a Deployment and returns its id (1 call).
func (i *InstallationClient) CreateDeployment(ctx context.Context, repo Repo, d Deployment) (int64, error) {
	task := d.Task
	if task == "" {
		task = "deploy"
	}
	req := &gh.DeploymentRequest{
		Ref: gh.String(d.Ref), Task: gh.String(task), Environment: gh.String(d.Environment),
		Description: gh.String(markdown.Clip(d.Description, 140)), AutoMerge: gh.Bool(false), RequiredContexts: &[]string{},
		ProductionEnvironment: gh.Bool(d.Production), TransientEnvironment: gh.Bool(d.Transient),
	}
	if d.Payload != nil {
		req.Payload = d.Payload
	}
	dep, _, err := i.c.Repositories.CreateDeployment(ctx, repo.Owner, repo.Name, req)
	if err != nil {
		return 0, fmt.Errorf("%s: deployment of %s to %s: %w", repo, markdown.ShortSHA(d.Ref), d.Environment, apiErr(err))
	}
	return dep.GetID(), nil
}

// CreateDeploymentStatus adds a status to a Deployment (1 call).
func (i *InstallationClient) CreateDeploymentStatus(ctx context.Context, repo Repo, id int64, s DeploymentStatus) error {
	req := &gh.DeploymentStatusRequest{State: gh.String(s.State), Description: gh.String(markdown.Clip(s.Description, 140)),
		Environment: optional(s.Environment), LogURL: optional(s.LogURL), EnvironmentURL: optional(s.EnvironmentURL)}
	if _, _, err := i.c.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, id, req); err != nil {
		return fmt.Errorf("%s: deployment %d status %s: %w", repo, id, s.State, apiErr(err))
	}
	return nil
}

// optional is s for a request field GitHub leaves unset when nil: nil for
// "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateCheckRun creates a check run and returns its id (1 call).
func (i *InstallationClient) CreateCheckRun(ctx context.Context, repo Repo, r CheckRun) (int64, error) {
	opts := gh.CreateCheckRunOptions{Name: r.Name, HeadSHA: r.HeadSHA, Output: checkOutput(r),
		DetailsURL: optional(r.DetailsURL), ExternalID: optional(r.ExternalID), Status: optional(r.Status), Conclusion: optional(r.Conclusion)}
	run, _, err := i.c.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
	if err != nil {
		return 0, fmt.Errorf("%s: check run %s on %s: %w", repo, r.Name, markdown.ShortSHA(r.HeadSHA), apiErr(err))
	}
	return run.GetID(), nil
}

// UpdateCheckRun updates a check run (1 call).
func (i *InstallationClient) UpdateCheckRun(ctx context.Context, repo Repo, id int64, r CheckRun) error {
	opts := gh.UpdateCheckRunOptions{Name: r.Name, Output: checkOutput(r),
		DetailsURL: optional(r.DetailsURL), Status: optional(r.Status), Conclusion: optional(r.Conclusion)}
	if _, _, err := i.c.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, id, opts); err != nil {
		return fmt.Errorf("%s: check run %d: %w", repo, id, apiErr(err))
	}
	return nil
}

func checkOutput(r CheckRun) *gh.CheckRunOutput {
	if r.Title == "" && r.Summary == "" && r.Text == "" {
		return nil
	}
	out := &gh.CheckRunOutput{Title: gh.String(r.Title), Summary: gh.String(r.Summary)}
	if r.Text != "" {
		out.Text = gh.String(r.Text)
	}
	for i, a := range r.Annotations {
		if i == 50 {
			break
		}
		start, end := max(a.StartLine, 1), max(a.EndLine, a.StartLine, 1)
		out.Annotations = append(out.Annotations, &gh.CheckRunAnnotation{Path: gh.String(a.Path), StartLine: gh.Int(start), EndLine: gh.Int(end),
			AnnotationLevel: gh.String(a.Level), Title: optional(a.Title), Message: gh.String(a.Message)})
	}
	return out
}

func prOf(p *gh.PullRequest) PR {
	out := PR{
		Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(), State: p.GetState(), Draft: p.GetDraft(),
		Merged: p.GetMerged() || p.MergedAt != nil, MergeCommitSHA: p.GetMergeCommitSHA(),
		Head: p.GetHead().GetRef(), Base: p.GetBase().GetRef(), HeadSHA: p.GetHead().GetSHA(), BaseSHA: p.GetBase().GetSHA(),
		Author: p.GetUser().GetLogin(), URL: p.GetHTMLURL(), Mergeable: p.Mergeable, MergeableState: p.GetMergeableState(), Labels: []string{},
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// PullRequest reads a pull request (1 call).
func (i *InstallationClient) PullRequest(ctx context.Context, repo Repo, number int) (PR, error) {
	p, _, err := i.c.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return PR{}, fmt.Errorf("%s#%d: get pull request: %w", repo, number, apiErr(err))
	}
	return prOf(p), nil
}

// PullRequests lists pull requests matching f, newest first (1 call per
// 100).
func (i *InstallationClient) PullRequests(ctx context.Context, repo Repo, f PRFilter) ([]PR, error) {
	opts := &gh.PullRequestListOptions{State: f.State, Base: f.Base, ListOptions: gh.ListOptions{PerPage: 100}}
	if f.Head != "" {
		opts.Head = repo.Owner + ":" + f.Head
	}
	var out []PR
	for {
		page, resp, err := i.c.PullRequests.List(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: list pull requests: %w", repo, apiErr(err))
		}
		for _, p := range page {
			out = append(out, prOf(p))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreatePullRequest opens a pull request (1 call). One open already for the
// same head and base wraps ErrExists.
func (i *InstallationClient) CreatePullRequest(ctx context.Context, repo Repo, p NewPR) (PR, error) {
	pr, _, err := i.c.PullRequests.Create(ctx, repo.Owner, repo.Name, &gh.NewPullRequest{
		Title: gh.String(p.Title), Body: gh.String(p.Body), Head: gh.String(p.Head), Base: gh.String(p.Base), Draft: gh.Bool(p.Draft)})
	if err != nil {
		return PR{}, fmt.Errorf("%s: create pull request from %s: %w", repo, p.Head, apiErr(err))
	}
	return prOf(pr), nil
}

// UpdatePullRequest edits a pull request (1 call).
func (i *InstallationClient) UpdatePullRequest(ctx context.Context, repo Repo, number int, e PREdit) (PR, error) {
	edit := &gh.PullRequest{Title: e.Title, Body: e.Body}
	if e.State != "" {
		edit.State = gh.String(e.State)
	}
	if e.Base != "" {
		edit.Base = &gh.PullRequestBranch{Ref: gh.String(e.Base)}
	}
	pr, _, err := i.c.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, edit)
	if err != nil {
		return PR{}, fmt.Errorf("%s#%d: update pull request: %w", repo, number, apiErr(err))
	}
	return prOf(pr), nil
}

// CreateTree creates a tree on top of baseTree (a tree or commit SHA) with
// files written inline and deletions applied, and returns its SHA (1 call,
// no blob calls).
func (i *InstallationClient) CreateTree(ctx context.Context, repo Repo, baseTree string, files []TreeFile) (string, error) {
	entries := make([]*gh.TreeEntry, 0, len(files))
	for _, f := range files {
		mode := f.Mode
		if mode == "" {
			mode = "100644"
		}
		e := &gh.TreeEntry{Path: gh.String(strings.Trim(f.Path, "/")), Mode: gh.String(mode), Type: gh.String("blob")}
		if !f.Delete {
			e.Content = gh.String(string(f.Content))
		}
		entries = append(entries, e)
	}
	t, _, err := i.c.Git.CreateTree(ctx, repo.Owner, repo.Name, baseTree, entries)
	if err != nil {
		return "", fmt.Errorf("%s: create tree: %w", repo, apiErr(err))
	}
	return t.GetSHA(), nil
}

// CreateCommit creates a commit (authored by the App's bot) and returns its
// SHA (1 call).
func (i *InstallationClient) CreateCommit(ctx context.Context, repo Repo, c NewCommit) (string, error) {
	parents := make([]*gh.Commit, 0, len(c.Parents))
	for _, p := range c.Parents {
		parents = append(parents, &gh.Commit{SHA: gh.String(p)})
	}
	out, _, err := i.c.Git.CreateCommit(ctx, repo.Owner, repo.Name, &gh.Commit{
		Message: gh.String(c.Message), Tree: &gh.Tree{SHA: gh.String(c.Tree)}, Parents: parents}, nil)
	if err != nil {
		return "", fmt.Errorf("%s: create commit: %w", repo, apiErr(err))
	}
	return out.GetSHA(), nil
}

// PutFile commits one file on a branch with the Contents API (1 call) and
// returns the commit it made. A blob other than f.BlobSHA on the branch
// wraps ErrConflict.
func (i *InstallationClient) PutFile(ctx context.Context, repo Repo, f FileWrite) (Commit, error) {
	opts := &gh.RepositoryContentFileOptions{Message: gh.String(f.Message), Content: f.Content, Branch: gh.String(f.Branch)}
	if f.BlobSHA != "" {
		opts.SHA = gh.String(f.BlobSHA)
	}
	req, err := i.c.NewRequest(http.MethodPut, fmt.Sprintf("repos/%s/%s/contents/%s", url.PathEscape(repo.Owner),
		url.PathEscape(repo.Name), escapePath(f.Path)), opts)
	if err != nil {
		return Commit{}, err
	}
	var out gh.RepositoryContentResponse
	if _, err := i.c.Do(ctx, req, &out); err != nil {
		return Commit{}, fmt.Errorf("%s: write %s on %s: %w", repo, f.Path, f.Branch, apiErr(err))
	}
	c := Commit{SHA: out.Commit.GetSHA(), Tree: out.Commit.GetTree().GetSHA(), Message: out.Commit.GetMessage()}
	for _, p := range out.Commit.Parents {
		c.Parents = append(c.Parents, p.GetSHA())
	}
	return c, nil
}

// BlobSHA is the git blob id of content: what the Contents API calls a
// file's sha.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// CreateBranch creates branch at sha (1 call); an existing branch wraps
// ErrExists.
func (i *InstallationClient) CreateBranch(ctx context.Context, repo Repo, branch, sha string) error {
	_, _, err := i.c.Git.CreateRef(ctx, repo.Owner, repo.Name, &gh.Reference{
		Ref: gh.String("refs/heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}})
	if err != nil {
		return fmt.Errorf("%s: create branch %s: %w", repo, branch, apiErr(err))
	}
	return nil
}

// UpdateBranch moves branch to sha (1 call); without force only a fast
// forward is accepted. A missing branch wraps ErrNotFound.
func (i *InstallationClient) UpdateBranch(ctx context.Context, repo Repo, branch, sha string, force bool) error {
	_, _, err := i.c.Git.UpdateRef(ctx, repo.Owner, repo.Name, &gh.Reference{
		Ref: gh.String("refs/heads/" + branch), Object: &gh.GitObject{SHA: gh.String(sha)}}, force)
	if err != nil {
		return fmt.Errorf("%s: update branch %s: %w", repo, branch, refMissing(apiErr(err)))
	}
	return nil
}

// refMissing marks GitHub's 422 "Reference does not exist" as ErrNotFound.
func refMissing(err error) error {
	var api *APIError
	if errors.As(err, &api) && api.Status == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(api.Message), "does not exist") &&
		strings.Contains(strings.ToLower(api.Message), "reference") {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// DeleteBranch deletes branch (1 call); a missing branch wraps ErrNotFound.
func (i *InstallationClient) DeleteBranch(ctx context.Context, repo Repo, branch string) error {
	_, err := i.c.Git.DeleteRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		return fmt.Errorf("%s: delete branch %s: %w", repo, branch, refMissing(apiErr(err)))
	}
	return nil
}

func commentOf(c *gh.IssueComment) Comment {
	return Comment{ID: c.GetID(), Author: c.GetUser().GetLogin(), Bot: c.GetUser().GetType() == "Bot", Body: c.GetBody(),
		URL: c.GetHTMLURL(), CreatedAt: c.GetCreatedAt().Time, UpdatedAt: c.GetUpdatedAt().Time}
}

// Comments lists the comments of an issue or pull request, oldest first
// (1 call per 100).
func (i *InstallationClient) Comments(ctx context.Context, repo Repo, number int) ([]Comment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []Comment
	for {
		page, resp, err := i.c.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("%s#%d: list comments: %w", repo, number, apiErr(err))
		}
		for _, c := range page {
			out = append(out, commentOf(c))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// FindComment returns the first comment by a bot whose body contains marker
// (a hidden HTML comment promobot writes), for sticky comments (1 call per
// 100 comments).
func (i *InstallationClient) FindComment(ctx context.Context, repo Repo, number int, marker string) (Comment, bool, error) {
	all, err := i.Comments(ctx, repo, number)
	if err != nil {
		return Comment{}, false, err
	}
	for _, c := range all {
		if c.Bot && strings.Contains(c.Body, marker) {
			return c, true, nil
		}
	}
	return Comment{}, false, nil
}

// CreateComment comments on an issue or pull request (1 call).
func (i *InstallationClient) CreateComment(ctx context.Context, repo Repo, number int, body string) (Comment, error) {
	c, _, err := i.c.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return Comment{}, fmt.Errorf("%s#%d: create comment: %w", repo, number, apiErr(err))
	}
	return commentOf(c), nil
}

// EditComment replaces a comment's body (1 call).
func (i *InstallationClient) EditComment(ctx context.Context, repo Repo, id int64, body string) error {
	if _, _, err := i.c.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &gh.IssueComment{Body: gh.String(body)}); err != nil {
		return fmt.Errorf("%s: edit comment %d: %w", repo, id, apiErr(err))
	}
	return nil
}

// UpsertComment keeps one sticky comment per marker on an issue or pull
// request: it edits the bot's comment containing marker, or creates one
// (listing calls plus at most 1 write; none when the body is unchanged).
// The body must contain marker. Idempotent.
func (i *InstallationClient) UpsertComment(ctx context.Context, repo Repo, number int, marker, body string) (Comment, bool, error) {
	if !strings.Contains(body, marker) {
		return Comment{}, false, fmt.Errorf("%s#%d: sticky comment body lacks its marker", repo, number)
	}
	c, found, err := i.FindComment(ctx, repo, number, marker)
	if err != nil {
		return Comment{}, false, err
	}
	if !found {
		c, err := i.CreateComment(ctx, repo, number, body)
		return c, true, err
	}
	if c.Body != body {
		if err := i.EditComment(ctx, repo, c.ID, body); err != nil {
			return Comment{}, false, err
		}
		c.Body = body
	}
	return c, false, nil
}

// React adds a reaction (+1, -1, laugh, confused, heart, hooray, rocket,
// eyes) to an issue comment (1 call). Idempotent.
func (i *InstallationClient) React(ctx context.Context, repo Repo, commentID int64, content string) error {
	if _, _, err := i.c.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, commentID, content); err != nil {
		return fmt.Errorf("%s: react %s to comment %d: %w", repo, content, commentID, apiErr(err))
	}
	return nil
}

// AddLabels adds labels (created when new) to an issue or pull request
// (1 call). Idempotent.
func (i *InstallationClient) AddLabels(ctx context.Context, repo Repo, number int, labels []string) error {
	if len(labels) == 0 {
		return nil
	}
	if _, _, err := i.c.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return fmt.Errorf("%s#%d: add labels: %w", repo, number, apiErr(err))
	}
	return nil
}

// RemoveLabel removes a label from an issue or pull request (1 call); an
// absent label is not an error.
func (i *InstallationClient) RemoveLabel(ctx context.Context, repo Repo, number int, label string) error {
	// go-github v60 does not escape the name; labels like env/production
	// need it.
	_, err := i.c.Issues.RemoveLabelForIssue(ctx, repo.Owner, repo.Name, number, url.PathEscape(label))
	if err != nil && !errors.Is(apiErr(err), ErrNotFound) {
		return fmt.Errorf("%s#%d: remove label %s: %w", repo, number, label, apiErr(err))
	}
	return nil
}

// Permission returns login's access to the repository (1 call); an
// unknown login has none.
func (i *InstallationClient) Permission(ctx context.Context, repo Repo, login string) (RepoPermission, error) {
	// go-github v60 lacks role_name, which names maintain and custom roles.
	req, err := i.c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/collaborators/%s/permission",
		url.PathEscape(repo.Owner), url.PathEscape(repo.Name), url.PathEscape(login)), nil)
	if err != nil {
		return RepoPermission{}, err
	}
	var out struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	none := RepoPermission{Role: "none", Base: "none"}
	if _, err := i.c.Do(ctx, req, &out); err != nil {
		err = apiErr(err)
		if errors.Is(err, ErrNotFound) {
			return none, nil
		}
		return RepoPermission{}, fmt.Errorf("%s: permission of %s: %w", repo, login, err)
	}
	p := RepoPermission{Role: out.RoleName, Base: out.Permission}
	if p.Base == "" {
		p.Base = "none"
	}
	if p.Role == "" {
		p.Role = p.Base
	}
	return p, nil
}

// RepoPermission is a user's access to a repository.
type RepoPermission struct {
	// Role names the user's role: admin, maintain, write, triage, read, a
	// custom repository role's name, or none.
	Role string
	// Base is the base permission GitHub reports for the role: admin, write,
	// read or none. Maintain and custom roles based on write or maintain
	// report write; triage and custom roles based on read or triage report
	// read.
	Base string
}

// CanWrite reports whether the role includes write access (write,
// maintain, admin, or a custom role based on one of them).
func (p RepoPermission) CanWrite() bool {
	return p.Base == "admin" || p.Base == "write"
}

// IsAdmin reports whether the role is admin (or a custom role based on
// it).
func (p RepoPermission) IsAdmin() bool { return p.Base == "admin" }

// TeamMember reports whether login is an active member of the team
// org/teamSlug (1 call): false for a pending invitation, a login not in
// the team, and a team the installation cannot see. Reading memberships
// needs the App's organization permission Members: read; without it
// GitHub refuses with 403 (an *APIError).
func (i *InstallationClient) TeamMember(ctx context.Context, org, teamSlug, login string) (bool, error) {
	m, _, err := i.c.Teams.GetTeamMembershipBySlug(ctx, url.PathEscape(org), url.PathEscape(teamSlug), url.PathEscape(login))
	if err != nil {
		err = apiErr(err)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("team %s/%s: membership of %s: %w", org, teamSlug, login, err)
	}
	return m.GetState() == "active", nil
}
