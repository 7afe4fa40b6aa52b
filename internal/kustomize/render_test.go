package kustomize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const fixtureRepo = "../../test/fixtures/gitops"

// TestRenderMatchesKustomizeBuild compares Render with the real kustomize CLI
// over the fixture repository and the overlay shapes under testdata/render.
func TestRenderMatchesKustomizeBuild(t *testing.T) {
	tests := []struct {
		name string
		root string
		dir  string
	}{
		{name: "fixture staging", root: fixtureRepo, dir: "kustomize/overlays/staging"},
		{name: "fixture production", root: fixtureRepo, dir: "kustomize/overlays/production"},
		{name: "fixture base", root: fixtureRepo, dir: "kustomize/base"},
		{name: "fixture guestbook", root: fixtureRepo, dir: "guestbook"},
		{name: "patches of every kind", root: "testdata/render", dir: "overlays/patches"},
		{name: "generators with files, envs and options", root: "testdata/render", dir: "overlays/generators"},
		{name: "components", root: "testdata/render", dir: "overlays/components"},
		{name: "namespaces, labels, cluster-scoped objects", root: "testdata/render", dir: "overlays/namespaces"},
		{name: "images and replicas", root: "testdata/render", dir: "overlays/images"},
		{name: "replacements from a file and inline", root: "testdata/render", dir: "overlays/replacements"},
		{name: "kustomization.yml", root: "testdata/render", dir: "overlays/yml"},
		{name: "Kustomization over a .yml base", root: "testdata/render", dir: "overlays/capital"},
		{name: "built-in generator and transformer plugins", root: "testdata/render", dir: "overlays/plugins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := kustomizeBuild(t, tt.root, tt.dir)
			got, err := Render(context.Background(), tt.root, tt.dir, RenderOptions{})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render differs from kustomize build (-kustomize +Render):\n%s", diff)
			}
		})
	}
}

// TestRenderFixtureEnvironments checks what a user of the fixture sees:
// one replica in staging, ten with resource limits in production.
func TestRenderFixtureEnvironments(t *testing.T) {
	type deployment struct {
		Namespace string
		Replicas  int64
		Image     string
		CPULimit  string
	}
	tests := []struct {
		name string
		dir  string
		want deployment
	}{
		{name: "staging", dir: "kustomize/overlays/staging",
			want: deployment{Namespace: "staging", Replicas: 1, Image: "ghcr.io/my-org/my-api-service:1.0.0"}},
		{name: "production", dir: "kustomize/overlays/production",
			want: deployment{Namespace: "production", Replicas: 10, Image: "ghcr.io/my-org/my-api-service:1.0.0", CPULimit: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Render(context.Background(), fixtureRepo, tt.dir, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Resources(out)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			var got deployment
			for _, r := range res {
				keys = append(keys, r.Key.String())
				if r.Key.Kind != "Deployment" {
					continue
				}
				got.Namespace = r.Object.GetNamespace()
				got.Replicas, _, _ = unstructured.NestedInt64(r.Object.Object, "spec", "replicas")
				containers, _, _ := unstructured.NestedSlice(r.Object.Object, "spec", "template", "spec", "containers")
				c := containers[0].(map[string]any)
				got.Image = c["image"].(string)
				if limits, ok := c["resources"].(map[string]any)["limits"].(map[string]any); ok {
					got.CPULimit = fmt.Sprint(limits["cpu"])
				}
			}
			wantKeys := []string{"Service/" + tt.want.Namespace + "/my-api-service", "Deployment/" + tt.want.Namespace + "/my-api-service"}
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Deployment (-want +got):\n%s", diff)
			}
		})
	}
}

// sandboxRepo writes files (path → content; content "->target" makes a
// symbolic link) under a fresh repository directory inside a parent
// directory that also holds an "outside" tree, and returns the repository
// root.
func sandboxRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	parent := t.TempDir()
	outside := map[string]string{
		"outside/secret.txt":                  "top secret\n",
		"outside/base/kustomization.yaml":     "resources:\n- cm.yaml\n",
		"outside/base/cm.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\ndata:\n  k: v\n",
		"outside/patch/kustomization.yaml":    "resources:\n- cm.yaml\n",
		"outside/patch/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n",
		"repo/base/kustomization.yaml":        "resources:\n- cm.yaml\n",
		"repo/base/cm.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  k: v\n",
		"repo/README.md":                      "not part of any render\n",
		"repo/overlays/ok/kustomization.yaml": "resources:\n- ../../base\n",
	}
	for p, c := range outside {
		writeFile(t, filepath.Join(parent, p), c)
	}
	root := filepath.Join(parent, "repo")
	for p, c := range files {
		full := filepath.Join(root, p)
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			target = strings.ReplaceAll(target, "$PARENT", parent)
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, full, c)
	}
	return root
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRenderSandboxRefuses renders malicious overlays. Each must fail with a
// clear error naming the kustomization and the reference, without running
// git, without any HTTP request and without reading outside the repository.
func TestRenderSandboxRefuses(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n")
	}))
	defer srv.Close()

	// A git on PATH that records being run: krusty clones remote bases by
	// running git.
	fakeBin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "git-was-run")
	writeFile(t, filepath.Join(fakeBin, "git"), "#!/bin/sh\necho \"$@\" >> "+marker+"\nexit 1\n")
	if err := os.Chmod(filepath.Join(fakeBin, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))

	k := func(body string) map[string]string {
		return map[string]string{"overlays/evil/kustomization.yaml": body}
	}
	tests := []struct {
		name    string
		files   map[string]string
		dir     string
		wantErr error
		wantMsg string
	}{
		{name: "directory outside the repository", files: k("resources:\n- ../../../outside/base\n"),
			wantErr: ErrOutsideRepository, wantMsg: `overlays/evil/kustomization.yaml: resources "../../../outside/base"`},
		{name: "deep relative escape", files: k("resources:\n- ../../../../../../../../etc\n"),
			wantErr: ErrOutsideRepository, wantMsg: `resources "../../../../../../../../etc"`},
		{name: "symlinked file leaving the repository", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- cm.yaml\n",
			"overlays/evil/cm.yaml":            "->$PARENT/outside/base/cm.yaml",
		}, wantErr: ErrOutsideRepository, wantMsg: `resources "cm.yaml"`},
		{name: "symlinked directory leaving the repository", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../shared\n",
			"overlays/shared":                  "->$PARENT/outside/base",
		}, wantErr: ErrOutsideRepository, wantMsg: `resources "../shared"`},
		{name: "generator file through a symlink", files: map[string]string{
			"overlays/evil/kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - secret=passwd\n",
			"overlays/evil/passwd":             "->/etc/passwd",
		}, wantErr: ErrOutsideRepository, wantMsg: `configMapGenerator.files "passwd"`},
		{name: "absolute path", files: k("resources:\n- /etc/passwd\n"),
			wantErr: ErrAbsolutePath, wantMsg: `resources "/etc/passwd"`},
		{name: "remote git base", files: k("resources:\n- github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.8.2\n"),
			wantErr: ErrRemoteReference, wantMsg: `resources "github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.8.2"`},
		{name: "remote scp-style git base", files: k("resources:\n- git@github.com:my-org/cluster-config.git//base\n"),
			wantErr: ErrRemoteReference},
		{name: "remote https base in components", files: k("components:\n- https://example.com/org/repo.git//component\n"),
			wantErr: ErrRemoteReference},
		{name: "remote HTTP resource", files: k("resources:\n- " + srv.URL + "/cm.yaml\n"),
			wantErr: ErrRemoteReference},
		{name: "remote HTTP patch", files: k("resources:\n- ../../base\npatches:\n- path: " + srv.URL + "/patch.yaml\n"),
			wantErr: ErrRemoteReference, wantMsg: "patches.path"},
		{name: "remote generator file", files: k("configMapGenerator:\n- name: x\n  files:\n  - " + srv.URL + "/x\n"),
			wantErr: ErrRemoteReference},
		{name: "remote path inside a built-in transformer config", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../../base\ntransformers:\n- patch.yaml\n",
			"overlays/evil/patch.yaml":         "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " + srv.URL + "/p.yaml\n",
		}, wantErr: ErrRemoteReference, wantMsg: "PatchTransformer.path"},
		{name: "exec plugin", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../../base\ntransformers:\n- plugin.yaml\n",
			"overlays/evil/plugin.yaml":        "apiVersion: someteam.example.com/v1\nkind: SedTransformer\nmetadata:\n  name: sed\nargsOneLiner: s/a/b/\n",
		}, wantErr: ErrPluginNotAllowed, wantMsg: `apiVersion "someteam.example.com/v1/SedTransformer"`},
		{name: "container function plugin inline", files: k("resources:\n- ../../base\ngenerators:\n- |-\n  apiVersion: example.com/v1\n  kind: Gen\n  metadata:\n    name: g\n    annotations:\n      config.kubernetes.io/function: |\n        container:\n          image: evil.example.com/gen:latest\n"),
			wantErr: ErrPluginNotAllowed},
		{name: "plugin directory that transforms its plugin configs", files: map[string]string{
			"overlays/evil/kustomization.yaml":         "resources:\n- ../../base\ntransformers:\n- plugins\n",
			"overlays/evil/plugins/kustomization.yaml": "resources:\n- labels.yaml\npatches:\n- patch: |-\n    apiVersion: builtin\n    kind: LabelTransformer\n    metadata:\n      name: l\n    labels:\n      a: b\n",
			"overlays/evil/plugins/labels.yaml":        "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  x: y\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
		}, wantErr: ErrPluginNotAllowed},
		{name: "helm chart from a repository", files: k("helmCharts:\n- name: nginx\n  repo: https://charts.example.com\n  version: 1.0.0\n"),
			wantErr: ErrRemoteReference, wantMsg: "helmCharts.repo"},
		{name: "local helm chart without EnableHelm", files: map[string]string{
			"overlays/evil/kustomization.yaml":       "helmCharts:\n- name: local\n",
			"overlays/evil/charts/local/Chart.yaml":  "apiVersion: v2\nname: local\nversion: 0.1.0\n",
			"overlays/evil/charts/local/values.yaml": "{}\n",
		}, wantErr: ErrRender, wantMsg: "must specify --enable-helm"},
		{name: "kustomization file linked to one outside", files: map[string]string{
			"overlays/evil/kustomization.yaml": "->$PARENT/outside/base/kustomization.yaml",
			"overlays/evil/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		}, wantErr: ErrOutsideRepository, wantMsg: "overlays/evil/kustomization.yaml"},
		{name: "helm chart name leaving the chart home", files: k("helmCharts:\n- name: ../../../../outside\n"),
			wantErr: ErrOutsideRepository, wantMsg: "helmCharts.name"},
		{name: "helm chart linked outside the repository", files: map[string]string{
			"overlays/evil/kustomization.yaml": "helmCharts:\n- name: local\n",
			"overlays/evil/charts/local":       "->$PARENT/outside/base",
		}, wantErr: ErrOutsideRepository},
		{name: "remote chart in a generator config", files: map[string]string{
			"overlays/evil/kustomization.yaml": "generators:\n- helm.yaml\n",
			"overlays/evil/helm.yaml":          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nname: nginx\nrepo: oci://registry.example.com/charts\n",
		}, wantErr: ErrRemoteReference, wantMsg: "HelmChartInflationGenerator.repo"},
		{name: "malformed local file named like a git URL", files: map[string]string{
			"overlays/evil/kustomization.yaml":         "resources:\n- github.com/org/repo/x.yaml\n",
			"overlays/evil/github.com/org/repo/x.yaml": "{not yaml",
		}, wantErr: ErrRemoteReference},
		{name: "app path outside the repository", files: nil, dir: "../outside/base", wantErr: ErrOutsideRepository},
		{name: "app path through a symlink leaving the repository", files: map[string]string{
			"overlays/link": "->$PARENT/outside/base",
		}, dir: "overlays/link", wantErr: ErrOutsideRepository},
		{name: "directory without a kustomization", files: map[string]string{"overlays/evil/cm.yaml": "a: b\n"},
			wantErr: ErrNoKustomization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := sandboxRepo(t, tt.files)
			dir := tt.dir
			if dir == "" {
				dir = "overlays/evil"
			}
			out, err := Render(context.Background(), root, dir, RenderOptions{})
			if err == nil {
				t.Fatalf("Render succeeded, want %v; output:\n%s", tt.wantErr, out)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Render error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Render error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), filepath.Dir(root)) {
				t.Errorf("Render error %q reveals the checkout location", err)
			}
			if strings.Contains(string(out), "stolen") || strings.Contains(err.Error(), "top secret") {
				t.Errorf("content from outside the repository leaked")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the sandbox made %d HTTP requests", n)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the sandbox ran git: %s", b)
	}
}

// TestSandboxFSBelowKrusty renders escapes straight through krusty, without
// the reference walk that normally refuses them first: the file system alone
// must stop every read outside the repository.
func TestSandboxFSBelowKrusty(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{name: "relative directory outside", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../../../outside/base\n"}},
		{name: "symlinked resource file", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- cm.yaml\n",
			"overlays/evil/cm.yaml":            "->$PARENT/outside/base/cm.yaml"}},
		{name: "symlinked base directory", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../shared\n",
			"overlays/shared":                  "->$PARENT/outside/base"}},
		{name: "symlinked patch file", files: map[string]string{
			"overlays/evil/kustomization.yaml": "resources:\n- ../../base\npatches:\n- path: p.yaml\n",
			"overlays/evil/p.yaml":             "->$PARENT/outside/patch/cm.yaml"}},
		{name: "symlinked generator file", files: map[string]string{
			"overlays/evil/kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - s=secret\n",
			"overlays/evil/secret":             "->$PARENT/outside/secret.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := sandboxRepo(t, tt.files)
			fsys, err := newSandboxFS(root)
			if err != nil {
				t.Fatal(err)
			}
			out, err := build(fsys, fsys.root, filepath.Join(fsys.root, "overlays/evil"), RenderOptions{})
			if err == nil {
				t.Fatalf("krusty rendered through the sandbox:\n%s", out)
			}
			if !strings.Contains(err.Error(), ErrOutsideRepository.Error()) {
				t.Errorf("error = %v, want it to say %q", err, ErrOutsideRepository)
			}
			if strings.Contains(err.Error(), "top secret") {
				t.Errorf("content from outside the repository leaked: %v", err)
			}
		})
	}
}

// TestRenderInsideSymlinkedRoot renders through a checkout reached by a
// symbolic link, with links inside the repository that stay inside it.
func TestRenderInsideSymlinkedRoot(t *testing.T) {
	root := sandboxRepo(t, map[string]string{
		"overlays/linked":                 "->../base",
		"overlays/app/kustomization.yaml": "resources:\n- ../linked\n- extra.yaml\n",
		"overlays/app/extra.yaml":         "->data/extra.yaml",
		"overlays/app/data/extra.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
	})
	link := filepath.Join(t.TempDir(), "checkout")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	got, err := Render(context.Background(), link, "overlays/app", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := kustomizeBuild(t, link, "overlays/app")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Render differs from kustomize build (-kustomize +Render):\n%s", diff)
	}
	if !strings.Contains(string(got), "name: extra") || !strings.Contains(string(got), "name: fine") {
		t.Errorf("Render lost an object:\n%s", got)
	}
}

// TestRenderConcurrent renders the fixture overlays from many goroutines:
// krusty is not safe for concurrent builds, Render must be.
func TestRenderConcurrent(t *testing.T) {
	dirs := []string{"kustomize/overlays/staging", "kustomize/overlays/production", "guestbook"}
	want := map[string]string{}
	for _, d := range dirs {
		out, err := Render(context.Background(), fixtureRepo, d, RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[d] = string(out)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Add(1)
		go func(d string) {
			defer wg.Done()
			out, err := Render(context.Background(), fixtureRepo, d, RenderOptions{})
			if err != nil {
				errs <- err
				return
			}
			if string(out) != want[d] {
				errs <- fmt.Errorf("%s: concurrent render differs", d)
			}
		}(dirs[i%len(dirs)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRenderWaitHonoursContext(t *testing.T) {
	p := poolFor(ClassPreview)
	var held []*worker
	for range cap(p.slots) { // every worker is busy
		held = append(held, <-p.slots)
	}
	defer func() {
		for _, w := range held {
			p.slots <- w
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Render(ctx, fixtureRepo, "kustomize/overlays/staging", RenderOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Render error = %v, want context.Canceled", err)
	}
}

// TestBuildRecoversPanics feeds build a file system that panics on use, as a
// krusty bug would panic mid-build: the panic must come back as an error.
func TestBuildRecoversPanics(t *testing.T) {
	var broken *sandboxFS // every method dereferences it
	_, err := build(broken, "/", "/nowhere", RenderOptions{})
	if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("build error = %v, want a recovered panic wrapping ErrRender", err)
	}
}
