package promoter

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
)

// publishApplied publishes the fact the applier publishes after applying
// app at sha.
func (h *harness) publishApplied(app, env, sha string, healthy bool) {
	h.t.Helper()
	state := "applied"
	if !healthy {
		state = "failed"
	}
	o := applier.Outcome{App: app, Environment: env, Commit: sha, State: state, Healthy: healthy, Summary: "1 configured"}
	data := struct {
		applier.Outcome
		Repo    string `json:"repo"`
		Path    string `json:"path,omitempty"`
		Summary string `json:"summary"`
	}{Outcome: o, Repo: owner + "/" + repoName, Path: "kustomize/overlays/" + env, Summary: app + " completed"}
	verb := "completed"
	if !healthy {
		verb = "failed"
	}
	if _, err := h.bus.PublishFact(h.ctx, events.Fact{Kind: "apply", Verb: verb, Owner: owner, Repo: repoName,
		Source: "promobot/applier", Subject: app, Data: data}); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

// With autoPromote, staging applied and healthy opens the promotion pull
// request without a comment.
func TestAutoPromotion(t *testing.T) {
	h := newHarness(t, harnessOptions{files: map[string]string{
		".promobot.yaml": "pipeline:\n  - from: staging\n    to: production\n    autoPromote: true\n",
	}})
	n, sha := h.bumpStaging("1.1.0")
	h.settle()

	// A failed apply, and production's own applies, promote nothing.
	h.publishApplied(stagingApp, "staging", sha, false)
	h.publishApplied(productionApp, "production", sha, true)
	if got := h.promotionPRs(); len(got) != 0 {
		t.Fatalf("promotion pull requests after a failed apply = %+v, want none", got)
	}

	h.applied(sha, true, h.now.Add(-time.Minute))
	h.publishApplied(stagingApp, "staging", sha, true)
	prs := h.promotionPRs()
	if len(prs) != 1 {
		t.Fatalf("promotion pull requests = %+v, want 1", prs)
	}
	pr := prs[0]
	if want := "Promote my-api-service to production: ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0"; pr.Title != want {
		t.Errorf("title = %q, want %q", pr.Title, want)
	}
	if !strings.Contains(pr.Body, "Opened automatically") {
		t.Errorf("body does not say it was opened automatically:\n%s", pr.Body)
	}
	if cs := h.botComments(pr.Number); len(cs) != 1 {
		t.Errorf("promotion PR comments = %d, want the diff comment", len(cs))
	}
	if got := h.replies(n); len(got) != 0 {
		t.Errorf("the source pull request got replies: %+v", got)
	}
	fs := h.facts()
	if diff := cmp.Diff([]string{"requested", "opened"}, verbs(fs)); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if len(fs) == 2 && (!fs[1].Data.Auto || fs[1].Data.SourceCommit != sha || fs[1].Data.PR != pr.Number) {
		t.Errorf("opened fact = %+v", fs[1].Data)
	}

	// The same apply reported again changes nothing.
	h.gh.ResetCalls()
	h.publishApplied(stagingApp, "staging", sha, true)
	if got := h.gh.Calls(); got.Writes != 0 {
		t.Errorf("a repeated apply fact wrote to GitHub: %s", callsString(got))
	}
	if got := h.promotionPRs(); len(got) != 1 {
		t.Errorf("promotion pull requests = %+v, want 1", got)
	}
}
