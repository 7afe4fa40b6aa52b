package gitops

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/checkout"
)

// TestLoadDirRefusesLinksOutOfTheRepository loads checkouts whose
// .promobot.yaml or Application manifest is a link (through a chain) to a
// file beside the checkout: the load fails naming the link, and nothing of
// the file is read. Links that stay inside load as their targets.
func TestLoadDirRefusesLinksOutOfTheRepository(t *testing.T) {
	const secret = "s3cr3t-outside-token"
	app := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: %s\nspec:\n  source:\n    repoURL: https://github.com/my-org/cluster-config.git\n    path: overlays/staging\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: staging\n"
	tests := []struct {
		name     string
		links    map[string]string
		wantErr  string
		wantApps []string
	}{
		{name: "configuration through a chain", links: map[string]string{".promobot.yaml": "y/outside.yaml"},
			wantErr: ".promobot.yaml: symbolic link y points outside the repository"},
		{name: "configuration above the root", links: map[string]string{".promobot.yaml": "../outside.yaml"},
			wantErr: ".promobot.yaml: symbolic link points outside the repository"},
		{name: "manifest through a chain", links: map[string]string{"apps/stolen.yaml": "../y/app.yaml"},
			wantErr: "apps dir apps walk: apps/stolen.yaml: symbolic link y points outside the repository"},
		{name: "apps directory through a chain", links: map[string]string{"apps": "y/apps"},
			wantErr: "apps dir apps walk: apps: symbolic link y points outside the repository"},
		{name: "manifest inside", links: map[string]string{"apps/linked.yaml": "../other/app.yaml"},
			wantApps: []string{"inside", "staging-app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			for name, content := range map[string]string{
				"outside.yaml":        secret + ": true\n",
				"app.yaml":            strings.ReplaceAll(app, "%s", secret),
				"apps/app.yaml":       strings.ReplaceAll(app, "%s", secret),
				"repo/apps/a.yaml":    strings.ReplaceAll(app, "%s", "staging-app"),
				"repo/other/app.yaml": strings.ReplaceAll(app, "%s", "inside"),
			} {
				full := filepath.Join(parent, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			root := filepath.Join(parent, "repo")
			links := map[string]string{"x": ".", "y": "x/.."}
			for p, target := range tt.links {
				links[p] = target
			}
			for p, target := range links {
				full := filepath.Join(root, filepath.FromSlash(p))
				_ = os.RemoveAll(full)
				if err := os.Symlink(target, full); err != nil {
					t.Fatal(err)
				}
			}
			r, err := LoadDir(root, nil)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, checkout.ErrOutsideRepository) {
					t.Fatalf("LoadDir error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the outside file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantApps, r.AppNames()); diff != "" {
				t.Errorf("apps (-want +got):\n%s", diff)
			}
		})
	}
}
