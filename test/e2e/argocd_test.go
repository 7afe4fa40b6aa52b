package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// completeJobs stands in for the Job controller the harness lacks: every
// Job in namespace completes as soon as it exists.
func completeJobs(ctx context.Context, c kubernetes.Interface, namespace string) {
	for ctx.Err() == nil {
		jobs, err := c.BatchV1().Jobs(namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, j := range jobs.Items {
				if !jobDone(j) {
					_ = kube.CompleteJob(ctx, c, namespace, j.Name)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func jobDone(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed {
			return true
		}
	}
	return false
}

// The repository in the shape of Argo CD's own example repository: the
// root is a Helm chart rendering the Applications; a Helm app, a plain
// directory, a kustomization, sync waves, hooks, a multi-source app and an
// ApplicationSet all deploy at install. A merge changing the Helm app's
// production values deploys it; a new directory under the ApplicationSet's
// generator path makes a new app; /promote on the Helm app edits only the
// image tag in production's values file, and merging it deploys it.
func TestArgoCDExampleRepository(t *testing.T) {
	fixture, err := filepath.Abs(filepath.Join("..", "fixtures", "argocd-example"))
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{fixture: fixture, fixtureURL: "https://github.com/my-org/argocd-example.git", args: []string{"--drift-interval", "1s"}})
	s.addUsers()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := s.home.Client
	go completeJobs(ctx, c, "pre-post-sync")

	branches, err := s.gh.Branches(ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	head := branches["main"]
	for _, app := range []string{"helm-guestbook-staging", "helm-guestbook-production", "helm-guestbook-multi-source", "guestbook",
		"kustomize-guestbook", "sync-waves", "pre-post-sync", "blue", "green"} {
		if st := s.waitStatus(head, app); st.State != "success" {
			t.Errorf("%s at install: %s %q", app, st.State, st.Description)
		}
	}
	for ns, name := range map[string]string{"staging": "helm-guestbook-staging", "production": "helm-guestbook-production",
		"multi-source": "helm-guestbook-multi-source", "blue": "blue", "green": "green", "pre-post-sync": "pre-post-sync"} {
		if _, err := deployment(c, ns, name); err != nil {
			t.Errorf("Deployment %s/%s: %v", ns, name, err)
		}
	}
	// Sync waves: each wave applied once the one before is healthy. etcd's
	// revisions order the writes: the wave -1 ConfigMap, the Deployment's
	// last write (its rollout, marked healthy), the wave 1 Service, the
	// wave 2 ConfigMap.
	rv := func(get func() (metav1.Object, error)) int64 {
		t.Helper()
		o, err := get()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(o.GetResourceVersion(), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const ns = "sync-waves"
	order := []int64{
		rv(func() (metav1.Object, error) {
			return c.CoreV1().ConfigMaps(ns).Get(ctx, "sync-waves-config", metav1.GetOptions{})
		}),
		rv(func() (metav1.Object, error) {
			return c.AppsV1().Deployments(ns).Get(ctx, "sync-waves", metav1.GetOptions{})
		}),
		rv(func() (metav1.Object, error) {
			return c.CoreV1().Services(ns).Get(ctx, "sync-waves", metav1.GetOptions{})
		}),
		rv(func() (metav1.Object, error) {
			return c.CoreV1().ConfigMaps(ns).Get(ctx, "sync-waves-done", metav1.GetOptions{})
		}),
	}
	if !slices.IsSorted(order) {
		t.Errorf("sync-waves objects written out of wave order: resource versions %v (config, deployment, service, done)", order)
	}

	// The PostSync hook was deleted once it succeeded; the PreSync one is
	// kept until the next sync replaces it (BeforeHookCreation).
	kit.Eventually(t, 30*time.Second, "the PostSync hook deleted", func() (bool, string) {
		jobs, err := c.BatchV1().Jobs("pre-post-sync").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var names []string
		for _, j := range jobs.Items {
			names = append(names, j.Name)
		}
		return strings.Join(names, ",") == "before", strings.Join(names, ",")
	})

	// ignoreDifferences: the Helm apps leave /spec/replicas to an
	// autoscaler. Someone scales staging and swaps its image: self-heal
	// takes the image back and leaves the replicas.
	patch := []byte(`[{"op":"replace","path":"/spec/replicas","value":5},` +
		`{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"ghcr.io/acme/helm-guestbook:evil"}]`)
	if _, err := c.AppsV1().Deployments("staging").Patch(ctx, "helm-guestbook-staging", types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	healed := s.waitDeployment(c, "staging", "helm-guestbook-staging", "image healed", func(d *appsv1.Deployment) bool {
		return image(d) == "ghcr.io/acme/helm-guestbook:1.0.0"
	})
	if replicasOf(healed) != 5 {
		t.Errorf("self-heal took the ignored replicas back to %d, want the 5 someone set", replicasOf(healed))
	}

	// Production's values: a CPU request of 100m → 200m.
	values := s.file("helm-guestbook/values-production.yaml")
	sha := s.mergeChange("prod-cpu", "Production requests 200m", map[string]string{
		"helm-guestbook/values-production.yaml": strings.Replace(values, "cpu: 100m", "cpu: 200m", 1)})
	if st := s.waitStatus(sha, "helm-guestbook-production"); st.State != "success" {
		t.Fatalf("helm-guestbook-production after the merge: %+v", st)
	}
	s.waitDeployment(c, "production", "helm-guestbook-production", "requesting 200m", func(d *appsv1.Deployment) bool {
		return d.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String() == "200m"
	})
	// Every app of the chart's directory is synced, as Argo CD refreshes
	// them; only production changes.
	for _, row := range s.syncRows(sha) {
		if changed := !strings.HasSuffix(row.Detail, "unchanged") || strings.Contains(row.Detail, "configured"); changed != (row.App == "helm-guestbook-production") {
			t.Errorf("after the production values change: %+v", row)
		}
	}

	// A new directory under appset-apps/ is a new app.
	blue := s.file("appset-apps/blue/deployment.yaml")
	sha = s.mergeChange("red", "Add red", map[string]string{"appset-apps/red/deployment.yaml": strings.ReplaceAll(blue, "blue", "red")})
	if st := s.waitStatus(sha, "red"); st.State != "success" {
		t.Fatalf("red after the merge: %+v", st)
	}
	s.waitDeployment(c, "red", "red", "from the new directory", func(d *appsv1.Deployment) bool { return true })

	// Staging's image to 1.1.0, then /promote.
	staging := s.file("helm-guestbook/values-staging.yaml")
	n := s.openChange("stage-1.1.0", "Staging runs 1.1.0", map[string]string{
		"helm-guestbook/values-staging.yaml": strings.Replace(staging, `tag: "1.0.0"`, `tag: "1.1.0"`, 1)})
	sha = s.merge(n)
	if st := s.waitStatus(sha, "helm-guestbook-staging"); st.State != "success" {
		t.Fatalf("staging after the merge: %+v", st)
	}
	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote helm-guestbook"); err != nil {
		t.Fatal(err)
	}
	var pr githubapi.PullRequest
	kit.Eventually(t, time.Minute, "the Helm app's promotion pull request", func() (bool, string) {
		prs, err := s.gh.PRs(owner, repoName)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range prs {
			if p.Head == "promobot/promote/helm-guestbook/production" && p.State == "open" {
				pr = p
				return true, ""
			}
		}
		return false, "none yet"
	})
	raw, err := s.gh.File(ctx, owner, repoName, pr.Head, "helm-guestbook/values-production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prodValues := string(raw)
	want := strings.Replace(s.file("helm-guestbook/values-production.yaml"), `tag: "1.0.0"`, `tag: "1.1.0"`, 1)
	if prodValues != want {
		t.Errorf("values-production.yaml on the promotion branch:\n%s\nwant only the tag changed:\n%s", prodValues, want)
	}
	kit.Eventually(t, 30*time.Second, "the promotion's rendered diff", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, pr.Number)
		if err != nil {
			return false, err.Error()
		}
		for _, cm := range cs {
			if cm.Bot && strings.Contains(cm.Body, `+        image: "ghcr.io/acme/helm-guestbook:1.1.0"`) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", cs)
	})
	merged := s.merge(pr.Number)
	if st := s.waitStatus(merged, "helm-guestbook-production"); st.State != "success" {
		t.Fatalf("production after the promotion: %+v", st)
	}
	s.waitDeployment(c, "production", "helm-guestbook-production", "promoted", func(d *appsv1.Deployment) bool {
		return image(d) == "ghcr.io/acme/helm-guestbook:1.1.0"
	})
}
