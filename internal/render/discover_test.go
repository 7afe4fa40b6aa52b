package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

// TestDiscoverRefusesEscapes: roots that reach outside the repository, by
// a link or a kustomization reference, are refused with a note, and
// nothing outside is read.
func TestDiscoverRefusesEscapes(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		links     map[string]string
		wantApps  []string
		wantNotes []string
	}{
		{name: "a link out of a nested directory root",
			files: map[string]string{
				"apps/team.yaml": application("team", "  source: {repoURL: "+repoURL+", path: team}\n"),
				"team/a.yaml":    application("a", "  source: {repoURL: "+repoURL+", path: plain}\n"),
			},
			links:    map[string]string{"team/z.yaml": "../../outside/app.yaml"},
			wantApps: []string{"a"},
			wantNotes: []string{
				"invalid team: team: nested App of Apps root team could not be read: team walk: team/z.yaml: symbolic link points outside the repository",
				"root apps/team.yaml: team: App of Apps root (source path team holds Application manifests); not applied as a child",
			}},
		{name: "a kustomization root reaching outside",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [../../outside]\n",
			},
			wantNotes: []string{"invalid apps: App of Apps root (kustomize) does not render, so none of its Applications is read: apps: apps/kustomization.yaml: resources \"../../outside\": ../outside: outside the repository"}},
		{name: "a kustomization root through a link out",
			files: map[string]string{
				"apps/kustomization.yaml": "resources: [stolen.yaml]\n",
			},
			links:     map[string]string{"apps/stolen.yaml": "../../outside/app.yaml"},
			wantNotes: []string{"invalid apps: App of Apps root (kustomize) does not render, so none of its Applications is read: apps: apps/kustomization.yaml: resources \"stolen.yaml\": apps/stolen.yaml: symbolic link points outside the repository"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			outside := filepath.Join(parent, "outside")
			if err := os.MkdirAll(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			stolen := application("stolen", "  source: {repoURL: "+repoURL+", path: plain}\n")
			if err := os.WriteFile(filepath.Join(outside, "app.yaml"), []byte(stolen), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "kustomization.yaml"), []byte("resources: [app.yaml]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(parent, "repo")
			for p, c := range tt.files {
				full := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for p, target := range tt.links {
				if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
					t.Fatal(err)
				}
			}
			apps, notes, err := Discover(context.Background(), root, gitops.DiscoverOptions{RepoURLs: []string{repoURL}}, kustomize.RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var gotApps, gotNotes []string
			for _, a := range apps {
				gotApps = append(gotApps, a.Name)
			}
			for _, n := range notes {
				gotNotes = append(gotNotes, string(n.Kind)+" "+n.String())
				if strings.Contains(n.Message, "stolen") && !strings.Contains(n.Message, "stolen.yaml") {
					t.Errorf("a note shows what lies outside the repository: %s", n)
				}
			}
			if diff := cmp.Diff(tt.wantApps, gotApps); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, gotNotes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}
