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
