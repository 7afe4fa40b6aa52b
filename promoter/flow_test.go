package promoter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
)

// The planner reads only its snapshot: two local checkouts, the target
// at one commit and the source at another, plan the promotion of the
// source's images into the target's kustomization, and a source overlay
// without images is that pair's refusal, not an error.
func TestPlanPromotion(t *testing.T) {
	fixture := filepath.Join("..", "test", "fixtures", "gitops")
	target, source := t.TempDir(), t.TempDir()
	for _, d := range []string{target, source} {
		if err := os.CopyFS(d, os.DirFS(fixture)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(source, stagingFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(source, stagingFile), []byte(withTag(t, string(raw), "2.0.0")), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := LoadSnapshot(target)
	if err != nil {
		t.Fatal(err)
	}
	snap.Source = source
	planned, err := PlanPromotion(snap, Selection{Changed: []string{stagingFile}})
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].Err != nil {
		t.Fatalf("planned = %+v, want one plan", planned)
	}
	p := planned[0].Plan
	before, err := os.ReadFile(filepath.Join(target, prodFile))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(before), "newTag: 1.0.0 #", "newTag: 2.0.0 #", 1)
	if diff := cmp.Diff(want, string(p.After)); diff != "" {
		t.Errorf("planned production kustomization (-want +got):\n%s", diff)
	}
	if p.File != prodFile || p.App != "my-api-service" || p.To() != "production" || !p.Changed() {
		t.Errorf("plan = file %s app %s to %s changed %v", p.File, p.App, p.To(), p.Changed())
	}
	if got, _ := os.ReadFile(filepath.Join(target, prodFile)); string(got) != string(before) {
		t.Error("planning wrote the target checkout")
	}

	// No images in the source overlay: the pair's refusal.
	if err := os.WriteFile(filepath.Join(source, stagingFile), []byte("resources: [../../base]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	planned, err = PlanPromotion(snap, Selection{App: "my-api-service"})
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].Err == nil || !strings.Contains(planRefusal(planned[0]), "no images: entries") {
		t.Errorf("planned = %+v, want the pair refused for having no images", planned)
	}
	if _, err := PlanPromotion(snap, Selection{App: "nope"}); !errors.Is(err, ErrNothingSelected) {
		t.Errorf("PlanPromotion of an unknown app = %v, want ErrNothingSelected", err)
	}
}

// The gates are checked on evidence loaded before them, without reading
// anything: each holds the promotion back with its reason, in order.
func TestCheckGates(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	const sha, older = "aaaaaaa1111111", "bbbbbbb2222222"
	no := false
	step := func(g gitops.Gates) Plan {
		return Plan{App: "api", Step: gitops.Step{From: "staging", To: "production", Gates: g},
			Pair: gitops.Pair{Base: "api", From: gitops.App{Name: "api-staging"}, To: gitops.App{Name: "api-production"}}}
	}
	applied := func(healthy bool, at time.Time) gateEvidence {
		return gateEvidence{recorded: true, applied: true, record: applyRecord{Commit: sha, Seen: sha, AppliedAt: at, State: "applied", Healthy: healthy}}
	}
	tests := []struct {
		name string
		plan Plan
		ev   gateEvidence
		want string // a part of the reason; "" passes
	}{
		{name: "frozen", plan: step(gitops.Gates{Freeze: []gitops.FreezeWindow{{Start: "2026-03-01T00:00", End: "2026-03-08T00:00", Reason: "release"}}}),
			ev: applied(true, now.Add(-time.Hour)), want: "frozen now"},
		{name: "no gate reads the apply", plan: step(gitops.Gates{RequireHealthy: &no}), want: ""},
		{name: "never applied", plan: step(gitops.Gates{}), want: "no successful apply of `api-staging` on record"},
		{name: "an older commit applied", plan: step(gitops.Gates{}),
			ev: gateEvidence{recorded: true, record: applyRecord{Commit: older}}, want: "`api-staging` last applied bbbbbbb"},
		{name: "unhealthy", plan: step(gitops.Gates{}), ev: func() gateEvidence {
			ev := applied(false, now.Add(-time.Hour))
			ev.record.State, ev.record.Message = "failed", "rollout timed out"
			return ev
		}(), want: "is not healthy: its last apply (aaaaaaa) failed: rollout timed out"},
		{name: "soaking", plan: step(gitops.Gates{Soak: gitops.Duration(2 * time.Hour)}), ev: applied(true, now.Add(-30*time.Minute)),
			want: "must run aaaaaaa for 2h"},
		{name: "soaked and healthy", plan: step(gitops.Gates{Soak: gitops.Duration(2 * time.Hour)}), ev: applied(true, now.Add(-3*time.Hour)), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkGates(tt.plan, sha, tt.ev, now)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("checkGates = %q, want %q", got, tt.want)
			}
		})
	}
}

// Authorization runs before the repository is loaded: a reader's /promote
// is refused after reading only their permission and the promoters of
// .promobot.yaml, with no commit read and no tarball.
func TestRefusalLoadsNoRepository(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()
	h.warmToken()
	h.gh.ResetCalls()
	cmd := h.comment(n, reader, "/promote")
	if diff := cmp.Diff([]string{"eyes", "confused"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	calls := h.gh.Calls()
	t.Logf("refused command: %s", callsString(calls))
	for route := range calls.ByRoute {
		if strings.Contains(route, "tarball") || strings.Contains(route, "/commits/") {
			t.Errorf("the refused command loaded the repository: %s", callsString(calls))
		}
	}
}
