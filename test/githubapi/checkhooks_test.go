package githubapi

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// withChecksEvents subscribes the App to status and check_run as well.
func withChecksEvents(o *Options) {
	o.Events = []string{"push", "pull_request", "issue_comment", "status", "check_run"}
}

// statusHook is what a test reads of a status webhook.
type statusHook struct {
	SHA, Name, Context, State, Sender, Description string
	Branches                                       []string
	CommitSHA                                      string
	Installation                                   int64
}

// TestStatusWebhook: every created commit status, posted through the API
// or by a person or CI (SetStatus), sends the status webhook ("branches":
// "An array of branch objects containing the status' SHA ... a maximum of
// 10 branches"), to an App subscribed to status.
func TestStatusWebhook(t *testing.T) {
	e := newEnv(t, withChecksEvents)
	e.srv.AddUser("ci-bot")
	_, head := e.openCase("feature")
	e.sink.reset()
	if err := e.srv.SetStatus(e.ctx, testOwner, testRepo, head, "ci/test", "failure", "ci-bot"); err != nil {
		t.Fatal(err)
	}
	must(e.inst.Repositories.CreateStatus(e.ctx, testOwner, testRepo, head, &gh.RepoStatus{
		State: gh.String("success"), Context: gh.String("promobot/staging"), Description: gh.String("applied")})).ok(t)
	if err := e.srv.SetStatus(e.ctx, testOwner, testRepo, head, "ci/test", "success", "nobody"); err == nil {
		t.Error("SetStatus as an unknown account: no error")
	}
	var got []statusHook
	for _, r := range e.sink.all() {
		ev, ok := parse(t, r).(*gh.StatusEvent)
		if !ok {
			t.Fatalf("unexpected %s webhook", r.Event)
		}
		h := statusHook{SHA: ev.GetSHA(), Name: ev.GetName(), Context: ev.GetContext(), State: ev.GetState(),
			Sender: ev.GetSender().GetLogin(), Description: ev.GetDescription(), CommitSHA: ev.GetCommit().GetSHA(),
			Installation: ev.GetInstallation().GetID()}
		for _, b := range ev.Branches {
			h.Branches = append(h.Branches, b.GetName())
		}
		got = append(got, h)
	}
	want := []statusHook{
		{SHA: head, Name: "acme/gitops", Context: "ci/test", State: "failure", Sender: "ci-bot", Branches: []string{"feature"}, CommitSHA: head, Installation: e.instID},
		{SHA: head, Name: "acme/gitops", Context: "promobot/staging", State: "success", Sender: "promobot[bot]", Description: "applied", Branches: []string{"feature"}, CommitSHA: head, Installation: e.instID},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status webhooks (-want +got):\n%s", diff)
	}
}

// TestStatusWebhookBranchesCapped: a status on a commit that is the tip of
// more than ten branches lists ten.
func TestStatusWebhookBranchesCapped(t *testing.T) {
	e := newEnv(t, withChecksEvents)
	tip := e.branchTip("main")
	for i := range 11 {
		must(e.inst.Git.CreateRef(e.ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String(fmt.Sprintf("refs/heads/copy-%02d", i)),
			Object: &gh.GitObject{SHA: gh.String(tip)}})).ok(t)
	}
	e.sink.reset()
	must(e.inst.Repositories.CreateStatus(e.ctx, testOwner, testRepo, tip, &gh.RepoStatus{State: gh.String("pending"), Context: gh.String("ci")})).ok(t)
	all := e.sink.all()
	if len(all) != 1 {
		t.Fatalf("%d webhooks, want 1 status", len(all))
	}
	ev := parse(t, all[0]).(*gh.StatusEvent)
	if len(ev.Branches) != maxStatusBranches {
		t.Errorf("%d branches listed, want %d", len(ev.Branches), maxStatusBranches)
	}
}

// TestNoStatusWebhookUnsubscribed: an App not subscribed to status and
// check_run gets neither; the comment after them is the sentinel that
// deliveries went on.
func TestNoStatusWebhookUnsubscribed(t *testing.T) {
	e := newEnv(t)
	e.srv.AddUser("ci-bot")
	n, head := e.openCase("feature")
	e.sink.reset()
	if err := e.srv.SetStatus(e.ctx, testOwner, testRepo, head, "ci/test", "success", "ci-bot"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.CompleteCheckRun(e.ctx, testOwner, testRepo, head, "build", "success", "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Comment(e.ctx, testOwner, testRepo, n, "alice", "sentinel"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"issue_comment.created"}, e.sink.events()); diff != "" {
		t.Errorf("webhooks (-want +got):\n%s", diff)
	}
}

// checkRunHook is what a test reads of a check_run webhook.
type checkRunHook struct {
	Action, Name, HeadSHA, Status, Conclusion, App, Sender, SuiteBranch, SuiteSHA string
	PRs                                                                           []int
}

// TestCheckRunWebhook: a check run completed, by promobot's App through
// the API (created completed, or updated to completed) or by a CI App
// (CompleteCheckRun), sends check_run completed naming the open pull
// requests whose head it is; a CI App's green check satisfies a required
// context.
func TestCheckRunWebhook(t *testing.T) {
	e := newEnv(t, withChecksEvents)
	n, head := e.openCase("feature")
	if err := e.srv.Protect(testOwner, testRepo, "main", Protection{RequiredContexts: []string{"build"}}); err != nil {
		t.Fatal(err)
	}
	e.sink.reset()
	cr := must(e.inst.Checks.CreateCheckRun(e.ctx, testOwner, testRepo, gh.CreateCheckRunOptions{
		Name: "promobot/diff", HeadSHA: head, Status: gh.String("in_progress")})).ok(t)
	must(e.inst.Checks.UpdateCheckRun(e.ctx, testOwner, testRepo, cr.GetID(), gh.UpdateCheckRunOptions{
		Name: "promobot/diff", Conclusion: gh.String("neutral")})).ok(t)
	must(e.inst.Checks.UpdateCheckRun(e.ctx, testOwner, testRepo, cr.GetID(), gh.UpdateCheckRunOptions{
		Name: "promobot/diff", Output: &gh.CheckRunOutput{Title: gh.String("t"), Summary: gh.String("s")}})).ok(t)
	if diff := cmp.Diff(mergeOutcome{Status: 405, Message: `Required status check "build" is expected.`}, e.apiMerge(n, "merge")); diff != "" {
		t.Errorf("merge before CI (-want +got):\n%s", diff)
	}
	if err := e.srv.CompleteCheckRun(e.ctx, testOwner, testRepo, head, "build", "failure", "ci"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mergeOutcome{Status: 405, Message: `Required status check "build" is failing.`}, e.apiMerge(n, "merge")); diff != "" {
		t.Errorf("merge after a failed build (-want +got):\n%s", diff)
	}
	if err := e.srv.CompleteCheckRun(e.ctx, testOwner, testRepo, head, "build", "success", "ci"); err != nil {
		t.Fatal(err)
	}
	var got []checkRunHook
	for _, r := range e.sink.all() {
		if r.Event != "check_run" {
			continue
		}
		ev := parse(t, r).(*gh.CheckRunEvent)
		c := ev.GetCheckRun()
		h := checkRunHook{Action: ev.GetAction(), Name: c.GetName(), HeadSHA: c.GetHeadSHA(), Status: c.GetStatus(),
			Conclusion: c.GetConclusion(), App: c.GetApp().GetSlug(), Sender: ev.GetSender().GetLogin(),
			SuiteBranch: c.GetCheckSuite().GetHeadBranch(), SuiteSHA: c.GetCheckSuite().GetHeadSHA()}
		for _, pr := range c.PullRequests {
			h.PRs = append(h.PRs, pr.GetNumber())
		}
		got = append(got, h)
	}
	want := []checkRunHook{
		{Action: "completed", Name: "promobot/diff", HeadSHA: head, Status: "completed", Conclusion: "neutral", App: "promobot", Sender: "promobot[bot]", SuiteBranch: "feature", SuiteSHA: head, PRs: []int{n}},
		{Action: "completed", Name: "build", HeadSHA: head, Status: "completed", Conclusion: "failure", App: "ci", Sender: "ci[bot]", SuiteBranch: "feature", SuiteSHA: head, PRs: []int{n}},
		{Action: "completed", Name: "build", HeadSHA: head, Status: "completed", Conclusion: "success", App: "ci", Sender: "ci[bot]", SuiteBranch: "feature", SuiteSHA: head, PRs: []int{n}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("check_run webhooks (-want +got):\n%s", diff)
	}
	runs, err := e.srv.CheckRuns(testOwner, testRepo, head)
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, r := range runs {
		apps = append(apps, r.Name+"/"+r.App+"/"+r.Conclusion)
	}
	if diff := cmp.Diff([]string{"promobot/diff/promobot/neutral", "build/ci/failure", "build/ci/success"}, apps); diff != "" {
		t.Errorf("check runs (-want +got):\n%s", diff)
	}
	want2 := mergeOutcome{Status: 200, Message: "Pull Request successfully merged", Merged: true}
	if diff := cmp.Diff(want2, e.apiMerge(n, "merge")); diff != "" {
		t.Errorf("merge after a green build (-want +got):\n%s", diff)
	}
}
