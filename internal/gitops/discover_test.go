package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize"
)

// summary lists apps as "name path file root" and notes as "kind file: app:
// message".
func summary(apps []App, notes []Note) (gotApps, gotNotes []string) {
	for _, a := range apps {
		s := a.Name + " " + a.Path + " " + a.File
		if a.Root != "" {
			s += " root=" + a.Root
		}
		gotApps = append(gotApps, s)
	}
	for _, n := range notes {
		gotNotes = append(gotNotes, string(n.Kind)+" "+n.String())
	}
	return gotApps, gotNotes
}

// TestDiscoverNestedRoots follows Applications whose source holds more
// Applications, to the depth limit.
func TestDiscoverNestedRoots(t *testing.T) {
	chain := func() fstest.MapFS {
		fsys := fstest.MapFS{"svc/cm.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")}}
		dirs := []string{"apps", "l1", "l2", "l3", "l4", "l5"}
		for i, d := range dirs {
			fsys[d+"/leaf.yaml"] = &fstest.MapFile{Data: []byte(application("leaf-"+d, "svc", "shop"))}
			if i+1 < len(dirs) {
				fsys[d+"/next.yaml"] = &fstest.MapFile{Data: []byte(application("root-"+dirs[i+1], dirs[i+1], "argocd"))}
			}
		}
		return fsys
	}
	tests := []struct {
		name      string
		fsys      fstest.MapFS
		maxDepth  int
		wantApps  []string
		wantNotes []string
	}{
		{name: "four levels down and no further", fsys: chain(),
			wantApps: []string{"leaf-apps svc apps/leaf.yaml", "leaf-l1 svc l1/leaf.yaml", "leaf-l2 svc l2/leaf.yaml", "leaf-l3 svc l3/leaf.yaml", "leaf-l4 svc l4/leaf.yaml"},
			wantNotes: []string{
				"root l4/next.yaml: root-l5: nested App of Apps root l5 is more than 4 levels below the apps directory; its Applications are not read",
				"root apps/next.yaml: root-l1: App of Apps root (source path l1 holds Application manifests); not applied as a child",
				"root l1/next.yaml: root-l2: App of Apps root (source path l2 holds Application manifests); not applied as a child",
				"root l2/next.yaml: root-l3: App of Apps root (source path l3 holds Application manifests); not applied as a child",
				"root l3/next.yaml: root-l4: App of Apps root (source path l4 holds Application manifests); not applied as a child",
				"root l4/next.yaml: root-l5: App of Apps root (source path l5 holds Application manifests); not applied as a child",
			}},
		{name: "a lower limit", fsys: chain(), maxDepth: 1,
			wantApps: []string{"leaf-apps svc apps/leaf.yaml", "leaf-l1 svc l1/leaf.yaml"},
			wantNotes: []string{
				"root l1/next.yaml: root-l2: nested App of Apps root l2 is more than 1 levels below the apps directory; its Applications are not read",
				"root apps/next.yaml: root-l1: App of Apps root (source path l1 holds Application manifests); not applied as a child",
				"root l1/next.yaml: root-l2: App of Apps root (source path l2 holds Application manifests); not applied as a child",
			}},
		{name: "a cycle ends", fsys: fstest.MapFS{
			"apps/a.yaml": {Data: []byte(application("to-x", "x", "argocd"))},
			"x/b.yaml":    {Data: []byte(application("to-y", "y", "argocd"))},
			"y/c.yaml":    {Data: []byte(application("to-x-again", "x", "argocd"))},
			"y/d.yaml":    {Data: []byte(application("web", "web", "shop"))},
		},
			wantApps: []string{"web web y/d.yaml"},
			wantNotes: []string{
				"root apps/a.yaml: to-x: App of Apps root (source path x holds Application manifests); not applied as a child",
				"root x/b.yaml: to-y: App of Apps root (source path y holds Application manifests); not applied as a child",
				"root y/c.yaml: to-x-again: App of Apps root (source path x holds Application manifests); not applied as a child",
			}},
		{name: "a nested root reads as its directory source says", fsys: fstest.MapFS{
			"apps/team.yaml": {Data: []byte(strings.Replace(application("team", "team", "argocd"), "    path: team\n",
				"    path: team\n    directory: {recurse: true, exclude: 'old/*'}\n", 1))},
			"team/a.yaml":        {Data: []byte(application("a", "a", "shop"))},
			"team/sub/b.json":    {Data: []byte(`{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "b"}, "spec": {"source": {"repoURL": "` + repoURL + `", "path": "b"}, "destination": {"name": "in-cluster"}}}`)},
			"team/old/c.yaml":    {Data: []byte(application("c", "c", "shop"))},
			"team/notes.txt":     {Data: []byte(application("d", "d", "shop"))},
			"team/sub/deep.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")},
		},
			wantApps: []string{"a a team/a.yaml", "b b team/sub/b.json"},
			wantNotes: []string{
				"root apps/team.yaml: team: App of Apps root (source path team holds Application manifests); not applied as a child",
			}},
		{name: "a nested kustomization root needs a render", fsys: fstest.MapFS{
			"apps/team.yaml":          {Data: []byte(application("team", "team", "argocd"))},
			"team/kustomization.yaml": {Data: []byte("resources: [a.yaml]\n")},
			"team/a.yaml":             {Data: []byte(application("a", "a", "shop"))},
		},
			wantNotes: []string{
				"root team: team: nested App of Apps root team is a kustomize source, which discovery cannot render here; its Applications are not read",
				"root apps/team.yaml: team: App of Apps root (source path team holds Application manifests); not applied as a child",
			}},
		{name: "a Helm chart apps directory needs a render", fsys: fstest.MapFS{
			"apps/Chart.yaml":          {Data: []byte("apiVersion: v2\nname: apps\nversion: 0.1.0\n")},
			"apps/templates/web.yaml":  {Data: []byte(application("web", "{{ .Values.path }}", "shop"))},
			"apps/templates/_help.tpl": {Data: []byte("{{/* */}}")},
		},
			wantNotes: []string{"invalid apps: the apps directory is a Helm chart, which discovery cannot render here; no Application is read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps, notes, err := DiscoverApps(tt.fsys, DiscoverOptions{RepoURLs: []string{repoURL}, MaxDepth: tt.maxDepth})
			if err != nil {
				t.Fatal(err)
			}
			gotApps, gotNotes := summary(apps, notes)
			if diff := cmp.Diff(tt.wantApps, gotApps); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			// kustomize's own words end a note with "…": only what
			// promobot writes is compared.
			for i, w := range tt.wantNotes {
				if p, ok := strings.CutSuffix(w, "…"); ok && i < len(gotNotes) && strings.HasPrefix(gotNotes[i], p) {
					gotNotes[i] = w
				}
			}
			if diff := cmp.Diff(tt.wantNotes, gotNotes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

// renderRepo writes files under a new directory and returns it with a
// RenderFunc that renders kustomizations there with the real renderer and
// refuses every other kind, as a Helm root is refused until its renderer
// is plugged in.
func renderRepo(t *testing.T, files map[string]string) (string, RenderFunc) {
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
	render := func(_ App, src Source) ([]byte, error) {
		if src.Kind != SourceKustomize {
			return nil, errors.New("helm is not available")
		}
		return kustomize.Render(context.Background(), dir, src.Path, kustomize.RenderOptions{})
	}
	return dir, render
}

// TestDiscoverRenderedRoots reads the Applications of apps directories
// and nested roots that are kustomizations from their render, as Argo CD
// does.
func TestDiscoverRenderedRoots(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantApps  []string
		wantNotes []string
	}{
		{name: "kustomization apps directory",
			files: map[string]string{
				"apps/kustomization.yaml":      "resources: [web.yaml, team/]\npatches:\n- target: {kind: Application, name: web}\n  patch: |-\n    - op: replace\n      path: /spec/source/path\n      value: web/overlays/production\n",
				"apps/web.yaml":                application("web", "web/overlays/staging", "shop"),
				"apps/unlisted.yaml":           application("unlisted", "x", "shop"),
				"apps/team/kustomization.yaml": "resources: [worker.yaml]\n",
				"apps/team/worker.yaml":        application("worker", "worker", "shop"),
			},
			wantApps: []string{"web web/overlays/production apps root=apps", "worker worker apps root=apps"}},
		{name: "nested kustomization root",
			files: map[string]string{
				"apps/team.yaml":          application("team", "team", "argocd"),
				"team/kustomization.yaml": "resources: [a.yaml]\nnamePrefix: team-\n",
				"team/a.yaml":             application("a", "a", "shop"),
			},
			wantApps:  []string{"team-a a team root=team"},
			wantNotes: []string{"root apps/team.yaml: team: App of Apps root (source path team holds Application manifests); not applied as a child"}},
		{name: "a root that does not render",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [missing.yaml]\n",
				"apps/web.yaml":           application("web", "web", "shop"),
			},
			wantNotes: []string{"invalid apps: App of Apps root (kustomize) does not render, so none of its Applications is read: apps: kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': …"}},
		{name: "Helm chart apps directory",
			files: map[string]string{
				"apps/Chart.yaml":         "apiVersion: v2\nname: apps\nversion: 0.1.0\n",
				"apps/templates/web.yaml": application("web", "web", "shop"),
			},
			wantNotes: []string{"invalid apps: App of Apps root (helm) does not render, so none of its Applications is read: helm is not available"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, render := renderRepo(t, tt.files)
			apps, notes, err := DiscoverApps(os.DirFS(dir), DiscoverOptions{RepoURLs: []string{repoURL}, Render: render})
			if err != nil {
				t.Fatal(err)
			}
			gotApps, gotNotes := summary(apps, notes)
			if diff := cmp.Diff(tt.wantApps, gotApps); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			// kustomize's own words end a note with "…": only what
			// promobot writes is compared.
			for i, w := range tt.wantNotes {
				if p, ok := strings.CutSuffix(w, "…"); ok && i < len(gotNotes) && strings.HasPrefix(gotNotes[i], p) {
					gotNotes[i] = w
				}
			}
			if diff := cmp.Diff(tt.wantNotes, gotNotes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}
