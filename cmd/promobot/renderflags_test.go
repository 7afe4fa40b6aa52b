package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/kustomize"
)

// TestRenderFlags runs promobot render with the render limit flags: a limit
// the overlay passes prints it, one it does not refuses it naming the flag,
// and a meaningless value is an error before anything renders.
func TestRenderFlags(t *testing.T) {
	t.Cleanup(func() { kustomize.SetLimits(kustomize.Limits{}) })
	repo := filepath.Join("..", "..", "test", "fixtures", "gitops")
	tests := []struct {
		name    string
		flags   []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "generous limits", flags: []string{"--render-timeout", "1m", "--render-max-memory", "2Gi", "--render-max-objects", "2"}},
		{name: "too few objects", flags: []string{"--render-max-objects", "1"},
			wantErr: "kustomize/overlays/production: render refused: more than 1 objects (limit --render-max-objects)"},
		{name: "too little memory", flags: []string{"--render-max-memory", "1Ki"},
			wantErr: "kustomize/overlays/production: render refused: render used more than 1 KiB of memory (limit --render-max-memory)"},
		{name: "zero timeout", flags: []string{"--render-timeout", "0s"}, wantErr: "--render-timeout 0s: must be positive"},
		{name: "negative memory", flags: []string{"--render-max-memory", "-1Mi"}, wantErr: "--render-max-memory -1Mi: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := promobot(t, append([]string{"render", "--repo", repo, "kustomize/overlays/production"}, tt.flags...)...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out, "kind: Deployment") {
					t.Errorf("render printed no Deployment:\n%s", out)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
