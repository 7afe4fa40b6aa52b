package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize"
)

// TestRenderHelmApps: `promobot render --app` of the Argo CD example
// repository's Helm apps prints the objects `helm template` prints with
// the arguments Argo CD runs it with (the app's name as the release, the
// destination namespace, its value files, CRDs included).
func TestRenderHelmApps(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", "..", "test", "fixtures", "argocd-example"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app  string
		args []string
	}{
		{app: "helm-guestbook-staging", args: []string{"template", "helm-guestbook-staging", "helm-guestbook", "--namespace", "staging", "--include-crds", "-f", "helm-guestbook/values-staging.yaml"}},
		{app: "helm-guestbook-production", args: []string{"template", "helm-guestbook-production", "helm-guestbook", "--namespace", "production", "--include-crds", "-f", "helm-guestbook/values-production.yaml"}},
		{app: "helm-guestbook-multi-source", args: []string{"template", "helm-guestbook-multi-source", "helm-guestbook", "--namespace", "multi-source", "--include-crds", "-f", "values/helm-guestbook-multi-source.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(binDir(t), "helm"), tt.args...)
			cmd.Dir = repo
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("helm %v: %v", tt.args, err)
			}
			var out bytes.Buffer
			root := newRootCommand()
			root.SetOut(&out)
			root.SetArgs([]string{"render", "--repo", repo, "--app", tt.app})
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(objectsOf(t, want), objectsOf(t, out.Bytes())); diff != "" {
				t.Errorf("objects (-helm template +promobot render):\n%s", diff)
			}
		})
	}
}

func objectsOf(t *testing.T, yaml []byte) []map[string]any {
	t.Helper()
	objs, err := kustomize.Objects(yaml)
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	var out []map[string]any
	for _, o := range objs {
		out = append(out, o.Object)
	}
	return out
}
