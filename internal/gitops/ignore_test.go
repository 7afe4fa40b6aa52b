package gitops

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestDiscoverAppsSyncOptionsAndIgnoreDifferences reads the sync options and
// ignoreDifferences the applier needs, and refuses jq paths promobot cannot
// evaluate rather than heal the fields they name.
func TestDiscoverAppsSyncOptionsAndIgnoreDifferences(t *testing.T) {
	const head = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: NAME}
spec:
  source: {repoURL: "https://github.com/acme/gitops", path: web}
  destination: {server: "https://kubernetes.default.svc", namespace: web}
  syncPolicy:
    syncOptions: [Replace=true, PruneLast=true, RespectIgnoreDifferences=true]
  ignoreDifferences:
  - group: apps
    kind: Deployment
    name: web
    jsonPointers: [/spec/replicas]
    managedFieldsManagers: [kube-controller-manager]
`
	fsys := fstest.MapFS{
		"apps/web.yaml": {Data: []byte(strings.ReplaceAll(head, "NAME", "web"))},
		"apps/jq.yaml":  {Data: []byte(strings.ReplaceAll(head, "NAME", "jq") + "  - kind: ConfigMap\n    jqPathExpressions: ['.data.x']\n")},
	}
	apps, notes, err := DiscoverApps(fsys, DiscoverOptions{RepoURLs: []string{"https://github.com/acme/gitops"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 {
		t.Fatalf("apps = %v, want web only", apps)
	}
	if diff := cmp.Diff([]string{"Replace=true", "PruneLast=true", "RespectIgnoreDifferences=true"}, apps[0].SyncOptions); diff != "" {
		t.Errorf("sync options (-want +got):\n%s", diff)
	}
	wantIgnore := []IgnoreDifference{{Group: "apps", Kind: "Deployment", Name: "web", JSONPointers: []string{"/spec/replicas"}, ManagedFieldsManagers: []string{"kube-controller-manager"}}}
	if diff := cmp.Diff(wantIgnore, apps[0].IgnoreDifferences); diff != "" {
		t.Errorf("ignoreDifferences (-want +got):\n%s", diff)
	}
	wantNotes := []Note{{Kind: NoteUnsupported, File: "apps/jq.yaml", App: "jq",
		Message: "spec.ignoreDifferences jqPathExpressions are not supported (promobot evaluates no jq); use jsonPointers or managedFieldsManagers"}}
	if diff := cmp.Diff(wantNotes, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
