package applier

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

const productionApp = "apps/my-api-service-production.yaml"

// writePinnedFixture is the gitops fixture with production pinned to the
// tag v1 (created on the first commit by the test).
func writePinnedFixture(t *testing.T, dir, repoURL string) {
	writeFixture(t, dir, repoURL)
	p := filepath.Join(dir, productionApp)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pinned, _, err := kustomize.SetTargetRevision(raw, "my-api-service-production", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, pinned, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPinnedAppDeploysItsRevision: an Application pinned to a tag or a
// commit deploys that revision of the repository, as Argo CD does. A push
// that changes the base it renders from leaves its environment alone; a
// push that moves its pin deploys the new revision; a pin that names
// nothing fails the app's status on the push, and nothing is applied.
func TestPinnedAppDeploysItsRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{Write: writePinnedFixture, Throttle: githubapi.Unthrottled()})
	owner, name := env.repo.Owner, env.repo.Name
	branches, err := env.srv.Branches(ctx, owner, name)
	if err != nil {
		t.Fatal(err)
	}
	first := branches["main"]
	if err := env.srv.Tag(ctx, owner, name, "v1", first); err != nil {
		t.Fatal(err)
	}
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second})
	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	info, err := gh.Repository(ctx, env.repo)
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{info.HTMLURL, info.CloneURL, info.SSHURL}
	servicePort := func(ns string) int32 {
		t.Helper()
		svc, err := env.home.Client.CoreV1().Services(ns).Get(ctx, "my-api-service", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s/my-api-service: %v", ns, err)
		}
		return svc.Spec.Ports[0].Port
	}
	push := func(msg string, files map[string]string) ([]Outcome, string) {
		t.Helper()
		sha, err := env.srv.Push(ctx, owner, name, "main", githubapi.Commit{Message: msg, Files: files})
		if err != nil {
			t.Fatal(err)
		}
		var changed []string
		for f := range files {
			changed = append(changed, f)
		}
		outs, err := a.Sync(ctx, gh, Target{Repo: env.repo, Commit: sha, Branch: "main", Changed: changed, RepoURLs: urls}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return outs, sha
	}
	states := func(outs []Outcome) []string {
		var s []string
		for _, o := range outs {
			s = append(s, o.App+" "+o.State+" "+o.Commit[:7]+" "+o.Error)
		}
		return s
	}

	// Installed: production deploys v1, the first commit.
	outs, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"guestbook-staging applied " + first[:7] + " ", "my-api-service-production applied " + first[:7] + " ", "my-api-service-staging applied " + first[:7] + " "}
	if diff := cmp.Diff(want, states(outs)); diff != "" {
		t.Fatalf("install (-want +got):\n%s", diff)
	}

	// The base changes: staging follows main, production stays on v1.
	svc, err := os.ReadFile(filepath.Join("..", "test", "fixtures", "gitops", "kustomize", "base", "service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	outs, second := push("serve on 8080", map[string]string{"kustomize/base/service.yaml": strings.Replace(string(svc), "port: 80\n", "port: 8080\n", 1)})
	if diff := cmp.Diff([]string{"my-api-service-staging applied " + second[:7] + " "}, states(outs)); diff != "" {
		t.Fatalf("base change (-want +got):\n%s", diff)
	}
	if got := servicePort("staging"); got != 8080 {
		t.Errorf("staging serves on %d, want 8080", got)
	}
	if got := servicePort("production"); got != 80 {
		t.Errorf("production serves on %d, want 80: the base change reached it without its pin moving", got)
	}

	// The pin moves to the second commit: production deploys it.
	raw, err := env.srv.File(ctx, owner, name, "main", productionApp)
	if err != nil {
		t.Fatal(err)
	}
	moved, old, err := kustomize.SetTargetRevision(raw, "my-api-service-production", second)
	if err != nil || old != "v1" {
		t.Fatalf("move the pin from %q: %v", old, err)
	}
	outs, third := push("promote to "+second[:7], map[string]string{productionApp: string(moved)})
	if diff := cmp.Diff([]string{"my-api-service-production applied " + second[:7] + " "}, states(outs)); diff != "" {
		t.Fatalf("pin moved (-want +got):\n%s", diff)
	}
	if got := servicePort("production"); got != 8080 {
		t.Errorf("production serves on %d, want 8080 from its new pin", got)
	}
	rec, _, err := a.records.Get(ctx, env.repo, "my-api-service-production")
	if err != nil || rec.Commit != second || rec.Seen != third {
		t.Errorf("production's record: commit %.7s seen %.7s (%v), want commit %.7s seen %.7s", rec.Commit, rec.Seen, err, second, third)
	}
	runs, err := env.srv.CheckRuns(owner, name, third)
	if st, ok := kit.SyncStatus(runs, "my-api-service-production"); err != nil || !ok || !strings.HasPrefix(st.Description, "applied "+second[:7]) {
		t.Errorf("report on the push that moved the pin: %+v (%v), want it saying applied %s", st, err, second[:7])
	}

	// A pin to nothing: the app fails on the push, production is untouched.
	broken, _, err := kustomize.SetTargetRevision(moved, "my-api-service-production", "v9")
	if err != nil {
		t.Fatal(err)
	}
	outs, fourth := push("pin to a tag that does not exist", map[string]string{productionApp: string(broken)})
	if len(outs) != 1 || outs[0].State != StateFailed || !strings.Contains(outs[0].Error, `targetRevision "v9"`) {
		t.Fatalf("pin to nothing: %v", states(outs))
	}
	runs, err = env.srv.CheckRuns(owner, name, fourth)
	if st, ok := kit.SyncStatus(runs, "my-api-service-production"); err != nil || !ok || st.State != "failure" || !strings.Contains(st.Description, "v9") {
		t.Errorf("report on the push that pinned nothing: %+v (%v)", st, err)
	}
	if got := servicePort("production"); got != 8080 {
		t.Errorf("production serves on %d after a pin to nothing, want 8080 still", got)
	}
}
