package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
)

// isolationProjects is the operator's projects file of TestRepositoriesAreIsolated:
// team-a and team-b each own their namespaces and share "shared"; only
// team-b may deploy to the edge cluster.
const isolationProjects = `clusters:
  - name: edge
    server: https://edge.example.internal:6443
    kubeconfig: %s
projects:
  - name: team-a
    repos: [team-a/*]
    destinations:
      - {cluster: in-cluster, namespace: team-a}
      - {cluster: in-cluster, namespace: shared}
    clusterResources: [{kind: Namespace}]
  - name: team-b
    repos: [team-b/*]
    destinations:
      - {cluster: in-cluster, namespace: "team-b*"}
      - {cluster: in-cluster, namespace: shared}
      - {cluster: edge, namespace: "*"}
    clusterResources: [{kind: Namespace}]
`

// TestRepositoriesAreIsolated: two repositories installed on one promobot,
// each in its own project. Neither deploys into the other's namespaces or
// clusters, nor into promobot's own namespace, nor takes over or prunes the
// other's objects; each attempt fails that app's status with the reason
// and applies nothing of it.
func TestRepositoriesAreIsolated(t *testing.T) {
	ctx := context.Background()
	edge := startCluster(t)
	projects := filepath.Join(t.TempDir(), "projects.yaml")
	if err := os.WriteFile(projects, []byte(fmt.Sprintf(isolationProjects, edge.Kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{noInstall: true, args: []string{"--projects-file", projects, "--namespace", "promobot"}})
	url := func(owner string) string { return s.gh.WebURL() + "/" + owner + "/gitops.git" }

	aHead := s.createRepo("team-a", map[string]string{
		"apps/web-a.yaml":           application("web-a", url("team-a"), "web", inClusterServer, "team-a"),
		"apps/a-into-b.yaml":        application("a-into-b", url("team-a"), "web", inClusterServer, "team-b"),
		"apps/a-into-promobot.yaml": application("a-into-promobot", url("team-a"), "web", inClusterServer, "promobot"),
		"apps/a-edge.yaml":          application("a-edge", url("team-a"), "web", edgeServer, "team-a"),
		"web/kustomization.yaml":    "resources: [configmap.yaml]\n",
		"web/configmap.yaml":        configMap("web-a-settings", "", "info"),
	})
	bHead := s.createRepo("team-b", map[string]string{
		"apps/settings-b.yaml":        application("settings-b", url("team-b"), "settings", inClusterServer, "shared"),
		"apps/b-edge.yaml":            application("b-edge", url("team-b"), "settings", edgeServer, "team-b-edge"),
		"apps/b-into-a.yaml":          application("b-into-a", url("team-b"), "settings", inClusterServer, "team-a"),
		"settings/kustomization.yaml": "resources: [configmap.yaml]\n",
		"settings/configmap.yaml":     configMap("settings", "", "info"),
	})
	for _, owner := range []string{"team-a", "team-b"} {
		if _, err := s.gh.Install(ctx, owner, "gitops"); err != nil {
			t.Fatal(err)
		}
	}

	type status struct{ State, Description string }
	check := func(owner, sha, app string, want status) {
		t.Helper()
		st := s.repoStatus(owner, sha, app)
		if got := (status{st.State, st.Description}); got != want {
			t.Errorf("%s/gitops promobot/%s on %s = %+v, want %+v", owner, app, sha[:7], got, want)
		}
	}
	// Installing syncs both: each app within its project applies (its
	// Namespace and its ConfigMap), each reach outside it fails with the
	// reason.
	check("team-a", aHead, "web-a", status{"success", "applied: 2 created"})
	check("team-a", aHead, "a-into-b", status{"failure", "cluster https://kubernetes.default.svc: destination namespace team-b is not allowed for team-a/gitops (project team-a)"})
	check("team-a", aHead, "a-into-promobot", status{"failure", "cluster https://kubernetes.default.svc: destination namespace promobot (promobot's own) is not allowed for team-a/gitops (project team-a)"})
	check("team-a", aHead, "a-edge", status{"failure", "cluster https://edge.example.internal:6443: cluster edge is not allowed for team-a/gitops (project team-a)"})
	check("team-b", bHead, "settings-b", status{"success", "applied: 2 created"})
	check("team-b", bHead, "b-edge", status{"success", "applied: 2 created"})
	check("team-b", bHead, "b-into-a", status{"failure", "cluster https://kubernetes.default.svc: destination namespace team-a is not allowed for team-b/gitops (project team-b)"})
	if _, err := edge.Client.CoreV1().ConfigMaps("team-b-edge").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("team-b's app in the edge cluster: %v", err)
	}
	for _, ns := range []string{"team-b", "promobot"} {
		if _, err := s.home.Client.CoreV1().ConfigMaps(ns).Get(ctx, "web-a-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("team-a's ConfigMap in namespace %s: %v", ns, err)
		}
	}
	if _, err := edge.Client.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("team-a's namespace in the edge cluster: %v", err)
	}

	push := func(owner, msg string, files map[string]string) string {
		t.Helper()
		sha, err := s.gh.Push(ctx, owner, "gitops", "main", githubapi.Commit{Message: msg, Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	// team-a renders team-b's ConfigMap in the namespace both may use.
	sha := push("team-a", "Take over the shared settings", map[string]string{
		"web/configmap.yaml": configMap("web-a-settings", "", "info") + "---\n" + configMap("web-a-extra", "", "info") + "---\n" + configMap("settings", "shared", "stolen"),
	})
	check("team-a", sha, "web-a", status{"failure", "cluster https://kubernetes.default.svc: ConfigMap/shared/settings belongs to app settings-b of team-b/gitops"})
	// team-a names team-b's namespace in an object of its own app.
	sha = push("team-a", "Reach into team-b", map[string]string{
		"web/configmap.yaml": configMap("web-a-settings", "", "info") + "---\n" + configMap("sneaky", "team-b", "info"),
	})
	check("team-a", sha, "web-a", status{"failure", "cluster https://kubernetes.default.svc: ConfigMap/team-b/sneaky: namespace team-b is not allowed for team-a/gitops (project team-a)"})
	// team-a goes back to its own render: whatever its earlier renders
	// named, it prunes nothing of team-b's.
	sha = push("team-a", "Back to our own settings", map[string]string{"web/configmap.yaml": configMap("web-a-settings", "", "debug")})
	check("team-a", sha, "web-a", status{"success", "applied: 1 configured"})

	for _, ref := range []struct{ ns, name string }{{"team-a", "web-a-extra"}, {"team-b", "sneaky"}} {
		if _, err := s.home.Client.CoreV1().ConfigMaps(ref.ns).Get(ctx, ref.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s/%s of a refused render exists: %v", ref.ns, ref.name, err)
		}
	}
	cm, err := s.home.Client.CoreV1().ConfigMaps("shared").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("team-b's ConfigMap: %v", err)
	}
	owner := cm.Labels["promobot.dev/app"] + " of " + cm.Labels["promobot.dev/repo"]
	if cm.Data["LOG_LEVEL"] != "info" || owner != "settings-b of team-b.gitops" {
		t.Errorf("team-b's ConfigMap: LOG_LEVEL %q, owned by %s", cm.Data["LOG_LEVEL"], owner)
	}
	var managers []string
	for _, mf := range cm.ManagedFields {
		managers = append(managers, mf.Manager)
	}
	if strings.Join(managers, ",") != "promobot/team-b/gitops/settings-b" {
		t.Errorf("team-b's ConfigMap field managers: %v", managers)
	}
}

// TestMassPruneNeedsConsent: a merge that cuts an app from five objects to
// one applies the one and fails the status saying what prune would have
// deleted, which stays in the cluster; once .promobot.yaml allows it for
// that app, the next apply prunes.
func TestMassPruneNeedsConsent(t *testing.T) {
	ctx := context.Background()
	s := startStack(t, stackOptions{noInstall: true})
	url := s.gh.WebURL() + "/team-a/gitops.git"
	var five []string
	for i := range 5 {
		five = append(five, configMap(fmt.Sprintf("cm-%d", i), "", "info"))
	}
	head := s.createRepo("team-a", map[string]string{
		"apps/jobs.yaml":          application("jobs", url, "jobs", inClusterServer, "jobs"),
		"jobs/kustomization.yaml": "resources: [configmaps.yaml]\n",
		"jobs/configmaps.yaml":    strings.Join(five, "---\n"),
	})
	if _, err := s.gh.Install(ctx, "team-a", "gitops"); err != nil {
		t.Fatal(err)
	}
	if st := s.repoStatus("team-a", head, "jobs"); st.State != "success" {
		t.Fatalf("initial sync: %s %q", st.State, st.Description)
	}
	left := func() int {
		t.Helper()
		list, err := s.home.Client.CoreV1().ConfigMaps("jobs").List(ctx, metav1.ListOptions{LabelSelector: "promobot.dev/app=jobs"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}

	cut, err := s.gh.Push(ctx, "team-a", "gitops", "main", githubapi.Commit{Message: "Keep one job",
		Files: map[string]string{"jobs/configmaps.yaml": configMap("cm-0", "", "debug")}})
	if err != nil {
		t.Fatal(err)
	}
	st := s.repoStatus("team-a", cut, "jobs")
	want := `cluster https://kubernetes.default.svc: prune refused: would delete 4 of 5 objects; add a line "promobot: allow-mass-prune" to the commit message or set prune.allowMass in .promobot.yaml to allow it`
	if st.State != "failure" || st.Description != clipStatus(want) {
		t.Errorf("status of the cut = %s %q, want failure %q", st.State, st.Description, clipStatus(want))
	}
	cm, err := s.home.Client.CoreV1().ConfigMaps("jobs").Get(ctx, "cm-0", metav1.GetOptions{})
	if err != nil || cm.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("the rendered object was not applied: %v %v", err, cm.Data)
	}
	if n := left(); n != 5 {
		t.Errorf("%d ConfigMaps left after a refused prune, want 5", n)
	}

	allow, err := s.gh.Push(ctx, "team-a", "gitops", "main", githubapi.Commit{Message: "Allow the jobs to shrink",
		Files: map[string]string{".promobot.yaml": "apps:\n  jobs:\n    allowMassPrune: true\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.repoStatus("team-a", allow, "jobs"); st.State != "success" || !strings.Contains(st.Description, "4 pruned") {
		t.Errorf("status once allowed = %s %q, want success with 4 pruned", st.State, st.Description)
	}
	if n := left(); n != 1 {
		t.Errorf("%d ConfigMaps left once allowed, want 1", n)
	}
}

// clipStatus shortens s as an app's row in the sync check run does.
func clipStatus(s string) string {
	// An app's row in the sync check run shows up to 500 characters.
	if r := []rune(s); len(r) > 500 {
		return string(r[:499]) + "…"
	}
	return s
}
