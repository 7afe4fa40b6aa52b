package githubapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
	"github.com/google/uuid"
)

func parse(t *testing.T, r received) any {
	t.Helper()
	ev, err := gh.ParseWebHook(r.Event, r.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", r.Event, err)
	}
	return ev
}

func TestWebhooksLikeGitHub(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	if diff := cmp.Diff([]string{"installation.created"}, e.sink.events()); diff != "" {
		t.Fatalf("events after install (-want +got):\n%s", diff)
	}
	inst := parse(t, e.sink.all()[0]).(*gh.InstallationEvent)
	if inst.GetInstallation().GetID() != e.instID || len(inst.Repositories) != 1 || inst.Repositories[0].GetFullName() != "acme/gitops" {
		t.Errorf("installation event: %+v", inst)
	}
	e.sink.reset()
	if err := e.srv.AddCollaborator(testOwner, testRepo, "alice", PermissionWrite); err != nil {
		t.Fatal(err)
	}

	head, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{Author: "alice", Message: "Change overlays",
		Files:  map[string]string{stagingKustomization: "resources: [../../base]\n", "kustomize/overlays/staging/extra.yaml": "kind: ConfigMap\n"},
		Delete: []string{"README.md"}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: "Change overlays", Head: "feature", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	head2, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{Author: "alice", Files: map[string]string{"b.txt": "b\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Comment(ctx, testOwner, testRepo, n, "alice", "/promote"); err != nil {
		t.Fatal(err)
	}
	must(e.inst.Issues.CreateComment(ctx, testOwner, testRepo, n, &gh.IssueComment{Body: gh.String("on it")})).ok(t)
	must(e.inst.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, n, []string{"promotion"})).ok(t)
	must(e.inst.PullRequests.Edit(ctx, testOwner, testRepo, n, &gh.PullRequest{Title: gh.String("Change staging overlay")})).ok(t)
	mergeSHA, err := e.srv.MergePR(ctx, testOwner, testRepo, n, "alice", "merge")
	if err != nil {
		t.Fatal(err)
	}

	want := []string{"push", "pull_request.opened", "push", "pull_request.synchronize", "issue_comment.created",
		"issue_comment.created", "pull_request.labeled", "pull_request.edited", "push", "pull_request.closed"}
	if diff := cmp.Diff(want, e.sink.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	got := e.sink.all()
	guids := map[string]bool{}
	for _, r := range got {
		if !r.SignedOK {
			t.Errorf("%s: X-Hub-Signature-256 does not verify", r.Event)
		}
		if _, err := uuid.Parse(r.GUID); err != nil || guids[r.GUID] {
			t.Errorf("%s: delivery id %q not a fresh GUID", r.Event, r.GUID)
		}
		guids[r.GUID] = true
		h := r.Header
		if !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") || h.Get("X-GitHub-Hook-ID") == "" ||
			h.Get("X-GitHub-Hook-Installation-Target-ID") != "42" || h.Get("X-GitHub-Hook-Installation-Target-Type") != "integration" ||
			h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", r.Event, h)
		}
	}

	push := parse(t, got[0]).(*gh.PushEvent)
	type commitFiles struct {
		Added, Removed, Modified []string
	}
	if diff := cmp.Diff(commitFiles{
		Added:    []string{"kustomize/overlays/staging/extra.yaml"},
		Removed:  []string{"README.md"},
		Modified: []string{stagingKustomization},
	}, commitFiles{push.Commits[0].Added, push.Commits[0].Removed, push.Commits[0].Modified}); diff != "" {
		t.Errorf("push commit files (-want +got):\n%s", diff)
	}
	if push.GetRef() != "refs/heads/feature" || push.GetBefore() != zeroSHA || push.GetAfter() != head || !push.GetCreated() ||
		push.GetHeadCommit().GetID() != head || push.GetRepo().GetFullName() != "acme/gitops" ||
		push.GetInstallation().GetID() != e.instID || push.GetSender().GetLogin() != "alice" || len(push.Commits) != 1 {
		t.Errorf("push event: %s %s..%s created %v head %s repo %s inst %d sender %s commits %d", push.GetRef(), push.GetBefore(), push.GetAfter(),
			push.GetCreated(), push.GetHeadCommit().GetID(), push.GetRepo().GetFullName(), push.GetInstallation().GetID(), push.GetSender().GetLogin(), len(push.Commits))
	}

	opened := parse(t, got[1]).(*gh.PullRequestEvent)
	if opened.GetNumber() != n || opened.GetPullRequest().GetHead().GetSHA() != head || opened.GetPullRequest().GetBase().GetRef() != "main" {
		t.Errorf("opened: %+v", opened.GetPullRequest())
	}
	sync := parse(t, got[3]).(*gh.PullRequestEvent)
	if sync.GetBefore() != head || sync.GetAfter() != head2 || sync.GetPullRequest().GetHead().GetSHA() != head2 {
		t.Errorf("synchronize: %s..%s", sync.GetBefore(), sync.GetAfter())
	}
	userComment := parse(t, got[4]).(*gh.IssueCommentEvent)
	if userComment.GetComment().GetBody() != "/promote" || userComment.GetSender().GetLogin() != "alice" ||
		!userComment.GetIssue().IsPullRequest() || userComment.GetIssue().GetNumber() != n {
		t.Errorf("user comment event: %+v", userComment.GetComment())
	}
	botComment := parse(t, got[5]).(*gh.IssueCommentEvent)
	if botComment.GetSender().GetLogin() != "promobot[bot]" || botComment.GetSender().GetType() != "Bot" || botComment.GetComment().GetUser().GetType() != "Bot" {
		t.Errorf("bot comment sender %s/%s", botComment.GetSender().GetLogin(), botComment.GetSender().GetType())
	}
	labeled := parse(t, got[6]).(*gh.PullRequestEvent)
	if labeled.GetLabel().GetName() != "promotion" {
		t.Errorf("labeled: %v", labeled.GetLabel())
	}
	edited := parse(t, got[7]).(*gh.PullRequestEvent)
	if edited.GetChanges().GetTitle().GetFrom() != "Change overlays" {
		t.Errorf("edited changes: %+v", edited.GetChanges())
	}
	mergePush := parse(t, got[8]).(*gh.PushEvent)
	if mergePush.GetRef() != "refs/heads/main" || mergePush.GetAfter() != mergeSHA || len(mergePush.Commits) != 3 ||
		mergePush.GetHeadCommit().GetID() != mergeSHA || mergePush.GetPusher().GetName() != "alice" {
		t.Errorf("merge push: %s → %s, %d commits", mergePush.GetRef(), mergePush.GetAfter(), len(mergePush.Commits))
	}
	closed := parse(t, got[9]).(*gh.PullRequestEvent)
	if !closed.GetPullRequest().GetMerged() || closed.GetPullRequest().GetMergeCommitSHA() != mergeSHA || closed.GetPullRequest().GetMergedBy().GetLogin() != "alice" {
		t.Errorf("closed: merged %v sha %s", closed.GetPullRequest().GetMerged(), closed.GetPullRequest().GetMergeCommitSHA())
	}
}

func TestDeliveriesAndRedelivery(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	e.sink.setStatus(http.StatusServiceUnavailable)
	for i := 0; i < 4; i++ {
		if _, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Files: map[string]string{"f.txt": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	e.sink.setStatus(http.StatusOK)

	// Page through every delivery, 2 at a time, as promobot's sweep does.
	var all []*gh.HookDelivery
	opts := &gh.ListCursorOptions{PerPage: 2}
	for {
		page, resp, err := e.app.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	var seen []string
	for _, d := range all {
		seen = append(seen, d.GetEvent()+" "+d.GetStatus())
	}
	want := []string{"push Invalid HTTP Response: 503", "push Invalid HTTP Response: 503", "push Invalid HTTP Response: 503",
		"push Invalid HTTP Response: 503", "installation OK"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Fatalf("deliveries newest first (-want +got):\n%s", diff)
	}

	failed := all[0]
	detail := must(e.app.Apps.GetHookDelivery(ctx, failed.GetID())).ok(t)
	ev, err := detail.ParseRequestPayload()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ev.(*gh.PushEvent); !ok || p.GetRef() != "refs/heads/main" || detail.Request.Headers["X-Github-Delivery"] != failed.GetGUID() {
		t.Errorf("delivery request: %T %v headers %v", ev, ev, detail.Request.Headers)
	}
	if detail.GetStatusCode() != 503 || detail.GetRedelivery() {
		t.Errorf("delivery detail: %d redelivery %v", detail.GetStatusCode(), detail.GetRedelivery())
	}

	e.sink.reset()
	if _, _, err := e.app.Apps.RedeliverHookDelivery(ctx, failed.GetID()); err != nil && statusOf(err) != http.StatusAccepted {
		t.Fatal(err)
	}
	got := e.sink.all()
	if len(got) != 1 || got[0].GUID != failed.GetGUID() || !got[0].SignedOK {
		t.Fatalf("redelivery: %d deliveries, guid %v want %s", len(got), got, failed.GetGUID())
	}
	latest := must(e.app.Apps.ListHookDeliveries(ctx, &gh.ListCursorOptions{PerPage: 1})).ok(t)
	if latest[0].GetGUID() != failed.GetGUID() || !latest[0].GetRedelivery() || latest[0].GetStatus() != "OK" {
		t.Errorf("redelivery record: guid %s redelivery %v status %s", latest[0].GetGUID(), latest[0].GetRedelivery(), latest[0].GetStatus())
	}
	recorded := e.srv.Deliveries()
	if len(recorded) != 6 || recorded[5].GUID != failed.GetGUID() || !recorded[5].Redelivery {
		t.Errorf("recorded deliveries: %d", len(recorded))
	}
	_, _, err = e.app.Apps.GetHookDelivery(ctx, 123)
	if statusOf(err) != http.StatusNotFound {
		t.Errorf("unknown delivery: %v", err)
	}
}

func TestAsyncDeliveriesInOrder(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SyncWebhooks = false })
	ctx := e.ctx
	var shas []string
	for i := 0; i < 5; i++ {
		sha, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Files: map[string]string{"n.txt": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.srv.WaitDeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	var afters []string
	for _, r := range e.sink.all() {
		if r.Event == "push" {
			afters = append(afters, parse(t, r).(*gh.PushEvent).GetAfter())
		}
	}
	if diff := cmp.Diff(shas, afters); diff != "" {
		t.Errorf("push order (-want +got):\n%s", diff)
	}
}

func TestNoWebhooksWithoutInstallation(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	if err := e.srv.CreateRepo(ctx, testOwner, "private-notes", ""); err != nil {
		t.Fatal(err)
	}
	e.sink.reset()
	if _, err := e.srv.Push(ctx, testOwner, "private-notes", "main", Commit{Files: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.sink.events(); len(got) != 0 {
		t.Errorf("webhooks for a repository the App is not installed on: %v", got)
	}
	if _, err := e.srv.Install(ctx, testOwner, "private-notes"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"installation_repositories.added"}, e.sink.events()); diff != "" {
		t.Errorf("adding a repository (-want +got):\n%s", diff)
	}
}
