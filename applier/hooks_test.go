package applier

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// TestSyncRunsHooks: a plain-directory app with a generateName PreSync
// Job syncs through the applier: its objects wait for the hook, which the
// render names afresh and HookSucceeded deletes.
func TestSyncRunsHooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{Write: func(t *testing.T, dir, repoURL string) {
		writeFixture(t, dir, repoURL)
		files := map[string]string{
			"apps/migrations.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: migrations, namespace: argocd}
spec:
  source: {repoURL: '` + repoURL + `', targetRevision: main, path: migrations}
  destination: {server: 'https://kubernetes.default.svc', namespace: migrations}
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
`,
			"migrations/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: migrate:1}]
`,
			"migrations/schema.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: schema}\ndata: {version: \"2\"}\n",
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
	}})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second, DriftInterval: time.Hour})
	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		outcomes []Outcome
		err      error
	}
	done := make(chan result, 1)
	go func() {
		out, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil)
		done <- result{out, err}
	}()

	jobs := env.home.Client.BatchV1().Jobs("migrations")
	var job string
	kit.EventuallyTrue(t, time.Minute, "the PreSync Job runs", func() bool {
		list, err := jobs.List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 1 && strings.HasPrefix(list.Items[0].Name, "migrate-") {
			job = list.Items[0].Name
		}
		return job != ""
	})
	if _, err := env.home.Client.CoreV1().ConfigMaps("migrations").Get(ctx, "schema", metav1.GetOptions{}); err == nil {
		t.Fatal("the app was applied before its PreSync hook completed")
	}
	if err := env.home.CompleteJob(ctx, "migrations", job); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got string
	for _, o := range r.outcomes {
		if o.App == "migrations" {
			got = o.State + " " + o.Summary + " " + o.Error
		}
	}
	if !strings.HasPrefix(got, StateApplied+" ") {
		t.Errorf("migrations outcome = %q, want applied", got)
	}
	if _, err := env.home.Client.CoreV1().ConfigMaps("migrations").Get(ctx, "schema", metav1.GetOptions{}); err != nil {
		t.Errorf("the app's ConfigMap after the sync: %v", err)
	}
	if list, err := jobs.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("Jobs left after HookSucceeded: %v, %v", list, err)
	}
}
