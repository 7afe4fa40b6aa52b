package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/test/kit"
)

func TestParseSyncOptions(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    cluster.SyncOptions
		wantErr string
	}{
		{name: "none"},
		{name: "app options", in: []string{"CreateNamespace=true", "ServerSideApply=true", "ApplyOutOfSyncOnly=true", "Replace=true", "PruneLast=true", "RespectIgnoreDifferences=true", "PrunePropagationPolicy=foreground"},
			want: cluster.SyncOptions{Replace: true, PruneLast: true, RespectIgnoreDifferences: true, PrunePropagationPolicy: metav1.DeletePropagationForeground}},
		{name: "resource options", in: []string{"Prune=false", " Delete=false "}, want: cluster.SyncOptions{NoPrune: true, NoDelete: true}},
		{name: "false is off", in: []string{"Replace=false", "Prune=true"}},
		{name: "orphan", in: []string{"PrunePropagationPolicy=orphan"}, want: cluster.SyncOptions{PrunePropagationPolicy: metav1.DeletePropagationOrphan}},
		{name: "unknown policy", in: []string{"PrunePropagationPolicy=later"}, wantErr: `sync option "PrunePropagationPolicy=later": the policy is foreground, background or orphan`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cluster.ParseSyncOptions(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyReplace: Replace=true (the app's or the object's) makes the
// object exactly the render, dropping what another manager added, where
// server-side apply keeps it.
func TestApplyReplace(t *testing.T) {
	const cm = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations: {ANNOTATIONS}
data: {A: "1"}
`
	tests := []struct {
		name        string
		annotations string
		appReplace  bool
		wantData    map[string]string
	}{
		{name: "apply keeps other managers' fields", annotations: "{}", wantData: map[string]string{"A": "1", "B": "added"}},
		{name: "object Replace=true", annotations: "{argocd.argoproj.io/sync-options: Replace=true}", wantData: map[string]string{"A": "1"}},
		{name: "app Replace=true", annotations: "{}", appReplace: true, wantData: map[string]string{"A": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := kc.Namespace(t)
			c := newCluster(t, kc.Config)
			objs := render(t, strings.Replace(cm, "{ANNOTATIONS}", tt.annotations, 1), ns)
			o := opts(ns)
			o.SyncOptions.Replace = tt.appReplace
			if _, err := c.Apply(ctx, objs, cluster.Inventory{}, o); err != nil {
				t.Fatal(err)
			}
			live, err := kc.Client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			live.Data["B"] = "added"
			if _, err := kc.Client.CoreV1().ConfigMaps(ns).Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			res, err := c.Apply(ctx, objs, cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			live, err = kc.Client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantData, live.Data); diff != "" {
				t.Errorf("data after the second apply (-want +got):\n%s", diff)
			}
			again, err := c.Apply(ctx, objs, res.Inventory, o)
			if err != nil {
				t.Fatal(err)
			}
			if again.ChangeSet.Changed() {
				t.Errorf("a third apply of the same render changed: %s", again.ChangeSet)
			}
		})
	}
}

const pruneFirst = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: old
  annotations: {ANNOTATIONS}
data: {A: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {A: "1"}
`

const pruneSecond = `
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {A: "1"}
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

// TestApplyPruneLast: without PruneLast the stale object is pruned while
// the last wave is still rolling out; with the app's or the object's
// PruneLast=true only after it is healthy.
func TestApplyPruneLast(t *testing.T) {
	tests := []struct {
		name        string
		annotations string
		appLast     bool
		wantLast    bool
	}{
		{name: "prune with the last wave", annotations: "{}"},
		{name: "app PruneLast", annotations: "{}", appLast: true, wantLast: true},
		{name: "object PruneLast", annotations: "{argocd.argoproj.io/sync-options: PruneLast=true}", wantLast: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := kc.Namespace(t)
			c := newCluster(t, kc.Config)
			o := opts(ns)
			o.Prune = true
			o.SyncOptions.PruneLast = tt.appLast
			first, err := c.Apply(ctx, render(t, strings.Replace(pruneFirst, "{ANNOTATIONS}", tt.annotations, 1), ns), cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			o.HealthTimeout = 30 * time.Second
			done := applyAsync(c, []byte(pruneSecond), first.Inventory, o, t, ns)
			kit.EventuallyTrue(t, 10*time.Second, "the Deployment is applied", func() bool { return exists(t, deployments, ns, "api") })
			if tt.wantLast {
				if !exists(t, configMaps, ns, "old") {
					t.Error("the stale ConfigMap was pruned before the last wave was healthy")
				}
			} else {
				kit.EventuallyTrue(t, 10*time.Second, "the stale ConfigMap is pruned while the Deployment rolls out", func() bool { return !exists(t, configMaps, ns, "old") })
			}
			select {
			case a := <-done:
				t.Fatalf("Apply returned before the Deployment was healthy: %v", a.err)
			default:
			}
			if err := kc.MarkRolledOut(ctx, "Deployment", ns, "api"); err != nil {
				t.Fatal(err)
			}
			a := <-done
			if a.err != nil {
				t.Fatal(a.err)
			}
			if exists(t, configMaps, ns, "old") {
				t.Error("the stale ConfigMap is still there after the apply")
			}
			if diff := cmp.Diff([]string{"ConfigMap/" + ns + "/keep", "Deployment/" + ns + "/api"}, subjects(a.res.Inventory)); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyPruneOptions: Prune=false keeps the object and says it
// requires pruning (it stays in the inventory), silently with
// IgnoreExtraneous; PrunePropagationPolicy is
// the deletion's propagation (without a garbage collector, foreground and
// orphan leave the object terminating with their finalizer).
func TestApplyPruneOptions(t *testing.T) {
	tests := []struct {
		name           string
		annotations    string
		policy         metav1.DeletionPropagation
		wantKept       bool
		wantFinalizers []string
		wantChange     change
		wantInventory  []string
	}{
		{name: "Prune=false", annotations: "{argocd.argoproj.io/sync-options: Prune=false}", wantKept: true,
			wantChange:    change{Subject: "ConfigMap/%s/old", Action: cluster.Skipped, Reason: "Prune=false: requires pruning"},
			wantInventory: []string{"ConfigMap/%s/keep", "ConfigMap/%s/old"}},
		{name: "Prune=false, IgnoreExtraneous", annotations: "{argocd.argoproj.io/sync-options: Prune=false, argocd.argoproj.io/compare-options: IgnoreExtraneous}", wantKept: true,
			wantChange:    change{Subject: "ConfigMap/%s/keep", Action: cluster.Unchanged},
			wantInventory: []string{"ConfigMap/%s/keep", "ConfigMap/%s/old"}},
		{name: "foreground", annotations: "{}", policy: metav1.DeletePropagationForeground, wantKept: true, wantFinalizers: []string{"foregroundDeletion"},
			wantChange: change{Subject: "ConfigMap/%s/old", Action: cluster.Deleted}, wantInventory: []string{"ConfigMap/%s/keep"}},
		{name: "orphan", annotations: "{}", policy: metav1.DeletePropagationOrphan, wantKept: true, wantFinalizers: []string{"orphan"},
			wantChange: change{Subject: "ConfigMap/%s/old", Action: cluster.Deleted}, wantInventory: []string{"ConfigMap/%s/keep"}},
		{name: "background", annotations: "{}", wantChange: change{Subject: "ConfigMap/%s/old", Action: cluster.Deleted}, wantInventory: []string{"ConfigMap/%s/keep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := kc.Namespace(t)
			c := newCluster(t, kc.Config)
			o := opts(ns)
			o.Prune = true
			o.SyncOptions.PrunePropagationPolicy = tt.policy
			first, err := c.Apply(ctx, render(t, strings.Replace(pruneFirst, "{ANNOTATIONS}", tt.annotations, 1), ns), cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Apply(ctx, render(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {A: \"1\"}\n", ns), first.Inventory, o)
			if err != nil {
				t.Fatal(err)
			}
			sub := func(s string) string { return strings.ReplaceAll(s, "%s", ns) }
			want := tt.wantChange
			want.Subject = sub(want.Subject)
			got := changes(res.ChangeSet)
			if diff := cmp.Diff(want, got[len(got)-1]); diff != "" {
				t.Errorf("last change (-want +got):\n%s", diff)
			}
			var wantInv []string
			for _, s := range tt.wantInventory {
				wantInv = append(wantInv, sub(s))
			}
			if diff := cmp.Diff(wantInv, subjects(res.Inventory)); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
			live, ok := get(t, configMaps, ns, "old")
			if ok != tt.wantKept {
				t.Fatalf("stale ConfigMap still there = %v, want %v", ok, tt.wantKept)
			}
			if ok && tt.wantFinalizers != nil {
				if diff := cmp.Diff(tt.wantFinalizers, live.GetFinalizers()); diff != "" || live.GetDeletionTimestamp() == nil {
					t.Errorf("deleting = %v, finalizers (-want +got):\n%s", live.GetDeletionTimestamp() != nil, diff)
				}
			}
		})
	}
}
