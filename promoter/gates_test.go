package promoter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// Each gate holds a promotion back with a reply saying why, until it
// passes.
func TestGates(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	before := h.git("rev-parse", "main")
	n, sha := h.bumpStaging("1.1.0")
	h.settle()

	setConfig := func(cfg string) string {
		t.Helper()
		head, err := h.gh.Push(h.ctx, owner, repoName, "main", githubapi.Commit{Message: "Configure promobot", Author: maintainer,
			Files: map[string]string{".promobot.yaml": cfg}})
		if err != nil {
			t.Fatal(err)
		}
		h.settle()
		return head
	}

	tests := []struct {
		name   string
		setup  func() map[string]string // SHA → name for scrubbing
		golden string                   // the reply; "" when the promotion goes through
	}{
		{name: "source never applied", golden: "reply-gate-not-applied.md", setup: func() map[string]string {
			return map[string]string{sha: "merge"}
		}},
		{name: "source not healthy", golden: "reply-gate-unhealthy.md", setup: func() map[string]string {
			h.applied(sha, false, h.now.Add(-time.Hour))
			return map[string]string{sha: "merge"}
		}},
		{name: "source runs an older commit", golden: "reply-gate-older.md", setup: func() map[string]string {
			h.applied(before, true, h.now.Add(-time.Hour))
			return map[string]string{sha: "merge", before: "before"}
		}},
		{name: "soak time not over", golden: "reply-gate-soak.md", setup: func() map[string]string {
			setConfig("pipeline:\n  - from: staging\n    to: production\n    gates:\n      soak: 2h\n")
			h.applied(sha, true, h.now.Add(-30*time.Minute))
			return map[string]string{sha: "merge"}
		}},
		{name: "freeze window", golden: "reply-gate-freeze.md", setup: func() map[string]string {
			setConfig("pipeline:\n  - from: staging\n    to: production\n    gates:\n      freeze:\n" +
				"        - start: \"2026-03-01T00:00\"\n          end: \"2026-03-08T00:00\"\n          reason: release freeze\n")
			return map[string]string{sha: "merge"}
		}},
		{name: "a later commit applied, soaked and healthy", setup: func() map[string]string {
			head := setConfig("pipeline:\n  - from: staging\n    to: production\n    gates:\n      soak: 2h\n")
			h.applied(head, true, h.now.Add(-3*time.Hour))
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := tt.setup()
			repliesBefore := len(h.replies(n))
			id := h.comment(n, maintainer, "/promote")
			replies := h.replies(n)[repliesBefore:]
			if tt.golden == "" {
				if len(replies) != 0 {
					t.Errorf("replies = %+v, want none", replies)
				}
				if diff := cmp.Diff([]string{"eyes", "rocket"}, h.reactions(id)); diff != "" {
					t.Errorf("reactions (-want +got):\n%s", diff)
				}
				if got := h.promotionPRs(); len(got) != 1 {
					t.Errorf("promotion pull requests = %+v, want 1", got)
				}
				return
			}
			if len(replies) != 1 {
				t.Fatalf("replies = %+v, want 1", replies)
			}
			kit.Golden(t, filepath.Join("testdata", tt.golden), scrub(replies[0].Body, names))
			if diff := cmp.Diff([]string{"eyes", "confused"}, h.reactions(id)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			if got := h.promotionPRs(); len(got) != 0 {
				t.Errorf("promotion pull requests = %+v, want none", got)
			}
			fs := h.facts()
			if last := fs[len(fs)-1]; last.Verb != "refused" || last.Data.Reason == "" || last.Data.App != "my-api-service" {
				t.Errorf("last fact = %+v, want a refusal with its reason", last)
			}
		})
	}
}
