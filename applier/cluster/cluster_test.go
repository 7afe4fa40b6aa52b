package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/test/kube"
)

var kc *kube.Cluster

func TestMain(m *testing.M) { kube.Main(m, &kc) }

// render parses a multi-document YAML render, with %[1]s replaced by ns.
func render(t testing.TB, yaml, ns string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ssautils.ReadObjects(strings.NewReader(strings.ReplaceAll(yaml, "%[1]s", ns)))
	if err != nil {
		t.Fatalf("parse render: %v", err)
	}
	return objs
}

// apiRender is a staging-like app: no object names a namespace, the app's
// destination does.
const apiRender = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-settings
data:
  LOG_LEVEL: info
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/api:1.0.0
`

func newCluster(t *testing.T, cfg *rest.Config) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func opts(ns string) cluster.Options {
	return cluster.Options{App: "api-staging", Repo: "acme/gitops", Namespace: ns}
}

type change struct {
	Subject string
	Action  cluster.Action
	Reason  string
}

func changes(cs cluster.ChangeSet) []change {
	var out []change
	for _, c := range cs.Changes {
		out = append(out, change{c.Subject, c.Action, c.Reason})
	}
	return out
}

func subjects(inv cluster.Inventory) []string {
	var out []string
	for _, r := range inv.Objects {
		out = append(out, r.String())
	}
	return out
}

func get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, bool) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(kc.Config)
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	u, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return u, true
}

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func TestApplyCreatesLabelledObjects(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)

	res, err := c.Apply(ctx, render(t, apiRender, ns), cluster.Inventory{}, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{Subject: "ConfigMap/" + ns + "/api-settings", Action: cluster.Created},
		{Subject: "Service/" + ns + "/api", Action: cluster.Created},
		{Subject: "Deployment/" + ns + "/api", Action: cluster.Created},
	}
	if diff := cmp.Diff(want, changes(res.ChangeSet)); diff != "" {
		t.Errorf("change set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("3 created", res.ChangeSet.Summary()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	wantInv := []string{"ConfigMap/" + ns + "/api-settings", "Service/" + ns + "/api", "Deployment/" + ns + "/api"}
	if diff := cmp.Diff(wantInv, subjects(res.Inventory)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}

	live, ok := get(t, deployments, ns, "api")
	if !ok {
		t.Fatal("deployment not created")
	}
	var managers []string
	for _, mf := range live.GetManagedFields() {
		if mf.Subresource == "" {
			managers = append(managers, mf.Manager+"/"+string(mf.Operation))
		}
	}
	type seen struct {
		Labels   map[string]string
		Managers []string
	}
	wantSeen := seen{
		Labels: map[string]string{
			"app":                          "api",
			"app.kubernetes.io/managed-by": "promobot",
			"promobot.dev/app":             "api-staging",
			"promobot.dev/repo":            "acme.gitops",
		},
		Managers: []string{"promobot/acme/gitops/api-staging/Apply"},
	}
	if diff := cmp.Diff(wantSeen, seen{live.GetLabels(), managers}); diff != "" {
		t.Errorf("live deployment (-want +got):\n%s", diff)
	}
}

// writeCounter counts the requests that would change the cluster: anything
// but reads and server-side dry runs.
type writeCounter struct {
	mu     sync.Mutex
	total  int
	writes []string
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		w.mu.Lock()
		w.total++
		if req.Method != http.MethodGet && req.Method != http.MethodHead && req.URL.Query().Get("dryRun") == "" {
			w.writes = append(w.writes, req.Method+" "+req.URL.Path)
		}
		w.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestReapplyUnchangedMakesNoWrites(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	objs := render(t, apiRender, ns)
	first, err := newCluster(t, kc.Config).Apply(ctx, objs, cluster.Inventory{}, opts(ns))
	if err != nil {
		t.Fatal(err)
	}

	counter := &writeCounter{}
	cfg := rest.CopyConfig(kc.Config)
	cfg.WrapTransport = counter.wrap
	res, err := newCluster(t, cfg).Apply(ctx, objs, first.Inventory, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("3 unchanged", res.ChangeSet.Summary()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string(nil), counter.writes); diff != "" {
		t.Errorf("write requests on an unchanged re-apply (-want +got):\n%s", diff)
	}
	t.Logf("unchanged re-apply of 3 objects: %d requests, none writing", counter.total)
	if diff := cmp.Diff(first.Inventory, res.Inventory); diff != "" {
		t.Errorf("inventory changed (-want +got):\n%s", diff)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, kc.Config)

	tests := []struct {
		name string
		// before and after are the renders of two consecutive applies.
		before, after string
		// setup runs between the two applies.
		setup  func(t *testing.T, ns string)
		opts   func(o *cluster.Options)
		extra  func(ns string) []cluster.ObjectRef // added to the first inventory
		want   []change
		exists map[string]bool // ConfigMap name → still in the cluster
		inv    []string
	}{
		{
			name:   "dropped object is pruned",
			before: apiRender, after: withoutConfigMap(apiRender),
			opts: func(o *cluster.Options) { o.Prune = true },
			want: []change{
				{Subject: "Service/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "Deployment/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "ConfigMap/%[1]s/api-settings", Action: cluster.Deleted},
			},
			exists: map[string]bool{"api-settings": false},
			inv:    []string{"Service/%[1]s/api", "Deployment/%[1]s/api"},
		},
		{
			name:   "prune off keeps the object and its inventory entry",
			before: apiRender, after: withoutConfigMap(apiRender),
			opts: func(o *cluster.Options) {},
			want: []change{
				{Subject: "Service/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "Deployment/%[1]s/api", Action: cluster.Unchanged},
			},
			exists: map[string]bool{"api-settings": true},
			inv:    []string{"ConfigMap/%[1]s/api-settings", "Service/%[1]s/api", "Deployment/%[1]s/api"},
		},
		{
			name:   "object without promobot's labels is not pruned",
			before: apiRender, after: withoutConfigMap(apiRender),
			setup: func(t *testing.T, ns string) {
				// Someone strips the labels (e.g. hands the object to another tool).
				cm, err := kc.Client.CoreV1().ConfigMaps(ns).Get(ctx, "api-settings", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cm.Labels = nil
				if _, err := kc.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
					t.Fatal(err)
				}
			},
			opts: func(o *cluster.Options) { o.Prune = true },
			want: []change{
				{Subject: "Service/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "Deployment/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "ConfigMap/%[1]s/api-settings", Action: cluster.Skipped, Reason: `not labelled as promobot's for app "api-staging"`},
			},
			exists: map[string]bool{"api-settings": true},
			inv:    []string{"Service/%[1]s/api", "Deployment/%[1]s/api"},
		},
		{
			name:   "another app's object in the inventory is not pruned",
			before: apiRender, after: apiRender,
			setup: func(t *testing.T, ns string) {
				_, err := kc.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
					Name:   "other-app",
					Labels: cluster.OwnerLabels("api-production", "acme/gitops"),
				}}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
			},
			extra: func(ns string) []cluster.ObjectRef {
				return []cluster.ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "other-app"}}
			},
			opts: func(o *cluster.Options) { o.Prune = true },
			want: []change{
				{Subject: "ConfigMap/%[1]s/api-settings", Action: cluster.Unchanged},
				{Subject: "Service/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "Deployment/%[1]s/api", Action: cluster.Unchanged},
				{Subject: "ConfigMap/%[1]s/other-app", Action: cluster.Skipped, Reason: `not labelled as promobot's for app "api-staging"`},
			},
			exists: map[string]bool{"api-settings": true, "other-app": true},
			inv:    []string{"ConfigMap/%[1]s/api-settings", "Service/%[1]s/api", "Deployment/%[1]s/api"},
		},
		{
			name:   "empty render prunes nothing",
			before: apiRender, after: "",
			opts:   func(o *cluster.Options) { o.Prune = true },
			want:   nil,
			exists: map[string]bool{"api-settings": true},
			inv:    []string{"ConfigMap/%[1]s/api-settings", "Service/%[1]s/api", "Deployment/%[1]s/api"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := kc.Namespace(t)
			o := opts(ns)
			tt.opts(&o)
			first, err := c.Apply(ctx, render(t, tt.before, ns), cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, ns)
			}
			prev := first.Inventory
			if tt.extra != nil {
				prev.Objects = append(prev.Objects, tt.extra(ns)...)
			}
			res, err := c.Apply(ctx, render(t, tt.after, ns), prev, o)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]change(nil), tt.want...)
			for i := range want {
				want[i].Subject = strings.ReplaceAll(want[i].Subject, "%[1]s", ns)
			}
			if diff := cmp.Diff(want, changes(res.ChangeSet)); diff != "" {
				t.Errorf("change set (-want +got):\n%s", diff)
			}
			gotExists := map[string]bool{}
			for name := range tt.exists {
				_, gotExists[name] = get(t, configMaps, ns, name)
			}
			if diff := cmp.Diff(tt.exists, gotExists); diff != "" {
				t.Errorf("ConfigMaps in the cluster (-want +got):\n%s", diff)
			}
			var wantInv []string
			for _, s := range tt.inv {
				wantInv = append(wantInv, strings.ReplaceAll(s, "%[1]s", ns))
			}
			if diff := cmp.Diff(wantInv, subjects(res.Inventory)); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
			if tt.after == "" {
				if diff := cmp.Diff("the render is empty", res.PruneSkipped); diff != "" {
					t.Errorf("prune skipped reason (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func withoutConfigMap(yaml string) string {
	docs := strings.Split(yaml, "\n---\n")
	return strings.Join(docs[1:], "\n---\n")
}

func TestPruneNamespaceOnlyWhenOptedIn(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, kc.Config)
	const withNamespace = `
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: %[1]s
`
	tests := []struct {
		name            string
		pruneNamespaces bool
		want            []change
		wantDeleted     bool
	}{
		{
			name: "without opt-in",
			want: []change{
				{Subject: "ConfigMap/%[1]s/settings", Action: cluster.Deleted},
				{Subject: "Namespace/%[1]s", Action: cluster.Skipped, Reason: "namespaces are pruned only when opted in"},
			},
		},
		{
			name:            "with opt-in",
			pruneNamespaces: true,
			want: []change{
				{Subject: "ConfigMap/%[1]s/settings", Action: cluster.Deleted},
				{Subject: "Namespace/%[1]s", Action: cluster.Deleted},
			},
			wantDeleted: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A namespace the app itself renders, and a second app that
			// keeps rendering something so the render is not empty.
			appNS := fmt.Sprintf("prune-ns-%d-%d", i, time.Now().UnixNano()%1e6)
			keepNS := kc.Namespace(t)
			o := opts(keepNS)
			o.Prune = true
			o.PruneNamespaces = tt.pruneNamespaces
			keep := `
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep
`
			first, err := c.Apply(ctx, append(render(t, withNamespace, appNS), render(t, keep, keepNS)...), cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Apply(ctx, render(t, keep, keepNS), first.Inventory, o)
			if err != nil {
				t.Fatal(err)
			}
			var got []change
			for _, ch := range changes(res.ChangeSet) {
				if ch.Action != cluster.Unchanged {
					got = append(got, ch)
				}
			}
			want := append([]change(nil), tt.want...)
			for i := range want {
				want[i].Subject = strings.ReplaceAll(want[i].Subject, "%[1]s", appNS)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			// Without the namespace controller a deleted namespace stays
			// Terminating; what matters is that deletion was (not) requested.
			live, ok := get(t, namespaces, "", appNS)
			deleted := !ok || live.GetDeletionTimestamp() != nil
			if deleted != tt.wantDeleted {
				t.Errorf("namespace %s deleted = %v, want %v", appNS, deleted, tt.wantDeleted)
			}
		})
	}
}

func TestDriftDetectedAndReverted(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	objs := render(t, apiRender, ns)
	first, err := c.Apply(ctx, objs, cluster.Inventory{}, opts(ns))
	if err != nil {
		t.Fatal(err)
	}

	drift, err := c.Drift(ctx, objs, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]cluster.Drift(nil), drift); diff != "" {
		t.Fatalf("drift right after apply (-want +got):\n%s", diff)
	}

	// A manual edit, as `kubectl edit` makes it, and a manual delete.
	d, err := kc.Client.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	d.Spec.Replicas = &five
	if _, err := kc.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := kc.Client.CoreV1().Services(ns).Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	drift, err = c.Drift(ctx, objs, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	want := []cluster.Drift{
		{Object: cluster.ObjectRef{Version: "v1", Kind: "Service", Namespace: ns, Name: "api"}, Missing: true},
		{Object: cluster.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "api"}, Fields: []string{".spec.replicas"}},
	}
	if diff := cmp.Diff(want, drift); diff != "" {
		t.Fatalf("drift after manual edit (-want +got):\n%s", diff)
	}

	// Without force the edit is a conflict, reported clearly, and nothing is written.
	_, err = c.Apply(ctx, objs, first.Inventory, opts(ns))
	var conflict *cluster.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("apply over a manual edit: got %v, want a *ConflictError", err)
	}
	wantMsg := fmt.Sprintf(`apply conflict: Deployment/%s/api .spec.replicas is owned by "kubectl-edit"; apply with force to take ownership`, ns)
	if diff := cmp.Diff(wantMsg, err.Error()); diff != "" {
		t.Errorf("conflict message (-want +got):\n%s", diff)
	}
	if _, ok := get(t, schema.GroupVersionResource{Version: "v1", Resource: "services"}, ns, "api"); ok {
		t.Errorf("service was re-created although the apply failed on a conflict")
	}

	// Self-heal: force takes the field back.
	o := opts(ns)
	o.Force = true
	res, err := c.Apply(ctx, objs, first.Inventory, o)
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []change{
		{Subject: "ConfigMap/" + ns + "/api-settings", Action: cluster.Unchanged},
		{Subject: "Service/" + ns + "/api", Action: cluster.Created},
		{Subject: "Deployment/" + ns + "/api", Action: cluster.Configured},
	}
	if diff := cmp.Diff(wantChanges, changes(res.ChangeSet)); diff != "" {
		t.Errorf("self-heal change set (-want +got):\n%s", diff)
	}
	d, err = kc.Client.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas after self-heal = %d, want 1", *d.Spec.Replicas)
	}
	drift, err = c.Drift(ctx, objs, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]cluster.Drift(nil), drift); diff != "" {
		t.Errorf("drift after self-heal (-want +got):\n%s", diff)
	}
}

func TestHealth(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	objs := render(t, apiRender, ns)
	o := opts(ns)
	o.HealthTimeout = time.Second
	o.HealthInterval = 100 * time.Millisecond

	began := time.Now()
	res, err := c.Apply(ctx, objs, cluster.Inventory{}, o)
	var herr *cluster.HealthError
	if !errors.As(err, &herr) {
		t.Fatalf("apply without rollout: got %v, want a *HealthError", err)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("health wait took %s with a 1s timeout", waited)
	}
	wantMsg := fmt.Sprintf("health: 1 object(s) not healthy before the timeout: Deployment/%s/api InProgress (Replicas: 0/1)", ns)
	if diff := cmp.Diff(wantMsg, err.Error()); diff != "" {
		t.Errorf("health error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("3 created", res.ChangeSet.Summary()); diff != "" {
		t.Errorf("summary of an unhealthy apply (-want +got):\n%s", diff)
	}

	if err := kc.MarkRolledOut(ctx, "Deployment", ns, "api"); err != nil {
		t.Fatal(err)
	}
	res, err = c.Apply(ctx, objs, res.Inventory, o)
	if err != nil {
		t.Fatalf("apply after rollout: %v", err)
	}
	var got []string
	for _, h := range res.Health {
		got = append(got, h.Object.String()+" "+h.Status)
	}
	want := []string{
		"ConfigMap/" + ns + "/api-settings Current",
		"Service/" + ns + "/api Current",
		"Deployment/" + ns + "/api Current",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("health after rollout (-want +got):\n%s", diff)
	}
}

func TestCreateNamespace(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, kc.Config)
	const cm = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
`
	ns := fmt.Sprintf("created-%d", time.Now().UnixNano()%1e9)

	_, err := c.Apply(ctx, render(t, cm, ns), cluster.Inventory{}, opts(ns))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`namespaces "%s" not found`, ns)) {
		t.Fatalf("apply into a missing namespace without CreateNamespace: got %v, want a namespace not found error", err)
	}

	o := opts(ns)
	o.CreateNamespace = true
	// The new namespace's objects: none to claim while it does not
	// exist, and the ConfigMap is created with one request, no read and
	// no dry run first; the namespace itself is read once.
	var mu sync.Mutex
	var lists, nsReads int
	var cmRequests []string
	cfg := rest.CopyConfig(kc.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			switch {
			case req.Method == http.MethodGet && req.URL.Path == "/api/v1/namespaces/"+ns+"/configmaps":
				lists++
			case req.Method == http.MethodGet && req.URL.Path == "/api/v1/namespaces/"+ns:
				nsReads++
			}
			if strings.HasPrefix(req.URL.Path, "/api/v1/namespaces/"+ns+"/configmaps") {
				dry := ""
				if req.URL.Query().Get("dryRun") != "" {
					dry = " dry-run"
				}
				cmRequests = append(cmRequests, req.Method+dry)
			}
			mu.Unlock()
			return rt.RoundTrip(req)
		})
	}
	res, err := newCluster(t, cfg).Apply(ctx, render(t, cm, ns), cluster.Inventory{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if lists != 0 || nsReads != 1 {
		t.Errorf("apply into a namespace it creates listed its ConfigMaps %d times and read the namespace %d times, want 0 and 1", lists, nsReads)
	}
	if diff := cmp.Diff([]string{http.MethodPatch}, cmRequests); diff != "" {
		t.Errorf("ConfigMap requests of the apply into a new namespace (-want +got):\n%s", diff)
	}
	want := []change{
		{Subject: "Namespace/" + ns, Action: cluster.Created},
		{Subject: "ConfigMap/" + ns + "/settings", Action: cluster.Created},
	}
	if diff := cmp.Diff(want, changes(res.ChangeSet)); diff != "" {
		t.Errorf("change set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ConfigMap/" + ns + "/settings"}, subjects(res.Inventory)); diff != "" {
		t.Errorf("inventory: the created namespace must not be in it (-want +got):\n%s", diff)
	}
	// Applied again, through ssa now: nothing changed, nothing written.
	counter := &writeCounter{}
	wcfg := rest.CopyConfig(kc.Config)
	wcfg.WrapTransport = counter.wrap
	again, err := newCluster(t, wcfg).Apply(ctx, render(t, cm, ns), res.Inventory, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.ChangeSet.Summary() != "1 unchanged" || len(counter.writes) != 0 {
		t.Errorf("re-apply of what the new namespace got: %s, writes %v; want 1 unchanged and none", again.ChangeSet.Summary(), counter.writes)
	}
	// Once it exists, another app's apply into it is claimed as ever.
	other := o
	other.App = "web-staging"
	var owned *cluster.OwnershipError
	if _, err := c.Apply(ctx, render(t, cm, ns), cluster.Inventory{}, other); !errors.As(err, &owned) {
		t.Errorf("another app's apply of settings into the existing namespace: %v, want an *OwnershipError", err)
	}
}

func TestCRDAndCustomResourceInOneRender(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	suffix := strings.ReplaceAll(ns, "-", "")
	group := suffix + ".example.com"
	yaml := strings.NewReplacer("GROUP", group).Replace(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.GROUP
spec:
  group: GROUP
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
---
apiVersion: GROUP/v1
kind: Widget
metadata:
  name: w
spec:
  size: 3
`)
	res, err := c.Apply(ctx, render(t, yaml, ns), cluster.Inventory{}, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{Subject: "CustomResourceDefinition/widgets." + group, Action: cluster.Created},
		{Subject: "Widget/" + ns + "/w", Action: cluster.Created},
	}
	if diff := cmp.Diff(want, changes(res.ChangeSet)); diff != "" {
		t.Errorf("change set (-want +got):\n%s", diff)
	}
	w, ok := get(t, schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}, ns, "w")
	if !ok {
		t.Fatal("widget not created in the destination namespace")
	}
	size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
	if size != 3 {
		t.Errorf("widget spec.size = %d, want 3", size)
	}
}

func TestApplyRefusesBadRenders(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, kc.Config)
	tests := []struct {
		name    string
		yaml    string
		ns      string
		wantErr string
	}{
		{
			name:    "namespaced object and no destination",
			yaml:    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			wantErr: "ConfigMap/a: namespaced object without a namespace, and the app has no destination namespace",
		},
		{
			name:    "unknown kind",
			yaml:    "apiVersion: nope.example.com/v1\nkind: Gadget\nmetadata: {name: a}\n",
			ns:      "default",
			wantErr: "Gadget/a: the cluster serves no nope.example.com/v1, Kind=Gadget (is its CustomResourceDefinition installed?)",
		},
		{
			name:    "duplicate",
			yaml:    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			ns:      "default",
			wantErr: "ConfigMap/default/a appears twice in the render",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := cluster.Inventory{Objects: []cluster.ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: "default", Name: "old"}}}
			o := opts(tt.ns)
			o.Prune = true
			res, err := c.Apply(ctx, render(t, tt.yaml, ""), prev, o)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(prev, res.Inventory); diff != "" {
				t.Errorf("inventory after a refused render must be the previous one (-want +got):\n%s", diff)
			}
			if len(res.ChangeSet.Changes) != 0 {
				t.Errorf("changes after a refused render: %v", res.ChangeSet)
			}
		})
	}
}

func TestRESTConfigFor(t *testing.T) {
	kubeconfig, err := os.ReadFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		creds    cluster.Credentials
		wantHost string
		wantErr  string
	}{
		{name: "kubeconfig file", creds: cluster.Credentials{KubeconfigPath: kc.Kubeconfig}, wantHost: kc.Config.Host},
		{name: "kubeconfig file and context", creds: cluster.Credentials{KubeconfigPath: kc.Kubeconfig, Context: "promobot-test"}, wantHost: kc.Config.Host},
		{name: "kubeconfig content", creds: cluster.Credentials{Kubeconfig: kubeconfig}, wantHost: kc.Config.Host},
		{
			name:    "unknown context",
			creds:   cluster.Credentials{Kubeconfig: kubeconfig, Context: "prod"},
			wantErr: `cluster credentials kubeconfig content: context "prod" does not exist`,
		},
		{
			name:    "no source",
			wantErr: "cluster credentials: set exactly one of in-cluster, kubeconfig file or kubeconfig content",
		},
		{
			name:    "two sources",
			creds:   cluster.Credentials{KubeconfigPath: kc.Kubeconfig, Kubeconfig: kubeconfig},
			wantErr: "cluster credentials: set exactly one of in-cluster, kubeconfig file or kubeconfig content",
		},
		{
			name:    "in-cluster outside a pod",
			creds:   cluster.Credentials{InCluster: true},
			wantErr: "cluster credentials in-cluster: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := cluster.RESTConfigFor(tt.creds)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.wantHost, cfg.Host); diff != "" {
				t.Errorf("host (-want +got):\n%s", diff)
			}
			// The config really reaches the cluster as the admin.
			ns := kc.Namespace(t)
			res, err := newCluster(t, cfg).Apply(context.Background(),
				render(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: reached}\n", ns), cluster.Inventory{}, opts(ns))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("1 created", res.ChangeSet.Summary()); diff != "" {
				t.Errorf("apply through the config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecreateOnImmutableChange(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	first, err := c.Apply(ctx, render(t, apiRender, ns), cluster.Inventory{}, opts(ns))
	if err != nil {
		t.Fatal(err)
	}
	// A new selector: Deployments refuse that change.
	changed := render(t, strings.ReplaceAll(apiRender, "{app: api}", "{app: api-v2}"), ns)

	_, err = c.Apply(ctx, changed, first.Inventory, opts(ns))
	wantPrefix := fmt.Sprintf("apply: Deployment/%s/api dry-run failed (Invalid): ", ns)
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), "field is immutable") {
		t.Fatalf("apply of an immutable change: got %v, want %q... field is immutable", err, wantPrefix)
	}

	o := opts(ns)
	o.Recreate = true
	res, err := c.Apply(ctx, changed, first.Inventory, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{Subject: "ConfigMap/" + ns + "/api-settings", Action: cluster.Unchanged},
		{Subject: "Service/" + ns + "/api", Action: cluster.Configured},
		{Subject: "Deployment/" + ns + "/api", Action: cluster.Created},
	}
	if diff := cmp.Diff(want, changes(res.ChangeSet)); diff != "" {
		t.Errorf("change set (-want +got):\n%s", diff)
	}
	d, err := kc.Client.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"app": "api-v2"}, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector after recreate (-want +got):\n%s", diff)
	}
}
