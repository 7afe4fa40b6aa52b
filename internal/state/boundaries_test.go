package state_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps the package lines issue 13 drew: the bus knows
// nothing of GitHub, the promoter reads apply records through this package
// rather than the applier, and the receiver, which writes no bucket, does
// not reach for the state.
func TestImportBoundaries(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden func(dep string) bool
	}{
		{"github.com/promobot/promobot/events", func(dep string) bool {
			return strings.Contains(dep, "go-github") ||
				strings.HasPrefix(dep, "github.com/promobot/promobot/") && dep != "github.com/promobot/promobot/events"
		}},
		{"github.com/promobot/promobot/promoter", func(dep string) bool {
			return dep == "github.com/promobot/promobot/applier" || strings.HasPrefix(dep, "github.com/promobot/promobot/applier/")
		}},
		{"github.com/promobot/promobot/webhook", func(dep string) bool {
			return dep == "github.com/promobot/promobot/internal/state"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if tt.forbidden(dep) {
					t.Errorf("%s imports %s", tt.pkg, dep)
				}
			}
		})
	}
}
