package promoter

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
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

func TestMergeMethod(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		allowed []string
		method  string
		ok      bool
	}{
		{name: "first allowed", allowed: []string{"squash", "rebase"}, method: "squash", ok: true},
		{name: "configured and allowed", want: "rebase", allowed: []string{"merge", "rebase"}, method: "rebase", ok: true},
		{name: "configured, not allowed", want: "merge", allowed: []string{"squash"}, method: "merge", ok: false},
		{name: "repository says nothing", method: "merge", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, ok := mergeMethod(tt.want, tt.allowed)
			if method != tt.method || ok != tt.ok {
				t.Errorf("mergeMethod = %q, %v; want %q, %v", method, ok, tt.method, tt.ok)
			}
		})
	}
}
