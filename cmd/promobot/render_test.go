package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderMatchesKustomizeBuild checks that "promobot render" prints what
// kustomize v5.8.2's "kustomize build" prints for the fixture's overlays.
func TestRenderMatchesKustomizeBuild(t *testing.T) {
	repo := filepath.Join("..", "..", "test", "fixtures", "gitops")
	kbin := filepath.Join(binDir(t), "kustomize")
	if _, err := os.Stat(kbin); err != nil {
		t.Fatalf("kustomize binary missing (make tools builds it): %v", err)
	}
	tests := []struct {
		name string
		args []string
		dir  string
	}{
		{"app staging", []string{"--app", "my-api-service-staging"}, "kustomize/overlays/staging"},
		{"app production", []string{"--app", "my-api-service-production"}, "kustomize/overlays/production"},
		{"overlay path", []string{"kustomize/overlays/production"}, "kustomize/overlays/production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := exec.Command(kbin, "build", filepath.Join(repo, tt.dir)).Output()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			root := newRootCommand()
			root.SetOut(&out)
			root.SetArgs(append([]string{"render", "--repo", repo}, tt.args...))
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, out.Bytes()) {
				t.Errorf("promobot render differs from kustomize build:\n%s\n---\n%s", out.Bytes(), want)
			}
		})
	}
	var stderr bytes.Buffer
	root := newRootCommand()
	root.SetErr(&stderr)
	root.SetArgs([]string{"render", "--repo", repo, "--app", "my-api-servce-staging"})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(stderr.String(), "apps: guestbook-staging, my-api-service-production, my-api-service-staging") {
		t.Errorf("unknown app: err %v, stderr %q", err, stderr.String())
	}
}

// binDir is where make builds the harness binaries.
func binDir(t *testing.T) string {
	if d := os.Getenv("PROMOBOT_BIN_DIR"); d != "" {
		return d
	}
	abs, err := filepath.Abs(filepath.Join("..", "..", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
