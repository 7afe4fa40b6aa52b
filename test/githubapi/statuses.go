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
)

var statusStates = map[string]bool{"error": true, "failure": true, "pending": true, "success": true}

// maxStatusesPerContext is GitHub's limit of statuses per commit and
// context ("Create a commit status": "there is a limit of 1000 statuses
// per sha and context within a repository. Attempts to create more than
// 1000 statuses will result in a validation error").
const maxStatusesPerContext = 1000

// statusCount returns how many statuses sha has in context; contexts are
// compared as GitHub does, ignoring case.
func (r *repo) statusCount(sha, context string) int {
	n := 0
	for _, st := range r.statuses {
		if st.sha == sha && strings.EqualFold(st.context, context) {
			n++
		}
	}
	return n
}

// FillStatuses records n statuses of state on sha in context, as if the
// App had posted them one by one (without webhooks), so tests reach
// GitHub's limit of statuses per commit and context without 1,000
// requests.
func (s *Server) FillStatuses(owner, name, sha, context, state string, n int) error {
	if !statusStates[state] {
		return fmt.Errorf("fill statuses: invalid state %q", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return err
	}
	t := now()
	for range n {
		r.statuses = append(r.statuses, &commitStatus{id: s.id(), sha: sha, state: state, context: context,
			description: "filled", creator: s.bot, createdAt: t, updatedAt: t})
	}
	return nil
}

// createStatus: POST /repos/{owner}/{repo}/statuses/{sha}.
func (s *Server) createStatus(c *call) (int, any) {
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	sha := c.param("sha")
	if t, err := c.repo.git.objectType(c.ctx(), sha); err != nil || t != "commit" {
		return invalid("No commit found for SHA: " + sha)
	}
	if !statusStates[req.State] {
		return invalid("", fieldError{Resource: "Status", Field: "state", Code: "custom", Message: "state is not included in the list"})
	}
	if utf8.RuneCountInString(req.Description) > 140 {
		return invalid("", fieldError{Resource: "Status", Field: "description", Code: "custom", Message: "description is too long (maximum is 140 characters)"})
	}
	if req.Context == "" {
		req.Context = "default"
	}
	if c.repo.statusCount(sha, req.Context) >= maxStatusesPerContext {
		return invalid("", fieldError{Resource: "Status", Code: "custom", Message: "This SHA and context has reached the maximum number of statuses."})
	}
	t := now()
	st := &commitStatus{id: s.id(), sha: sha, state: req.State, targetURL: req.TargetURL, description: req.Description,
		context: req.Context, creator: c.actor, createdAt: t, updatedAt: t}
	s.addStatus(c.ctx(), &c.out, c.repo, st)
	out := s.statusJSON(c.repo, st, true)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// statusesFor returns the statuses of sha, newest first.
func (r *repo) statusesFor(sha string) []*commitStatus {
	var out []*commitStatus
	for i := len(r.statuses) - 1; i >= 0; i-- {
		if r.statuses[i].sha == sha {
			out = append(out, r.statuses[i])
		}
	}
	return out
}

// latestStatuses returns the newest status per context of sha. GitHub's
// contexts are case-insensitive: "CI/Build" replaces "ci/build".
func (r *repo) latestStatuses(sha string) []*commitStatus {
	seen := map[string]bool{}
	var out []*commitStatus
	for _, st := range r.statusesFor(sha) {
		if key := strings.ToLower(st.context); !seen[key] {
			seen[key] = true
			out = append(out, st)
		}
	}
	return out
}

// combinedState is GitHub's combined state: failure if any latest status is
// error or failure, pending if any is pending or there are none, else
// success.
func combinedState(latest []*commitStatus) string {
	if len(latest) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range latest {
		switch st.state {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

// listStatuses: GET /repos/{owner}/{repo}/commits/{ref}/statuses.
func (s *Server) listStatuses(c *call) (int, any) {
	sha, err := c.repo.git.resolveRef(c.ctx(), c.param("ref"), "commit")
	if err != nil {
		return http.StatusOK, []statusJSON{}
	}
	var out []statusJSON
	for _, st := range c.repo.statusesFor(sha) {
		out = append(out, s.statusJSON(c.repo, st, true))
	}
	return http.StatusOK, page(c, out)
}

// combinedStatus: GET /repos/{owner}/{repo}/commits/{ref}/status.
func (s *Server) combinedStatus(c *call) (int, any) {
	sha, err := c.repo.git.resolveRef(c.ctx(), c.param("ref"), "commit")
	if err != nil {
		return notFound()
	}
	latest := c.repo.latestStatuses(sha)
	statuses := []statusJSON{}
	for _, st := range latest {
		statuses = append(statuses, s.statusJSON(c.repo, st, false))
	}
	return http.StatusOK, map[string]any{
		"state": combinedState(latest), "statuses": statuses, "sha": sha, "total_count": len(statuses),
		"repository": s.repoJSON(c.repo), "commit_url": s.api("/repos/%s/commits/%s", c.repo.fullName(), sha),
		"url": s.api("/repos/%s/commits/%s/status", c.repo.fullName(), sha),
	}
}

type checkRunReq struct {
	Name        *string    `json:"name"`
	HeadSHA     string     `json:"head_sha"`
	DetailsURL  *string    `json:"details_url"`
	ExternalID  *string    `json:"external_id"`
	Status      *string    `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Output      *struct {
		Title       string          `json:"title"`
		Summary     string          `json:"summary"`
		Text        string          `json:"text"`
		Annotations []annotationReq `json:"annotations"`
	} `json:"output"`
}

// annotationReq is one output.annotations entry of a check run request.
type annotationReq struct {
	Path            string `json:"path"`
	StartLine       int    `json:"start_line"`
	EndLine         int    `json:"end_line"`
	AnnotationLevel string `json:"annotation_level"`
	Message         string `json:"message"`
	Title           string `json:"title"`
}

// maxAnnotations is how many annotations one request may add ("The
// Checks API limits the number of annotations to a maximum of 50 per API
// request").
const maxAnnotations = 50

var annotationLevels = map[string]bool{"notice": true, "warning": true, "failure": true}

var checkStatuses = map[string]bool{"queued": true, "in_progress": true, "completed": true}
var checkConclusions = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true, "success": true, "skipped": true, "stale": true, "timed_out": true}

// apply copies the request onto cr, validating as GitHub does.
func (req *checkRunReq) apply(cr *checkRun) (int, any, bool) {
	if req.Name != nil {
		cr.name = *req.Name
	}
	if req.DetailsURL != nil {
		cr.detailsURL = *req.DetailsURL
	}
	if req.ExternalID != nil {
		cr.externalID = *req.ExternalID
	}
	if req.Status != nil {
		if !checkStatuses[*req.Status] {
			st, b := invalid("", fieldError{Resource: "CheckRun", Field: "status", Code: "invalid"})
			return st, b, false
		}
		cr.status = *req.Status
	}
	if req.Conclusion != nil {
		if !checkConclusions[*req.Conclusion] {
			st, b := invalid("", fieldError{Resource: "CheckRun", Field: "conclusion", Code: "invalid"})
			return st, b, false
		}
		cr.conclusion = *req.Conclusion
		cr.status = "completed"
	}
	if cr.status == "completed" && cr.conclusion == "" {
		st, b := invalid("Invalid request.\n\nNo conclusion provided for completed check run.")
		return st, b, false
	}
	if req.StartedAt != nil {
		t := req.StartedAt.UTC()
		cr.startedAt = &t
	}
	if req.CompletedAt != nil {
		t := req.CompletedAt.UTC()
		cr.completedAt = &t
	}
	if cr.status == "completed" && cr.completedAt == nil {
		t := now()
		cr.completedAt = &t
	}
	if req.Output != nil {
		if len(req.Output.Annotations) > maxAnnotations {
			st, b := invalid("Only 50 annotations are allowed per request.")
			return st, b, false
		}
		for _, a := range req.Output.Annotations {
			if a.Path == "" || a.StartLine < 1 || a.EndLine < a.StartLine || !annotationLevels[a.AnnotationLevel] || a.Message == "" {
				st, b := invalid("", fieldError{Resource: "CheckRun", Field: "annotations", Code: "invalid"})
				return st, b, false
			}
		}
		cr.title, cr.summary, cr.text = req.Output.Title, req.Output.Summary, req.Output.Text
		// Annotations add up over the run's updates, as on GitHub.
		cr.annotations = append(cr.annotations, req.Output.Annotations...)
	}
	return 0, nil, true
}

// createCheckRun: POST /repos/{owner}/{repo}/check-runs.
func (s *Server) createCheckRun(c *call) (int, any) {
	var req checkRunReq
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Name == nil || *req.Name == "" {
		return invalid("", fieldError{Resource: "CheckRun", Field: "name", Code: "missing_field"})
	}
	if t, err := c.repo.git.objectType(c.ctx(), req.HeadSHA); err != nil || t != "commit" {
		return invalid("No commit found for SHA: " + req.HeadSHA)
	}
	t := now()
	cr := &checkRun{id: s.id(), headSHA: req.HeadSHA, status: "queued", createdAt: t, startedAt: &t}
	if st, b, ok := req.apply(cr); !ok {
		return st, b
	}
	if c.repo.suites[req.HeadSHA] == 0 {
		c.repo.suites[req.HeadSHA] = s.id()
	}
	cr.suiteID = c.repo.suites[req.HeadSHA]
	c.repo.checkRuns = append(c.repo.checkRuns, cr)
	if cr.status == "completed" {
		s.emitCheckRun(c.ctx(), &c.out, c.repo, cr, "completed", c.actor)
	}
	return http.StatusCreated, s.checkRunJSON(c.repo, cr)
}

func (c *call) checkRunParam() *checkRun {
	id, _ := strconv.ParseInt(c.param("check_run_id"), 10, 64)
	for _, cr := range c.repo.checkRuns {
		if cr.id == id {
			return cr
		}
	}
	return nil
}

// updateCheckRun: PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}.
func (s *Server) updateCheckRun(c *call) (int, any) {
	cr := c.checkRunParam()
	if cr == nil {
		return notFound()
	}
	var req checkRunReq
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	next := *cr
	if st, b, ok := req.apply(&next); !ok {
		return st, b
	}
	completed := next.status == "completed" && cr.status != "completed"
	*cr = next
	if completed {
		s.emitCheckRun(c.ctx(), &c.out, c.repo, cr, "completed", c.actor)
	}
	return http.StatusOK, s.checkRunJSON(c.repo, cr)
}

// getCheckRun: GET /repos/{owner}/{repo}/check-runs/{check_run_id}.
func (s *Server) getCheckRun(c *call) (int, any) {
	cr := c.checkRunParam()
	if cr == nil {
		return notFound()
	}
	return http.StatusOK, s.checkRunJSON(c.repo, cr)
}

// listCheckRuns: GET /repos/{owner}/{repo}/commits/{ref}/check-runs
// (check_name, status, filter=latest|all).
func (s *Server) listCheckRuns(c *call) (int, any) {
	sha, err := c.repo.git.resolveRef(c.ctx(), c.param("ref"), "commit")
	if err != nil {
		return notFound()
	}
	name, status := c.query("check_name"), c.query("status")
	latestOnly := c.query("filter") != "all"
	seen := map[string]bool{}
	var list []*checkRunJSON
	for i := len(c.repo.checkRuns) - 1; i >= 0; i-- {
		cr := c.repo.checkRuns[i]
		if cr.headSHA != sha || (name != "" && cr.name != name) || (status != "" && cr.status != status) {
			continue
		}
		if latestOnly && seen[cr.name] {
			continue
		}
		seen[cr.name] = true
		list = append(list, s.checkRunJSON(c.repo, cr))
	}
	total := len(list)
	return http.StatusOK, map[string]any{"total_count": total, "check_runs": page(c, list)}
}

// createDeployment: POST /repos/{owner}/{repo}/deployments. Like GitHub,
// without "required_contexts" every status context on the ref must be
// success (409 otherwise); pass an empty list to skip the check.
func (s *Server) createDeployment(c *call) (int, any) {
	var req struct {
		Ref                   string          `json:"ref"`
		Task                  string          `json:"task"`
		AutoMerge             *bool           `json:"auto_merge"`
		RequiredContexts      *[]string       `json:"required_contexts"`
		Payload               json.RawMessage `json:"payload"`
		Environment           string          `json:"environment"`
		Description           *string         `json:"description"`
		TransientEnvironment  bool            `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Ref == "" {
		return invalid("", fieldError{Resource: "Deployment", Field: "ref", Code: "missing_field"})
	}
	sha, err := c.repo.git.resolveRef(c.ctx(), req.Ref, "commit")
	if err != nil {
		return invalid("No ref found for: " + req.Ref)
	}
	latest := c.repo.latestStatuses(sha)
	var failed []string
	if req.RequiredContexts == nil {
		for _, st := range latest {
			if st.state != "success" {
				failed = append(failed, st.context)
			}
		}
	} else {
		byContext := map[string]string{}
		for _, st := range latest {
			byContext[strings.ToLower(st.context)] = st.state
		}
		for _, ctxName := range *req.RequiredContexts {
			if byContext[strings.ToLower(ctxName)] != "success" {
				failed = append(failed, ctxName)
			}
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fail(http.StatusConflict, "Conflict: Commit status checks failed for "+req.Ref+".")
	}
	if req.Task == "" {
		req.Task = "deploy"
	}
	if req.Environment == "" {
		req.Environment = "production"
	}
	var payload any = map[string]any{}
	if len(req.Payload) > 0 && string(req.Payload) != "null" {
		if err := json.Unmarshal(req.Payload, &payload); err != nil {
			return badJSON()
		}
		if str, ok := payload.(string); ok && str == "" {
			payload = map[string]any{}
		}
	}
	production := req.Environment == "production"
	if req.ProductionEnvironment != nil {
		production = *req.ProductionEnvironment
	}
	t := now()
	d := &deployment{
		id: s.id(), sha: sha, ref: req.Ref, task: req.Task, payload: payload, environment: req.Environment,
		transient: req.TransientEnvironment, production: production, creator: c.actor, viaApp: true,
		createdAt: t, updatedAt: t,
	}
	if req.Description != nil {
		d.description = *req.Description
	}
	c.repo.deployments = append(c.repo.deployments, d)
	return http.StatusCreated, s.deploymentJSON(c.repo, d)
}

// listDeployments: GET /repos/{owner}/{repo}/deployments (sha, ref, task,
// environment), newest first.
func (s *Server) listDeployments(c *call) (int, any) {
	q := c.r.URL.Query()
	var list []*deploymentJSON
	for i := len(c.repo.deployments) - 1; i >= 0; i-- {
		d := c.repo.deployments[i]
		if (q.Get("sha") != "" && d.sha != q.Get("sha")) || (q.Get("ref") != "" && d.ref != q.Get("ref")) ||
			(q.Get("task") != "" && d.task != q.Get("task")) || (q.Get("environment") != "" && d.environment != q.Get("environment")) {
			continue
		}
		list = append(list, s.deploymentJSON(c.repo, d))
	}
	return http.StatusOK, page(c, list)
}

func (c *call) deploymentParam() *deployment {
	id, _ := strconv.ParseInt(c.param("deployment_id"), 10, 64)
	for _, d := range c.repo.deployments {
		if d.id == id {
			return d
		}
	}
	return nil
}

// getDeployment: GET /repos/{owner}/{repo}/deployments/{deployment_id}.
func (s *Server) getDeployment(c *call) (int, any) {
	d := c.deploymentParam()
	if d == nil {
		return notFound()
	}
	return http.StatusOK, s.deploymentJSON(c.repo, d)
}

var deploymentStates = map[string]bool{"error": true, "failure": true, "inactive": true, "in_progress": true, "queued": true, "pending": true, "success": true}

// createDeploymentStatus: POST .../deployments/{deployment_id}/statuses. A
// success marks earlier successful deployments to the same environment
// inactive unless auto_inactive is false, as GitHub does.
func (s *Server) createDeploymentStatus(c *call) (int, any) {
	d := c.deploymentParam()
	if d == nil {
		return notFound()
	}
	var req struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if !deploymentStates[req.State] {
		return invalid("", fieldError{Resource: "DeploymentStatus", Field: "state", Code: "invalid"})
	}
	if utf8.RuneCountInString(req.Description) > 140 {
		return invalid("", fieldError{Resource: "DeploymentStatus", Field: "description", Code: "custom", Message: "description is too long (maximum is 140 characters)"})
	}
	if req.Environment != "" {
		d.environment = req.Environment
	}
	logURL := req.LogURL
	if logURL == "" {
		logURL = req.TargetURL
	}
	t := now()
	st := &deploymentStatus{id: s.id(), state: req.State, description: req.Description, environment: d.environment,
		targetURL: logURL, logURL: logURL, environmentURL: req.EnvironmentURL, creator: c.actor, createdAt: t}
	d.statuses = append(d.statuses, st)
	d.updatedAt = t
	if req.State == "success" && (req.AutoInactive == nil || *req.AutoInactive) && !d.transient {
		for _, other := range c.repo.deployments {
			if other == d || other.environment != d.environment || len(other.statuses) == 0 {
				continue
			}
			if last := other.statuses[len(other.statuses)-1]; last.state == "success" {
				other.statuses = append(other.statuses, &deploymentStatus{id: s.id(), state: "inactive",
					environment: other.environment, creator: c.actor, createdAt: t})
				other.updatedAt = t
			}
		}
	}
	out := s.deploymentStatusJSON(c.repo, d, st)
	c.w.Header().Set("Location", out.URL)
	return http.StatusCreated, out
}

// listDeploymentStatuses: GET .../deployments/{deployment_id}/statuses,
// newest first.
func (s *Server) listDeploymentStatuses(c *call) (int, any) {
	d := c.deploymentParam()
	if d == nil {
		return notFound()
	}
	var list []deploymentStatusJSON
	for i := len(d.statuses) - 1; i >= 0; i-- {
		list = append(list, s.deploymentStatusJSON(c.repo, d, d.statuses[i]))
	}
	return http.StatusOK, page(c, list)
}
