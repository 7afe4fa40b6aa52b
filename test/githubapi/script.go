package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// The scripting API: what a test does "on GitHub" as a person, and what it
// reads back. Methods are safe for concurrent use; those that change state
// send the webhooks GitHub would (before returning with SyncWebhooks).

// ErrNotFound is returned by scripting methods for a missing repository,
// pull request, comment or file.
var ErrNotFound = errors.New("githubapi: not found")

// locked runs f under the server lock and then sends the webhooks it queued.
func (s *Server) locked(f func(out *[]*delivery) error) error {
	var out []*delivery
	s.mu.Lock()
	err := f(&out)
	s.mu.Unlock()
	s.hooks.send(out)
	return err
}

func (s *Server) mustRepo(owner, name string) (*repo, error) {
	r := s.repoByName(owner, name)
	if r == nil {
		return nil, fmt.Errorf("%s/%s: %w", owner, name, ErrNotFound)
	}
	return r, nil
}

// CreateRepo creates owner/name (the owner is an organization, created when
// new) with one commit on main holding the files of fixtureDir; an empty
// fixtureDir gives a README only. No webhook: the App is not installed yet.
func (s *Server) CreateRepo(ctx context.Context, owner, name, fixtureDir string) error {
	return s.locked(func(_ *[]*delivery) error {
		if s.repoByName(owner, name) != nil {
			return fmt.Errorf("create repository %s/%s: already exists", owner, name)
		}
		dir := s.repoPath(owner, name)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("create repository %s/%s: %w", owner, name, err)
		}
		g, err := initBare(ctx, dir, s.tmpDir, "main")
		if err != nil {
			return fmt.Errorf("create repository %s/%s: %w", owner, name, err)
		}
		var tree string
		if fixtureDir != "" {
			tree, err = g.importDir(ctx, fixtureDir)
		} else {
			var blob string
			if blob, err = g.hashObject(ctx, []byte("# "+name+"\n")); err == nil {
				tree, err = g.writeTree(ctx, "", []indexEdit{{Path: "README.md", Mode: "100644", SHA: blob}})
			}
		}
		if err != nil {
			return fmt.Errorf("create repository %s/%s: import: %w", owner, name, err)
		}
		ownerAcc := s.ensureAccount(owner, "Organization")
		id := identity{Name: ownerAcc.login, Email: ownerAcc.email, When: now()}
		sha, err := g.commitTree(ctx, tree, nil, id, id, "Initial commit")
		if err != nil {
			return fmt.Errorf("create repository %s/%s: %w", owner, name, err)
		}
		if err := g.updateRef(ctx, "refs/heads/main", sha, zeroSHA); err != nil {
			return fmt.Errorf("create repository %s/%s: %w", owner, name, err)
		}
		t := now()
		s.repos[strings.ToLower(owner+"/"+name)] = &repo{
			id: s.id(), owner: ownerAcc, name: name, git: g, defaultBranch: "main", createdAt: t, pushedAt: t,
			perms: map[string]Permission{}, issues: map[int]*issue{}, labels: map[string]*label{}, suites: map[string]int64{},
		}
		return nil
	})
}

// RepoPath is the bare repository's path on disk, for `git clone`.
func (s *Server) RepoPath(owner, name string) string { return s.repoPath(owner, name) }

// Install installs the App on repositories of owner (one installation per
// owner) and returns the installation id. A new installation sends
// "installation created"; adding repositories to an existing one sends
// "installation_repositories added".
func (s *Server) Install(ctx context.Context, owner string, repos ...string) (int64, error) {
	var id int64
	err := s.locked(func(out *[]*delivery) error {
		var add []*repo
		for _, name := range repos {
			r, err := s.mustRepo(owner, name)
			if err != nil {
				return fmt.Errorf("install on %s: %w", owner, err)
			}
			if r.inst == nil {
				add = append(add, r)
			}
		}
		acc := s.ensureAccount(owner, "Organization")
		var in *installation
		for _, x := range s.installations {
			if x.account == acc {
				in = x
			}
		}
		created := in == nil
		if created {
			perms := map[string]string{}
			for k, v := range s.opts.Permissions {
				perms[k] = v
			}
			t := now()
			in = &installation{id: s.id(), account: acc, permissions: perms, events: s.opts.Events, createdAt: t, updatedAt: t}
			s.installations[in.id] = in
		}
		for _, r := range add {
			r.inst = in
			in.repos = append(in.repos, r)
		}
		id = in.id
		ghRepos := []installRepoJSON{}
		for _, r := range add {
			ghRepos = append(ghRepos, installRepo(r))
		}
		parts := map[string]any{"installation": s.installationJSON(in), "sender": s.userJSON(acc),
			"requester": json.RawMessage("null")}
		if created {
			parts["repositories"] = ghRepos
			s.emit(out, nil, "installation", "created", shaped{&gh.InstallationEvent{Action: gh.String("created")}, parts})
		} else if len(add) > 0 {
			parts["repositories_added"], parts["repositories_removed"] = ghRepos, []installRepoJSON{}
			s.emit(out, nil, "installation_repositories", "added", shaped{&gh.InstallationRepositoriesEvent{
				Action: gh.String("added"), RepositorySelection: gh.String("selected")}, parts})
		}
		for _, d := range *out {
			d.instID = in.id
		}
		return nil
	})
	return id, err
}

// installRepoJSON is a repository as installation webhooks list it.
type installRepoJSON struct {
	ID       int64  `json:"id"`
	NodeID   string `json:"node_id"`
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	Private  bool   `json:"private"`
}

func installRepo(r *repo) installRepoJSON {
	return installRepoJSON{ID: r.id, NodeID: nodeID("R", r.id), Name: r.name, FullName: r.fullName(), Private: true}
}

// Uninstall removes the App from owner ("installation deleted"); its tokens
// stop working.
func (s *Server) Uninstall(ctx context.Context, owner string) error {
	return s.locked(func(out *[]*delivery) error {
		for id, in := range s.installations {
			if !strings.EqualFold(in.account.login, owner) {
				continue
			}
			ghRepos := []installRepoJSON{}
			for _, r := range in.repos {
				ghRepos = append(ghRepos, installRepo(r))
				r.inst = nil
			}
			delete(s.installations, id)
			s.emit(out, nil, "installation", "deleted", shaped{&gh.InstallationEvent{Action: gh.String("deleted")},
				map[string]any{"installation": s.installationJSON(in), "sender": s.userJSON(in.account),
					"repositories": ghRepos, "requester": json.RawMessage("null")}})
			for _, d := range *out {
				d.instID = in.id
			}
			return nil
		}
		return fmt.Errorf("uninstall %s: %w", owner, ErrNotFound)
	})
}

// InstallationID returns the installation on owner, or 0.
func (s *Server) InstallationID(owner string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.installations {
		if strings.EqualFold(in.account.login, owner) {
			return in.id
		}
	}
	return 0
}

// ExpireTokens makes every installation token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expiresAt = now().Add(-time.Second)
	}
}

// AddUser creates a user account (no repository access).
func (s *Server) AddUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureAccount(login, "User")
}

// AddCollaborator gives login (created when new) role p on owner/repo.
func (s *Server) AddCollaborator(owner, name, login string, p Permission) error {
	if !p.valid() {
		return fmt.Errorf("add collaborator %s: invalid permission %q", login, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return err
	}
	a := s.ensureAccount(login, "User")
	r.perms[a.login] = p
	return nil
}

// AddCollaboratorRole gives login (created when new) the custom
// repository role roleName, based on the role base, on owner/repo. GitHub
// reports a custom role's name in role_name and its base role in
// permission.
func (s *Server) AddCollaboratorRole(owner, name, login, roleName string, base Permission) error {
	if !base.valid() || base == PermissionNone {
		return fmt.Errorf("add collaborator %s: invalid base role %q", login, base)
	}
	if Permission(roleName).valid() {
		return fmt.Errorf("add collaborator %s: %q is a built-in role, not a custom one", login, roleName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return err
	}
	a := s.ensureAccount(login, "User")
	r.perms[a.login] = base
	if r.customRoles == nil {
		r.customRoles = map[string]string{}
	}
	r.customRoles[a.login] = roleName
	return nil
}

// RenameUser renames the account oldLogin to newLogin, as a user renaming
// themselves on GitHub does: the id, roles and teams stay with the
// account, and oldLogin is free for anyone to register (AddUser).
func (s *Server) RenameUser(oldLogin, newLogin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[strings.ToLower(oldLogin)]
	if !ok {
		return fmt.Errorf("rename %s: no such account", oldLogin)
	}
	if _, taken := s.accounts[strings.ToLower(newLogin)]; taken {
		return fmt.Errorf("rename %s: %s is taken", oldLogin, newLogin)
	}
	delete(s.accounts, strings.ToLower(oldLogin))
	old := a.login
	a.login = newLogin
	s.accounts[strings.ToLower(newLogin)] = a
	for _, r := range s.repos {
		if p, ok := r.perms[old]; ok {
			delete(r.perms, old)
			r.perms[newLogin] = p
		}
		if n, ok := r.customRoles[old]; ok {
			delete(r.customRoles, old)
			r.customRoles[newLogin] = n
		}
	}
	for _, t := range s.teams {
		if m, ok := t.members[strings.ToLower(old)]; ok {
			delete(t.members, strings.ToLower(old))
			t.members[strings.ToLower(newLogin)] = m
		}
	}
	return nil
}

// UserID returns the id of the account login, 0 when there is none.
func (s *Server) UserID(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[strings.ToLower(login)]; ok {
		return a.id
	}
	return 0
}

// Commit is a commit a person pushes.
type Commit struct {
	Message string
	Author  string            // login; default the repository owner
	Files   map[string]string // path → new content
	// Links are symbolic links to add or replace (path → target, as
	// written, relative or absolute): tree entries of mode 120000, which
	// the tarball serves as symlink entries, as GitHub's does.
	Links  map[string]string
	Delete []string // paths to remove (files or directories)
	// From names the commit a new branch starts at (branch or SHA); default
	// the default branch. Ignored when the branch exists.
	From string
}

func (s *Server) person(login string, r *repo) *account {
	if login == "" {
		return r.owner
	}
	return s.ensureAccount(login, "User")
}

// Push commits c on branch (creating it when new) and sends the push
// webhook (and pull_request synchronize for open PRs from that branch). It
// returns the new commit's SHA.
func (s *Server) Push(ctx context.Context, owner, name, branch string, c Commit) (string, error) {
	var sha string
	err := s.locked(func(out *[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		g := r.git
		head := g.refSHA(ctx, "refs/heads/"+branch)
		start, before := head, head
		if head == "" {
			from := c.From
			if from == "" {
				from = r.defaultBranch
			}
			if start, err = g.resolveRef(ctx, from, "commit"); err != nil {
				return fmt.Errorf("push %s/%s %s: start point %q: %w", owner, name, branch, from, ErrNotFound)
			}
			before = zeroSHA
		}
		var edits []indexEdit
		paths := make([]string, 0, len(c.Files))
		for p := range c.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			blob, err := g.hashObject(ctx, []byte(c.Files[p]))
			if err != nil {
				return fmt.Errorf("push %s/%s %s: %w", owner, name, branch, err)
			}
			edits = append(edits, indexEdit{Path: strings.Trim(p, "/"), Mode: "100644", SHA: blob})
		}
		links := make([]string, 0, len(c.Links))
		for p := range c.Links {
			if _, ok := c.Files[p]; ok {
				return fmt.Errorf("push %s/%s %s: %s is both a file and a link", owner, name, branch, p)
			}
			links = append(links, p)
		}
		sort.Strings(links)
		for _, p := range links {
			if c.Links[p] == "" {
				return fmt.Errorf("push %s/%s %s: link %s has no target", owner, name, branch, p)
			}
			// No file system holds such a link, and a tarball entry's
			// link name ends at the NUL.
			if strings.ContainsRune(c.Links[p], 0) {
				return fmt.Errorf("push %s/%s %s: link %s: target holds a NUL byte", owner, name, branch, p)
			}
			blob, err := g.hashObject(ctx, []byte(c.Links[p]))
			if err != nil {
				return fmt.Errorf("push %s/%s %s: %w", owner, name, branch, err)
			}
			edits = append(edits, indexEdit{Path: strings.Trim(p, "/"), Mode: "120000", SHA: blob})
		}
		paths = append(paths, links...)
		for _, p := range c.Delete {
			edits = append(edits, indexEdit{Path: strings.Trim(p, "/")})
		}
		author := s.person(c.Author, r)
		msg := c.Message
		if msg == "" {
			msg = "Update " + strings.Join(append(paths, c.Delete...), ", ")
		}
		id := s.actorIdentity(author)
		tree, err := g.writeTree(ctx, start+"^{tree}", edits)
		if err != nil {
			return fmt.Errorf("push %s/%s %s: %w", owner, name, branch, err)
		}
		if sha, err = g.commitTree(ctx, tree, []string{start}, id, id, msg); err != nil {
			return fmt.Errorf("push %s/%s %s: %w", owner, name, branch, err)
		}
		if err := s.moveRef(ctx, out, r, "refs/heads/"+branch, before, sha, author, false); err != nil {
			return fmt.Errorf("push %s/%s %s: %w", owner, name, branch, err)
		}
		return nil
	})
	return sha, err
}

// NewPR describes a pull request a person opens.
type NewPR struct {
	Title  string
	Body   string
	Head   string // branch
	Base   string // default: the default branch
	Author string // login; default the repository owner
	Draft  bool
}

// OpenPR opens a pull request ("pull_request opened") and returns its number.
func (s *Server) OpenPR(ctx context.Context, owner, name string, p NewPR) (int, error) {
	var number int
	err := s.locked(func(out *[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		base := p.Base
		if base == "" {
			base = r.defaultBranch
		}
		is, status, body := s.openPull(ctx, out, r, s.person(p.Author, r), false, p.Title, p.Body, p.Head, base, p.Draft)
		if is == nil {
			return fmt.Errorf("open pull request %s/%s %s: %d %s", owner, name, p.Head, status, describe(body))
		}
		number = is.number
		return nil
	})
	return number, err
}

func describe(body any) string {
	e, ok := body.(*apiError)
	if !ok {
		return fmt.Sprint(body)
	}
	msg := e.Message
	for _, fe := range e.Errors {
		msg += "; " + strings.TrimSpace(fe.Field+" "+fe.Code+" "+fe.Message)
	}
	return msg
}

func (s *Server) scriptIssue(owner, name string, number int) (*repo, *issue, error) {
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return nil, nil, err
	}
	is := r.issues[number]
	if is == nil {
		return nil, nil, fmt.Errorf("%s/%s#%d: %w", owner, name, number, ErrNotFound)
	}
	return r, is, nil
}

// Comment posts a comment as login on issue or pull request number
// ("issue_comment created") and returns the comment id.
func (s *Server) Comment(ctx context.Context, owner, name string, number int, login, body string) (int64, error) {
	var id int64
	err := s.locked(func(out *[]*delivery) error {
		r, is, err := s.scriptIssue(owner, name, number)
		if err != nil {
			return err
		}
		if st, b, ok := checkCommentBody(body); !ok {
			return fmt.Errorf("comment on %s/%s#%d: %d %s", owner, name, number, st, describe(b))
		}
		id = s.addComment(out, r, is, s.person(login, r), false, body).id
		return nil
	})
	return id, err
}

// EditComment changes a comment's body as login ("issue_comment edited").
func (s *Server) EditComment(ctx context.Context, owner, name string, id int64, login, body string) error {
	return s.locked(func(out *[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		cm := s.comments[id]
		if cm == nil || cm.repo != r {
			return fmt.Errorf("comment %d: %w", id, ErrNotFound)
		}
		s.editComment(out, cm, body, s.person(login, r))
		return nil
	})
}

// MergePR merges pull request number as login with method ("merge" or
// "squash"; default merge), sending push and "pull_request closed". It
// returns the merge commit's SHA.
func (s *Server) MergePR(ctx context.Context, owner, name string, number int, login, method string) (string, error) {
	return s.MergePRWithMessage(ctx, owner, name, number, login, method, "", "")
}

// MergePRWithMessage merges as MergePR does, with the commit title and
// message the person wrote in the merge dialog ("" keeps GitHub's
// default: "Merge pull request #N from owner/branch" and the pull
// request's title, or for a squash the title with " (#N)").
func (s *Server) MergePRWithMessage(ctx context.Context, owner, name string, number int, login, method, title, message string) (string, error) {
	var sha string
	err := s.locked(func(out *[]*delivery) error {
		r, is, err := s.scriptIssue(owner, name, number)
		if err != nil {
			return err
		}
		if is.pr == nil {
			return fmt.Errorf("merge %s/%s#%d: not a pull request", owner, name, number)
		}
		status, body := s.mergePull(ctx, out, r, is, s.person(login, r), method, "", title, message)
		if status != 200 {
			return fmt.Errorf("merge %s/%s#%d: %d %s", owner, name, number, status, describe(body))
		}
		sha = is.pr.mergeCommitSHA
		return nil
	})
	return sha, err
}

// ClosePR closes a pull request without merging ("pull_request closed").
func (s *Server) ClosePR(ctx context.Context, owner, name string, number int, login string) error {
	return s.locked(func(out *[]*delivery) error {
		r, is, err := s.scriptIssue(owner, name, number)
		if err != nil {
			return err
		}
		if is.state == "closed" {
			return nil
		}
		t := now()
		who := s.person(login, r)
		is.state, is.closedAt, is.closedBy, is.updatedAt = "closed", &t, who, t
		if is.pr != nil {
			s.emitPull(out, r, is, "closed", who, nil)
		}
		return nil
	})
}

// ---- reading back ----

// PullRequest is a pull request as a test sees it.
type PullRequest struct {
	Number         int
	Title          string
	Body           string
	State          string // open, closed
	Author         string
	Head, Base     string // branches
	HeadSHA        string
	BaseSHA        string
	Merged         bool
	MergeCommitSHA string
	Draft          bool
	Labels         []string
}

func pullOf(is *issue) PullRequest {
	p := PullRequest{
		Number: is.number, Title: is.title, Body: is.body, State: is.state, Author: is.user.login,
		Head: is.pr.head, Base: is.pr.base, HeadSHA: is.pr.headSHA, BaseSHA: is.pr.baseSHA,
		Merged: is.pr.merged, MergeCommitSHA: is.pr.mergeCommitSHA, Draft: is.pr.draft, Labels: []string{},
	}
	for _, l := range is.labels {
		p.Labels = append(p.Labels, l.name)
	}
	return p
}

// PR returns pull request number.
func (s *Server) PR(owner, name string, number int) (PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, err := s.scriptIssue(owner, name, number)
	if err != nil {
		return PullRequest{}, err
	}
	if is.pr == nil {
		return PullRequest{}, fmt.Errorf("%s/%s#%d is not a pull request: %w", owner, name, number, ErrNotFound)
	}
	return pullOf(is), nil
}

// PRs returns every pull request of the repository, by number.
func (s *Server) PRs(owner, name string) ([]PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return nil, err
	}
	out := []PullRequest{}
	for _, is := range r.sortedIssues() {
		if is.pr != nil {
			out = append(out, pullOf(is))
		}
	}
	return out, nil
}

// Reaction is a reaction as a test sees it.
type Reaction struct {
	User    string
	Content string
}

// IssueComment is a comment as a test sees it.
type IssueComment struct {
	ID        int64
	Author    string
	Bot       bool // posted through the App
	Body      string
	Reactions []Reaction
	CreatedAt time.Time
	UpdatedAt time.Time
}

func commentOf(cm *comment) IssueComment {
	c := IssueComment{ID: cm.id, Author: cm.user.login, Bot: cm.viaApp, Body: cm.body, CreatedAt: cm.createdAt,
		UpdatedAt: cm.updatedAt, Reactions: []Reaction{}}
	for _, re := range cm.reactions {
		c.Reactions = append(c.Reactions, Reaction{User: re.user.login, Content: re.content})
	}
	return c
}

// Comments returns the comments on issue or pull request number, oldest
// first.
func (s *Server) Comments(owner, name string, number int) ([]IssueComment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, err := s.scriptIssue(owner, name, number)
	if err != nil {
		return nil, err
	}
	out := []IssueComment{}
	for _, cm := range is.comments {
		out = append(out, commentOf(cm))
	}
	return out, nil
}

// CommentByID returns one comment (with its reactions).
func (s *Server) CommentByID(owner, name string, id int64) (IssueComment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return IssueComment{}, err
	}
	cm := s.comments[id]
	if cm == nil || cm.repo != r {
		return IssueComment{}, fmt.Errorf("comment %d: %w", id, ErrNotFound)
	}
	return commentOf(cm), nil
}

// Labels returns the label names on issue or pull request number.
func (s *Server) Labels(owner, name string, number int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is, err := s.scriptIssue(owner, name, number)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, l := range is.labels {
		out = append(out, l.name)
	}
	return out, nil
}

// Status is a commit status as a test sees it.
type Status struct {
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
	Creator     string
}

// Statuses returns the statuses of commit sha, newest first.
func (s *Server) Statuses(owner, name, sha string) ([]Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return nil, err
	}
	out := []Status{}
	for _, st := range r.statusesFor(sha) {
		out = append(out, Status{SHA: st.sha, State: st.state, Context: st.context, Description: st.description,
			TargetURL: st.targetURL, Creator: st.creator.login})
	}
	return out, nil
}

// CheckRun is a check run as a test sees it.
type CheckRun struct {
	ID         int64
	Name       string
	HeadSHA    string
	Status     string
	Conclusion string
	Title      string
	Summary    string
	Text       string
	DetailsURL string
	App        string // the slug of the App that created it
	// Annotations are the run's annotations, in the order added.
	Annotations []Annotation
}

// Annotation is a check run annotation as a test sees it.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	Level              string
	Title, Message     string
}

// CheckRuns returns the check runs on commit sha, oldest first.
func (s *Server) CheckRuns(owner, name, sha string) ([]CheckRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return nil, err
	}
	out := []CheckRun{}
	for _, cr := range r.checkRuns {
		if cr.headSHA == sha {
			run := CheckRun{ID: cr.id, Name: cr.name, HeadSHA: cr.headSHA, Status: cr.status,
				Conclusion: cr.conclusion, Title: cr.title, Summary: cr.summary, Text: cr.text, DetailsURL: cr.detailsURL,
				App: s.checkRunApp(cr).Slug}
			for _, a := range cr.annotations {
				run.Annotations = append(run.Annotations, Annotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine,
					Level: a.AnnotationLevel, Title: a.Title, Message: a.Message})
			}
			out = append(out, run)
		}
	}
	return out, nil
}

// DeploymentStatus is a deployment status as a test sees it.
type DeploymentStatus struct {
	State          string
	Description    string
	Environment    string
	LogURL         string
	EnvironmentURL string
}

// Deployment is a deployment as a test sees it; Statuses oldest first.
type Deployment struct {
	ID          int64
	SHA         string
	Ref         string
	Task        string
	Environment string
	Description string
	Payload     any
	Creator     string
	Production  bool
	Statuses    []DeploymentStatus
}

// Deployments returns the repository's deployments, oldest first.
func (s *Server) Deployments(owner, name string) ([]Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return nil, err
	}
	out := []Deployment{}
	for _, d := range r.deployments {
		dep := Deployment{ID: d.id, SHA: d.sha, Ref: d.ref, Task: d.task, Environment: d.environment,
			Description: d.description, Payload: d.payload, Creator: d.creator.login, Production: d.production,
			Statuses: []DeploymentStatus{}}
		for _, st := range d.statuses {
			dep.Statuses = append(dep.Statuses, DeploymentStatus{State: st.state, Description: st.description,
				Environment: st.environment, LogURL: st.logURL, EnvironmentURL: st.environmentURL})
		}
		out = append(out, dep)
	}
	return out, nil
}

// File returns the content of path at ref (branch, tag or SHA).
func (s *Server) File(ctx context.Context, owner, name, ref, path string) ([]byte, error) {
	s.mu.Lock()
	r, err := s.mustRepo(owner, name)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sha, err := r.git.resolveRef(ctx, ref, "commit")
	if err != nil {
		return nil, fmt.Errorf("%s/%s@%s: %w", owner, name, ref, ErrNotFound)
	}
	e, err := r.git.entryAt(ctx, sha+"^{tree}", path)
	if err != nil || e.Type != "blob" {
		return nil, fmt.Errorf("%s/%s@%s:%s: %w", owner, name, ref, path, ErrNotFound)
	}
	return r.git.catFile(ctx, "blob", e.SHA)
}

// Branches returns branch name → head SHA.
func (s *Server) Branches(ctx context.Context, owner, name string) (map[string]string, error) {
	s.mu.Lock()
	r, err := s.mustRepo(owner, name)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	refs, err := r.git.refs(ctx, "refs/heads/")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, rf := range refs {
		out[strings.TrimPrefix(rf[0], "refs/heads/")] = rf[1]
	}
	return out, nil
}

// Tag creates the lightweight tag name at sha, as `git push origin
// <sha>:refs/tags/<name>` does (GitHub sends no webhook the App
// subscribes to for it). An existing tag is an error.
func (s *Server) Tag(ctx context.Context, owner, name, tag, sha string) error {
	s.mu.Lock()
	r, err := s.mustRepo(owner, name)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := r.git.updateRef(ctx, "refs/tags/"+tag, sha, zeroSHA); err != nil {
		return fmt.Errorf("%s/%s: tag %s: %w", owner, name, tag, err)
	}
	return nil
}
