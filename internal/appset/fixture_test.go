package appset_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// TestArgoCDExampleApplicationSet discovers the fixture repository shaped
// like Argo CD's example repository, whose Helm root renders an
// ApplicationSet with a git directories generator over appset-apps/*: each
// directory is an app, named and namespaced after it, declared by the set.
func TestArgoCDExampleApplicationSet(t *testing.T) {
	root := filepath.Join("..", "..", "test", "fixtures", "argocd-example")
	apps, notes, err := render.Discover(context.Background(), root,
		gitops.DiscoverOptions{RepoURLs: []string{"https://github.com/my-org/argocd-example"}}, kustomize.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type app struct{ Name, Path, Namespace, File, Root, Set string }
	var got []app
	for _, a := range apps {
		if a.Set != "" {
			got = append(got, app{a.Name, a.Path, a.DestNamespace, a.File, a.Root, a.Set})
		}
	}
	want := []app{
		{"blue", "appset-apps/blue", "blue", "apps", "apps", "appset-apps"},
		{"green", "appset-apps/green", "green", "apps", "apps", "appset-apps"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("generated apps (-want +got):\n%s", diff)
	}
	for _, n := range notes {
		if n.App == "appset-apps" {
			t.Errorf("note about the set: %s", n)
		}
	}
}

// TestArgoCDExampleApplicationSetNewDirectory: a commit adding a directory
// under appset-apps/ adds its app; discovery reads the commit it is given.
func TestArgoCDExampleApplicationSetNewDirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "test", "fixtures", "argocd-example"))); err != nil {
		t.Fatal(err)
	}
	red := filepath.Join(root, "appset-apps", "red")
	if err := os.MkdirAll(red, 0o755); err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: red}\n"
	if err := os.WriteFile(filepath.Join(red, "configmap.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	apps, _, err := render.Discover(context.Background(), root, gitops.DiscoverOptions{}, kustomize.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		if a.Set == "appset-apps" {
			got = append(got, a.Name+" "+a.Path)
		}
	}
	if diff := cmp.Diff([]string{"blue appset-apps/blue", "green appset-apps/green", "red appset-apps/red"}, got); diff != "" {
		t.Errorf("generated apps (-want +got):\n%s", diff)
	}
}
