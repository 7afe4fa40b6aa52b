package promoter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
)

// TestCheckPayloadPassed: only a green status or a completed, passing
// check run on a promotion branch can unblock an auto-merge; anything
// else is left alone before any call is made.
func TestCheckPayloadPassed(t *testing.T) {
	tests := []struct {
		name, payload string
		sha           string
		branches      []string
	}{
		{name: "green status on a promotion branch",
			payload: `{"sha":"abc","state":"success","branches":[{"name":"promobot/promote/api/production"},{"name":"main"}]}`,
			sha:     "abc", branches: []string{"promobot/promote/api/production"}},
		{name: "failing status", payload: `{"sha":"abc","state":"failure","branches":[{"name":"promobot/promote/api/production"}]}`},
		{name: "pending status", payload: `{"sha":"abc","state":"pending","branches":[{"name":"promobot/promote/api/production"}]}`},
		{name: "green status on other branches", payload: `{"sha":"abc","state":"success","branches":[{"name":"main"},{"name":"feature/promobot/promote/x/y"}]}`},
		{name: "green status without branches", payload: `{"sha":"abc","state":"success","branches":[]}`},
		{name: "check run passed",
			payload: `{"action":"completed","check_run":{"head_sha":"def","status":"completed","conclusion":"neutral","check_suite":{"head_branch":"promobot/promote/api/production"}}}`,
			sha:     "def", branches: []string{"promobot/promote/api/production"}},
		{name: "check run failed", payload: `{"action":"completed","check_run":{"head_sha":"def","status":"completed","conclusion":"failure","check_suite":{"head_branch":"promobot/promote/api/production"}}}`},
		{name: "check run created", payload: `{"action":"created","check_run":{"head_sha":"def","status":"queued","check_suite":{"head_branch":"promobot/promote/api/production"}}}`},
		{name: "check run with a state field is still a check run", payload: `{"action":"completed","state":"success","sha":"x","check_run":{"head_sha":"def","status":"completed","conclusion":"cancelled","check_suite":{"head_branch":"promobot/promote/api/production"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c checkPayload
			if err := json.Unmarshal([]byte(tt.payload), &c); err != nil {
				t.Fatal(err)
			}
			sha, branches, ok := c.passed()
			if ok != (tt.sha != "") || sha != tt.sha || !cmp.Equal(branches, tt.branches) {
				t.Errorf("passed() = %q, %v, %v; want %q, %v", sha, branches, ok, tt.sha, tt.branches)
			}
		})
	}
}

func TestPromotionOf(t *testing.T) {
	tests := []struct {
		branch, app, env string
	}{
		{branch: "promobot/promote/api/production", app: "api", env: "production"},
		{branch: "promobot/promote/api/production/extra"},
		{branch: "promobot/promote/api"},
		{branch: "promobot/promote//production"},
		{branch: "promobot/rollback/api/production"},
		{branch: "main"},
	}
	for _, tt := range tests {
		app, env, ok := promotionOf(tt.branch)
		if ok != (tt.app != "") || app != tt.app || env != tt.env {
			t.Errorf("promotionOf(%q) = %q, %q, %v; want %q, %q", tt.branch, app, env, ok, tt.app, tt.env)
		}
	}
}

func TestMergeMethods(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		allowed []string
		methods []string
	}{
		{name: "those allowed", allowed: []string{"squash", "rebase"}, methods: []string{"squash", "rebase"}},
		{name: "configured and allowed", want: "rebase", allowed: []string{"merge", "rebase"}, methods: []string{"rebase"}},
		{name: "configured, not allowed", want: "merge", allowed: []string{"squash"}},
		{name: "configured, repository says nothing", want: "squash", methods: []string{"squash"}},
		{name: "repository says nothing", methods: []string{"merge", "squash", "rebase"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeMethods(tt.want, tt.allowed); !cmp.Equal(got, tt.methods) {
				t.Errorf("mergeMethods = %v, want %v", got, tt.methods)
			}
		})
	}
}

// TestAutoMerge: with autoMerge, the promotion pull request merges only
// once the check branch protection requires is green on the commit
// promobot made: not while it fails, not on another check's success, not
// while production is frozen, not after someone else pushed to the branch;
// the merge says who merged and why, on the pull request and as a fact.
func TestAutoMerge(t *testing.T) {
	h := newHarness(t, harnessOptions{files: map[string]string{
		".promobot.yaml": "pipeline:\n  - from: staging\n    to: production\n    autoMerge: true\n",
	}})
	if err := h.gh.AddCollaborator(owner, repoName, "platform-admin", githubapi.PermissionAdmin); err != nil {
		t.Fatal(err)
	}
	n, sha := h.bumpStaging("1.1.0")
	if err := h.gh.Protect(owner, repoName, "main", githubapi.Protection{RequiredContexts: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	h.applied(sha, true, h.now.Add(-time.Minute))
	h.comment(n, maintainer, "/promote")
	prs := h.promotionPRs()
	if len(prs) != 1 || prs[0].State != "open" {
		t.Fatalf("promotion pull requests = %+v, want one open", prs)
	}
	pr := prs[0]
	status := func(sha, context, state string) {
		t.Helper()
		if err := h.gh.SetStatus(h.ctx, owner, repoName, sha, context, state, maintainer); err != nil {
			t.Fatal(err)
		}
		h.settle()
	}
	open := func(when string) {
		t.Helper()
		got, err := h.gh.PR(owner, repoName, pr.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != "open" || got.Merged {
			t.Fatalf("%s: promotion pull request %s (merged %v), want it open", when, got.State, got.Merged)
		}
	}
	lastReason := func() string {
		fs := h.facts()
		if len(fs) == 0 || fs[len(fs)-1].Verb != "waiting" {
			t.Fatalf("facts %v: want the last one waiting", verbs(fs))
		}
		return fs[len(fs)-1].Data.Reason
	}
	open("ci/test not reported")
	if got, want := lastReason(), "required checks not green: ci/test (expected)"; got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}

	status(pr.HeadSHA, "ci/test", "failure")
	open("ci/test failing")
	status(pr.HeadSHA, "lint", "success")
	open("another check green")
	if got, want := lastReason(), "required checks not green: ci/test (failure)"; got != want {
		t.Errorf("waiting reason %q, want %q", got, want)
	}

	h.comment(n, "platform-admin", "/freeze production release day")
	status(pr.HeadSHA, "ci/test", "success")
	open("production frozen")
	if got := lastReason(); !strings.Contains(got, "production is frozen by @platform-admin") {
		t.Errorf("waiting reason %q, want the freeze", got)
	}
	h.comment(n, "platform-admin", "/unfreeze production")

	status(pr.HeadSHA, "lint", "success")
	got, err := h.gh.PR(owner, repoName, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Merged {
		t.Fatalf("promotion pull request not merged once ci/test passed (facts %v)", verbs(h.facts()))
	}
	if tag := h.file("main", prodFile); !strings.Contains(tag, "newTag: 1.1.0") {
		t.Errorf("production overlay on main after the merge:\n%s", tag)
	}
	cs := h.botComments(pr.Number)
	if len(cs) == 0 || !strings.HasPrefix(cs[len(cs)-1].Body, "Merged by promobot (merge merge, ") ||
		!strings.Contains(cs[len(cs)-1].Body, "`autoMerge` is on for `staging` → `production` in `.promobot.yaml`") ||
		!strings.Contains(cs[len(cs)-1].Body, "the checks `main` requires are green (`ci/test`)") {
		t.Errorf("last promobot comment on the promotion PR does not say who merged and why: %+v", cs)
	}
	fs := h.facts()
	if last := fs[len(fs)-1]; last.Verb != "merged" || last.Data.PR != pr.Number || !strings.Contains(last.Data.Reason, "autoMerge is on for staging → production") {
		t.Errorf("last fact = %+v, want merged with its reason", last)
	}
}

// TestAutoMergeInline: with no check required the promotion merges as
// soon as it is opened; a commit someone else pushed to the promotion
// branch is never merged, green or not.
func TestAutoMergeInline(t *testing.T) {
	config := map[string]string{".promobot.yaml": "pipeline:\n  - from: staging\n    to: production\n    autoMerge: true\n    mergeMethod: squash\n"}
	t.Run("no required checks", func(t *testing.T) {
		h := newHarness(t, harnessOptions{files: config})
		n, sha := h.bumpStaging("1.1.0")
		h.applied(sha, true, h.now.Add(-time.Minute))
		h.comment(n, maintainer, "/promote")
		prs := h.promotionPRs()
		if len(prs) != 1 || !prs[0].Merged {
			t.Fatalf("promotion pull requests = %+v, want one merged", prs)
		}
		cs := h.botComments(prs[0].Number)
		if len(cs) == 0 || !strings.Contains(cs[len(cs)-1].Body, "Merged by promobot (squash merge, ") || !strings.Contains(cs[len(cs)-1].Body, "`main` requires no checks") {
			t.Errorf("promotion PR comments: %+v", cs)
		}
		if got, want := verbs(h.facts()), []string{"requested", "opened", "merged"}; !cmp.Equal(got, want) {
			t.Errorf("facts %v, want %v", got, want)
		}
	})
	t.Run("someone else's commit", func(t *testing.T) {
		h := newHarness(t, harnessOptions{files: config})
		n, sha := h.bumpStaging("1.1.0")
		if err := h.gh.Protect(owner, repoName, "main", githubapi.Protection{RequiredContexts: []string{"ci/test"}}); err != nil {
			t.Fatal(err)
		}
		h.applied(sha, true, h.now.Add(-time.Minute))
		h.comment(n, maintainer, "/promote")
		prs := h.promotionPRs()
		if len(prs) != 1 || prs[0].State != "open" {
			t.Fatalf("promotion pull requests = %+v, want one open", prs)
		}
		head, err := h.gh.Push(h.ctx, owner, repoName, promoBranch, githubapi.Commit{Message: "sneak", Author: developer,
			Files: map[string]string{"kustomize/overlays/production/extra.yaml": "kind: ConfigMap\n"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.gh.SetStatus(h.ctx, owner, repoName, head, "ci/test", "success", maintainer); err != nil {
			t.Fatal(err)
		}
		h.settle()
		got, err := h.gh.PR(owner, repoName, prs[0].Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.HeadSHA != head || got.Merged || got.State != "open" {
			t.Fatalf("promotion pull request after a foreign commit went green: %+v, want it open at %s", got, head)
		}
	})
}
