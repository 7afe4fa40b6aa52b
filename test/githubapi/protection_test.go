package githubapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// openCase pushes branch with one file of its own and opens a pull request
// from it into main; it returns the number and the head SHA.
func (e *env) openCase(branch string) (int, string) {
	e.t.Helper()
	head, err := e.srv.Push(e.ctx, testOwner, testRepo, branch, Commit{Author: "alice", Message: "Change " + branch,
		Files: map[string]string{"cases/" + branch + ".txt": branch + "\n"}})
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := e.srv.OpenPR(e.ctx, testOwner, testRepo, NewPR{Title: "Change " + branch, Head: branch, Author: "alice"})
	if err != nil {
		e.t.Fatal(err)
	}
	return n, head
}

// mergeOutcome is what a merge attempt answered and left behind.
type mergeOutcome struct {
	Status  int
	Message string
	Merged  bool
}

func (e *env) apiMerge(n int, method string) mergeOutcome {
	e.t.Helper()
	res, resp, err := e.inst.PullRequests.Merge(e.ctx, testOwner, testRepo, n, "", &gh.PullRequestOptions{MergeMethod: method})
	out := mergeOutcome{}
	var er *gh.ErrorResponse
	switch {
	case errors.As(err, &er):
		out.Status, out.Message = er.Response.StatusCode, er.Message
	case err != nil:
		e.t.Fatal(err)
	default:
		out.Status, out.Message = resp.StatusCode, res.GetMessage()
	}
	pr, err := e.srv.PR(testOwner, testRepo, n)
	if err != nil {
		e.t.Fatal(err)
	}
	out.Merged = pr.Merged
	return out
}

// TestProtectedBranchMerge: a merge into a protected branch goes through
// only when every required check is green on the head, through the API
// and through scripting. GitHub's "Merge a pull request": "405 Method Not
// Allowed if merge cannot be performed"; the messages are GitHub's.
func TestProtectedBranchMerge(t *testing.T) {
	e := newEnv(t)
	e.srv.AddUser("ci-bot")
	ok := mergeOutcome{Status: http.StatusOK, Message: "Pull Request successfully merged", Merged: true}
	tests := []struct {
		name       string
		protection Protection
		report     func(t *testing.T, head string) // CI reports on the head
		reviews    []string                        // "login EVENT", in order
		want       mergeOutcome
	}{
		{name: "no status yet", protection: Protection{RequiredContexts: []string{"ci/test"}},
			want: mergeOutcome{Status: 405, Message: `Required status check "ci/test" is expected.`}},
		{name: "pending", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/test", "pending"),
			want:   mergeOutcome{Status: 405, Message: `Required status check "ci/test" is expected.`}},
		{name: "failing", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/test", "failure"),
			want:   mergeOutcome{Status: 405, Message: `Required status check "ci/test" is failing.`}},
		{name: "failed then passed", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: func(t *testing.T, head string) {
				e.status("ci/test", "error")(t, head)
				e.status("CI/Test", "success")(t, head)
			},
			want: ok},
		{name: "passed then failed", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: func(t *testing.T, head string) {
				e.status("ci/test", "success")(t, head)
				e.status("ci/test", "failure")(t, head)
			},
			want: mergeOutcome{Status: 405, Message: `Required status check "ci/test" is failing.`}},
		{name: "another context passed", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/lint", "success"),
			want:   mergeOutcome{Status: 405, Message: `Required status check "ci/test" is expected.`}},
		{name: "two expected", protection: Protection{RequiredContexts: []string{"ci/test", "ci/lint"}},
			want: mergeOutcome{Status: 405, Message: "2 of 2 required status checks are expected."}},
		{name: "one of two failing", protection: Protection{RequiredContexts: []string{"ci/test", "ci/lint"}},
			report: func(t *testing.T, head string) {
				e.status("ci/test", "success")(t, head)
				e.status("ci/lint", "failure")(t, head)
			},
			want: mergeOutcome{Status: 405, Message: `Required status check "ci/lint" is failing.`}},
		{name: "check run success", protection: Protection{RequiredContexts: []string{"build"}},
			report: e.checkRun("build", "success"), want: ok},
		{name: "check run skipped", protection: Protection{RequiredContexts: []string{"build"}},
			report: e.checkRun("build", "skipped"), want: ok},
		{name: "check run failed", protection: Protection{RequiredContexts: []string{"build"}},
			report: e.checkRun("build", "failure"),
			want:   mergeOutcome{Status: 405, Message: `Required status check "build" is failing.`}},
		{name: "unprotected", want: ok},
		{name: "approval required, none", protection: Protection{RequiredApprovals: 1},
			want: mergeOutcome{Status: 405, Message: "At least 1 approving review is required by reviewers with write access."}},
		{name: "approval required, given", protection: Protection{RequiredApprovals: 1},
			reviews: []string{"bob APPROVE"}, want: ok},
		{name: "approval by a reader does not count", protection: Protection{RequiredApprovals: 1},
			reviews: []string{"carol APPROVE"},
			want:    mergeOutcome{Status: 405, Message: "At least 1 approving review is required by reviewers with write access."}},
		{name: "two approvals required, one given", protection: Protection{RequiredApprovals: 2},
			reviews: []string{"bob APPROVE", "bob COMMENT"},
			want:    mergeOutcome{Status: 405, Message: "At least 2 approving reviews are required by reviewers with write access."}},
		{name: "changes requested", protection: Protection{RequiredApprovals: 1},
			reviews: []string{"bob APPROVE", "dave REQUEST_CHANGES"},
			want:    mergeOutcome{Status: 405, Message: "Changes requested by a reviewer with write access."}},
		{name: "changes requested, then approved", protection: Protection{RequiredApprovals: 1},
			reviews: []string{"dave REQUEST_CHANGES", "dave APPROVE"}, want: ok},
		{name: "approved, check missing", protection: Protection{RequiredApprovals: 1, RequiredContexts: []string{"ci/test"}},
			reviews: []string{"bob APPROVE"},
			want:    mergeOutcome{Status: 405, Message: `Required status check "ci/test" is expected.`}},
	}
	for login, p := range map[string]Permission{"bob": PermissionWrite, "carol": PermissionRead, "dave": PermissionMaintain} {
		if err := e.srv.AddCollaborator(testOwner, testRepo, login, p); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, head := e.openCase(fmt.Sprintf("case-%d", i))
			if err := e.srv.Protect(testOwner, testRepo, "main", tc.protection); err != nil {
				t.Fatal(err)
			}
			if tc.report != nil {
				tc.report(t, head)
			}
			for _, rv := range tc.reviews {
				login, event, _ := strings.Cut(rv, " ")
				if err := e.srv.Review(e.ctx, testOwner, testRepo, n, login, event); err != nil {
					t.Fatal(err)
				}
			}
			tip := e.branchTip("main")
			if diff := cmp.Diff(tc.want, e.apiMerge(n, "merge")); diff != "" {
				t.Errorf("merge (-want +got):\n%s", diff)
			}
			if moved := e.branchTip("main") != tip; moved != tc.want.Merged {
				t.Errorf("main moved: %v, want %v", moved, tc.want.Merged)
			}
		})
	}
}

func (e *env) status(context, state string) func(t *testing.T, head string) {
	return func(t *testing.T, head string) {
		t.Helper()
		if err := e.srv.SetStatus(e.ctx, testOwner, testRepo, head, context, state, "ci-bot"); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) checkRun(name, conclusion string) func(t *testing.T, head string) {
	return func(t *testing.T, head string) {
		t.Helper()
		must(e.inst.Checks.CreateCheckRun(e.ctx, testOwner, testRepo, gh.CreateCheckRunOptions{
			Name: name, HeadSHA: head, Status: gh.String("completed"), Conclusion: gh.String(conclusion)})).ok(t)
	}
}

func (e *env) branchTip(branch string) string {
	e.t.Helper()
	b, err := e.srv.Branches(e.ctx, testOwner, testRepo)
	if err != nil {
		e.t.Fatal(err)
	}
	return b[branch]
}

// TestProtectedBranchStrict: with "require branches to be up to date",
// a head that lacks the base's tip is refused even with green checks,
// and merges once it is brought up to date.
func TestProtectedBranchStrict(t *testing.T) {
	e := newEnv(t)
	e.srv.AddUser("ci-bot")
	n, head := e.openCase("feature")
	if err := e.srv.Protect(testOwner, testRepo, "main", Protection{RequiredContexts: []string{"ci/test"}, Strict: true}); err != nil {
		t.Fatal(err)
	}
	e.status("ci/test", "success")(t, head)
	if _, err := e.srv.Push(e.ctx, testOwner, testRepo, "main", Commit{Message: "Elsewhere", Files: map[string]string{"other.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	want := mergeOutcome{Status: 405, Message: "Head branch is not up to date with the base branch."}
	if diff := cmp.Diff(want, e.apiMerge(n, "squash")); diff != "" {
		t.Errorf("merge of an out-of-date head (-want +got):\n%s", diff)
	}
	_, err := e.srv.MergePR(e.ctx, testOwner, testRepo, n, "alice", "merge")
	if err == nil || !strings.Contains(err.Error(), want.Message) {
		t.Errorf("scripted merge of an out-of-date head: %v, want %q", err, want.Message)
	}

	// Bring the head up to date ("Update branch"): the merge commit's
	// checks have not run yet.
	updated, err := e.srv.UpdateBranch(e.ctx, testOwner, testRepo, n, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want = mergeOutcome{Status: 405, Message: `Required status check "ci/test" is expected.`}
	if diff := cmp.Diff(want, e.apiMerge(n, "squash")); diff != "" {
		t.Errorf("merge of the updated head before its checks (-want +got):\n%s", diff)
	}
	e.status("ci/test", "success")(t, updated)
	want = mergeOutcome{Status: 200, Message: "Pull Request successfully merged", Merged: true}
	if diff := cmp.Diff(want, e.apiMerge(n, "squash")); diff != "" {
		t.Errorf("merge of the updated, green head (-want +got):\n%s", diff)
	}
}

// TestGetBranch: GET .../branches/{branch} (contents read) shows whether
// the branch is protected and its required status checks, which an App
// without administration permission cannot read elsewhere; the branches
// list shows protected.
func TestGetBranch(t *testing.T) {
	e := newEnv(t)
	if _, err := e.srv.Push(e.ctx, testOwner, testRepo, "release/v1", Commit{Message: "Release", Files: map[string]string{"r.txt": "r\n"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Protect(testOwner, testRepo, "release/v1", Protection{RequiredContexts: []string{"ci/test", "build"}, Strict: true, RequiredApprovals: 2}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Protect(testOwner, testRepo, "nope", Protection{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("protect a missing branch: %v, want ErrNotFound", err)
	}
	type view struct {
		Name      string
		SHA       string
		Protected bool
		Enabled   bool
		Contexts  []string
		Checks    []string
		Strict    bool
		Approvals int
	}
	tests := []struct {
		branch string
		want   view
	}{
		{branch: "main", want: view{Name: "main", SHA: e.branchTip("main"), Contexts: []string{}, Checks: []string{}}},
		{branch: "release/v1", want: view{Name: "release/v1", SHA: e.branchTip("release/v1"), Protected: true, Enabled: true,
			Contexts: []string{"ci/test", "build"}, Checks: []string{"ci/test", "build"}, Strict: true, Approvals: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.branch, func(t *testing.T) {
			// go-github's Branch has no protection field: read GitHub's shape.
			var b struct {
				Name       string
				Commit     struct{ SHA string }
				Protected  bool
				Approvals  int `json:"required_approving_review_count"`
				Protection struct {
					Enabled              bool
					RequiredStatusChecks struct {
						Contexts []string
						Checks   []struct{ Context string }
						Strict   bool
					} `json:"required_status_checks"`
				}
			}
			req, err := e.inst.NewRequest("GET", fmt.Sprintf("repos/%s/%s/branches/%s", testOwner, testRepo, tc.branch), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.inst.Do(e.ctx, req, &b); err != nil {
				t.Fatal(err)
			}
			rc := b.Protection.RequiredStatusChecks
			got := view{Name: b.Name, SHA: b.Commit.SHA, Protected: b.Protected, Enabled: b.Protection.Enabled,
				Contexts: rc.Contexts, Checks: []string{}, Strict: rc.Strict, Approvals: b.Approvals}
			for _, c := range rc.Checks {
				got.Checks = append(got.Checks, c.Context)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("branch (-want +got):\n%s", diff)
			}
		})
	}
	req, err := e.inst.NewRequest("GET", fmt.Sprintf("repos/%s/%s/branches/missing", testOwner, testRepo), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = e.inst.Do(e.ctx, req, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("missing branch: %v, want 404", err)
	}
	list := must(e.inst.Repositories.ListBranches(e.ctx, testOwner, testRepo, nil)).ok(t)
	protected := map[string]bool{}
	for _, b := range list {
		protected[b.GetName()] = b.GetProtected()
	}
	if diff := cmp.Diff(map[string]bool{"main": false, "release/v1": true}, protected); diff != "" {
		t.Errorf("branches list protected (-want +got):\n%s", diff)
	}
}

// TestMergeMethods: the repository's allowed merge methods show in GET
// repository and a merge by a refused method answers GitHub's 405; a
// rebase merge, once allowed, replays the head's commits onto the base.
func TestMergeMethods(t *testing.T) {
	e := newEnv(t)
	type methods struct{ Merge, Squash, Rebase bool }
	repoMethods := func() methods {
		r := must(e.inst.Repositories.Get(e.ctx, testOwner, testRepo)).ok(t)
		return methods{r.GetAllowMergeCommit(), r.GetAllowSquashMerge(), r.GetAllowRebaseMerge()}
	}
	if diff := cmp.Diff(methods{Merge: true, Squash: true}, repoMethods()); diff != "" {
		t.Errorf("default merge methods (-want +got):\n%s", diff)
	}
	n, _ := e.openCase("rebase-me")
	if diff := cmp.Diff(mergeOutcome{Status: 405, Message: "Rebase merges are not allowed on this repository."}, e.apiMerge(n, "rebase")); diff != "" {
		t.Errorf("rebase by default (-want +got):\n%s", diff)
	}
	if err := e.srv.SetMergeMethods(testOwner, testRepo, false, false, true); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetMergeMethods(testOwner, testRepo, false, false, false); err == nil {
		t.Error("no merge method allowed: no error")
	}
	if diff := cmp.Diff(methods{Rebase: true}, repoMethods()); diff != "" {
		t.Errorf("rebase only (-want +got):\n%s", diff)
	}
	for method, msg := range map[string]string{"merge": "Merge commits are not allowed on this repository.", "squash": "Squash merges are not allowed on this repository."} {
		if diff := cmp.Diff(mergeOutcome{Status: 405, Message: msg}, e.apiMerge(n, method)); diff != "" {
			t.Errorf("%s when refused (-want +got):\n%s", method, diff)
		}
	}
	if _, err := e.srv.MergePR(e.ctx, testOwner, testRepo, n, "alice", "merge"); err == nil || !strings.Contains(err.Error(), "Merge commits are not allowed") {
		t.Errorf("scripted merge commit when refused: %v", err)
	}

	// main moves on, so the rebase has something to replay onto.
	mainTip, err := e.srv.Push(e.ctx, testOwner, testRepo, "main", Commit{Message: "Elsewhere", Files: map[string]string{"other.txt": "x\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mergeOutcome{Status: 200, Message: "Pull Request successfully merged", Merged: true}, e.apiMerge(n, "rebase")); diff != "" {
		t.Errorf("rebase when allowed (-want +got):\n%s", diff)
	}
	tip := must(e.inst.Git.GetCommit(e.ctx, testOwner, testRepo, e.branchTip("main"))).ok(t)
	got := []string{tip.GetMessage(), tip.GetAuthor().GetName(), tip.GetCommitter().GetName()}
	if len(tip.Parents) != 1 || tip.Parents[0].GetSHA() != mainTip {
		t.Errorf("rebased commit parents %v, want [%s]", tip.Parents, mainTip)
	}
	if diff := cmp.Diff([]string{"Change rebase-me", "alice", "GitHub"}, got); diff != "" {
		t.Errorf("rebased commit (-want +got):\n%s", diff)
	}
	for _, path := range []string{"other.txt", "cases/rebase-me.txt"} {
		if _, err := e.srv.File(e.ctx, testOwner, testRepo, "main", path); err != nil {
			t.Errorf("main after the rebase merge: %s: %v", path, err)
		}
	}
}

// TestMergeableState: once mergeability is computed, mergeable_state says
// why a mergeable pull request may not merge yet.
func TestMergeableState(t *testing.T) {
	e := newEnv(t)
	e.srv.AddUser("ci-bot")
	tests := []struct {
		name       string
		protection Protection
		report     func(t *testing.T, head string)
		behind     bool
		want       string
	}{
		{name: "unprotected, no checks", want: "clean"},
		{name: "unprotected, a failing status", report: e.status("ci/test", "failure"), want: "unstable"},
		{name: "required missing", protection: Protection{RequiredContexts: []string{"ci/test"}}, want: "blocked"},
		{name: "required failing", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/test", "failure"), want: "blocked"},
		{name: "required green", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/test", "success"), want: "clean"},
		{name: "required green, another failing", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: func(t *testing.T, head string) {
				e.status("ci/test", "success")(t, head)
				e.checkRun("lint", "failure")(t, head)
			}, want: "unstable"},
		{name: "strict, behind", protection: Protection{RequiredContexts: []string{"ci/test"}, Strict: true},
			report: e.status("ci/test", "success"), behind: true, want: "behind"},
		{name: "not strict, behind", protection: Protection{RequiredContexts: []string{"ci/test"}},
			report: e.status("ci/test", "success"), behind: true, want: "clean"},
		{name: "approval missing", protection: Protection{RequiredApprovals: 1}, want: "blocked"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, head := e.openCase(fmt.Sprintf("state-%d", i))
			if err := e.srv.Protect(testOwner, testRepo, "main", tc.protection); err != nil {
				t.Fatal(err)
			}
			if tc.report != nil {
				tc.report(t, head)
			}
			if tc.behind {
				if _, err := e.srv.Push(e.ctx, testOwner, testRepo, "main", Commit{Message: "Elsewhere " + tc.name,
					Files: map[string]string{fmt.Sprintf("elsewhere-%d.txt", i): "x\n"}}); err != nil {
					t.Fatal(err)
				}
			}
			first := must(e.inst.PullRequests.Get(e.ctx, testOwner, testRepo, n)).ok(t)
			if first.Mergeable != nil || first.GetMergeableState() != "unknown" {
				t.Errorf("first read: mergeable %v state %q, want null and unknown", first.Mergeable, first.GetMergeableState())
			}
			pr := must(e.inst.PullRequests.Get(e.ctx, testOwner, testRepo, n)).ok(t)
			if !pr.GetMergeable() || pr.GetMergeableState() != tc.want {
				t.Errorf("mergeable %v, mergeable_state %q; want true, %q", pr.GetMergeable(), pr.GetMergeableState(), tc.want)
			}
		})
	}
}

// TestReviewOwnPullRequest: an author cannot approve or request changes
// on their own pull request (GitHub: "Can not approve your own pull
// request"); commenting is fine.
func TestReviewOwnPullRequest(t *testing.T) {
	e := newEnv(t)
	n, _ := e.openCase("mine")
	tests := []struct {
		event   string
		wantErr bool
	}{{"APPROVE", true}, {"REQUEST_CHANGES", true}, {"COMMENT", false}, {"LGTM", true}}
	for _, tc := range tests {
		if err := e.srv.Review(e.ctx, testOwner, testRepo, n, "alice", tc.event); (err != nil) != tc.wantErr {
			t.Errorf("alice %s on her own pull request: %v, want error %v", tc.event, err, tc.wantErr)
		}
	}
}

// TestProtectedBranchDirectWrites: the App cannot get around a protected
// branch by writing to it directly: no contents commit or ref update
// without its required checks green on the new commit, none at all when
// approvals are required, no force push, no deletion. An unprotected
// branch takes them all.
func TestProtectedBranchDirectWrites(t *testing.T) {
	e := newEnv(t)
	e.srv.AddUser("ci-bot")
	mainTip := e.branchTip("main")
	// side is one commit ahead of main: a fast-forward for main.
	ahead, err := e.srv.Push(e.ctx, testOwner, testRepo, "side", Commit{Message: "Ahead", Files: map[string]string{"ahead.txt": "a\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Protect(testOwner, testRepo, "main", Protection{RequiredContexts: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Status  int
		Message string
	}
	errOutcome := func(err error) outcome {
		var er *gh.ErrorResponse
		if errors.As(err, &er) {
			return outcome{er.Response.StatusCode, er.Message}
		}
		if err != nil {
			t.Fatal(err)
		}
		return outcome{Status: 200}
	}
	putFile := func(branch string) outcome {
		_, _, err := e.inst.Repositories.CreateFile(e.ctx, testOwner, testRepo, "direct.txt", &gh.RepositoryContentFileOptions{
			Message: gh.String("Direct"), Content: []byte("d\n"), Branch: gh.String(branch)})
		return errOutcome(err)
	}
	moveMain := func(sha string, force bool) outcome {
		_, _, err := e.inst.Git.UpdateRef(e.ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/main"),
			Object: &gh.GitObject{SHA: gh.String(sha)}}, force)
		return errOutcome(err)
	}
	expected := outcome{422, `Required status check "ci/test" is expected.`}
	steps := []struct {
		name string
		do   func() outcome
		want outcome
	}{
		{"contents commit", func() outcome { return putFile("main") }, outcome{409, expected.Message}},
		{"fast-forward to an unchecked commit", func() outcome { return moveMain(ahead, false) }, expected},
		{"fast-forward to a failed commit", func() outcome {
			e.status("ci/test", "failure")(t, ahead)
			return moveMain(ahead, false)
		}, outcome{422, `Required status check "ci/test" is failing.`}},
		{"approvals required", func() outcome {
			e.status("ci/test", "success")(t, ahead)
			if err := e.srv.Protect(testOwner, testRepo, "main", Protection{RequiredContexts: []string{"ci/test"}, RequiredApprovals: 1}); err != nil {
				t.Fatal(err)
			}
			return moveMain(ahead, false)
		}, outcome{422, "Changes must be made through a pull request."}},
		{"fast-forward to a green commit", func() outcome {
			if err := e.srv.Protect(testOwner, testRepo, "main", Protection{RequiredContexts: []string{"ci/test"}}); err != nil {
				t.Fatal(err)
			}
			return moveMain(ahead, false)
		}, outcome{Status: 200}},
		{"force push back", func() outcome { return moveMain(mainTip, true) }, outcome{422, "Cannot force-push to this branch"}},
		{"delete", func() outcome {
			_, err := e.inst.Git.DeleteRef(e.ctx, testOwner, testRepo, "heads/main")
			return errOutcome(err)
		}, outcome{422, "Cannot delete this protected branch"}},
		{"unprotected branch", func() outcome { return putFile("side") }, outcome{Status: 200}},
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, st.do()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	if got := e.branchTip("main"); got != ahead {
		t.Errorf("main at %s, want %s (the green fast-forward only)", got, ahead)
	}
}
