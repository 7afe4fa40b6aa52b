package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/test/kit"
)

var (
	jobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// wavedRender has a ConfigMap in wave -1, a Deployment in wave 0 and a
// ConfigMap in wave 1.
const wavedRender = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {argocd.argoproj.io/sync-wave: "-1"}
data: {A: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:17}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after-db
  annotations: {argocd.argoproj.io/sync-wave: "1"}
data: {B: "2"}
`

type applied struct {
	res cluster.Result
	err error
}

// applyAsync runs Apply in the background; the channel gets its outcome.
func applyAsync(c *cluster.Cluster, yaml []byte, prev cluster.Inventory, o cluster.Options, t *testing.T, ns string) <-chan applied {
	t.Helper()
	// kustomize.Objects, as the applier decodes renders: it keeps objects
	// with only a generateName.
	objs, err := kustomize.Objects([]byte(strings.ReplaceAll(string(yaml), "%[1]s", ns)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan applied, 1)
	go func() {
		res, err := c.Apply(context.Background(), objs, prev, o)
		done <- applied{res, err}
	}()
	return done
}

func exists(t *testing.T, gvr schema.GroupVersionResource, ns, name string) bool {
	_, ok := get(t, gvr, ns, name)
	return ok
}

func resourceVersion(t *testing.T, gvr schema.GroupVersionResource, ns, name string) int {
	t.Helper()
	u, ok := get(t, gvr, ns, name)
	if !ok {
		t.Fatalf("%s %s/%s not found", gvr.Resource, ns, name)
	}
	n, err := strconv.Atoi(u.GetResourceVersion())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestApplyWavesInOrder proves the wait between waves: wave 1 is absent
// while wave 0's Deployment is not rolled out, and created after it is.
func TestApplyWavesInOrder(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	o := opts(ns)
	o.HealthTimeout = 30 * time.Second

	done := applyAsync(c, []byte(wavedRender), cluster.Inventory{}, o, t, ns)
	kit.EventuallyTrue(t, 10*time.Second, "wave 0's Deployment is applied", func() bool { return exists(t, deployments, ns, "db") })
	if !exists(t, configMaps, ns, "settings") {
		t.Error("wave -1's ConfigMap is absent once wave 0 is applied")
	}
	if exists(t, configMaps, ns, "after-db") {
		t.Fatal("wave 1's ConfigMap was applied before wave 0 was healthy")
	}
	select {
	case a := <-done:
		t.Fatalf("Apply returned before wave 0 was healthy: %v", a.err)
	default:
	}
	if err := kc.MarkRolledOut(ctx, "Deployment", ns, "db"); err != nil {
		t.Fatal(err)
	}
	rolledOut := resourceVersion(t, deployments, ns, "db")
	a := <-done
	if a.err != nil {
		t.Fatalf("apply: %v", a.err)
	}
	if got := resourceVersion(t, configMaps, ns, "after-db"); got <= rolledOut {
		t.Errorf("wave 1 created at resourceVersion %d, not after wave 0 rolled out (%d)", got, rolledOut)
	}
	want := []string{"ConfigMap/" + ns + "/after-db", "ConfigMap/" + ns + "/settings", "Deployment/" + ns + "/db"}
	if diff := cmp.Diff(want, subjects(a.res.Inventory)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
}

// TestApplyWaveTimeoutNamesTheWave: a wave that does not become healthy
// fails the apply naming the wave and the object; later waves never apply.
func TestApplyWaveTimeoutNamesTheWave(t *testing.T) {
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	o := opts(ns)
	o.HealthTimeout = time.Second

	_, err := c.Apply(context.Background(), render(t, wavedRender, ns), cluster.Inventory{}, o)
	var herr *cluster.HealthError
	if !errors.As(err, &herr) || !herr.TimedOut {
		t.Fatalf("err = %v, want a timed-out *HealthError", err)
	}
	if want := "sync wave 0: health: 1 object(s) not healthy before the timeout: Deployment/" + ns + "/db InProgress"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want it to start with %q", err, want)
	}
	if exists(t, configMaps, ns, "after-db") {
		t.Error("wave 1 was applied after wave 0 timed out")
	}
}

const hookedRender = `
apiVersion: batch/v1
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
---
apiVersion: batch/v1
kind: Job
metadata:
  name: notify
  annotations:
    helm.sh/hook: post-install,post-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: notify, image: notify:1}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: skipped
  annotations: {argocd.argoproj.io/hook: Skip}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: x, image: x:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api:1}]
`

// jobNamed returns the name of the one Job whose name starts with prefix,
// or "".
func jobNamed(t *testing.T, ns, prefix string) string {
	t.Helper()
	list, err := kc.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range list.Items {
		if strings.HasPrefix(j.Name, prefix) && j.DeletionTimestamp == nil {
			return j.Name
		}
	}
	return ""
}

// syncHooked drives one apply of hookedRender through its phases, checking
// each runs only after the one before, and returns the PreSync Job's name.
// before is the UID of the PostSync Job of the sync before, if any.
func syncHooked(t *testing.T, c *cluster.Cluster, ns string, o cluster.Options, before types.UID) (string, cluster.Result) {
	t.Helper()
	ctx := context.Background()
	done := applyAsync(c, []byte(hookedRender), cluster.Inventory{}, o, t, ns)
	var migrate string
	kit.EventuallyTrue(t, 10*time.Second, "the PreSync Job runs", func() bool { migrate = jobNamed(t, ns, "migrate-"); return migrate != "" })
	if before == "" && exists(t, deployments, ns, "api") {
		t.Fatal("the Deployment was applied before the PreSync hook completed")
	}
	if notify, ok := get(t, jobs, ns, "notify"); ok && notify.GetUID() != before {
		t.Fatal("the PostSync hook ran before the PreSync hook completed")
	}
	if err := kc.CompleteJob(ctx, ns, migrate); err != nil {
		t.Fatal(err)
	}
	if before == "" {
		kit.EventuallyTrue(t, 10*time.Second, "the Deployment is applied", func() bool { return exists(t, deployments, ns, "api") })
		if exists(t, jobs, ns, "notify") {
			t.Fatal("the PostSync hook ran before the Deployment was healthy")
		}
		if err := kc.MarkRolledOut(ctx, "Deployment", ns, "api"); err != nil {
			t.Fatal(err)
		}
	}
	kit.EventuallyTrue(t, 10*time.Second, "the PostSync Job runs", func() bool {
		notify, ok := get(t, jobs, ns, "notify")
		return ok && notify.GetUID() != before
	})
	if err := kc.CompleteJob(ctx, ns, "notify"); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil {
		t.Fatalf("apply: %v", a.err)
	}
	return migrate, a.res
}

// TestApplyHooks runs PreSync, then the app, then PostSync; hooks are
// deleted per policy, never in the inventory, generateName hooks get a
// fresh name per sync and BeforeHookCreation replaces the last run.
func TestApplyHooks(t *testing.T) {
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	o := opts(ns)
	o.HealthTimeout = 30 * time.Second
	o.Prune = true

	migrate, res := syncHooked(t, c, ns, o, "")
	if exists(t, jobs, ns, migrate) {
		t.Error("the PreSync hook with HookSucceeded was not deleted")
	}
	first, _ := get(t, jobs, ns, "notify")
	if first == nil {
		t.Fatal("the PostSync hook with the default policy (BeforeHookCreation) is gone after the sync")
	}
	if exists(t, jobs, ns, "skipped") {
		t.Error("a Skip hook was applied")
	}
	wantHooks := []cluster.HookRun{
		{Object: cluster.ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: ns, Name: migrate}, Phase: "PreSync", Status: "Current", Deleted: true},
		{Object: cluster.ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: ns, Name: "notify"}, Phase: "PostSync", Status: "Current"},
	}
	if diff := cmp.Diff(wantHooks, res.Hooks); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Deployment/" + ns + "/api"}, subjects(res.Inventory)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}

	again, res := syncHooked(t, c, ns, o, first.GetUID())
	if again == migrate {
		t.Errorf("the generateName hook kept its name %s", migrate)
	}
	if res.ChangeSet.Changed() {
		t.Errorf("the second sync changed the app, whose render is the same (hooks are no change of it): %s", res.ChangeSet)
	}
	// Hooks are no state of the app: deleted ones are not drift.
	objs, err := kustomize.Objects([]byte(hookedRender))
	if err != nil {
		t.Fatal(err)
	}
	if drift, err := c.Drift(context.Background(), objs, o); err != nil || len(drift) != 0 {
		t.Errorf("drift after the sync: %v, %v", drift, err)
	}
}

// TestApplySyncFailHooks: a failing PreSync hook fails the sync before
// the app is applied, is deleted by HookFailed, and the SyncFail hook runs.
func TestApplySyncFailHooks(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	o := opts(ns)
	o.HealthTimeout = 30 * time.Second
	yaml := `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookFailed}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: migrate:1}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: page-oncall
  annotations: {argocd.argoproj.io/hook: SyncFail}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: page, image: page:1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {A: "1"}
`
	done := applyAsync(c, []byte(yaml), cluster.Inventory{}, o, t, ns)
	kit.EventuallyTrue(t, 10*time.Second, "the PreSync Job runs", func() bool { return exists(t, jobs, ns, "migrate") })
	if exists(t, jobs, ns, "page-oncall") {
		t.Fatal("the SyncFail hook ran before anything failed")
	}
	if err := kc.FailJob(ctx, ns, "migrate"); err != nil {
		t.Fatal(err)
	}
	kit.EventuallyTrue(t, 10*time.Second, "the SyncFail Job runs", func() bool { return exists(t, jobs, ns, "page-oncall") })
	if err := kc.CompleteJob(ctx, ns, "page-oncall"); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err == nil || !strings.HasPrefix(a.err.Error(), "PreSync hooks, wave 0: health: 1 object(s) failed: Job/"+ns+"/migrate Failed") {
		t.Fatalf("err = %v, want the PreSync hook's failure", a.err)
	}
	if exists(t, configMaps, ns, "app") {
		t.Error("the app was applied after its PreSync hook failed")
	}
	if exists(t, jobs, ns, "migrate") {
		t.Error("the failed hook with HookFailed was not deleted")
	}
	var phases []string
	for _, h := range a.res.Hooks {
		phases = append(phases, h.Phase+" "+h.Object.Name+" "+h.Status)
	}
	if diff := cmp.Diff([]string{"PreSync migrate Failed", "SyncFail page-oncall Current"}, phases); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
}

// TestApplyHookPodWaitsForSuccess: a hook Pod is done when it succeeded,
// not when it is running and ready (which makes a Pod of the app healthy).
func TestApplyHookPodWaitsForSuccess(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	// Count the apply's reads of the hook Pod.
	var reads atomic.Int64
	cfg := rest.CopyConfig(kc.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/pods/smoke") {
				reads.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
	c := newCluster(t, cfg)
	o := opts(ns)
	o.HealthTimeout = 30 * time.Second
	yaml := `
apiVersion: v1
kind: Pod
metadata:
  name: smoke
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookFailed}
spec:
  restartPolicy: Never
  containers: [{name: smoke, image: smoke:1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {A: "1"}
`
	done := applyAsync(c, []byte(yaml), cluster.Inventory{}, o, t, ns)
	kit.EventuallyTrue(t, 10*time.Second, "the hook Pod is created", func() bool { return exists(t, pods, ns, "smoke") })
	setPod := func(phase corev1.PodPhase, ready corev1.ConditionStatus) {
		t.Helper()
		p, err := kc.Client.CoreV1().Pods(ns).Get(ctx, "smoke", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		p.Status = corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: now}}}
		if _, err := kc.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setPod(corev1.PodRunning, corev1.ConditionTrue)
	// Two more reads: the apply saw the Pod running and ready at least once
	// and still waits for it.
	after := reads.Load()
	kit.EventuallyTrue(t, 10*time.Second, "the apply reads the running hook Pod again", func() bool { return reads.Load() >= after+2 })
	if exists(t, configMaps, ns, "app") {
		t.Fatal("the app was applied while its hook Pod was running")
	}
	setPod(corev1.PodSucceeded, corev1.ConditionFalse)
	succeeded := resourceVersion(t, pods, ns, "smoke")
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if got := resourceVersion(t, configMaps, ns, "app"); got <= succeeded {
		t.Errorf("the app was applied at resourceVersion %d, before its hook Pod succeeded (%d)", got, succeeded)
	}
}

// TestHookNeverDeletesOthersObjects: BeforeHookCreation deletes only a
// hook this app created; an object of the hook's name that someone else
// made stays, and the sync fails saying so; another app's is refused
// before anything is written.
func TestHookNeverDeletesOthersObjects(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	hook := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  annotations: {argocd.argoproj.io/hook: PreSync}
data: {A: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {A: "1"}
`
	mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "handmade", Namespace: ns}, Data: map[string]string{"keep": "me"}}
	if _, err := kc.Client.CoreV1().ConfigMaps(ns).Create(ctx, mine, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := opts(ns)
	other.App = "other-app"
	if _, err := c.Apply(ctx, render(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: others}\ndata: {B: \"2\"}\n", ns), cluster.Inventory{}, other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hook    string
		wantErr string
	}{
		{name: "unlabelled", hook: "handmade", wantErr: "ConfigMap/" + ns + "/handmade hook: an object of this name exists that is not app api-staging's; promobot does not delete it"},
		{name: "another app's", hook: "others", wantErr: "ConfigMap/" + ns + "/others belongs to app other-app of acme/gitops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Apply(ctx, render(t, strings.Replace(hook, "%s", tt.hook, 1), ns), cluster.Inventory{}, opts(ns))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !exists(t, configMaps, ns, tt.hook) {
				t.Errorf("%s was deleted", tt.hook)
			}
			if exists(t, configMaps, ns, "app") {
				t.Error("the app was applied although its PreSync hook could not run")
			}
		})
	}
}
