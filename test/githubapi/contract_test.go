package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	gh "github.com/google/go-github/v60/github"
)

// GitHub's OpenAPI description (npm @octokit/openapi), fetched by
// `make openapi`; the Makefile exports its path.
const openapiEnv = "PROMOBOT_GITHUB_OPENAPI"

var spec struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// loadSpec loads the description once per test binary (about 2.5 s).
func loadSpec() (*openapi3.T, error) {
	spec.once.Do(func() {
		path := os.Getenv(openapiEnv)
		if path == "" {
			spec.err = fmt.Errorf("%s is not set: run the tests through `make test` (or `make openapi` and export %s=<repo>/.cache/openapi/node_modules/@octokit/openapi/generated/api.github.com.json)", openapiEnv, openapiEnv)
			return
		}
		if _, err := os.Stat(path); err != nil {
			spec.err = fmt.Errorf("GitHub's OpenAPI description is missing (%v): run `make openapi`", err)
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			spec.err = fmt.Errorf("load %s: %w", path, err)
			return
		}
		spec.doc = doc
	})
	return spec.doc, spec.err
}

// TestContractRoutes: every route the server registers exists, with that
// method, in GitHub's description.
func TestContractRoutes(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var missing []string
	for _, r := range srv.Routes() {
		method, path, _ := strings.Cut(r, " ")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		t.Errorf("routes not in GitHub's OpenAPI description:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(srv.Routes()) < 60 {
		t.Errorf("only %d routes registered", len(srv.Routes()))
	}
}

// genericStatuses may be answered on any route, documented or not: GitHub
// returns them for bad JSON, bad credentials, permissions, rate limits,
// unknown resources, validation failures (e.g. a status description over
// 140 characters) and server errors.
var genericStatuses = map[int]bool{400: true, 401: true, 403: true, 404: true, 422: true, 429: true, 500: true, 502: true, 503: true}

// validateExchange checks one served response against the description.
func validateExchange(doc *openapi3.T, ex Exchange) error {
	if ex.Route == "" {
		return nil // unmatched paths answer a plain 404
	}
	item := doc.Paths.Value(ex.Route)
	if item == nil {
		return fmt.Errorf("route %s not in the description", ex.Route)
	}
	op := item.GetOperation(ex.Method)
	if op == nil {
		return fmt.Errorf("%s %s not in the description", ex.Method, ex.Route)
	}
	u := &url.URL{Scheme: "https", Host: "api.github.com", Path: ex.Path, RawQuery: ex.Query}
	req, _ := http.NewRequest(ex.Method, u.String(), nil)
	route := &routers.Route{Spec: doc, Path: ex.Route, PathItem: item, Method: ex.Method, Operation: op}
	documented := op.Responses.Status(ex.Status) != nil
	if !documented && genericStatuses[ex.Status] {
		var body struct {
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(ex.ResponseBody, &body); err != nil || body.Message == nil {
			return fmt.Errorf("%s %s: %d without a JSON error body: %s", ex.Method, ex.Path, ex.Status, ex.ResponseBody)
		}
		return nil
	}
	// GitHub serves raw bytes when asked for its raw media type; the
	// description documents only the JSON shape.
	raw := strings.Contains(ex.RequestHeader.Get("Accept"), ".raw") &&
		strings.HasPrefix(ex.ResponseHeader.Get("Content-Type"), "application/vnd.github.raw")
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  ex.Status,
		Header:  ex.ResponseHeader,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: raw},
	}
	in.SetBodyBytes(ex.ResponseBody)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		// Some error responses are oneOf(basic-error, X) where X has no
		// required fields, so every error body matches both and oneOf
		// fails; such a body must then be a valid basic-error.
		if ex.Status >= 400 && strings.Contains(err.Error(), "matches more than one oneOf schemas") {
			var body any
			if jerr := json.Unmarshal(ex.ResponseBody, &body); jerr != nil {
				return fmt.Errorf("%s %s → %d: %v", ex.Method, ex.Path, ex.Status, jerr)
			}
			if verr := doc.Components.Schemas["basic-error"].Value.VisitJSON(body); verr != nil {
				return fmt.Errorf("%s %s → %d: not a basic-error: %s", ex.Method, ex.Path, ex.Status, shorten(verr))
			}
			return nil
		}
		return fmt.Errorf("%s %s → %d: %s", ex.Method, ex.Path, ex.Status, shorten(err))
	}
	return nil
}

func shorten(err error) string {
	var me openapi3.MultiError
	msg := err.Error()
	if errors.As(err, &me) {
		var parts []string
		for _, e := range me {
			parts = append(parts, strings.SplitN(e.Error(), "\n", 2)[0])
		}
		msg = strings.Join(parts, "\n    ")
	}
	if !errors.As(err, &me) {
		msg = strings.SplitN(msg, "\n", 2)[0]
	}
	if len(msg) > 4000 {
		msg = msg[:4000] + "…"
	}
	return msg
}

// validateObserved validates every response served during the package's
// tests (TestMain calls it after they pass) and returns the exit code.
func validateObserved() int {
	observed.Lock()
	all := append([]Exchange(nil), observed.all...)
	observed.Unlock()
	if len(all) == 0 {
		return 0
	}
	doc, err := loadSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: OpenAPI contract:", err)
		return 1
	}
	seen := map[string]bool{}
	var failures []string
	for _, ex := range all {
		if err := validateExchange(doc, ex); err != nil {
			key := fmt.Sprintf("%s %s %d", ex.Method, ex.Route, ex.Status)
			if !seen[key] {
				seen[key] = true
				failures = append(failures, err.Error())
			}
		}
	}
	if len(failures) > 0 {
		sort.Strings(failures)
		fmt.Fprintf(os.Stderr, "FAIL: %d served responses do not match GitHub's OpenAPI description:\n  %s\n", len(failures), strings.Join(failures, "\n  "))
		return 1
	}
	fmt.Fprintf(os.Stderr, "OpenAPI contract: %d served responses validated\n", len(all))
	return 0
}

// TestContractSession drives every served route through go-github the way
// promobot uses them, then checks each route answered successfully at least
// once and every response validates against GitHub's description.
func TestContractSession(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var session []Exchange
	e := newEnv(t, func(o *Options) {
		o.Permissions = DefaultPermissions()
		o.Permissions["members"] = "read"
		o.Observe = func(ex Exchange) {
			observe(ex)
			mu.Lock()
			session = append(session, ex)
			mu.Unlock()
		}
	})
	ctx := e.ctx
	c := e.inst
	o, r := testOwner, testRepo
	if err := e.srv.AddCollaborator(o, r, "alice", PermissionWrite); err != nil {
		t.Fatal(err)
	}

	// App.
	must(e.app.Apps.Get(ctx, "")).ok(t)
	must(e.app.Apps.ListInstallations(ctx, nil)).ok(t)
	must(e.app.Apps.GetInstallation(ctx, e.instID)).ok(t)
	must(e.app.Apps.FindRepositoryInstallation(ctx, o, r)).ok(t)
	must(c.Apps.ListRepos(ctx, nil)).ok(t)
	must(c.RateLimit.Get(ctx)).ok(t)
	code, err := e.srv.NewManifestCode([]byte(`{"name":"promobot","url":"https://example.com","hook_attributes":{"url":"` + e.sink.srv.URL + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	must(e.app.Apps.CompleteAppManifest(ctx, code)).ok(t)
	must(e.app.Apps.GetHookConfig(ctx)).ok(t)
	must(e.app.Apps.UpdateHookConfig(ctx, &gh.HookConfig{ContentType: gh.String("json"), InsecureSSL: gh.String("0")})).ok(t)

	// Repository, git data, contents.
	must(c.Repositories.Get(ctx, o, r)).ok(t)
	must(c.Repositories.ListBranches(ctx, o, r, nil)).ok(t)
	must(c.Repositories.GetBranch(ctx, o, r, "main", 0)).ok(t)
	must(c.Repositories.GetPermissionLevel(ctx, o, r, "alice")).ok(t)
	if err := e.srv.AddTeamMember(o, "release-managers", "alice", TeamMaintainer); err != nil {
		t.Fatal(err)
	}
	must(c.Teams.GetTeamMembershipBySlug(ctx, o, "release-managers", "alice")).ok(t)
	_, _, _ = c.Teams.GetTeamMembershipBySlug(ctx, o, "release-managers", "mallory")
	ref := must(c.Git.GetRef(ctx, o, r, "heads/main")).ok(t)
	must(c.Git.ListMatchingRefs(ctx, o, r, &gh.ReferenceListOptions{Ref: "heads/"})).ok(t)
	base := must(c.Git.GetCommit(ctx, o, r, ref.GetObject().GetSHA())).ok(t)
	must(c.Git.GetTree(ctx, o, r, base.GetTree().GetSHA(), true)).ok(t)
	blob := must(c.Git.CreateBlob(ctx, o, r, &gh.Blob{Content: gh.String("x\n"), Encoding: gh.String("utf-8")})).ok(t)
	must(c.Git.GetBlob(ctx, o, r, blob.GetSHA())).ok(t)
	tree := must(c.Git.CreateTree(ctx, o, r, base.GetTree().GetSHA(), []*gh.TreeEntry{
		{Path: gh.String(stagingKustomization), Mode: gh.String("100644"), Type: gh.String("blob"), Content: gh.String("resources: [../../base]\n")},
		{Path: gh.String("x.txt"), Mode: gh.String("100644"), Type: gh.String("blob"), SHA: blob.SHA},
	})).ok(t)
	commit := must(c.Git.CreateCommit(ctx, o, r, &gh.Commit{Message: gh.String("Promote"), Tree: tree, Parents: []*gh.Commit{{SHA: base.SHA}}}, nil)).ok(t)
	must(c.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/promote"), Object: &gh.GitObject{SHA: base.SHA}})).ok(t)
	must(c.Git.UpdateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/promote"), Object: &gh.GitObject{SHA: commit.SHA}}, false)).ok(t)
	must(c.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/tmp"), Object: &gh.GitObject{SHA: base.SHA}})).ok(t)
	if _, err := c.Git.DeleteRef(ctx, o, r, "heads/tmp"); err != nil {
		t.Fatal(err)
	}
	file, _, _, err := c.Repositories.GetContents(ctx, o, r, "README.md", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.Repositories.GetContents(ctx, o, r, "kustomize", nil)
	if err != nil {
		t.Fatal(err)
	}
	put := must(c.Repositories.UpdateFile(ctx, o, r, "README.md", &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("# new\n"), SHA: file.SHA, Branch: gh.String("promote")})).ok(t)
	must(c.Repositories.CreateFile(ctx, o, r, "gone.txt", &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("x"), Branch: gh.String("promote")})).ok(t)
	gone, _, _, _ := c.Repositories.GetContents(ctx, o, r, "gone.txt", &gh.RepositoryContentGetOptions{Ref: "promote"})
	must(c.Repositories.DeleteFile(ctx, o, r, "gone.txt", &gh.RepositoryContentFileOptions{Message: gh.String("m"), SHA: gone.SHA, Branch: gh.String("promote")})).ok(t)
	must(c.Repositories.CompareCommits(ctx, o, r, "main", "promote", nil)).ok(t)
	must(c.Repositories.GetCommit(ctx, o, r, put.Commit.GetSHA(), nil)).ok(t)
	must(c.Repositories.GetArchiveLink(ctx, o, r, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: "main"}, 0)).ok(t)

	// Pull request with comments, reactions, labels.
	pr := must(c.PullRequests.Create(ctx, o, r, &gh.NewPullRequest{Title: gh.String("Promote"), Head: gh.String("promote"), Base: gh.String("main")})).ok(t)
	n := pr.GetNumber()
	must(c.PullRequests.List(ctx, o, r, &gh.PullRequestListOptions{Head: "acme:promote", State: "all"})).ok(t)
	must(c.PullRequests.Get(ctx, o, r, n)).ok(t)
	must(c.PullRequests.Edit(ctx, o, r, n, &gh.PullRequest{Body: gh.String("body")})).ok(t)
	must(c.PullRequests.ListFiles(ctx, o, r, n, nil)).ok(t)
	must(c.Issues.Get(ctx, o, r, n)).ok(t)
	userComment, err := e.srv.Comment(ctx, o, r, n, "alice", "/promote")
	if err != nil {
		t.Fatal(err)
	}
	re := must(c.Reactions.CreateIssueCommentReaction(ctx, o, r, userComment, "eyes")).ok(t)
	must(c.Reactions.ListIssueCommentReactions(ctx, o, r, userComment, nil)).ok(t)
	if _, err := c.Reactions.DeleteIssueCommentReaction(ctx, o, r, userComment, re.GetID()); err != nil {
		t.Fatal(err)
	}
	cm := must(c.Issues.CreateComment(ctx, o, r, n, &gh.IssueComment{Body: gh.String("diff")})).ok(t)
	must(c.Issues.EditComment(ctx, o, r, cm.GetID(), &gh.IssueComment{Body: gh.String("diff 2")})).ok(t)
	must(c.Issues.GetComment(ctx, o, r, cm.GetID())).ok(t)
	must(c.Issues.ListComments(ctx, o, r, n, nil)).ok(t)
	must(c.Issues.ListComments(ctx, o, r, 0, nil)).ok(t)
	if _, err := c.Issues.DeleteComment(ctx, o, r, cm.GetID()); err != nil {
		t.Fatal(err)
	}
	must(c.Issues.CreateLabel(ctx, o, r, &gh.Label{Name: gh.String("promotion"), Color: gh.String("0e8a16")})).ok(t)
	must(c.Issues.ListLabels(ctx, o, r, nil)).ok(t)
	must(c.Issues.AddLabelsToIssue(ctx, o, r, n, []string{"promotion", "env"})).ok(t)
	must(c.Issues.ReplaceLabelsForIssue(ctx, o, r, n, []string{"promotion", "env"})).ok(t)
	if _, err := c.Issues.RemoveLabelForIssue(ctx, o, r, n, "env"); err != nil {
		t.Fatal(err)
	}
	must(c.Issues.ListLabelsByIssue(ctx, o, r, n, nil)).ok(t)

	// Statuses, checks, deployments on the head.
	head := pr.GetHead().GetSHA()
	must(c.Repositories.CreateStatus(ctx, o, r, head, &gh.RepoStatus{State: gh.String("success"), Context: gh.String("promobot/api")})).ok(t)
	must(c.Repositories.ListStatuses(ctx, o, r, head, nil)).ok(t)
	must(c.Repositories.GetCombinedStatus(ctx, o, r, head, nil)).ok(t)
	run := must(c.Checks.CreateCheckRun(ctx, o, r, gh.CreateCheckRunOptions{Name: "promobot/api", HeadSHA: head})).ok(t)
	must(c.Checks.UpdateCheckRun(ctx, o, r, run.GetID(), gh.UpdateCheckRunOptions{Name: "promobot/api", Conclusion: gh.String("success")})).ok(t)
	must(c.Checks.GetCheckRun(ctx, o, r, run.GetID())).ok(t)
	must(c.Checks.ListCheckRunsForRef(ctx, o, r, head, nil)).ok(t)
	dep := must(c.Repositories.CreateDeployment(ctx, o, r, &gh.DeploymentRequest{Ref: gh.String(head), Environment: gh.String("staging"), RequiredContexts: &[]string{}})).ok(t)
	must(c.Repositories.ListDeployments(ctx, o, r, nil)).ok(t)
	must(c.Repositories.GetDeployment(ctx, o, r, dep.GetID())).ok(t)
	must(c.Repositories.CreateDeploymentStatus(ctx, o, r, dep.GetID(), &gh.DeploymentStatusRequest{State: gh.String("success")})).ok(t)
	must(c.Repositories.ListDeploymentStatuses(ctx, o, r, dep.GetID(), nil)).ok(t)

	// Merge, then the deliveries it caused.
	must(c.PullRequests.Merge(ctx, o, r, n, "", &gh.PullRequestOptions{SHA: head})).ok(t)
	must(c.PullRequests.IsMerged(ctx, o, r, n)).ok(t)
	ds := must(e.app.Apps.ListHookDeliveries(ctx, &gh.ListCursorOptions{PerPage: 5})).ok(t)
	must(e.app.Apps.GetHookDelivery(ctx, ds[0].GetID())).ok(t)
	if _, _, err := e.app.Apps.RedeliverHookDelivery(ctx, ds[0].GetID()); err != nil && statusOf(err) != http.StatusAccepted {
		t.Fatal(err)
	}

	// Some refusals, which must match the description too.
	_, _, _ = c.Repositories.UpdateFile(ctx, o, r, "README.md", &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("x"), SHA: file.SHA})
	_, _, _ = c.PullRequests.Merge(ctx, o, r, n, "", nil)
	_, _, _ = c.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/main"), Object: &gh.GitObject{SHA: base.SHA}})
	_, _, _ = c.PullRequests.Get(ctx, o, r, 999)

	mu.Lock()
	defer mu.Unlock()
	served := map[string]bool{}
	var failures []string
	for _, ex := range session {
		if ex.Status < 400 {
			served[ex.Method+" "+ex.Route] = true
		}
		if err := validateExchange(doc, ex); err != nil {
			failures = append(failures, err.Error())
		}
	}
	var unexercised []string
	for _, rt := range e.srv.Routes() {
		if !served[rt] {
			unexercised = append(unexercised, rt)
		}
	}
	if len(unexercised) > 0 {
		t.Errorf("routes the session did not exercise successfully:\n  %s", strings.Join(unexercised, "\n  "))
	}
	if len(failures) > 0 {
		t.Errorf("responses not matching GitHub's description:\n  %s", strings.Join(failures, "\n  "))
	}
	t.Logf("%d routes, %d responses validated", len(e.srv.Routes()), len(session))
}
