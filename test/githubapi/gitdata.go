package githubapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// moveRef moves a fully qualified ref from before to after (zeroSHA creates
// or deletes), atomically against concurrent writers, then records what
// GitHub would: the push webhook and pull request head/base updates.
// Called with s.mu held.
func (s *Server) moveRef(ctx context.Context, out *[]*delivery, r *repo, ref, before, after string, pusher *account, forced bool) error {
	g := r.git
	var err error
	if after == zeroSHA {
		err = g.deleteRef(ctx, ref)
	} else {
		err = g.updateRef(ctx, ref, after, before)
	}
	if err != nil {
		return err
	}
	r.pushedAt = now()
	s.emitPush(ctx, out, r, ref, before, after, pusher, forced)
	if !strings.HasPrefix(ref, "refs/heads/") {
		return nil
	}
	branch := strings.TrimPrefix(ref, "refs/heads/")
	for _, is := range r.sortedIssues() {
		pr := is.pr
		if pr == nil || is.state != "open" {
			continue
		}
		if pr.base == branch && after != zeroSHA {
			pr.baseSHA = after
		}
		if pr.head == branch && after != zeroSHA && pr.headSHA != after {
			old := pr.headSHA
			pr.headSHA = after
			is.updatedAt = now()
			s.emitPull(out, r, is, "synchronize", pusher, func(ev *gh.PullRequestEvent) {
				ev.Before, ev.After = &old, &after
			})
		}
	}
	return nil
}

// qualify turns "heads/x" or "refs/heads/x" into "refs/heads/x".
func qualify(ref string) string {
	if strings.HasPrefix(ref, "refs/") {
		return ref
	}
	return "refs/" + ref
}

func validRefName(ref string) bool {
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		return false
	}
	if strings.Contains(ref, "..") || strings.ContainsAny(ref, " ~^:?*[\\") || strings.HasSuffix(ref, "/") ||
		strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, ".") || strings.Contains(ref, "//") || strings.Contains(ref, "@{") {
		return false
	}
	return true
}

// getRef: GET /repos/{owner}/{repo}/git/ref/{ref}.
func (s *Server) getRef(c *call) (int, any) {
	name := qualify(c.param("ref"))
	sha := c.repo.git.refSHA(c.ctx(), name)
	if sha == "" || !validRefName(name) {
		return notFound()
	}
	typ, _ := c.repo.git.objectType(c.ctx(), sha)
	return http.StatusOK, s.refJSON(c.repo, name, sha, typ)
}

// matchingRefs: GET /repos/{owner}/{repo}/git/matching-refs/{ref}.
func (s *Server) matchingRefs(c *call) (int, any) {
	prefix := qualify(c.param("ref"))
	refs, err := c.repo.git.refs(c.ctx(), "refs/")
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	out := []*refJSON{}
	for _, rf := range refs {
		if strings.HasPrefix(rf[0], prefix) {
			typ, _ := c.repo.git.objectType(c.ctx(), rf[1])
			out = append(out, s.refJSON(c.repo, rf[0], rf[1], typ))
		}
	}
	return http.StatusOK, out
}

// createRef: POST /repos/{owner}/{repo}/git/refs.
func (s *Server) createRef(c *call) (int, any) {
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if !validRefName(req.Ref) {
		return invalid("Reference name must start with 'refs/' and have at least two slashes.")
	}
	g := c.repo.git
	typ, err := g.objectType(c.ctx(), req.SHA)
	if err != nil {
		return invalid("Object does not exist")
	}
	if strings.HasPrefix(req.Ref, "refs/heads/") && typ != "commit" {
		return invalid("Object does not exist")
	}
	if g.refSHA(c.ctx(), req.Ref) != "" {
		return invalid("Reference already exists")
	}
	if err := s.moveRef(c.ctx(), &c.out, c.repo, req.Ref, zeroSHA, req.SHA, c.actor, false); err != nil {
		return invalid("Reference already exists")
	}
	out := s.refJSON(c.repo, req.Ref, req.SHA, typ)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// updateRef: PATCH /repos/{owner}/{repo}/git/refs/{ref}; refuses a non
// fast-forward without force.
func (s *Server) updateRef(c *call) (int, any) {
	var req struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	name := qualify(c.param("ref"))
	g := c.repo.git
	old := g.refSHA(c.ctx(), name)
	if old == "" || !validRefName(name) {
		return invalid("Reference does not exist")
	}
	typ, err := g.objectType(c.ctx(), req.SHA)
	if err != nil || (strings.HasPrefix(name, "refs/heads/") && typ != "commit") {
		return invalid("Object does not exist")
	}
	forced := false
	if old != req.SHA && !g.isAncestor(c.ctx(), old, req.SHA) {
		if !req.Force {
			return invalid("Update is not a fast forward")
		}
		forced = true
	}
	if msg := c.repo.pushRefusal(c.ctx(), strings.TrimPrefix(name, "refs/heads/"), old, req.SHA); msg != "" && old != req.SHA {
		return invalid(msg)
	}
	if old != req.SHA {
		if err := s.moveRef(c.ctx(), &c.out, c.repo, name, old, req.SHA, c.actor, forced); err != nil {
			return fail(http.StatusConflict, "Reference cannot be updated")
		}
	}
	return http.StatusOK, s.refJSON(c.repo, name, req.SHA, typ)
}

// deleteRef: DELETE /repos/{owner}/{repo}/git/refs/{ref}.
func (s *Server) deleteRef(c *call) (int, any) {
	name := qualify(c.param("ref"))
	old := c.repo.git.refSHA(c.ctx(), name)
	if old == "" || !validRefName(name) {
		return invalid("Reference does not exist")
	}
	if msg := c.repo.pushRefusal(c.ctx(), strings.TrimPrefix(name, "refs/heads/"), old, zeroSHA); msg != "" {
		return invalid(msg)
	}
	if err := s.moveRef(c.ctx(), &c.out, c.repo, name, old, zeroSHA, c.actor, false); err != nil {
		return invalid("Reference does not exist")
	}
	return http.StatusNoContent, noBody{}
}

// getGitCommit: GET /repos/{owner}/{repo}/git/commits/{commit_sha}.
func (s *Server) getGitCommit(c *call) (int, any) {
	commit, err := c.repo.git.readCommit(c.ctx(), c.param("commit_sha"))
	if err != nil {
		return notFound()
	}
	return http.StatusOK, s.gitCommitJSON(c.repo, commit)
}

type gitUserReq struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

func (u *gitUserReq) identity(def identity) (identity, bool) {
	if u == nil {
		return def, true
	}
	id := identity{Name: u.Name, Email: u.Email, When: def.When}
	if id.Name == "" || id.Email == "" {
		return id, false
	}
	if u.Date != "" {
		t, err := time.Parse(time.RFC3339, u.Date)
		if err != nil {
			return id, false
		}
		id.When = t
	}
	return id, true
}

func (s *Server) actorIdentity(a *account) identity {
	return identity{Name: a.login, Email: a.email, When: now()}
}

// createGitCommit: POST /repos/{owner}/{repo}/git/commits.
func (s *Server) createGitCommit(c *call) (int, any) {
	var req struct {
		Message   string      `json:"message"`
		Tree      string      `json:"tree"`
		Parents   []string    `json:"parents"`
		Author    *gitUserReq `json:"author"`
		Committer *gitUserReq `json:"committer"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	g := c.repo.git
	if req.Message == "" {
		return invalid("", fieldError{Resource: "Commit", Field: "message", Code: "missing_field"})
	}
	if t, err := g.objectType(c.ctx(), req.Tree); err != nil || t != "tree" {
		return invalid("Tree SHA does not exist")
	}
	for _, p := range req.Parents {
		if t, err := g.objectType(c.ctx(), p); err != nil || t != "commit" {
			return invalid("Parent SHA does not exist or is not a commit object")
		}
	}
	author, ok := req.Author.identity(s.actorIdentity(c.actor))
	if !ok {
		return invalid("Invalid request.\n\nauthor is not valid")
	}
	committer := author
	if req.Committer != nil {
		if committer, ok = req.Committer.identity(identity{When: now()}); !ok {
			return invalid("Invalid request.\n\ncommitter is not valid")
		}
	}
	sha, err := g.commitTree(c.ctx(), req.Tree, req.Parents, author, committer, req.Message)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	commit, err := g.readCommit(c.ctx(), sha)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	out := s.gitCommitJSON(c.repo, commit)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

type treeItemJSON struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	Type string `json:"type"`
	SHA  string `json:"sha"`
	Size *int64 `json:"size,omitempty"`
	URL  string `json:"url"`
}

type treeJSON struct {
	SHA       string         `json:"sha"`
	URL       string         `json:"url"`
	Tree      []treeItemJSON `json:"tree"`
	Truncated bool           `json:"truncated"`
}

func (s *Server) treeJSON(ctx context.Context, r *repo, sha string, recursive bool) (*treeJSON, error) {
	entries, err := r.git.lsTree(ctx, sha, recursive)
	if err != nil {
		return nil, err
	}
	out := &treeJSON{SHA: sha, URL: s.api("/repos/%s/git/trees/%s", r.fullName(), sha), Tree: []treeItemJSON{}}
	for _, e := range entries {
		item := treeItemJSON{Path: e.Path, Mode: e.Mode, Type: e.Type, SHA: e.SHA}
		switch e.Type {
		case "blob":
			size := e.Size
			item.Size = &size
			item.URL = s.api("/repos/%s/git/blobs/%s", r.fullName(), e.SHA)
		case "tree":
			item.URL = s.api("/repos/%s/git/trees/%s", r.fullName(), e.SHA)
		}
		out.Tree = append(out.Tree, item)
	}
	return out, nil
}

// getTree: GET /repos/{owner}/{repo}/git/trees/{tree_sha}[?recursive=1].
func (s *Server) getTree(c *call) (int, any) {
	sha, err := c.repo.git.resolveRef(c.ctx(), c.param("tree_sha"), "tree")
	if err != nil {
		return notFound()
	}
	out, err := s.treeJSON(c.ctx(), c.repo, sha, c.r.URL.Query().Has("recursive"))
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	return http.StatusOK, out
}

// createTree: POST /repos/{owner}/{repo}/git/trees. Entries may carry inline
// "content" (written as a blob) or "sha": null (deletes the path).
func (s *Server) createTree(c *call) (int, any) {
	var req struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string         `json:"path"`
			Mode    string         `json:"mode"`
			Type    string         `json:"type"`
			SHA     nullableString `json:"sha"`
			Content *string        `json:"content"`
		} `json:"tree"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	g := c.repo.git
	base := ""
	if req.BaseTree != "" {
		sha, err := g.resolve(c.ctx(), req.BaseTree, "tree")
		if err != nil {
			return invalid("Invalid tree info", fieldError{Resource: "Tree", Field: "base_tree", Code: "invalid"})
		}
		base = sha
	}
	if req.Tree == nil {
		return invalid("Invalid request.\n\n\"tree\" wasn't supplied.")
	}
	var edits []indexEdit
	for _, e := range req.Tree {
		p := e.Path
		if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") ||
			strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./") || strings.Contains("/"+p+"/", "/.git/") {
			return invalid("tree.path contains a malformed path component", fieldError{Resource: "Tree", Field: "path", Code: "invalid"})
		}
		switch e.Mode {
		case "100644", "100755", "040000", "160000", "120000":
		default:
			return invalid("Invalid tree info", fieldError{Resource: "Tree", Field: "mode", Code: "invalid"})
		}
		typ := e.Type
		if typ == "" {
			typ = map[string]string{"040000": "tree", "160000": "commit"}[e.Mode]
			if typ == "" {
				typ = "blob"
			}
		}
		deleting := e.SHA.set && e.SHA.null && e.Content == nil
		switch {
		case deleting:
			edits = append(edits, indexEdit{Path: p})
		case e.Content != nil:
			if typ != "blob" {
				return invalid("Invalid tree info", fieldError{Resource: "Tree", Field: "content", Code: "invalid"})
			}
			sha, err := g.hashObject(c.ctx(), []byte(*e.Content))
			if err != nil {
				return fail(http.StatusInternalServerError, err.Error())
			}
			edits = append(edits, indexEdit{Path: p, Mode: e.Mode, SHA: sha})
		case e.SHA.set && !e.SHA.null:
			sha := e.SHA.value
			if typ != "commit" {
				got, err := g.objectType(c.ctx(), sha)
				if err != nil || got != typ {
					return invalid("tree.sha "+sha+" is not a valid "+typ, fieldError{Resource: "Tree", Field: "sha", Code: "invalid"})
				}
			}
			edits = append(edits, indexEdit{Path: p, Mode: e.Mode, SHA: sha, IsTree: typ == "tree"})
		default:
			return invalid("Must supply either tree.sha or tree.content", fieldError{Resource: "Tree", Field: "sha", Code: "missing_field"})
		}
	}
	sha, err := g.writeTree(c.ctx(), base, edits)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	out, err := s.treeJSON(c.ctx(), c.repo, sha, false)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// nullableString tells an explicit JSON null from an absent field.
type nullableString struct {
	set   bool
	null  bool
	value string
}

func (n *nullableString) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		n.null = true
		return nil
	}
	n.value = strings.Trim(string(b), `"`)
	return nil
}

// getBlob: GET /repos/{owner}/{repo}/git/blobs/{file_sha}.
func (s *Server) getBlob(c *call) (int, any) {
	sha := c.param("file_sha")
	if t, err := c.repo.git.objectType(c.ctx(), sha); err != nil || t != "blob" {
		return notFound()
	}
	data, err := c.repo.git.catFile(c.ctx(), "blob", sha)
	if err != nil {
		return notFound()
	}
	if c.wantsRaw() {
		return http.StatusOK, rawBody{contentType: "application/vnd.github.raw", data: data}
	}
	return http.StatusOK, map[string]any{
		"sha": sha, "node_id": nodeID("B", int64(len(data))) + sha[:8], "size": len(data),
		"url": s.api("/repos/%s/git/blobs/%s", c.repo.fullName(), sha), "content": wrap60(base64.StdEncoding.EncodeToString(data)),
		"encoding": "base64",
	}
}

// createBlob: POST /repos/{owner}/{repo}/git/blobs.
func (s *Server) createBlob(c *call) (int, any) {
	var req struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Content == nil {
		return invalid("Invalid request.\n\n\"content\" wasn't supplied.")
	}
	data := []byte(*req.Content)
	switch req.Encoding {
	case "", "utf-8":
	case "base64":
		d, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*req.Content, "\n", ""))
		if err != nil {
			return invalid("Invalid request.\n\ncontent is not valid Base64")
		}
		data = d
	default:
		return invalid("encoding must be utf-8 or base64", fieldError{Resource: "Blob", Field: "encoding", Code: "invalid"})
	}
	sha, err := c.repo.git.hashObject(c.ctx(), data)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	u := s.api("/repos/%s/git/blobs/%s", c.repo.fullName(), sha)
	c.w.Header().Set("Location", u)
	return http.StatusCreated, map[string]string{"sha": sha, "url": u}
}
