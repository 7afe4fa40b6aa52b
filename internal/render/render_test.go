package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

const repoURL = "https://github.com/acme/gitops.git"

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cm(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: shop\n"
}

func application(name, sources string) string {
	return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + name + "\nspec:\n" + sources +
		"  destination: {server: https://kubernetes.default.svc, namespace: shop}\n"
}

var repoFiles = map[string]string{
	"base/kustomization.yaml": "resources: [cm.yaml]\n",
	"base/cm.yaml":            cm("from-base"),
	"plain/a.yaml":            cm("plain-a") + "---\n" + cm("plain-b"),
	"plain/sub/c.json":        `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain-c", "namespace": "shop"}}`,
	"dup/a.yaml":              cm("from-base"),
	"chart/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"chart/values.yaml":       "suffix: cfg\n",
	"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Values.suffix }}\n  namespace: {{ .Release.Namespace }}\n",
	"envs/prod.yaml":          "suffix: prod\n",
	"apps/base.yaml":          application("single", "  source: {repoURL: "+repoURL+", path: base}\n"),
	"apps/plain.yaml":         application("plain", "  source: {repoURL: "+repoURL+", path: plain, directory: {recurse: true}}\n"),
	"apps/multi.yaml": application("multi", "  sources:\n  - {repoURL: "+repoURL+", path: base}\n  - {repoURL: "+repoURL+", path: plain}\n"+
		"  - {repoURL: "+repoURL+", ref: values}\n"),
	"apps/dup.yaml":  application("dup", "  sources:\n  - {repoURL: "+repoURL+", path: base}\n  - {repoURL: "+repoURL+", path: dup}\n"),
	"apps/helm.yaml": application("helm", "  source: {repoURL: "+repoURL+", path: chart}\n"),
	"apps/helm-values.yaml": application("helm-values", "  sources:\n  - {repoURL: "+repoURL+", path: chart, helm: {releaseName: web, valueFiles: [$values/envs/prod.yaml]}}\n"+
		"  - {repoURL: "+repoURL+", ref: values}\n"),
}

// TestApp renders apps of each kind and shape from a repository.
func TestApp(t *testing.T) {
	root := writeRepo(t, repoFiles)
	repo, err := gitops.LoadDir(root, []string{repoURL})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app  string
		want []string
		err  error
		msg  string
	}{
		{app: "single", want: []string{"ConfigMap/shop/from-base"}},
		{app: "plain", want: []string{"ConfigMap/shop/plain-a", "ConfigMap/shop/plain-b", "ConfigMap/shop/plain-c"}},
		{app: "multi", want: []string{"ConfigMap/shop/from-base", "ConfigMap/shop/plain-a", "ConfigMap/shop/plain-b"}},
		{app: "dup", err: ErrDuplicate, msg: "dup: ConfigMap/shop/from-base is rendered by two sources: base and dup"},
		{app: "helm", want: []string{"ConfigMap/shop/helm-cfg"}},
		{app: "helm-values", want: []string{"ConfigMap/shop/web-prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			a, ok := repo.App(tt.app)
			if !ok {
				t.Fatalf("no app %s (notes %v)", tt.app, repo.Notes)
			}
			out, err := App(context.Background(), root, a, kustomize.RenderOptions{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || err.Error() != tt.msg {
					t.Fatalf("error = %v; want %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := kustomize.Resources(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res {
				got = append(got, r.Key.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppSingleSourceIsKustomizeRender: an app of one kustomization
// renders byte for byte as kustomize.Render, and so does an App built by
// hand with only a Path.
func TestAppSingleSourceIsKustomizeRender(t *testing.T) {
	root := writeRepo(t, repoFiles)
	want, err := kustomize.Render(context.Background(), root, "base", kustomize.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gitops.LoadDir(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	single, _ := repo.App("single")
	for _, a := range []gitops.App{single, {Name: "by-hand", Path: "base"}} {
		got, err := App(context.Background(), root, a, kustomize.RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: render differs from kustomize.Render:\n%s\n---\n%s", a.Name, got, want)
		}
	}
}

// TestDiscoverKustomizationRoot reads the apps of a repository whose apps
// directory is a kustomization, through the sandboxed renderer.
func TestDiscoverKustomizationRoot(t *testing.T) {
	files := map[string]string{
		"apps/kustomization.yaml": "resources: [web.yaml]\ncommonAnnotations: {team: shop}\n",
		"apps/web.yaml":           application("web", "  source: {repoURL: "+repoURL+", path: plain}\n"),
		"apps/ignored.yaml":       application("ignored", "  source: {repoURL: "+repoURL+", path: base}\n"),
		"plain/a.yaml":            cm("a"),
	}
	root := writeRepo(t, files)
	apps, notes, err := Discover(context.Background(), root, gitops.DiscoverOptions{RepoURLs: []string{repoURL}}, kustomize.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Name != "web" || apps[0].Root != "apps" || len(notes) != 0 {
		t.Fatalf("apps %+v, notes %v; want web from the render of apps", apps, notes)
	}
	repo, err := LoadDir(context.Background(), root, []string{repoURL}, kustomize.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web"}, repo.AppNames()); diff != "" {
		t.Errorf("LoadDir apps (-want +got):\n%s", diff)
	}
	// Without rendering, the directory reads as plain manifests, as before.
	plainRepo, err := gitops.LoadDir(root, []string{repoURL})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plainRepo.AppNames(), ","); got != "ignored,web" {
		t.Errorf("plain LoadDir apps = %s; want ignored,web", got)
	}
}
