package githubapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
)

// getRepo: GET /repos/{owner}/{repo}.
func (s *Server) getRepo(c *call) (int, any) {
	return http.StatusOK, s.repoJSON(c.repo)
}

// wantsRaw reports whether the client asked for the raw media type.
func (c *call) wantsRaw() bool {
	return strings.Contains(c.r.Header.Get("Accept"), ".raw")
}

// refParam returns ?ref= or the default branch.
func (c *call) refParam() string {
	if ref := c.query("ref"); ref != "" {
		return ref
	}
	return c.repo.defaultBranch
}

// getContents: GET /repos/{owner}/{repo}/contents/{path}[?ref=].
func (s *Server) getContents(c *call) (int, any) {
	ref := c.refParam()
	g := c.repo.git
	commit, err := g.resolveRef(c.ctx(), ref, "commit")
	if err != nil {
		return fail(http.StatusNotFound, "No commit found for the ref "+ref)
	}
	p := strings.Trim(c.param("path"), "/")
	e, err := g.entryAt(c.ctx(), commit+"^{tree}", p)
	if err != nil {
		return notFound()
	}
	if e.Type == "tree" {
		entries, err := g.lsTree(c.ctx(), e.SHA, false)
		if err != nil {
			return fail(http.StatusInternalServerError, err.Error())
		}
		out := []*contentJSON{}
		for _, child := range entries {
			child.Path = path.Join(p, child.Path)
			out = append(out, s.contentJSON(c.repo, ref, child, nil))
		}
		return http.StatusOK, out
	}
	data := []byte{}
	if e.Type == "blob" {
		if data, err = g.catFile(c.ctx(), "blob", e.SHA); err != nil {
			return fail(http.StatusInternalServerError, err.Error())
		}
	}
	if c.wantsRaw() && e.Type == "blob" {
		return http.StatusOK, rawBody{contentType: "application/vnd.github.raw", data: data}
	}
	out := s.contentJSON(c.repo, ref, e, data)
	if e.Type == "commit" {
		return http.StatusOK, struct {
			*contentJSON
			SubmoduleGitURL string `json:"submodule_git_url"`
		}{out, ""}
	}
	return http.StatusOK, out
}

type fileCommitJSON struct {
	Content *contentJSON   `json:"content"`
	Commit  *gitCommitJSON `json:"commit"`
}

// commitOnBranch writes a commit with edits on top of the branch head and
// moves the branch (compare-and-swap against head). Called with s.mu held.
func (s *Server) commitOnBranch(ctx context.Context, out *[]*delivery, r *repo, branch, head string, edits []indexEdit, message string, author, committer identity, pusher *account) (*gitCommit, error) {
	g := r.git
	base := ""
	var parents []string
	if head != "" {
		base = head + "^{tree}"
		parents = []string{head}
	}
	tree, err := g.writeTree(ctx, base, edits)
	if err != nil {
		return nil, err
	}
	sha, err := g.commitTree(ctx, tree, parents, author, committer, message)
	if err != nil {
		return nil, err
	}
	before := head
	if before == "" {
		before = zeroSHA
	}
	if err := s.moveRef(ctx, out, r, "refs/heads/"+branch, before, sha, pusher, false); err != nil {
		return nil, err
	}
	return g.readCommit(ctx, sha)
}

type contentsReq struct {
	Message   string      `json:"message"`
	Content   *string     `json:"content"`
	SHA       string      `json:"sha"`
	Branch    string      `json:"branch"`
	Committer *gitUserReq `json:"committer"`
	Author    *gitUserReq `json:"author"`
}

func (s *Server) contentsIdentities(c *call, req *contentsReq) (identity, identity, bool) {
	committer, ok := req.Committer.identity(s.actorIdentity(c.actor))
	if !ok {
		return identity{}, identity{}, false
	}
	author, ok := req.Author.identity(committer)
	return author, committer, ok
}

// putContents: PUT /repos/{owner}/{repo}/contents/{path}; "sha" must name
// the current blob when the file exists (409 when stale, 422 when missing).
func (s *Server) putContents(c *call) (int, any) {
	var req contentsReq
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Message == "" {
		return invalid("Invalid request.\n\n\"message\" wasn't supplied.")
	}
	if req.Content == nil {
		return invalid("Invalid request.\n\n\"content\" wasn't supplied.")
	}
	data, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(*req.Content))
	if err != nil {
		return invalid("Invalid request.\n\ncontent is not valid Base64")
	}
	p := strings.Trim(c.param("path"), "/")
	if p == "" {
		return invalid("Invalid request.\n\npath cannot be blank")
	}
	branch := req.Branch
	if branch == "" {
		branch = c.repo.defaultBranch
	}
	g := c.repo.git
	head := g.refSHA(c.ctx(), "refs/heads/"+branch)
	if head == "" {
		return fail(http.StatusNotFound, "Branch "+branch+" not found")
	}
	existing, err := g.entryAt(c.ctx(), head+"^{tree}", p)
	exists := err == nil
	switch {
	case exists && existing.Type != "blob":
		return invalid("Invalid request.\n\n" + p + " is a directory")
	case exists && req.SHA == "":
		return invalid("Invalid request.\n\n\"sha\" wasn't supplied.")
	case exists && req.SHA != existing.SHA:
		return fail(http.StatusConflict, p+" does not match "+req.SHA)
	case !exists && req.SHA != "":
		return fail(http.StatusConflict, p+" does not match "+req.SHA)
	}
	author, committer, ok := s.contentsIdentities(c, &req)
	if !ok {
		return invalid("Invalid request.\n\ncommitter is not valid")
	}
	blob, err := g.hashObject(c.ctx(), data)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	mode := "100644"
	if exists {
		mode = existing.Mode
	}
	if msg := c.repo.pushRefusal(c.ctx(), branch, head, ""); msg != "" {
		return fail(http.StatusConflict, msg)
	}
	commit, err := s.commitOnBranch(c.ctx(), &c.out, c.repo, branch, head, []indexEdit{{Path: p, Mode: mode, SHA: blob}}, req.Message, author, committer, c.actor)
	if err != nil {
		return fail(http.StatusConflict, "Reference update failed: "+branch+" was modified")
	}
	entry := treeEntry{Mode: mode, Type: "blob", SHA: blob, Size: int64(len(data)), Path: p}
	out := fileCommitJSON{Content: s.contentJSON(c.repo, branch, entry, nil), Commit: s.gitCommitJSON(c.repo, commit)}
	if exists {
		return http.StatusOK, out
	}
	return http.StatusCreated, out
}

// deleteContents: DELETE /repos/{owner}/{repo}/contents/{path}.
func (s *Server) deleteContents(c *call) (int, any) {
	var req contentsReq
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Message == "" {
		return invalid("Invalid request.\n\n\"message\" wasn't supplied.")
	}
	if req.SHA == "" {
		return invalid("Invalid request.\n\n\"sha\" wasn't supplied.")
	}
	p := strings.Trim(c.param("path"), "/")
	branch := req.Branch
	if branch == "" {
		branch = c.repo.defaultBranch
	}
	g := c.repo.git
	head := g.refSHA(c.ctx(), "refs/heads/"+branch)
	if head == "" {
		return fail(http.StatusNotFound, "Branch "+branch+" not found")
	}
	existing, err := g.entryAt(c.ctx(), head+"^{tree}", p)
	if err != nil || existing.Type != "blob" {
		return notFound()
	}
	if existing.SHA != req.SHA {
		return fail(http.StatusConflict, p+" does not match "+req.SHA)
	}
	author, committer, ok := s.contentsIdentities(c, &req)
	if !ok {
		return invalid("Invalid request.\n\ncommitter is not valid")
	}
	if msg := c.repo.pushRefusal(c.ctx(), branch, head, ""); msg != "" {
		return fail(http.StatusConflict, msg)
	}
	commit, err := s.commitOnBranch(c.ctx(), &c.out, c.repo, branch, head, []indexEdit{{Path: p}}, req.Message, author, committer, c.actor)
	if err != nil {
		return fail(http.StatusConflict, "Reference update failed: "+branch+" was modified")
	}
	return http.StatusOK, fileCommitJSON{Commit: s.gitCommitJSON(c.repo, commit)}
}

// splitBasehead parses "base...head" (either side may be "owner:branch").
func splitBasehead(r *repo, bh string) (string, string, bool) {
	base, head, ok := strings.Cut(bh, "...")
	if !ok {
		return "", "", false
	}
	strip := func(x string) string {
		if owner, rest, ok := strings.Cut(x, ":"); ok && strings.EqualFold(owner, r.owner.login) {
			return rest
		}
		return x
	}
	return strip(base), strip(head), base != "" && head != ""
}

type comparisonJSON struct {
	URL             string          `json:"url"`
	HTMLURL         string          `json:"html_url"`
	PermalinkURL    string          `json:"permalink_url"`
	DiffURL         string          `json:"diff_url"`
	PatchURL        string          `json:"patch_url"`
	BaseCommit      *commitJSON     `json:"base_commit"`
	MergeBaseCommit *commitJSON     `json:"merge_base_commit"`
	Status          string          `json:"status"`
	AheadBy         int             `json:"ahead_by"`
	BehindBy        int             `json:"behind_by"`
	TotalCommits    int             `json:"total_commits"`
	Commits         []*commitJSON   `json:"commits"`
	Files           []diffEntryJSON `json:"files"`
}

// GitHub's limits on what compare and get-commit list ("Compare two
// commits" and "Get a commit" in GitHub's REST documentation).
const (
	// MaxCompareFiles is how many changed files compare lists for the
	// entire comparison: "it includes up to 300 changed files for the
	// entire comparison".
	MaxCompareFiles = 300
	// maxCompareCommits is how many commits compare lists without paging
	// parameters: "the returned list is limited to 250 commits, and the
	// last commit in the list is the most recent of the entire comparison".
	maxCompareCommits = 250
	// CommitFilesPerPage is how many files one page of get-commit lists:
	// "If there are more than 300 files in the commit diff ... the response
	// will include pagination link headers for the remaining files".
	CommitFilesPerPage = 300
	// MaxCommitFiles is how many files get-commit lists over every page:
	// "up to a limit of 3000 files". A push webhook lists at most as many
	// per commit.
	MaxCommitFiles = 3000
)

// TooLargeDiff makes compare of base...head (branches or SHAs, resolved
// now) answer 500 "Server Error: Sorry, this diff is taking too long to
// generate.", as GitHub answers a comparison too large to compute.
func (s *Server) TooLargeDiff(ctx context.Context, owner, name, base, head string) error {
	return s.locked(func(*[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		b, err1 := r.git.resolveRef(ctx, base, "commit")
		h, err2 := r.git.resolveRef(ctx, head, "commit")
		if err1 != nil || err2 != nil {
			return fmt.Errorf("too large diff %s/%s %s...%s: %w", owner, name, base, head, ErrNotFound)
		}
		if r.tooLarge == nil {
			r.tooLarge = map[[2]string]bool{}
		}
		r.tooLarge[[2]string{b, h}] = true
		return nil
	})
}

// compare: GET /repos/{owner}/{repo}/compare/{base}...{head}, three-dot
// semantics (files changed on head since the merge base).
func (s *Server) compare(c *call) (int, any) {
	baseRef, headRef, ok := splitBasehead(c.repo, c.param("basehead"))
	if !ok {
		return notFound()
	}
	g := c.repo.git
	ctx := c.ctx()
	base, err1 := g.resolveRef(ctx, baseRef, "commit")
	head, err2 := g.resolveRef(ctx, headRef, "commit")
	if err1 != nil || err2 != nil {
		return notFound()
	}
	mb := g.mergeBase(ctx, base, head)
	if mb == "" {
		return fail(http.StatusNotFound, "No common ancestor between "+baseRef+" and "+headRef+".")
	}
	ahead, err := g.revList(ctx, head, base)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	behind, err := g.revList(ctx, base, head)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	baseC, _ := g.readCommit(ctx, base)
	mbC, _ := g.readCommit(ctx, mb)
	changes, err := g.diff(ctx, mb, head)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	if c.repo.tooLarge[[2]string{base, head}] {
		return fail(http.StatusInternalServerError, "Server Error: Sorry, this diff is taking too long to generate.")
	}
	full := c.repo.fullName()
	bh := baseRef + "..." + headRef
	out := &comparisonJSON{
		URL: s.api("/repos/%s/compare/%s", full, bh), HTMLURL: s.web("/%s/compare/%s", full, bh),
		PermalinkURL: s.web("/%s/compare/%s...%s", full, short(base), short(head)),
		DiffURL:      s.web("/%s/compare/%s.diff", full, bh), PatchURL: s.web("/%s/compare/%s.patch", full, bh),
		BaseCommit: s.commitJSON(c.repo, baseC), MergeBaseCommit: s.commitJSON(c.repo, mbC),
		Status: status, AheadBy: len(ahead), BehindBy: len(behind), TotalCommits: len(ahead),
		Commits: []*commitJSON{}, Files: []diffEntryJSON{},
	}
	// GitHub lists the changed files on the first page only, at most
	// MaxCompareFiles of them for the entire comparison; paging pages the
	// commits. Without paging parameters the commits are the last 250,
	// the most recent last.
	paged := c.query("page") != "" || c.query("per_page") != ""
	if !paged || c.query("page") == "" || c.query("page") == "1" {
		out.Files = s.diffEntries(c.repo, head, changes[:min(len(changes), MaxCompareFiles)])
	}
	if paged {
		ahead = page(c, ahead)
	} else if len(ahead) > maxCompareCommits {
		ahead = ahead[len(ahead)-maxCompareCommits:]
	}
	for _, sha := range ahead {
		if cm, err := g.readCommit(ctx, sha); err == nil {
			out.Commits = append(out.Commits, s.commitJSON(c.repo, cm))
		}
	}
	return http.StatusOK, out
}

// getCommit: GET /repos/{owner}/{repo}/commits/{ref}, with stats and files.
func (s *Server) getCommit(c *call) (int, any) {
	g := c.repo.git
	sha, err := g.resolveRef(c.ctx(), c.param("ref"), "commit")
	if err != nil {
		return fail(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.param("ref"))
	}
	cm, err := g.readCommit(c.ctx(), sha)
	if err != nil {
		return notFound()
	}
	parent := ""
	if len(cm.Parents) > 0 {
		parent = cm.Parents[0]
	}
	changes, err := g.diff(c.ctx(), parent, sha)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	out := s.commitJSON(c.repo, cm)
	// Files come CommitFilesPerPage a page (per_page may ask for fewer),
	// MaxCommitFiles in all, with Link headers as GitHub pages them; stats
	// count every file.
	listed := changes[:min(len(changes), MaxCommitFiles)]
	lo, hi := c.paginateWith(len(listed), CommitFilesPerPage, CommitFilesPerPage)
	out.Files = s.diffEntries(c.repo, sha, listed[lo:hi])
	st := &statsJSON{}
	for _, ch := range changes {
		st.Additions += ch.Additions
		st.Deletions += ch.Deletions
	}
	st.Total = st.Additions + st.Deletions
	out.Stats = st
	return http.StatusOK, out
}

// listBranches: GET /repos/{owner}/{repo}/branches.
func (s *Server) listBranches(c *call) (int, any) {
	refs, err := c.repo.git.refs(c.ctx(), "refs/heads/")
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	type branchJSON struct {
		Name   string `json:"name"`
		Commit struct {
			SHA string `json:"sha"`
			URL string `json:"url"`
		} `json:"commit"`
		Protected bool `json:"protected"`
	}
	var out []branchJSON
	for _, rf := range refs {
		b := branchJSON{Name: strings.TrimPrefix(rf[0], "refs/heads/")}
		b.Protected = c.repo.protections[b.Name] != nil
		b.Commit.SHA = rf[1]
		b.Commit.URL = s.api("/repos/%s/commits/%s", c.repo.fullName(), rf[1])
		out = append(out, b)
	}
	return http.StatusOK, page(c, out)
}

const codeloadPrefix = "/_codeload/"

// tarball: GET /repos/{owner}/{repo}/tarball/{ref} answers 302 with a
// short-lived download URL, as GitHub redirects to codeload.
func (s *Server) tarball(c *call) (int, any) {
	ref := c.param("ref")
	sha, err := c.repo.git.resolveRef(c.ctx(), ref, "commit")
	if err != nil {
		return notFound()
	}
	tok := randomHex(16)
	s.archives[tok] = &archiveLink{repo: c.repo, sha: sha, expiresAt: time.Now().Add(5 * time.Minute)}
	loc := s.web("%s%s/legacy.tar.gz/%s?token=%s", codeloadPrefix, c.repo.fullName(), pathEscape(ref), tok)
	c.w.Header().Set("Location", loc)
	return http.StatusFound, noBody{}
}

// serveCodeload streams the tarball a tarball redirect pointed at.
func (s *Server) serveCodeload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls["GET /_codeload/{owner}/{repo}/legacy.tar.gz/{ref}"]++
	link := s.archives[r.URL.Query().Get("token")]
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, codeloadPrefix), "/", 3)
	s.mu.Unlock()
	if link == nil || time.Now().After(link.expiresAt) || len(parts) < 3 ||
		!strings.EqualFold(parts[0]+"/"+parts[1], link.repo.fullName()) {
		http.NotFound(w, r)
		return
	}
	prefix := fmt.Sprintf("%s-%s-%s", link.repo.owner.login, link.repo.name, link.sha[:7])
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", "attachment; filename="+prefix+".tar.gz")
	if err := link.repo.git.archive(r.Context(), w, link.sha, prefix+"/"); err != nil {
		s.log.Error("tarball", "repo", link.repo.fullName(), "err", err)
	}
}
