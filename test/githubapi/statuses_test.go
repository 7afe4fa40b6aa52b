package githubapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

func TestStatusesChecksDeployments(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	branches, _ := e.srv.Branches(ctx, testOwner, testRepo)
	sha := branches["main"]

	for _, st := range []struct{ ctx, state string }{{"promobot/api-staging", "pending"}, {"promobot/api-staging", "success"}, {"promobot/api-production", "failure"}} {
		must(e.inst.Repositories.CreateStatus(ctx, testOwner, testRepo, sha, &gh.RepoStatus{
			State: gh.String(st.state), Context: gh.String(st.ctx), Description: gh.String("applied: 3 created")})).ok(t)
	}
	_, _, err := e.inst.Repositories.CreateStatus(ctx, testOwner, testRepo, sha, &gh.RepoStatus{
		State: gh.String("success"), Context: gh.String("x"), Description: gh.String(strings.Repeat("d", 141))})
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("141-character description: status %d, want 422", got)
	}
	combined := must(e.inst.Repositories.GetCombinedStatus(ctx, testOwner, testRepo, "main", nil)).ok(t)
	if combined.GetState() != "failure" || combined.GetTotalCount() != 2 {
		t.Errorf("combined: %s with %d contexts", combined.GetState(), combined.GetTotalCount())
	}
	list := must(e.inst.Repositories.ListStatuses(ctx, testOwner, testRepo, sha, nil)).ok(t)
	if len(list) != 3 || list[0].GetContext() != "promobot/api-production" {
		t.Errorf("statuses newest first: %d, first %q", len(list), list[0].GetContext())
	}

	// Check runs: create in progress, complete, list latest per name.
	run1 := must(e.inst.Checks.CreateCheckRun(ctx, testOwner, testRepo, gh.CreateCheckRunOptions{
		Name: "promobot/api-staging", HeadSHA: sha, Status: gh.String("in_progress")})).ok(t)
	done := must(e.inst.Checks.UpdateCheckRun(ctx, testOwner, testRepo, run1.GetID(), gh.UpdateCheckRunOptions{
		Name: "promobot/api-staging", Conclusion: gh.String("success"),
		Output: &gh.CheckRunOutput{Title: gh.String("Applied"), Summary: gh.String("3 created")}})).ok(t)
	if done.GetStatus() != "completed" || done.GetConclusion() != "success" || done.GetApp().GetSlug() != "promobot" {
		t.Errorf("completed run: %s/%s by %q", done.GetStatus(), done.GetConclusion(), done.GetApp().GetSlug())
	}
	runs := must(e.inst.Checks.ListCheckRunsForRef(ctx, testOwner, testRepo, "main", nil)).ok(t)
	if runs.GetTotal() != 1 || runs.CheckRuns[0].GetOutput().GetSummary() != "3 created" {
		t.Errorf("check runs: %d", runs.GetTotal())
	}

	// Deployments: GitHub refuses while statuses on the ref are not all
	// successful unless required_contexts says otherwise.
	_, _, err = e.inst.Repositories.CreateDeployment(ctx, testOwner, testRepo, &gh.DeploymentRequest{Ref: gh.String(sha), Environment: gh.String("staging")})
	if got := statusOf(err); got != http.StatusConflict {
		t.Errorf("deployment with failing statuses: status %d, want 409", got)
	}
	var deps []*gh.Deployment
	for i := 0; i < 2; i++ {
		d := must(e.inst.Repositories.CreateDeployment(ctx, testOwner, testRepo, &gh.DeploymentRequest{
			Ref: gh.String(sha), Environment: gh.String("staging"), RequiredContexts: &[]string{}, AutoMerge: gh.Bool(false),
			Payload: map[string]any{"app": "api"}, Description: gh.String("promobot apply"), ProductionEnvironment: gh.Bool(false)})).ok(t)
		for _, state := range []string{"in_progress", "success"} {
			must(e.inst.Repositories.CreateDeploymentStatus(ctx, testOwner, testRepo, d.GetID(), &gh.DeploymentStatusRequest{
				State: gh.String(state), Description: gh.String("apply " + state), LogURL: gh.String("https://promobot.example/log")})).ok(t)
		}
		deps = append(deps, d)
	}
	listed := must(e.inst.Repositories.ListDeployments(ctx, testOwner, testRepo, &gh.DeploymentsListOptions{Environment: "staging"})).ok(t)
	if len(listed) != 2 || listed[0].GetID() != deps[1].GetID() {
		t.Errorf("deployments newest first: %d", len(listed))
	}
	statuses := must(e.inst.Repositories.ListDeploymentStatuses(ctx, testOwner, testRepo, deps[0].GetID(), nil)).ok(t)
	var states []string
	for _, s := range statuses {
		states = append(states, s.GetState())
	}
	// The second successful deployment made the first inactive.
	if diff := cmp.Diff([]string{"inactive", "success", "in_progress"}, states); diff != "" {
		t.Errorf("first deployment's statuses (-want +got):\n%s", diff)
	}
	got, err := e.srv.Deployments(testOwner, testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Creator != "promobot[bot]" || got[1].Statuses[1].State != "success" || got[1].Environment != "staging" {
		t.Errorf("scripted read of deployments: %+v", got[1])
	}
}

// Contract: "Create a commit status"
// (docs.github.com/rest/commits/statuses#create-a-commit-status): "there
// is a limit of 1000 statuses per sha and context within a repository.
// Attempts to create more than 1000 statuses will result in a validation
// error" (422 "This SHA and context has reached the maximum number of
// statuses."). Contexts are case-insensitive: a status in "PROMOBOT/API"
// counts against and replaces "promobot/api" in the combined status, and
// required_contexts of a deployment match in any case.
func TestStatusContextsContract(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	branches, _ := e.srv.Branches(ctx, testOwner, testRepo)
	sha := branches["main"]
	other, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Files: map[string]string{"notes.txt": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(sha, context, state string) (int, string) {
		_, resp, err := e.inst.Repositories.CreateStatus(ctx, testOwner, testRepo, sha, &gh.RepoStatus{
			State: gh.String(state), Context: gh.String(context)})
		var er *gh.ErrorResponse
		if errors.As(err, &er) {
			msgs := []string{er.Message}
			for _, fe := range er.Errors {
				msgs = append(msgs, fe.Resource+" "+fe.Code+" "+fe.Message)
			}
			return er.Response.StatusCode, strings.Join(msgs, ": ")
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, ""
	}

	if err := e.srv.FillStatuses(testOwner, testRepo, sha, "promobot/api", "success", 999); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status  int
		Message string
	}
	var got []answer
	for _, p := range []struct{ sha, context string }{
		{sha, "PROMOBOT/API"},   // the 1,000th, in another case
		{sha, "promobot/api"},   // the 1,001st
		{sha, "Promobot/Api"},   // any case
		{sha, "promobot/web"},   // another context of the commit
		{other, "promobot/api"}, // the context on another commit
	} {
		st, msg := post(p.sha, p.context, "failure")
		got = append(got, answer{st, msg})
	}
	full := answer{422, "Validation Failed: Status custom This SHA and context has reached the maximum number of statuses."}
	want := []answer{{201, ""}, full, full, {201, ""}, {201, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}

	// The combined status has one entry per context whatever its case: the
	// newest, "PROMOBOT/API" failure, replaced the filled successes.
	combined := must(e.inst.Repositories.GetCombinedStatus(ctx, testOwner, testRepo, sha, nil)).ok(t)
	var contexts []string
	for _, st := range combined.Statuses {
		contexts = append(contexts, st.GetContext()+" "+st.GetState())
	}
	if diff := cmp.Diff([]string{"promobot/web failure", "PROMOBOT/API failure"}, contexts); diff != "" || combined.GetState() != "failure" {
		t.Errorf("combined %s, contexts (-want +got):\n%s", combined.GetState(), diff)
	}

	// required_contexts match in any case.
	third, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Files: map[string]string{"notes.txt": "y\n"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ci/Build", "CI/build"} {
		if st, msg := post(third, c, "success"); st != 201 {
			t.Fatalf("status %s: %d %s", c, st, msg)
		}
	}
	_, _, err = e.inst.Repositories.CreateDeployment(ctx, testOwner, testRepo, &gh.DeploymentRequest{
		Ref: gh.String(third), Environment: gh.String("staging"), RequiredContexts: &[]string{"Ci/Build"}, AutoMerge: gh.Bool(false)})
	if err != nil {
		t.Errorf("deployment requiring Ci/Build, which succeeded as ci/Build: %v", err)
	}
}
