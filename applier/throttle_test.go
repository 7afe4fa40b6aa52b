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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
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
// cluster's speed without waiting on GitHub, and the whole sync is
// reported in at most 16 writes (a check run listing every app, one
// Deployment per environment), so nothing waits for GitHub's budget to
// renew. GitHub's time is a test clock shared by the fake's throttle and
// promobot's transport; it does not move.
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
	if err != nil || queued != 0 {
		t.Errorf("queued reports: %d %v; want none: a sync's few writes fit GitHub's budget", queued, err)
	}
	head := outs[0].Commit
	writes := srv.Calls().Writes
	if writes > 16 {
		t.Errorf("the sync of %d apps made %d GitHub writes, want at most 16", len(outs), writes)
	}
	runs, err := srv.CheckRuns(owner, name, head)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if st, ok := kit.SyncStatus(runs, o.App); !ok || st.State != "success" {
			t.Errorf("%s in the sync check run: %+v %v", o.App, st, ok)
		}
	}
	deps, err := srv.Deployments(owner, name)
	if err != nil {
		t.Fatal(err)
	}
	var envs []string
	for _, d := range deps {
		final := 0
		for _, s := range d.Statuses {
			if s.State == "success" {
				final++
			}
		}
		envs = append(envs, fmt.Sprintf("%s %d apps success×%d", d.Environment, len(strings.Split(deployedApps(d.Payload), ",")), final))
	}
	sort.Strings(envs)
	if diff := cmp.Diff([]string{fmt.Sprintf("production %d apps success×1", fleetServices), fmt.Sprintf("staging %d apps success×1", fleetServices)}, envs); diff != "" {
		t.Errorf("deployments, one per environment (-want +got):\n%s", diff)
	}
	facts := reportFacts(t, ctx, bus)
	if facts["queued"] != 0 {
		t.Errorf("report facts: %v, want none queued", facts)
	}
	t.Logf("%d apps applied in %v (GitHub's clock did not move); %d GitHub writes, %d requests throttled",
		len(outs), applied.Round(time.Millisecond), writes, srv.Throttled())
}
