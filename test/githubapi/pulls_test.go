package githubapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

const stagingKustomization = "kustomize/overlays/staging/kustomization.yaml"

func TestPullRequestLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	if err := e.srv.AddCollaborator(testOwner, testRepo, "alice", PermissionMaintain); err != nil {
		t.Fatal(err)
	}
	head, err := e.srv.Push(ctx, testOwner, testRepo, "bump", Commit{Author: "alice", Message: "Bump api",
		Files: map[string]string{stagingKustomization: "# staging overlay\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/api\n    newTag: v1.2.0\n"}})
	if err != nil {
		t.Fatal(err)
	}

	pr := must(e.inst.PullRequests.Create(ctx, testOwner, testRepo, &gh.NewPullRequest{
		Title: gh.String("Bump api"), Head: gh.String("acme:bump"), Base: gh.String("main"), Body: gh.String("body")})).ok(t)
	if pr.GetNumber() != 1 || pr.GetHead().GetSHA() != head || pr.GetUser().GetLogin() != "promobot[bot]" || pr.GetUser().GetType() != "Bot" {
		t.Errorf("created PR: number %d head %s user %s/%s", pr.GetNumber(), pr.GetHead().GetSHA(), pr.GetUser().GetLogin(), pr.GetUser().GetType())
	}
	_, _, err = e.inst.PullRequests.Create(ctx, testOwner, testRepo, &gh.NewPullRequest{
		Title: gh.String("Again"), Head: gh.String("bump"), Base: gh.String("main")})
	if got := statusOf(err); got != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate PR: %v", err)
	}

	// Filters: head owner:branch, base, state.
	open := must(e.inst.PullRequests.List(ctx, testOwner, testRepo, &gh.PullRequestListOptions{Head: "acme:bump", Base: "main"})).ok(t)
	if len(open) != 1 || open[0].GetNumber() != 1 {
		t.Errorf("list by head: %d PRs", len(open))
	}
	none := must(e.inst.PullRequests.List(ctx, testOwner, testRepo, &gh.PullRequestListOptions{Head: "acme:other"})).ok(t)
	if len(none) != 0 {
		t.Errorf("list by other head: %d PRs", len(none))
	}

	// Update title and body.
	upd := must(e.inst.PullRequests.Edit(ctx, testOwner, testRepo, 1, &gh.PullRequest{Title: gh.String("Bump api to v1.2.0"), Body: gh.String("new body")})).ok(t)
	if upd.GetTitle() != "Bump api to v1.2.0" || upd.GetBody() != "new body" {
		t.Errorf("edited PR: %q %q", upd.GetTitle(), upd.GetBody())
	}

	files := must(e.inst.PullRequests.ListFiles(ctx, testOwner, testRepo, 1, nil)).ok(t)
	if len(files) != 1 || files[0].GetFilename() != stagingKustomization || files[0].GetStatus() != "modified" {
		t.Errorf("PR files: %v", files)
	}

	// A push to the head branch moves head.sha (and sends synchronize).
	head2, err := e.srv.Push(ctx, testOwner, testRepo, "bump", Commit{Author: "alice", Message: "Fix", Files: map[string]string{"notes.txt": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	// The first read after the push starts the mergeability job; the
	// second sees its result.
	must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, 1)).ok(t)
	got := must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, 1)).ok(t)
	if got.GetHead().GetSHA() != head2 || !got.GetMergeable() || got.GetCommits() != 2 || got.GetChangedFiles() != 2 {
		t.Errorf("PR after push: head %s mergeable %v commits %d files %d", got.GetHead().GetSHA(), got.GetMergeable(), got.GetCommits(), got.GetChangedFiles())
	}

	// Merge with a stale sha is refused; with the right one it merges.
	_, _, err = e.inst.PullRequests.Merge(ctx, testOwner, testRepo, 1, "", &gh.PullRequestOptions{SHA: head})
	if got := statusOf(err); got != http.StatusConflict {
		t.Errorf("merge with stale sha: status %d, want 409", got)
	}
	res := must(e.inst.PullRequests.Merge(ctx, testOwner, testRepo, 1, "", &gh.PullRequestOptions{SHA: head2})).ok(t)
	if !res.GetMerged() {
		t.Fatalf("merge result: %+v", res)
	}
	merged := must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, 1)).ok(t)
	if !merged.GetMerged() || merged.GetState() != "closed" || merged.GetMergeCommitSHA() != res.GetSHA() || merged.GetMergedBy().GetLogin() != "promobot[bot]" {
		t.Errorf("merged PR: merged %v state %s merge sha %s", merged.GetMerged(), merged.GetState(), merged.GetMergeCommitSHA())
	}
	isMerged := must(e.inst.PullRequests.IsMerged(ctx, testOwner, testRepo, 1)).ok(t)
	if !isMerged {
		t.Error("IsMerged = false")
	}
	_, _, err = e.inst.PullRequests.Merge(ctx, testOwner, testRepo, 1, "", nil)
	if got := statusOf(err); got != http.StatusMethodNotAllowed {
		t.Errorf("merging twice: status %d, want 405", got)
	}

	// The merge is a real two-parent merge commit on main.
	clone := t.TempDir()
	run(t, "", "git", "clone", "-q", e.srv.RepoPath(testOwner, testRepo), clone)
	log := run(t, clone, "git", "log", "--format=%H %P|%s", "-1")
	want := res.GetSHA() + " " + merged.GetBase().GetSHA() + " " + head2 + "|Merge pull request #1 from acme/bump\n"
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("merge commit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("x\n", run(t, clone, "cat", "notes.txt")); diff != "" {
		t.Errorf("merged file (-want +got):\n%s", diff)
	}
}

func TestMergeConflictAndScriptedMerge(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	for _, b := range []string{"one", "two"} {
		if _, err := e.srv.Push(ctx, testOwner, testRepo, b, Commit{Files: map[string]string{"README.md": "changed on " + b + "\n"}}); err != nil {
			t.Fatal(err)
		}
	}
	n1, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: "one", Head: "one", Author: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: "two", Head: "two"})
	if err != nil {
		t.Fatal(err)
	}
	sha, err := e.srv.MergePR(ctx, testOwner, testRepo, n1, "bob", "squash")
	if err != nil {
		t.Fatal(err)
	}
	c := must(e.inst.Git.GetCommit(ctx, testOwner, testRepo, sha)).ok(t)
	if len(c.Parents) != 1 || c.GetMessage() != "one (#1)" || c.GetAuthor().GetName() != "bob" {
		t.Errorf("squash commit: parents %d message %q author %q", len(c.Parents), c.GetMessage(), c.GetAuthor().GetName())
	}
	must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, n2)).ok(t)
	pr := must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, n2)).ok(t)
	if pr.Mergeable == nil || *pr.Mergeable || pr.GetMergeableState() != "dirty" {
		t.Errorf("conflicting PR: mergeable %v state %s", pr.GetMergeable(), pr.GetMergeableState())
	}
	_, _, err = e.inst.PullRequests.Merge(ctx, testOwner, testRepo, n2, "", nil)
	if got := statusOf(err); got != http.StatusMethodNotAllowed {
		t.Errorf("conflicting merge: status %d, want 405", got)
	}
	// Closing and reopening through the API.
	closed := must(e.inst.PullRequests.Edit(ctx, testOwner, testRepo, n2, &gh.PullRequest{State: gh.String("closed")})).ok(t)
	reopened := must(e.inst.PullRequests.Edit(ctx, testOwner, testRepo, n2, &gh.PullRequest{State: gh.String("open")})).ok(t)
	if closed.GetState() != "closed" || reopened.GetState() != "open" {
		t.Errorf("close/reopen: %s %s", closed.GetState(), reopened.GetState())
	}
	prs, err := e.srv.PRs(testOwner, testRepo)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, p := range prs {
		states = append(states, p.Head+":"+p.State)
	}
	if diff := cmp.Diff([]string{"one:closed", "two:open"}, states); diff != "" {
		t.Errorf("PR states (-want +got):\n%s", diff)
	}
}

// Contract: "Get a pull request" (docs.github.com/rest/pulls/pulls#get-a-pull-request):
// "The value of the mergeable attribute can be true, false, or null. If the
// value is null, then GitHub has started a background job to compute the
// mergeability." A new pull request answers null, as does the first read
// after its head moved; later reads answer true or false.
func TestPullMergeableContract(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	for _, b := range []string{"one", "two"} {
		if _, err := e.srv.Push(ctx, testOwner, testRepo, b, Commit{Files: map[string]string{"README.md": "changed on " + b + "\n"}}); err != nil {
			t.Fatal(err)
		}
	}
	created := must(e.inst.PullRequests.Create(ctx, testOwner, testRepo, &gh.NewPullRequest{
		Title: gh.String("one"), Head: gh.String("one"), Base: gh.String("main")})).ok(t)
	n2, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: "two", Head: "two"})
	if err != nil {
		t.Fatal(err)
	}
	mergeable := func(n int) string {
		pr := must(e.inst.PullRequests.Get(ctx, testOwner, testRepo, n)).ok(t)
		if pr.Mergeable == nil {
			return "null " + pr.GetMergeableState()
		}
		return strconv.FormatBool(*pr.Mergeable) + " " + pr.GetMergeableState()
	}
	got := []string{"create: " + fmt.Sprint(created.Mergeable == nil), mergeable(1), mergeable(1), mergeable(1)}
	if _, err := e.srv.Push(ctx, testOwner, testRepo, "one", Commit{Files: map[string]string{"notes.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	got = append(got, mergeable(1), mergeable(1))
	// Merging one makes two conflict: its base moved, so null first.
	if _, err := e.srv.MergePR(ctx, testOwner, testRepo, 1, "", "merge"); err != nil {
		t.Fatal(err)
	}
	got = append(got, mergeable(n2), mergeable(n2))
	want := []string{"create: true", "null unknown", "true clean", "true clean", "null unknown", "true clean", "null unknown", "false dirty"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mergeable as read (-want +got):\n%s", diff)
	}
}

// Contract: "List pull requests" (docs.github.com/rest/pulls/pulls#list-pull-requests):
// sort defaults to created; direction defaults to desc when sort is
// created or not specified, otherwise asc; popularity sorts by the number
// of comments.
func TestListPullsSortContract(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	for i, b := range []string{"a", "b", "c"} {
		if _, err := e.srv.Push(ctx, testOwner, testRepo, b, Commit{Files: map[string]string{b + ".txt": b + "\n"}}); err != nil {
			t.Fatal(err)
		}
		n, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: b, Head: b})
		if err != nil {
			t.Fatal(err)
		}
		// Comments: #1 two, #2 none, #3 one.
		for range []int{2, 0, 1}[i] {
			if _, err := e.srv.Comment(ctx, testOwner, testRepo, n, "alice", "hello"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Updated: #2 oldest, then #3, then #1 (set directly: the fake's clock
	// counts seconds).
	e.srv.mu.Lock()
	base := now().Add(-time.Hour)
	for n, minutes := range map[int]int{1: 30, 2: 10, 3: 20} {
		e.srv.repoByName(testOwner, testRepo).issues[n].updatedAt = base.Add(time.Duration(minutes) * time.Minute)
	}
	e.srv.mu.Unlock()

	tests := []struct {
		name            string
		sort, direction string
		want            []int
	}{
		{name: "default: created, newest first", want: []int{3, 2, 1}},
		{name: "created without direction: desc", sort: "created", want: []int{3, 2, 1}},
		{name: "created asc", sort: "created", direction: "asc", want: []int{1, 2, 3}},
		{name: "updated without direction: asc", sort: "updated", want: []int{2, 3, 1}},
		{name: "updated desc", sort: "updated", direction: "desc", want: []int{1, 3, 2}},
		{name: "popularity without direction: asc", sort: "popularity", want: []int{2, 3, 1}},
		{name: "popularity desc", sort: "popularity", direction: "desc", want: []int{1, 3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prs := must(e.inst.PullRequests.List(ctx, testOwner, testRepo, &gh.PullRequestListOptions{Sort: tt.sort, Direction: tt.direction})).ok(t)
			var got []int
			for _, pr := range prs {
				got = append(got, pr.GetNumber())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}
