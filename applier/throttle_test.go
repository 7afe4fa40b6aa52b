package applier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
)

// fleetServices × 2 environments is the install measured below.
const fleetServices = 100

// writeFleet writes a repository of fleetServices services, each with a
// staging and a production overlay of two objects, as 2×fleetServices
// Applications under apps/.
func writeFleet(t *testing.T, dir, repoURL string) {
	t.Helper()
	files := map[string]string{"apps/root-app.yaml": fmt.Sprintf(fleetApp, "root-app", repoURL, "apps", "argocd")}
	for i := range fleetServices {
		svc := fmt.Sprintf("svc-%03d", i)
		for _, env := range []string{"staging", "production"} {
			path := svc + "/overlays/" + env
			files["apps/"+svc+"-"+env+".yaml"] = fmt.Sprintf(fleetApp, svc+"-"+env, repoURL, path, env)
			files[path+"/kustomization.yaml"] = "resources:\n  - objects.yaml\n"
			files[path+"/objects.yaml"] = fmt.Sprintf(fleetObjects, svc, env)
		}
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const fleetApp = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: %s
  namespace: argocd
spec:
  project: default
  source:
    repoURL: '%s'
    targetRevision: main
    path: %s
  destination:
    server: 'https://kubernetes.default.svc'
    namespace: %s
  syncPolicy:
    automated:
      prune: true
    syncOptions:
      - CreateNamespace=true
`

const fleetObjects = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s
data:
  environment: %[2]s
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
`

// TestInstallSyncUnderGitHubsThrottle syncs a new install of 200 apps in
// two environments with GitHub's own secondary limits (80 writes a minute
// and 500 an hour per installation): every app is applied at the
// cluster's speed without waiting on GitHub, and every report reaches
// GitHub exactly once as the budgets renew. GitHub's time is a test clock
// shared by the fake's throttle, promobot's transport and the report
// queue, moved a minute at a time whenever the queue waits on it, so the
// test measures how long GitHub's limits hold the reports without waiting
// for it.
func TestInstallSyncUnderGitHubsThrottle(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs 200 apps into a kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
	throttle := githubapi.DefaultThrottle()
	throttle.Clock = clock
	const owner, name = "fleet-org", "fleet-config"
	env := startApplierEnv(t, ctx, envOptions{Clock: clock, Throttle: throttle, Repo: Repo{Owner: owner, Name: name}, Write: writeFleet})
	srv, bus, home, instID := env.srv, env.bus, env.home, env.inst
	a := env.newApplier(t, ctx, Options{HealthTimeout: time.Minute, Clock: clock, ReportPoll: time.Hour})
	runReports(t, ctx, a)
	gh, err := a.gh.GitHub(ctx, instID)
	if err != nil {
		t.Fatal(err)
	}

	start, ghStart := time.Now(), clock.Now()
	outs, err := a.SyncHead(ctx, gh, Target{Repo: Repo{Owner: owner, Name: name}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	applied := time.Since(start)
	if !clock.Now().Equal(ghStart) {
		t.Errorf("the sync waited %v of GitHub's time", clock.Now().Sub(ghStart))
	}
	if len(outs) != 2*fleetServices {
		t.Fatalf("%d apps synced, want %d", len(outs), 2*fleetServices)
	}
	for _, o := range outs {
		if o.State != "applied" {
			t.Errorf("%s: %s %s", o.App, o.State, o.Error)
		}
	}
	for i := range fleetServices {
		for _, env := range []string{"staging", "production"} {
			svc := fmt.Sprintf("svc-%03d", i)
			if _, err := home.Client.CoreV1().ConfigMaps(env).Get(ctx, svc, metav1.GetOptions{}); err != nil {
				t.Errorf("%s/%s not applied: %v", env, svc, err)
			}
		}
	}
	queued, err := a.QueuedReports(ctx)
	if err != nil || queued == 0 {
		t.Fatalf("queued reports: %d %v (the throttle did not bite)", queued, err)
	}
	head := outs[0].Commit

	// The queue sends what each budget allows, then waits on GitHub's
	// clock; each wait is ended by moving the clock a minute.
	drainReports(t, ctx, a, clock, time.Minute, 6*60)
	statuses, err := srv.Statuses(owner, name, head)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range statuses {
		seen[s.Context]++
		if s.State != "success" {
			t.Errorf("status %s: %s", s.Context, s.State)
		}
	}
	deps, err := srv.Deployments(owner, name)
	if err != nil {
		t.Fatal(err)
	}
	finals := map[string]int{}
	for _, d := range deps {
		for _, s := range d.Statuses {
			if s.State == "success" {
				finals[d.Environment+" "+fmt.Sprint(d.Payload.(map[string]any)["app"])]++
			}
		}
	}
	for _, o := range outs {
		if seen["promobot/"+o.App] != 1 {
			t.Errorf("%s: %d commit statuses, want 1", o.App, seen["promobot/"+o.App])
		}
		if k := o.Environment + " " + o.App; finals[k] != 1 {
			t.Errorf("%s: %d successful deployments, want 1", k, finals[k])
		}
	}
	facts := reportFacts(t, ctx, bus)
	if facts["queued"] != queued || facts["delivered"] != queued {
		t.Errorf("report facts: %v, want %d queued and delivered", facts, queued)
	}
	t.Logf("%d apps applied in %v (GitHub's clock did not move); %d of their reports queued by GitHub's limits, all delivered after %v of GitHub's time; %d requests throttled; %d writes made",
		len(outs), applied.Round(time.Millisecond), queued, clock.Now().Sub(ghStart), srv.Throttled(), srv.Calls().Writes)
}
