package githubapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

// maxCommentBody is GitHub's limit on an issue comment body, in characters.
const maxCommentBody = 65536

func (c *call) issueParam() *issue {
	n, ok := c.number("issue_number")
	if !ok {
		return nil
	}
	return c.repo.issues[n]
}

func (c *call) commentParam() *comment {
	id, err := strconv.ParseInt(c.param("comment_id"), 10, 64)
	if err != nil {
		return nil
	}
	cm := c.s.comments[id]
	if cm == nil || cm.repo != c.repo {
		return nil
	}
	return cm
}

// getIssue: GET /repos/{owner}/{repo}/issues/{issue_number}.
func (s *Server) getIssue(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	return http.StatusOK, s.issueJSON(c.repo, is)
}

func checkCommentBody(body string) (int, any, bool) {
	if strings.TrimSpace(body) == "" {
		st, b := invalid("", fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return st, b, false
	}
	if utf8.RuneCountInString(body) > maxCommentBody {
		st, b := invalid("", fieldError{Resource: "IssueComment", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
		return st, b, false
	}
	return 0, nil, true
}

// addComment posts a comment (API and scripting). Called with s.mu held.
func (s *Server) addComment(out *[]*delivery, r *repo, is *issue, user *account, viaApp bool, body string) *comment {
	t := now()
	cm := &comment{id: s.id(), repo: r, number: is.number, user: user, viaApp: viaApp, body: body, createdAt: t, updatedAt: t}
	is.comments = append(is.comments, cm)
	s.comments[cm.id] = cm
	s.emitComment(out, r, is, cm, "created", user, nil)
	return cm
}

// createComment: POST /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (s *Server) createComment(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if st, b, ok := checkCommentBody(req.Body); !ok {
		return st, b
	}
	cm := s.addComment(&c.out, c.repo, is, c.actor, true, req.Body)
	out := s.commentJSON(cm)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

func sinceFilter(c *call) (time.Time, bool) {
	v := c.query("since")
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// listComments: GET /repos/{owner}/{repo}/issues/{issue_number}/comments,
// oldest first.
func (s *Server) listComments(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	since, ok := sinceFilter(c)
	if !ok {
		return invalid("", fieldError{Resource: "IssueComment", Field: "since", Code: "invalid"})
	}
	var list []*commentJSON
	for _, cm := range is.comments {
		if !cm.updatedAt.Before(since) {
			list = append(list, s.commentJSON(cm))
		}
	}
	return http.StatusOK, page(c, list)
}

// listRepoComments: GET /repos/{owner}/{repo}/issues/comments.
func (s *Server) listRepoComments(c *call) (int, any) {
	since, ok := sinceFilter(c)
	if !ok {
		return invalid("", fieldError{Resource: "IssueComment", Field: "since", Code: "invalid"})
	}
	var all []*comment
	for _, cm := range s.comments {
		if cm.repo == c.repo && !cm.updatedAt.Before(since) {
			all = append(all, cm)
		}
	}
	desc := c.query("direction") == "desc"
	byUpdated := c.query("sort") == "updated"
	sort.Slice(all, func(i, j int) bool {
		less := all[i].id < all[j].id
		if byUpdated && !all[i].updatedAt.Equal(all[j].updatedAt) {
			less = all[i].updatedAt.Before(all[j].updatedAt)
		}
		if desc {
			return !less
		}
		return less
	})
	var list []*commentJSON
	for _, cm := range page(c, all) {
		list = append(list, s.commentJSON(cm))
	}
	if list == nil {
		list = []*commentJSON{}
	}
	return http.StatusOK, list
}

// getComment: GET /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (s *Server) getComment(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	return http.StatusOK, s.commentJSON(cm)
}

// editComment changes a comment's body (API and scripting).
func (s *Server) editComment(out *[]*delivery, cm *comment, body string, by *account) {
	from := cm.body
	cm.body = body
	cm.updatedAt = now()
	is := cm.repo.issues[cm.number]
	s.emitComment(out, cm.repo, is, cm, "edited", by, &gh.EditChange{Body: &gh.EditBody{From: &from}})
}

// updateComment: PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (s *Server) updateComment(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if st, b, ok := checkCommentBody(req.Body); !ok {
		return st, b
	}
	if req.Body != cm.body {
		s.editComment(&c.out, cm, req.Body, c.actor)
	}
	return http.StatusOK, s.commentJSON(cm)
}

// deleteComment: DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}.
func (s *Server) deleteComment(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	is := c.repo.issues[cm.number]
	for i, x := range is.comments {
		if x == cm {
			is.comments = append(is.comments[:i:i], is.comments[i+1:]...)
			break
		}
	}
	delete(s.comments, cm.id)
	s.emitComment(&c.out, c.repo, is, cm, "deleted", c.actor, nil)
	return http.StatusNoContent, noBody{}
}

var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

// react adds a reaction unless user already reacted with content; it
// reports whether one was created.
func (s *Server) react(cm *comment, user *account, content string) (*reaction, bool) {
	for _, re := range cm.reactions {
		if re.user == user && re.content == content {
			return re, false
		}
	}
	re := &reaction{id: s.id(), user: user, content: content, createdAt: now()}
	cm.reactions = append(cm.reactions, re)
	return re, true
}

// createReaction: POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions
// (201 new, 200 when the same reaction already exists).
func (s *Server) createReaction(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	var req struct {
		Content string `json:"content"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if !reactionContents[req.Content] {
		return invalid("", fieldError{Resource: "Reaction", Field: "content", Code: "invalid"})
	}
	re, created := s.react(cm, c.actor, req.Content)
	if created {
		return http.StatusCreated, s.reactionJSON(re)
	}
	return http.StatusOK, s.reactionJSON(re)
}

// listReactions: GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions.
func (s *Server) listReactions(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	want := c.query("content")
	var out []reactionJSON
	for _, re := range cm.reactions {
		if want == "" || re.content == want {
			out = append(out, s.reactionJSON(re))
		}
	}
	return http.StatusOK, page(c, out)
}

// deleteReaction: DELETE .../comments/{comment_id}/reactions/{reaction_id}.
func (s *Server) deleteReaction(c *call) (int, any) {
	cm := c.commentParam()
	if cm == nil {
		return notFound()
	}
	id, _ := strconv.ParseInt(c.param("reaction_id"), 10, 64)
	for i, re := range cm.reactions {
		if re.id == id {
			cm.reactions = append(cm.reactions[:i:i], cm.reactions[i+1:]...)
			break
		}
	}
	return http.StatusNoContent, noBody{}
}

// ensureLabel returns the repository label, creating it (GitHub's default
// color) when missing.
func (s *Server) ensureLabel(r *repo, name string) *label {
	if l := r.labels[strings.ToLower(name)]; l != nil {
		return l
	}
	l := &label{id: s.id(), name: name, color: "ededed"}
	r.labels[strings.ToLower(name)] = l
	return l
}

// labelNames accepts the three body shapes GitHub does: ["a"],
// {"labels": ["a"]} and {"labels": [{"name": "a"}]}.
func labelNames(body []byte) ([]string, bool) {
	var plain []string
	if json.Unmarshal(body, &plain) == nil {
		return plain, true
	}
	var wrapped struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if json.Unmarshal(body, &wrapped) != nil {
		return nil, false
	}
	var names []string
	for _, raw := range wrapped.Labels {
		var n string
		if json.Unmarshal(raw, &n) == nil {
			names = append(names, n)
			continue
		}
		var obj struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return nil, false
		}
		names = append(names, obj.Name)
	}
	return names, true
}

// addLabels adds labels to an issue, sending "labeled" for new ones.
func (s *Server) addLabels(out *[]*delivery, r *repo, is *issue, names []string, by *account) {
	for _, n := range names {
		l := s.ensureLabel(r, n)
		has := false
		for _, x := range is.labels {
			if x == l {
				has = true
			}
		}
		if has {
			continue
		}
		is.labels = append(is.labels, l)
		is.updatedAt = now()
		if is.pr != nil {
			lj, _ := toJSON[gh.Label](s.labelJSON(r, l))
			s.emitPull(out, r, is, "labeled", by, func(ev *gh.PullRequestEvent) { ev.Label = lj })
		}
	}
}

func (s *Server) removeLabel(out *[]*delivery, r *repo, is *issue, l *label, by *account) {
	for i, x := range is.labels {
		if x == l {
			is.labels = append(is.labels[:i:i], is.labels[i+1:]...)
			is.updatedAt = now()
			if is.pr != nil {
				lj, _ := toJSON[gh.Label](s.labelJSON(r, l))
				s.emitPull(out, r, is, "unlabeled", by, func(ev *gh.PullRequestEvent) { ev.Label = lj })
			}
			return
		}
	}
}

// addIssueLabels: POST /repos/{owner}/{repo}/issues/{issue_number}/labels.
func (s *Server) addIssueLabels(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	names, ok := labelNames(c.body)
	if !ok {
		return badJSON()
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			return invalid("", fieldError{Resource: "Label", Field: "name", Code: "invalid"})
		}
	}
	s.addLabels(&c.out, c.repo, is, names, c.actor)
	return http.StatusOK, s.labelsJSON(c.repo, is.labels)
}

// setIssueLabels: PUT /repos/{owner}/{repo}/issues/{issue_number}/labels.
func (s *Server) setIssueLabels(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	names, ok := labelNames(c.body)
	if !ok {
		return badJSON()
	}
	keep := map[string]bool{}
	for _, n := range names {
		keep[strings.ToLower(n)] = true
	}
	for _, l := range append([]*label(nil), is.labels...) {
		if !keep[strings.ToLower(l.name)] {
			s.removeLabel(&c.out, c.repo, is, l, c.actor)
		}
	}
	s.addLabels(&c.out, c.repo, is, names, c.actor)
	return http.StatusOK, s.labelsJSON(c.repo, is.labels)
}

// listIssueLabels: GET /repos/{owner}/{repo}/issues/{issue_number}/labels.
func (s *Server) listIssueLabels(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	return http.StatusOK, page(c, s.labelsJSON(c.repo, is.labels))
}

// removeIssueLabel: DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}.
func (s *Server) removeIssueLabel(c *call) (int, any) {
	is := c.issueParam()
	if is == nil {
		return notFound()
	}
	l := c.repo.labels[strings.ToLower(c.param("name"))]
	found := false
	for _, x := range is.labels {
		if x == l {
			found = true
		}
	}
	if !found {
		return fail(http.StatusNotFound, "Label does not exist")
	}
	s.removeLabel(&c.out, c.repo, is, l, c.actor)
	return http.StatusOK, s.labelsJSON(c.repo, is.labels)
}

// listRepoLabels: GET /repos/{owner}/{repo}/labels.
func (s *Server) listRepoLabels(c *call) (int, any) {
	var ls []*label
	for _, l := range c.repo.labels {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].id < ls[j].id })
	return http.StatusOK, page(c, s.labelsJSON(c.repo, ls))
}

// createRepoLabel: POST /repos/{owner}/{repo}/labels.
func (s *Server) createRepoLabel(c *call) (int, any) {
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Name == "" {
		return invalid("", fieldError{Resource: "Label", Field: "name", Code: "missing_field"})
	}
	if c.repo.labels[strings.ToLower(req.Name)] != nil {
		return invalid("", fieldError{Resource: "Label", Field: "name", Code: "already_exists"})
	}
	l := s.ensureLabel(c.repo, req.Name)
	if req.Color != "" {
		l.color = strings.TrimPrefix(req.Color, "#")
	}
	l.description = req.Description
	out := s.labelJSON(c.repo, l)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// AddBot creates a bot account (type "Bot") such as another GitHub App's
// "dependabot[bot]": it can comment, and like every bot it has no
// collaborator permission to read.
func (s *Server) AddBot(login string) error {
	if !strings.HasSuffix(login, "[bot]") {
		return fmt.Errorf("add bot %s: a bot's login ends in [bot]", login)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.ensureAccount(login, "Bot"); a.kind != "Bot" {
		return fmt.Errorf("add bot %s: the login is a %s", login, a.kind)
	}
	return nil
}

// collaboratorPermission: GET /repos/{owner}/{repo}/collaborators/{username}/permission.
// As on GitHub, bot accounts are not users: 404, as for an unknown login.
func (s *Server) collaboratorPermission(c *call) (int, any) {
	a := s.accounts[strings.ToLower(c.param("username"))]
	if a == nil || a.kind == "Bot" {
		return fail(http.StatusNotFound, c.param("username")+" is not a user")
	}
	role := c.repo.role(a.login)
	roleName := c.repo.roleName(a.login)
	u := s.userJSON(a)
	perms := map[string]bool{
		"pull": role != PermissionNone, "triage": role == PermissionTriage || role.legacy() == "write" || role == PermissionAdmin,
		"push": role.legacy() == "write" || role == PermissionAdmin, "maintain": role == PermissionMaintain || role == PermissionAdmin,
		"admin": role == PermissionAdmin,
	}
	return http.StatusOK, map[string]any{
		"permission": role.legacy(), "role_name": roleName,
		"user": struct {
			*userJSON
			Permissions map[string]bool `json:"permissions"`
			RoleName    string          `json:"role_name"`
		}{u, perms, roleName},
	}
}
