package kustomize

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResourcesGenerateName: a hook with only a generateName (Argo CD's
// usual migration Job) is an object, keyed by its generateName; the
// applier names it on each sync.
func TestResourcesGenerateName(t *testing.T) {
	in := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations: {argocd.argoproj.io/hook: PreSync}\n"
	res, err := Resources([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range res {
		keys = append(keys, r.Key.String())
	}
	if diff := cmp.Diff([]string{"Job/migrate-"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}
