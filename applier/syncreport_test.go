package applier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// TestSyncCheckRun: a sync's check run lists every app with its outcome
// and what it changed; text from the repository (names, errors) stays in
// its cell, and a reader's parse of the table gives each app's line back.
func TestSyncCheckRun(t *testing.T) {
	tgt := Target{Repo: Repo{Owner: "acme", Name: "gitops"}, Commit: "3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c"}
	changed := cluster.ChangeSet{Changes: []cluster.Change{{Action: cluster.Configured}}}
	outs := []Outcome{
		{App: "api-staging", Environment: "staging", Commit: tgt.Commit, State: StateApplied, Summary: "1 configured", Changes: changed, attempted: true},
		{App: "api-production", Environment: "production", Commit: "9b8e7d6c5b4a39281706f5e4d3c2b1a098765432", State: StateApplied, Summary: "2 unchanged", attempted: true},
		{App: "web|`x`", Environment: "staging", Commit: tgt.Commit, State: StateFailed, Error: "render: bad | pipe `code` @someone #12\nsecond line", attempted: true},
		{App: "old", Environment: "staging", Commit: tgt.Commit, State: StateSkipped, Summary: "already at newer commit 1234567"},
		{App: "frozen-prod", Environment: "production", Commit: tgt.Commit, State: StateFailed, Error: "not applied: production is frozen by @admin"},
	}
	run := syncCheckRun(tgt, outs)
	if run.Conclusion != "failure" || run.Status != "completed" || run.Name != SyncCheckName {
		t.Errorf("check run %s %s %s, want %s completed failure", run.Name, run.Status, run.Conclusion, SyncCheckName)
	}
	kit.Golden(t, "testdata/sync-check-run.md", "# "+run.Title+"\n\n"+run.Summary+"\n\n"+run.Text)

	var got []string
	for _, r := range kit.SyncRows(run.Text) {
		got = append(got, r.App+" / "+r.Environment+" / "+r.Outcome+" / "+r.Detail)
	}
	want := []string{
		"api-staging / staging / applied / applied: 1 configured",
		"api-production / production / applied / applied 9b8e7d6: 2 unchanged",
		"web|`x` / staging / failed / render: bad | pipe `code` @someone #12 second line",
		"old / staging / skipped / skipped: already at newer commit 1234567",
		"frozen-prod / production / failed / not applied: production is frozen by @admin",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table read back (-want +got):\n%s", diff)
	}
	if envs := deployedEnvironments(outs); !cmp.Equal(envs, []string{"staging"}) {
		t.Errorf("environments deployed = %v, want staging only (production changed nothing, its freeze applied nothing)", envs)
	}
}

// TestSyncCheckRunStaysUnderGitHubsLimit: a sync of thousands of apps
// keeps the check run's text under GitHub's 65,535 characters and says how
// many apps it left out.
func TestSyncCheckRunStaysUnderGitHubsLimit(t *testing.T) {
	tgt := Target{Repo: Repo{Owner: "acme", Name: "gitops"}, Commit: strings.Repeat("a", 40)}
	var outs []Outcome
	for i := range 3000 {
		outs = append(outs, Outcome{App: fmt.Sprintf("service-%04d-production", i), Environment: "production", Commit: tgt.Commit, State: StateApplied, Summary: "10 unchanged"})
	}
	run := syncCheckRun(tgt, outs)
	if len(run.Text) > 65535 {
		t.Fatalf("check run text is %d characters", len(run.Text))
	}
	rows := len(kit.SyncRows(run.Text))
	if rows == 0 || !strings.Contains(run.Text, fmt.Sprintf("…and %d more apps", 3000-rows)) {
		t.Errorf("%d rows listed; the text does not say how many were left out:\n…%s", rows, run.Text[len(run.Text)-200:])
	}
	if run.Title != "3000 apps: 3000 applied" {
		t.Errorf("title %q", run.Title)
	}
}

// TestCommitStatusesOnRequest: a repository that asks for commit statuses
// (reporting.commitStatuses) gets one per app synced besides the check
// run; without it the sync writes no status at all (the other tests).
func TestCommitStatusesOnRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{Write: func(t *testing.T, dir, repoURL string) {
		writeFixture(t, dir, repoURL)
		if err := os.WriteFile(filepath.Join(dir, ".promobot.yaml"), []byte("reporting:\n  commitStatuses: true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second})
	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil)
	if err != nil || len(outs) == 0 {
		t.Fatalf("sync: %v, %v", outs, err)
	}
	statuses, err := env.srv.Statuses(env.repo.Owner, env.repo.Name, outs[0].Commit)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range statuses {
		got = append(got, s.Context+" "+s.State+" "+s.Description)
	}
	sort.Strings(got)
	want := []string{
		"promobot/guestbook-staging success applied: " + outs[0].Summary,
		"promobot/my-api-service-production success applied: " + outs[1].Summary,
		"promobot/my-api-service-staging success applied: " + outs[2].Summary,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commit statuses (-want +got):\n%s", diff)
	}
}
