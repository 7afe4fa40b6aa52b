package applier

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// TestDriftTickRunsOnOneReplica: two appliers share one bus and tick the
// drift check at the same moment; one of them checks, the other does
// nothing, so a hand edit is reported once (one promobot.drift.found
// fact), not once per replica.
func TestDriftTickRunsOnOneReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	opts := Options{HealthTimeout: 30 * time.Second, DriftInterval: time.Hour}
	a, b := env.newApplier(t, ctx, opts), env.newApplier(t, ctx, opts)

	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.registry.AddRepo(ctx, state.RepoInstallation{Owner: env.repo.Owner, Repo: env.repo.Name, InstallationID: env.inst}); err != nil {
		t.Fatal(err)
	}
	// A hand edit of guestbook (selfHeal off: reported, not reverted).
	if _, err := env.home.Client.AppsV1().Deployments("guestbook").Patch(ctx, "guestbook", types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	ran := make([]bool, 2)
	for i, r := range []*Applier{a, b} {
		wg.Go(func() { ran[i] = r.driftTick(ctx) })
	}
	wg.Wait()
	if ran[0] == ran[1] {
		t.Errorf("drift tick ran on replica a: %v, b: %v; want exactly one", ran[0], ran[1])
	}
	var apps []string
	for _, f := range kit.Facts(t, env.bus.JetStream(), events.FactPrefix+".drift.found.>") {
		var rep DriftReport
		f.Decode(t, &rep)
		apps = append(apps, rep.App)
	}
	if diff := cmp.Diff([]string{"guestbook-staging"}, apps); diff != "" {
		t.Errorf("drift found (-want +got):\n%s", diff)
	}
}
