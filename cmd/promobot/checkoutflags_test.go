package main

import (
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/checkout"
)

// TestCheckoutFlags runs promobot diff, which checks out both sides of the
// change, with the checkout limit flags: a repository over a limit is
// refused whole with the reason, and a meaningless value is an error
// before anything is checked out.
func TestCheckoutFlags(t *testing.T) {
	t.Cleanup(func() { checkout.SetLimits(checkout.Options{}) })
	dir := gitRepo(t)
	runGit(t, dir, "checkout", "-q", "-b", "feature")
	writeText(t, dir, stagingKustomization, strings.Replace(readText(t, dir, stagingKustomization), "newTag: 1.0.0", "newTag: 1.1.0", 1))
	runGit(t, dir, "commit", "-q", "-am", "Bump staging")
	runGit(t, dir, "checkout", "-q", "main")
	tests := []struct {
		name    string
		flags   []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "generous limits", flags: []string{"--checkout-max-bytes", "1Mi", "--checkout-max-entries", "1000"}},
		{name: "too many bytes", flags: []string{"--checkout-max-bytes", "1Ki"},
			wantErr: "untar: files larger than 1 KiB in total: repository too large"},
		{name: "too many entries", flags: []string{"--checkout-max-entries", "5"},
			wantErr: "untar: more than 5 entries: repository too large"},
		{name: "zero bytes", flags: []string{"--checkout-max-bytes", "0"}, wantErr: "--checkout-max-bytes 0: must be positive"},
		{name: "negative entries", flags: []string{"--checkout-max-entries", "-1"}, wantErr: "--checkout-max-entries -1: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := promobot(t, append([]string{"diff", "--repo", dir, "--base", "main", "--head", "feature"}, tt.flags...)...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out, "ghcr.io/my-org/my-api-service:1.1.0") {
					t.Errorf("diff shows no image change:\n%s", out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
