package githubapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

func (r *repo) sortedIssues() []*issue {
	out := make([]*issue, 0, len(r.issues))
	for _, is := range r.issues {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out
}

func (c *call) number(name string) (int, bool) {
	n, err := strconv.Atoi(c.param(name))
	return n, err == nil
}

// pullParam returns the pull request named by {pull_number}.
func (c *call) pullParam() *issue {
	n, ok := c.number("pull_number")
	if !ok {
		return nil
	}
	is := c.repo.issues[n]
	if is == nil || is.pr == nil {
		return nil
	}
	return is
}

// mergeTarget returns the base commit an open pull request would merge
// into (the base branch's tip) and the key of its mergeability test.
func mergeTarget(ctx context.Context, r *repo, is *issue) (string, string) {
	baseTip := is.pr.baseSHA
	if is.state != "open" {
		return baseTip, ""
	}
	if tip := r.git.refSHA(ctx, "refs/heads/"+is.pr.base); tip != "" {
		baseTip = tip
	}
	return baseTip, baseTip + ".." + is.pr.headSHA
}

// startMergeability is what a read of a pull request does on GitHub: it
// starts the background job that computes mergeable, so later responses
// carry it. Called with s.mu held.
func startMergeability(ctx context.Context, r *repo, is *issue) {
	if _, key := mergeTarget(ctx, r, is); key != "" {
		is.pr.mergeableFor = key
	}
}

// pullDetail computes what a single-PR response adds: mergeability and diff
// statistics, from git. As on GitHub ("Get a pull request": "If the value
// is null, then GitHub has started a background job to compute the
// mergeability"), mergeable is null until a read of the pull request has
// started the job for its current base and head (startMergeability): a new
// pull request, and one whose head or base moved, answer null first.
func (s *Server) pullDetail(ctx context.Context, r *repo, is *issue) *pullDetailJSON {
	pr := is.pr
	d := &pullDetailJSON{
		Merged: pr.merged, MergedBy: s.userJSON(pr.mergedBy), Comments: len(is.comments),
		MaintainerCanModify: pr.maintainerMod, MergeableState: "unknown",
	}
	g := r.git
	baseTip, key := mergeTarget(ctx, r, is)
	if key != "" && key == pr.mergeableFor {
		_, conflict, err := g.mergeTree(ctx, baseTip, pr.headSHA)
		if err == nil {
			ok := !conflict
			d.Mergeable = &ok
			d.Rebaseable = &ok
			d.MergeableState = r.mergeableState(ctx, is, baseTip, conflict)
		}
	}
	mb := g.mergeBase(ctx, baseTip, pr.headSHA)
	if pr.merged && len(pr.mergeCommitSHA) == 40 {
		if c, err := g.readCommit(ctx, pr.mergeCommitSHA); err == nil && len(c.Parents) > 0 {
			mb = g.mergeBase(ctx, c.Parents[0], pr.headSHA)
		}
	}
	if mb != "" {
		if commits, err := g.revList(ctx, pr.headSHA, mb); err == nil {
			d.Commits = len(commits)
		}
		if changes, err := g.diff(ctx, mb, pr.headSHA); err == nil {
			d.ChangedFiles = len(changes)
			for _, ch := range changes {
				d.Additions += ch.Additions
				d.Deletions += ch.Deletions
			}
		}
	}
	return d
}

// openPull creates a pull request (API and scripting). Called with s.mu held.
func (s *Server) openPull(ctx context.Context, out *[]*delivery, r *repo, user *account, viaApp bool, title, body, head, base string, draft bool) (*issue, int, any) {
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, r.owner.login) {
			st, b := invalid("", fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
			return nil, st, b
		}
		head = branch
	}
	if title == "" {
		st, b := invalid("", fieldError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
		return nil, st, b
	}
	g := r.git
	headSHA := g.refSHA(ctx, "refs/heads/"+head)
	if headSHA == "" {
		st, b := invalid("", fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
		return nil, st, b
	}
	baseSHA := g.refSHA(ctx, "refs/heads/"+base)
	if baseSHA == "" {
		st, b := invalid("", fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		return nil, st, b
	}
	for _, is := range r.issues {
		if is.pr != nil && is.state == "open" && is.pr.head == head && is.pr.base == base {
			st, b := invalid("", fieldError{Resource: "PullRequest", Code: "custom", Message: "A pull request already exists for " + r.owner.login + ":" + head + "."})
			return nil, st, b
		}
	}
	if ahead, err := g.revList(ctx, headSHA, baseSHA); err != nil || len(ahead) == 0 {
		st, b := invalid("", fieldError{Resource: "PullRequest", Code: "custom", Message: "No commits between " + base + " and " + head})
		return nil, st, b
	}
	r.nextNumber++
	t := now()
	is := &issue{
		id: s.id(), number: r.nextNumber, title: title, body: body, user: user, viaApp: viaApp, state: "open",
		createdAt: t, updatedAt: t,
		pr: &pullData{id: s.id(), head: head, base: base, headSHA: headSHA, baseSHA: baseSHA, draft: draft, maintainerMod: true},
	}
	r.issues[is.number] = is
	s.emitPull(out, r, is, "opened", user, nil)
	return is, http.StatusCreated, nil
}

// createPull: POST /repos/{owner}/{repo}/pulls.
func (s *Server) createPull(c *call) (int, any) {
	var req struct {
		Title string `json:"title"`
		Body  string `json:"body"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Draft bool   `json:"draft"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	is, status, errBody := s.openPull(c.ctx(), &c.out, c.repo, c.actor, true, req.Title, req.Body, req.Head, req.Base, req.Draft)
	if is == nil {
		return status, errBody
	}
	out := s.pullJSON(c.repo, is, s.pullDetail(c.ctx(), c.repo, is))
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// getPull: GET /repos/{owner}/{repo}/pulls/{pull_number}.
func (s *Server) getPull(c *call) (int, any) {
	is := c.pullParam()
	if is == nil {
		return notFound()
	}
	out := s.pullJSON(c.repo, is, s.pullDetail(c.ctx(), c.repo, is))
	startMergeability(c.ctx(), c.repo, is)
	return http.StatusOK, out
}

// listPulls: GET /repos/{owner}/{repo}/pulls (state, head, base, sort,
// direction).
func (s *Server) listPulls(c *call) (int, any) {
	state := c.query("state")
	if state == "" {
		state = "open"
	}
	head := c.query("head")
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, c.repo.owner.login) {
			return http.StatusOK, []*pullJSON{}
		}
		head = branch
	}
	base := c.query("base")
	var list []*issue
	for _, is := range c.repo.issues {
		if is.pr == nil || (state != "all" && is.state != state) ||
			(head != "" && is.pr.head != head) || (base != "" && is.pr.base != base) {
			continue
		}
		list = append(list, is)
	}
	// "List pull requests": sort is created (default), updated, popularity
	// (the number of comments) or long-running (by creation, only pull
	// requests open for more than a month with activity within the past
	// month); direction defaults to desc when sort is created or not
	// specified, otherwise asc.
	sortKey := c.query("sort")
	if sortKey == "" {
		sortKey = "created"
	}
	desc := c.query("direction") == "desc" || (c.query("direction") == "" && sortKey == "created")
	if sortKey == "long-running" {
		monthAgo := now().AddDate(0, -1, 0)
		kept := list[:0]
		for _, is := range list {
			if is.state == "open" && is.createdAt.Before(monthAgo) && is.updatedAt.After(monthAgo) {
				kept = append(kept, is)
			}
		}
		list = kept
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if desc {
			a, b = b, a
		}
		switch {
		case sortKey == "updated" && !a.updatedAt.Equal(b.updatedAt):
			return a.updatedAt.Before(b.updatedAt)
		case sortKey == "popularity" && len(a.comments) != len(b.comments):
			return len(a.comments) < len(b.comments)
		}
		return a.number < b.number
	})
	out := []*pullJSON{}
	for _, is := range page(c, list) {
		out = append(out, s.pullJSON(c.repo, is, nil))
	}
	return http.StatusOK, out
}

// updatePull: PATCH /repos/{owner}/{repo}/pulls/{pull_number}.
func (s *Server) updatePull(c *call) (int, any) {
	is := c.pullParam()
	if is == nil {
		return notFound()
	}
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
		MCM   *bool   `json:"maintainer_can_modify"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	changes := &gh.EditChange{}
	edited := false
	if req.Title != nil && *req.Title != is.title {
		if *req.Title == "" {
			return invalid("", fieldError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
		}
		from := is.title
		changes.Title = &gh.EditTitle{From: &from}
		is.title, edited = *req.Title, true
	}
	if req.Body != nil && *req.Body != is.body {
		from := is.body
		changes.Body = &gh.EditBody{From: &from}
		is.body, edited = *req.Body, true
	}
	if req.Base != nil && *req.Base != is.pr.base {
		if is.state != "open" {
			return invalid("Cannot change the base branch of a closed pull request.")
		}
		sha := c.repo.git.refSHA(c.ctx(), "refs/heads/"+*req.Base)
		if sha == "" {
			return invalid("", fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		}
		from, fromSHA := is.pr.base, is.pr.baseSHA
		changes.Base = &gh.EditBase{Ref: &gh.EditRef{From: &from}, SHA: &gh.EditSHA{From: &fromSHA}}
		is.pr.base, is.pr.baseSHA, edited = *req.Base, sha, true
	}
	if req.MCM != nil {
		is.pr.maintainerMod = *req.MCM
	}
	var stateAction string
	if req.State != nil && *req.State != is.state {
		switch *req.State {
		case "closed":
			t := now()
			is.state, is.closedAt, is.closedBy = "closed", &t, c.actor
			stateAction = "closed"
		case "open":
			if is.pr.merged {
				return invalid("", fieldError{Resource: "PullRequest", Field: "state", Code: "invalid", Message: "state cannot be changed. The pull request has been merged."})
			}
			if c.repo.git.refSHA(c.ctx(), "refs/heads/"+is.pr.head) == "" {
				return invalid("", fieldError{Resource: "PullRequest", Field: "state", Code: "invalid", Message: "state cannot be changed. The " + is.pr.head + " branch has been deleted."})
			}
			is.state, is.closedAt, is.closedBy = "open", nil, nil
			is.pr.headSHA = c.repo.git.refSHA(c.ctx(), "refs/heads/"+is.pr.head)
			stateAction = "reopened"
		default:
			return invalid("", fieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		}
	}
	if edited || stateAction != "" || req.MCM != nil {
		is.updatedAt = now()
	}
	if edited {
		s.emitPull(&c.out, c.repo, is, "edited", c.actor, func(ev *gh.PullRequestEvent) { ev.Changes = changes })
	}
	if stateAction != "" {
		s.emitPull(&c.out, c.repo, is, stateAction, c.actor, nil)
	}
	out := s.pullJSON(c.repo, is, s.pullDetail(c.ctx(), c.repo, is))
	startMergeability(c.ctx(), c.repo, is)
	return http.StatusOK, out
}

// mergePull merges a pull request as user (API and scripting): a real merge
// (or squash) commit on the base branch. Called with s.mu held.
func (s *Server) mergePull(ctx context.Context, out *[]*delivery, r *repo, is *issue, user *account, method, sha, title, message string) (int, any) {
	pr := is.pr
	if is.state != "open" || pr.merged {
		return fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if sha != "" && sha != pr.headSHA {
		return fail(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
	}
	if method == "" {
		method = "merge"
	}
	if method != "merge" && method != "squash" && method != "rebase" {
		return invalid("", fieldError{Resource: "PullRequest", Field: "merge_method", Code: "invalid"})
	}
	if msg := r.methodRefusal(method); msg != "" {
		return fail(http.StatusMethodNotAllowed, msg)
	}
	g := r.git
	baseTip := g.refSHA(ctx, "refs/heads/"+pr.base)
	if baseTip == "" {
		return fail(http.StatusMethodNotAllowed, "Base branch was deleted")
	}
	if msg := r.protectionGate(ctx, is, baseTip).refusal(); msg != "" {
		return fail(http.StatusMethodNotAllowed, msg)
	}
	commit, status, body := s.mergeCommit(ctx, r, is, user, method, baseTip, title, message)
	if commit == "" {
		return status, body
	}
	if err := s.moveRef(ctx, out, r, "refs/heads/"+pr.base, baseTip, commit, user, false); err != nil {
		return fail(http.StatusConflict, "Base branch was modified. Review and try the merge again.")
	}
	t := now()
	pr.merged, pr.mergedAt, pr.mergedBy, pr.mergeCommitSHA = true, &t, user, commit
	pr.baseSHA = baseTip
	is.state, is.closedAt, is.closedBy, is.updatedAt = "closed", &t, user, t
	s.emitPull(out, r, is, "closed", user, nil)
	return http.StatusOK, map[string]any{"sha": commit, "merged": true, "message": "Pull Request successfully merged"}
}

// mergeCommit writes the commit that the merge moves the base branch to:
// a merge commit, a squash commit or, for a rebase, the head's commits
// replayed onto baseTip (the last one). On failure it returns "" and the
// answer to give.
func (s *Server) mergeCommit(ctx context.Context, r *repo, is *issue, user *account, method, baseTip, title, message string) (string, int, any) {
	pr, g := is.pr, r.git
	committer := identity{Name: "GitHub", Email: "noreply@github.com", When: now()}
	if method == "rebase" {
		commit, conflict, err := g.replay(ctx, baseTip, pr.headSHA, committer)
		if err != nil {
			st, b := fail(http.StatusInternalServerError, err.Error())
			return "", st, b
		}
		if conflict {
			st, b := fail(http.StatusMethodNotAllowed, "This branch can't be rebased")
			return "", st, b
		}
		return commit, 0, nil
	}
	tree, conflict, err := g.mergeTree(ctx, baseTip, pr.headSHA)
	if err != nil {
		st, b := fail(http.StatusInternalServerError, err.Error())
		return "", st, b
	}
	if conflict {
		st, b := fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return "", st, b
	}
	parents := []string{baseTip, pr.headSHA}
	switch {
	case method == "squash":
		parents = []string{baseTip}
		if title == "" {
			title = fmt.Sprintf("%s (#%d)", is.title, is.number)
		}
	case title == "":
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", is.number, r.owner.login, pr.head)
		if message == "" {
			message = is.title
		}
	}
	full := title
	if message != "" {
		full += "\n\n" + message
	}
	commit, err := g.commitTree(ctx, tree, parents, s.actorIdentity(user), committer, full)
	if err != nil {
		st, b := fail(http.StatusInternalServerError, err.Error())
		return "", st, b
	}
	return commit, 0, nil
}

// mergePullAPI: PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge.
func (s *Server) mergePullAPI(c *call) (int, any) {
	is := c.pullParam()
	if is == nil {
		return notFound()
	}
	var req struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	return s.mergePull(c.ctx(), &c.out, c.repo, is, c.actor, req.MergeMethod, req.SHA, req.CommitTitle, req.CommitMessage)
}

// pullMerged: GET /repos/{owner}/{repo}/pulls/{pull_number}/merge.
func (s *Server) pullMerged(c *call) (int, any) {
	is := c.pullParam()
	if is == nil || !is.pr.merged {
		return http.StatusNotFound, noBody{}
	}
	return http.StatusNoContent, noBody{}
}

// pullFiles: GET /repos/{owner}/{repo}/pulls/{pull_number}/files.
func (s *Server) pullFiles(c *call) (int, any) {
	is := c.pullParam()
	if is == nil {
		return notFound()
	}
	g := c.repo.git
	baseTip := is.pr.baseSHA
	if is.state == "open" {
		if tip := g.refSHA(c.ctx(), "refs/heads/"+is.pr.base); tip != "" {
			baseTip = tip
		}
	}
	if is.pr.merged {
		if mc, err := g.readCommit(c.ctx(), is.pr.mergeCommitSHA); err == nil && len(mc.Parents) > 0 {
			baseTip = mc.Parents[0]
		}
	}
	mb := g.mergeBase(c.ctx(), baseTip, is.pr.headSHA)
	changes, err := g.diff(c.ctx(), mb, is.pr.headSHA)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	if len(changes) > 3000 {
		changes = changes[:3000]
	}
	return http.StatusOK, page(c, s.diffEntries(c.repo, is.pr.headSHA, changes))
}
