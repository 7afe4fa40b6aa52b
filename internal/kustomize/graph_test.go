package kustomize

import (
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const graphRepo = "testdata/graph"

func TestDependencies(t *testing.T) {
	base := []string{"base/deployment.yaml", "base/kustomization.yaml", "base/service.yaml"}
	staging := append([]string{
		"components/extra/kustomization.yaml",
		"components/extra/patch.yaml",
		"overlays/staging/app.env",
		"overlays/staging/config.json",
		"overlays/staging/kustomization.yaml",
		"overlays/staging/raw.txt",
		"overlays/staging/replicas.yaml",
	}, base...)
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{name: "base", dir: "base", want: base},
		{name: "components, patches and generator files", dir: "overlays/staging", want: staging},
		{name: "kustomization.yml, strategic merge patches, replacements, secret env", dir: "overlays/production", want: append([]string{
			"overlays/production/creds.env",
			"overlays/production/kustomization.yml",
			"overlays/production/limits.yaml",
			"overlays/production/replacement.yaml",
		}, base...)},
		{name: "Kustomization over another overlay, CRDs, configurations, OpenAPI, plugins", dir: "overlays/dev", want: append([]string{
			"overlays/dev/Kustomization",
			"overlays/dev/crd-schema.json",
			"overlays/dev/crd.yaml",
			"overlays/dev/gen-data.txt",
			"overlays/dev/gen/configmap-generator.yaml",
			"overlays/dev/gen/kustomization.yaml",
			"overlays/dev/labels.yaml",
			"overlays/dev/naming.yaml",
			"overlays/dev/schema.json",
		}, staging...)},
		{name: "references that do not exist yet", dir: "overlays/missing", want: append([]string{
			"not-yet-a-dir",
			"overlays/missing/kustomization.yaml",
			"overlays/missing/not-yet.yaml",
		}, base...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Dependencies(graphRepo, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Dependencies (-want +got):\n%s", diff)
			}
		})
	}
}

// recordingFS records every file krusty reads.
type recordingFS struct {
	filesys.FileSystem
	mu    sync.Mutex
	reads []string
}

func (r *recordingFS) ReadFile(name string) ([]byte, error) {
	b, err := r.FileSystem.ReadFile(name)
	if err == nil {
		r.mu.Lock()
		r.reads = append(r.reads, name)
		r.mu.Unlock()
	}
	return b, err
}

func (r *recordingFS) Open(name string) (filesys.File, error) {
	f, err := r.FileSystem.Open(name)
	if err == nil {
		r.mu.Lock()
		r.reads = append(r.reads, name)
		r.mu.Unlock()
	}
	return f, err
}

// TestDependenciesCoverWhatKustomizeReads renders each overlay while
// recording the files kustomize reads: every one must be among the
// Dependencies, or a change to it would not trigger a render.
func TestDependenciesCoverWhatKustomizeReads(t *testing.T) {
	tests := []struct {
		name string
		root string
		dir  string
	}{
		{name: "graph staging", root: graphRepo, dir: "overlays/staging"},
		{name: "graph production", root: graphRepo, dir: "overlays/production"},
		{name: "graph dev", root: graphRepo, dir: "overlays/dev"},
		{name: "fixture staging", root: fixtureRepo, dir: "kustomize/overlays/staging"},
		{name: "fixture production", root: fixtureRepo, dir: "kustomize/overlays/production"},
		{name: "fixture guestbook", root: fixtureRepo, dir: "guestbook"},
		{name: "render patches", root: "testdata/render", dir: "overlays/patches"},
		{name: "render generators", root: "testdata/render", dir: "overlays/generators"},
		{name: "render components", root: "testdata/render", dir: "overlays/components"},
		{name: "render replacements", root: "testdata/render", dir: "overlays/replacements"},
		{name: "render Kustomization", root: "testdata/render", dir: "overlays/capital"},
		{name: "render plugins", root: "testdata/render", dir: "overlays/plugins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, err := Dependencies(tt.root, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			sandbox, err := newSandboxFS(tt.root)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recordingFS{FileSystem: sandbox}
			if _, err := build(rec, sandbox.root, filepath.Join(sandbox.root, tt.dir), RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(rec.reads) == 0 {
				t.Fatal("kustomize read no files")
			}
			listed := map[string]bool{}
			for _, d := range deps {
				listed[d] = true
			}
			for _, r := range rec.reads {
				rel, err := filepath.Rel(sandbox.root, r)
				if err != nil {
					t.Fatal(err)
				}
				if !listed[filepath.ToSlash(rel)] {
					t.Errorf("kustomize read %s, which Dependencies does not list (%v)", rel, deps)
				}
			}
		})
	}
}

func TestAffected(t *testing.T) {
	apps := []string{"overlays/staging", "overlays/production", "overlays/dev"}
	deps := map[string][]string{}
	for _, a := range apps {
		d, err := Dependencies(graphRepo, a)
		if err != nil {
			t.Fatal(err)
		}
		deps[a] = d
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{name: "base change affects every overlay", changed: []string{"base/deployment.yaml"}, want: apps},
		{name: "README affects none", changed: []string{"README.md", "docs/notes.md"}, want: nil},
		{name: "generator file of staging affects staging and the overlay built on it", changed: []string{"overlays/staging/raw.txt"}, want: []string{"overlays/staging", "overlays/dev"}},
		{name: "unreferenced file next to an overlay affects none", changed: []string{"overlays/staging/unused.yaml"}, want: nil},
		{name: "component file", changed: []string{"components/extra/patch.yaml"}, want: []string{"overlays/staging", "overlays/dev"}},
		{name: "kustomization.yml", changed: []string{"overlays/production/kustomization.yml"}, want: []string{"overlays/production"}},
		{name: "Kustomization", changed: []string{"overlays/dev/Kustomization"}, want: []string{"overlays/dev"}},
		{name: "plugin configuration in a generator directory", changed: []string{"overlays/dev/gen/configmap-generator.yaml"}, want: []string{"overlays/dev"}},
		{name: "a whole directory replaced", changed: []string{"components"}, want: []string{"overlays/staging", "overlays/dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range apps {
				if Affected(deps[a], tt.changed) {
					got = append(got, a)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("affected apps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAffectedMissingDirectory(t *testing.T) {
	deps, err := Dependencies(graphRepo, "overlays/missing")
	if err != nil {
		t.Fatal(err)
	}
	if !Affected(deps, []string{"not-yet-a-dir/kustomization.yaml"}) {
		t.Errorf("adding a kustomization to a referenced directory does not affect the overlay (%v)", deps)
	}
	if !Affected(deps, []string{"overlays/missing/not-yet.yaml"}) {
		t.Errorf("adding a referenced file does not affect the overlay (%v)", deps)
	}
}

// TestDependenciesSymlinks lists a file reached through a link under both
// names, and refuses links that leave the repository.
func TestDependenciesSymlinks(t *testing.T) {
	root := sandboxRepo(t, map[string]string{
		"overlays/app/kustomization.yaml": "resources:\n- ../shared\n",
		"overlays/shared":                 "->../base",
		"overlays/bad/kustomization.yaml": "resources:\n- cm.yaml\n",
		"overlays/bad/cm.yaml":            "->$PARENT/outside/base/cm.yaml",
	})
	got, err := Dependencies(root, "overlays/app")
	if err != nil {
		t.Fatal(err)
	}
	// Inside the linked directory kustomize resolves paths against the real
	// directory, so cm.yaml is base/cm.yaml; the link shows up through its
	// kustomization file.
	want := []string{"base/cm.yaml", "base/kustomization.yaml", "overlays/app/kustomization.yaml", "overlays/shared/kustomization.yaml"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dependencies (-want +got):\n%s", diff)
	}
	if !Affected(got, []string{"overlays/shared"}) {
		t.Error("retargeting the link does not affect the overlay")
	}
	_, err = Dependencies(root, "overlays/bad")
	if !errors.Is(err, ErrOutsideRepository) {
		t.Errorf("Dependencies error = %v, want ErrOutsideRepository", err)
	}
	var ref *ReferenceError
	if !errors.As(err, &ref) || ref.File != "overlays/bad/kustomization.yaml" || ref.Field != "resources" || ref.Ref != "cm.yaml" {
		t.Errorf("Dependencies error = %#v, want a ReferenceError naming the file, field and reference", err)
	}
}

func TestDependenciesRefuses(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error
	}{
		{name: "remote base", body: "resources:\n- https://github.com/my-org/cluster-config//base?ref=main\n", wantErr: ErrRemoteReference},
		{name: "outside the repository", body: "resources:\n- ../../../outside/base\n", wantErr: ErrOutsideRepository},
		{name: "absolute", body: "patches:\n- path: /etc/passwd\n", wantErr: ErrAbsolutePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := sandboxRepo(t, map[string]string{"overlays/evil/kustomization.yaml": tt.body})
			_, err := Dependencies(root, "overlays/evil")
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Dependencies error = %v, want %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "overlays/evil: overlays/evil/kustomization.yaml: ") {
				t.Errorf("Dependencies error %q does not name the app and file", err)
			}
		})
	}
}

func TestFindKustomization(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    string
		wantErr bool
	}{
		{name: "kustomization.yaml", files: []string{"kustomization.yaml"}, want: "kustomization.yaml"},
		{name: "kustomization.yml", files: []string{"kustomization.yml"}, want: "kustomization.yml"},
		{name: "Kustomization", files: []string{"Kustomization"}, want: "Kustomization"},
		{name: "none", files: []string{"deployment.yaml"}, wantErr: true},
		{name: "two", files: []string{"kustomization.yaml", "Kustomization"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				writeFile(t, filepath.Join(dir, f), "resources: []\n")
			}
			got, err := FindKustomization(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("FindKustomization error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("FindKustomization = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFixtureDependencies: in the fixture repository a base change reaches
// both environments, an overlay change only its own, and the README or an
// Application manifest neither.
func TestFixtureDependencies(t *testing.T) {
	apps := []string{"kustomize/overlays/staging", "kustomize/overlays/production", "guestbook"}
	deps := map[string][]string{}
	for _, a := range apps {
		d, err := Dependencies(fixtureRepo, a)
		if err != nil {
			t.Fatal(err)
		}
		deps[a] = d
	}
	wantProduction := []string{
		"kustomize/base/deployment.yaml",
		"kustomize/base/kustomization.yaml",
		"kustomize/base/service.yaml",
		"kustomize/overlays/production/kustomization.yaml",
		"kustomize/overlays/production/resources-patch.yaml",
	}
	if diff := cmp.Diff(wantProduction, deps["kustomize/overlays/production"]); diff != "" {
		t.Errorf("production Dependencies (-want +got):\n%s", diff)
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{name: "base", changed: []string{"kustomize/base/deployment.yaml"}, want: []string{"kustomize/overlays/staging", "kustomize/overlays/production"}},
		{name: "staging image bump", changed: []string{"kustomize/overlays/staging/kustomization.yaml"}, want: []string{"kustomize/overlays/staging"}},
		{name: "production patch", changed: []string{"kustomize/overlays/production/resources-patch.yaml"}, want: []string{"kustomize/overlays/production"}},
		{name: "README and Application manifests", changed: []string{"README.md", "apps/my-api-service-staging.yaml"}, want: nil},
		{name: "guestbook", changed: []string{"guestbook/service.yaml"}, want: []string{"guestbook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range apps {
				if Affected(deps[a], tt.changed) {
					got = append(got, a)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("affected apps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsKustomizationFile(t *testing.T) {
	tests := []struct {
		name string
		path string
		want bool
	}{
		{name: "yaml", path: "kustomize/overlays/staging/kustomization.yaml", want: true},
		{name: "yml", path: "a/kustomization.yml", want: true},
		{name: "Kustomization", path: "Kustomization", want: true},
		{name: "other yaml", path: "kustomize/base/deployment.yaml", want: false},
		{name: "wrong case", path: "a/Kustomization.yaml", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKustomizationFile(tt.path); got != tt.want {
				t.Errorf("IsKustomizationFile(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}
