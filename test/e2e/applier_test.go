package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const (
	api           = "my-api-service"
	stagingApp    = "my-api-service-staging"
	productionApp = "my-api-service-production"
	imageRepo     = "ghcr.io/my-org/my-api-service"
)

// waitInitialSync waits for the sync the installation triggers: staging
// with 1 replica, production with 10, both at the fixture's image.
func (s *stack) waitInitialSync() {
	s.t.Helper()
	c := s.home.Client
	s.waitDeployment(c, "staging", api, "synced at install", func(d *appsv1.Deployment) bool {
		return replicasOf(d) == 1 && image(d) == imageRepo+":1.0.0"
	})
	s.waitDeployment(c, "production", api, "synced at install", func(d *appsv1.Deployment) bool {
		return replicasOf(d) == 10 && image(d) == imageRepo+":1.0.0"
	})
}

func TestMergeDeploysOnlyTheChangedOverlay(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client
	prodBefore, err := deployment(c, "production", api)
	if err != nil {
		t.Fatal(err)
	}

	sha := s.mergeChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	st := s.waitStatus(sha, stagingApp)
	if st.State != "success" || !strings.Contains(st.Description, "configured") {
		t.Errorf("staging status = %s %q, want success naming what was configured", st.State, st.Description)
	}
	d, _ := deployment(c, "staging", api)
	if image(d) != imageRepo+":1.1.0" || replicasOf(d) != 1 {
		t.Errorf("staging runs %s with %d replicas, want 1.1.0 with 1", image(d), replicasOf(d))
	}
	if d.Labels["environment"] != "staging" || d.Labels["app.kubernetes.io/managed-by"] != "promobot" {
		t.Errorf("staging Deployment labels = %v", d.Labels)
	}
	prodAfter, _ := deployment(c, "production", api)
	if prodAfter.Generation != prodBefore.Generation || image(prodAfter) != imageRepo+":1.0.0" {
		t.Errorf("production changed: %s generation %d → %d", image(prodAfter), prodBefore.Generation, prodAfter.Generation)
	}
	for _, row := range s.syncRows(sha) {
		if row.App == productionApp || row.App == "guestbook-staging" {
			t.Errorf("an app the merge did not touch is in the sync check run: %+v", row)
		}
	}
	// Exactly the staging objects are in the staging namespace.
	svcs, _ := c.CoreV1().Services("staging").List(ctx, metav1.ListOptions{})
	deps, _ := c.AppsV1().Deployments("staging").List(ctx, metav1.ListOptions{})
	if len(svcs.Items) != 1 || len(deps.Items) != 1 {
		t.Errorf("staging holds %d Services and %d Deployments, want 1 and 1", len(svcs.Items), len(deps.Items))
	}

	// GitHub shows the deployment to staging, success.
	deps2, err := s.gh.Deployments(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	var found *githubapi.Deployment
	for i := range deps2 {
		if deps2[i].SHA == sha {
			found = &deps2[i]
		}
	}
	if found == nil || found.Environment != "staging" {
		t.Fatalf("no GitHub deployment of %s to staging: %+v", sha[:7], deps2)
	}
	var states []string
	for _, ds := range found.Statuses {
		states = append(states, ds.State)
	}
	if strings.Join(states, ",") != "success" {
		t.Errorf("deployment statuses = %v, want success", states)
	}

	// GitHub redelivers the same push: nothing is applied again.
	applied := len(s.facts("promobot.apply.completed.>"))
	var push *githubapi.Delivery
	for _, d := range s.gh.Deliveries() {
		if d.Event == "push" && bytes.Contains(d.Payload, []byte(sha)) {
			d := d
			push = &d
		}
	}
	if push == nil {
		t.Fatal("push delivery not recorded")
	}
	if code := s.replay(*push); code != http.StatusAccepted {
		t.Fatalf("redelivery answered %d", code)
	}
	s.waitSettled("applier")
	if n := len(s.facts("promobot.apply.completed.>")); n != applied {
		t.Errorf("the redelivered push was applied again: %d completed applies, want %d", n, applied)
	}
	if n := len(s.facts("promobot.apply.requested.>")); n != applied {
		t.Errorf("the redelivered push requested %d applies in all, want %d", n, applied)
	}
}

// replay sends a recorded delivery again, headers and bytes unchanged, as
// GitHub's redelivery does.
func (s *stack) replay(d githubapi.Delivery) int {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/webhook", bytes.NewReader(d.Payload))
	for k, v := range d.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBaseChangeUpdatesEveryOverlay(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	base := s.file("kustomize/base/deployment.yaml")
	changed := strings.Replace(base, "containers:", "terminationGracePeriodSeconds: 45\n      containers:", 1)
	if changed == base {
		t.Fatal("base deployment has no containers: key")
	}
	sha := s.mergeChange("grace", "Longer grace period", map[string]string{"kustomize/base/deployment.yaml": changed})
	for _, app := range []string{stagingApp, productionApp} {
		if st := s.waitStatus(sha, app); st.State != "success" {
			t.Errorf("%s: %s %q", app, st.State, st.Description)
		}
	}
	for _, ns := range []string{"staging", "production"} {
		d, _ := deployment(s.home.Client, ns, api)
		if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 45 {
			t.Errorf("%s: grace period %v, want 45", ns, g)
		}
	}
	if rows := s.syncRows(sha); len(rows) != 2 {
		t.Errorf("sync check run rows %+v: want one per affected app (guestbook untouched)", rows)
	}
}

func TestPrune(t *testing.T) {
	// guestbook-staging with prune off, my-api-service with prune on.
	s := startStack(t, stackOptions{files: map[string]string{
		"apps/guestbook-staging.yaml": strings.Replace(readFixture(t, "apps/guestbook-staging.yaml"), "prune: true", "prune: false", 1),
	}})
	s.addUsers()
	s.waitInitialSync()
	c := s.home.Client
	ctx := context.Background()
	kit.Eventually(t, 30*time.Second, "guestbook synced", func() (bool, string) {
		_, err := c.CoreV1().Services("guestbook").Get(ctx, "guestbook", metav1.GetOptions{})
		return err == nil, errString(err)
	})
	baseK := s.file("kustomize/base/kustomization.yaml")
	gbK := s.file("guestbook/kustomization.yaml")
	sha := s.mergeChange("drop-services", "Drop the Services", map[string]string{
		"kustomize/base/kustomization.yaml": strings.Replace(baseK, "  - service.yaml\n", "", 1),
		"guestbook/kustomization.yaml":      strings.Replace(gbK, "- service.yaml\n", "", 1),
	})
	for _, app := range []string{stagingApp, productionApp, "guestbook-staging"} {
		if st := s.waitStatus(sha, app); st.State != "success" {
			t.Fatalf("%s: %s %q", app, st.State, st.Description)
		}
	}
	for _, ns := range []string{"staging", "production"} {
		_, err := c.CoreV1().Services(ns).Get(ctx, api, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s Service not pruned: %v", ns, err)
		}
		if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s gone: %v", ns, err)
		}
	}
	if _, err := c.CoreV1().Services("guestbook").Get(ctx, "guestbook", metav1.GetOptions{}); err != nil {
		t.Errorf("guestbook Service (prune off) was deleted: %v", err)
	}
}

func TestSelfHealRevertsAManualEdit(t *testing.T) {
	s := startStack(t, stackOptions{args: []string{"--drift-interval", "1s"}})
	s.waitInitialSync()
	c := s.home.Client
	ctx := context.Background()
	// What "kubectl scale" or "kubectl edit" does: another field manager.
	patch := []byte(`{"spec":{"replicas":5}}`)
	if _, err := c.AppsV1().Deployments("staging").Patch(ctx, api, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	s.waitDeployment(c, "staging", api, "healed back to 1 replica", func(d *appsv1.Deployment) bool { return replicasOf(d) == 1 })
	kit.Eventually(t, 10*time.Second, "drift facts", func() (bool, string) {
		found, healed := s.facts("promobot.drift.found.>"), s.facts("promobot.drift.healed.>")
		return len(found) > 0 && len(healed) > 0, ""
	})
	// guestbook has selfHeal off: its drift is reported, not reverted.
	if _, err := c.AppsV1().Deployments("guestbook").Patch(ctx, "guestbook", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	kit.Eventually(t, 20*time.Second, "guestbook drift reported", func() (bool, string) {
		for _, f := range s.facts("promobot.drift.found.>") {
			if f["app"] == "guestbook-staging" {
				return true, ""
			}
		}
		return false, ""
	})
	if d, _ := deployment(c, "guestbook", "guestbook"); replicasOf(d) != 3 {
		t.Errorf("guestbook (selfHeal off) was reverted to %d replicas", replicasOf(d))
	}
}

func TestBadOverlaysFailTheCommitAndChangeNothing(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	c := s.home.Client
	before, _ := deployment(c, "staging", api)
	overlay := s.file("kustomize/overlays/staging/kustomization.yaml")
	tests := []struct {
		name, branch string
		files        map[string]string
		want         string
	}{
		{"missing resource", "broken", map[string]string{
			"kustomize/overlays/staging/kustomization.yaml": strings.Replace(overlay, "  - ../../base\n", "  - ../../base\n  - missing.yaml\n", 1)}, "missing.yaml"},
		{"path outside the repository", "escape", map[string]string{
			"kustomize/overlays/staging/kustomization.yaml": strings.Replace(overlay, "  - ../../base\n", "  - ../../base\n  - ../../../../../../etc\n", 1)}, "outside the repository"},
		{"remote base", "remote", map[string]string{
			"kustomize/overlays/staging/kustomization.yaml": strings.Replace(overlay, "  - ../../base\n", "  - ../../base\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n", 1)}, "remote"},
		{"exec plugin", "exec", map[string]string{
			"kustomize/overlays/staging/kustomization.yaml": overlay + "generators:\n  - gen.yaml\n",
			"kustomize/overlays/staging/gen.yaml":           "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n"}, "plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sha := s.mergeChange(tt.branch, tt.name, tt.files)
			st := s.waitStatus(sha, stagingApp)
			if st.State != "failure" || !strings.Contains(strings.ToLower(st.Description), strings.ToLower(tt.want)) {
				t.Errorf("status = %s %q, want failure mentioning %q", st.State, st.Description, tt.want)
			}
			after, _ := deployment(c, "staging", api)
			if after.Generation != before.Generation || image(after) != image(before) {
				t.Errorf("the cluster changed after a failed render: generation %d → %d", before.Generation, after.Generation)
			}
			// Revert for the next case.
			s.mergeChange(tt.branch+"-revert", "revert", revertOf(tt.files, overlay))
		})
	}
}

// revertOf restores the staging overlay and deletes added files.
func revertOf(files map[string]string, overlay string) map[string]string {
	out := map[string]string{}
	for p := range files {
		if p == "kustomize/overlays/staging/kustomization.yaml" {
			out[p] = overlay
		} else {
			out[p] = ""
		}
	}
	return out
}

func TestOutOfOrderPushesEndAtTheNewest(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	// promobot misses both pushes (GitHub records failed deliveries) ...
	s.gh.SetWebhookURL("http://127.0.0.1:1/webhook")
	a, err := s.gh.Push(ctx, owner, repoName, "main", githubapi.Commit{Message: "A", Files: s.bumpOverlay("staging", "1.2.0")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.gh.Push(ctx, owner, repoName, "main", githubapi.Commit{Message: "B", Files: s.bumpOverlay("staging", "1.3.0")})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.gh.WaitDeliveries(ctx)
	s.gh.SetWebhookURL(s.url + "/webhook")
	pushes := map[string]githubapi.Delivery{}
	for _, d := range s.gh.Deliveries() {
		if d.Event == "push" {
			for _, sha := range []string{a, b} {
				if bytes.Contains(d.Payload, []byte(`"after":"`+sha)) {
					pushes[sha] = d
				}
			}
		}
	}
	if len(pushes) != 2 {
		t.Fatalf("recorded push deliveries: %d", len(pushes))
	}
	// ... and they are redelivered newest first.
	s.replay(pushes[b])
	if st := s.waitStatus(b, stagingApp); st.State != "success" {
		t.Fatalf("B: %s %q", st.State, st.Description)
	}
	s.replay(pushes[a])
	kit.Eventually(t, 30*time.Second, "A skipped", func() (bool, string) {
		for _, f := range s.facts("promobot.apply.skipped.>") {
			if f["commit"] == a {
				return true, ""
			}
		}
		return false, ""
	})
	if d, _ := deployment(s.home.Client, "staging", api); image(d) != imageRepo+":1.3.0" {
		t.Errorf("staging runs %s, want B's 1.3.0", image(d))
	}
}

func TestTwoClustersFromOneRepository(t *testing.T) {
	dr := startCluster(t)
	const drServer = "https://dr.example.internal:6443"
	app := strings.NewReplacer("my-api-service-production", "my-api-service-dr", "https://kubernetes.default.svc", drServer).
		Replace(readFixture(t, "apps/my-api-service-production.yaml"))
	// The operator names the second cluster's credentials; the repository
	// only names its destination.
	s := startStack(t, stackOptions{
		files: map[string]string{"apps/my-api-service-dr.yaml": app},
		args:  []string{"--cluster-kubeconfig", drServer + "=" + dr.Kubeconfig},
	})
	s.waitInitialSync()
	d := s.waitDeployment(dr.Client, "production", api, "in the second cluster", func(d *appsv1.Deployment) bool { return replicasOf(d) == 10 })
	if d.Labels["promobot.dev/app"] != "my-api-service-dr" {
		t.Errorf("second cluster's Deployment labels = %v", d.Labels)
	}
	if _, err := deployment(dr.Client, "staging", api); !apierrors.IsNotFound(err) {
		t.Errorf("staging applied to the second cluster: %v", err)
	}
}

func readFixture(t *testing.T, p string) string {
	t.Helper()
	raw, err := readFile(fixtureDir(t), p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSyncRebuildsAnEmptyCluster(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.waitInitialSync()
	dr := startCluster(t) // the new, empty cluster
	cmd := exec.Command(promobotBin, "sync", "--repo", owner+"/"+repoName,
		"--kubeconfig", dr.Kubeconfig, "--nats-url", s.natsURL, "--data-dir", s.dataDir(), "--health-timeout", "20s",
		"--app-id", fmt.Sprint(s.gh.AppID()), "--private-key-file", filepath.Join(s.dir, "app.pem"), "--github-url", s.gh.URL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promobot sync: %v\n%s", err, out)
	}
	for _, want := range []string{"syncing my-org/cluster-config", "guestbook-staging", "my-api-service-production", "[3/3]", "applied", "3 apps synced", "0 failed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sync output lacks %q:\n%s", want, out)
		}
	}
	for ns, n := range map[string]int32{"staging": 1, "production": 10} {
		d, err := deployment(dr.Client, ns, api)
		if err != nil || replicasOf(d) != n || image(d) != imageRepo+":1.0.0" {
			t.Errorf("rebuilt %s: %v replicas %d image %s", ns, err, replicasOf(d), image(d))
		}
	}
	if _, err := deployment(dr.Client, "guestbook", "guestbook"); err != nil {
		t.Errorf("guestbook not rebuilt: %v", err)
	}

	// A repository the App is not installed on is a clear error.
	cmd = exec.Command(promobotBin, "sync", "--repo", owner+"/elsewhere", "--kubeconfig", dr.Kubeconfig, "--nats-url", s.natsURL, "--data-dir", s.dataDir(),
		"--app-id", fmt.Sprint(s.gh.AppID()), "--private-key-file", filepath.Join(s.dir, "app.pem"), "--github-url", s.gh.URL())
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not installed") {
		t.Errorf("sync of an uninstalled repository: %v\n%s", err, out)
	}
}

// TestAppsPinnedToAnotherRevisionAreNotApplied: an Application whose
// targetRevision is a tag is not applied from the default branch.
func TestAppsPinnedToAnotherRevisionAreNotApplied(t *testing.T) {
	pinned := strings.NewReplacer("my-api-service-production", "my-api-service-pinned", "targetRevision: main", "targetRevision: v0.9.0", "namespace: production", "namespace: pinned").
		Replace(readFixture(t, "apps/my-api-service-production.yaml"))
	if !strings.Contains(pinned, "targetRevision: v0.9.0") {
		t.Fatal("fixture Application has no targetRevision: main")
	}
	s := startStack(t, stackOptions{files: map[string]string{"apps/my-api-service-pinned.yaml": pinned}})
	s.waitInitialSync()
	kit.Eventually(t, 30*time.Second, "the install sync to finish", func() (bool, string) {
		n := len(s.facts("promobot.apply.completed.>"))
		return n >= 3, fmt.Sprintf("%d applies completed", n)
	})
	s.waitSettled("applier")
	if n := len(s.facts("promobot.apply.requested.>")); n != 3 {
		t.Errorf("%d applies requested at install, want 3 (the pinned app is not one)", n)
	}
	if _, err := deployment(s.home.Client, "pinned", api); !apierrors.IsNotFound(err) {
		t.Errorf("the pinned app was applied from main: %v", err)
	}
}
