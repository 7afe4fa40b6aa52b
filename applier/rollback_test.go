package applier

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
)

func TestRollbackBranches(t *testing.T) {
	msg := "Merge pull request #12 from acme/promobot/rollback/my-api-service/production\n\nRoll back my-api-service in production to 3f2a9c1"
	got := RollbackBranches(msg)
	if diff := cmp.Diff([]string{"my-api-service/production"}, got); diff != "" {
		t.Fatalf("RollbackBranches (-want +got):\n%s", diff)
	}
	tgt := Target{Rollbacks: got}
	for _, tt := range []struct {
		app  gitops.App
		want bool
	}{
		{gitops.App{Name: "my-api-service-production", Environment: "production"}, true},
		{gitops.App{Name: "my-api-service", Environment: "production"}, true},
		{gitops.App{Name: "my-api-service-staging", Environment: "staging"}, false},
		{gitops.App{Name: "other-production", Environment: "production"}, false},
	} {
		if got := tgt.rollsBack(tt.app); got != tt.want {
			t.Errorf("rollsBack(%s in %s) = %v, want %v", tt.app.Name, tt.app.Environment, got, tt.want)
		}
	}
	if got := RollbackBranches("Merge pull request #3 from acme/bump"); got != nil {
		t.Errorf("an ordinary merge names rollbacks: %v", got)
	}
}
