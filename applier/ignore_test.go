package applier

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/kube"
)

// TestSelfHealKeepsIgnoredDifferences: an Application's ignoreDifferences
// reach the drift check: a hand scale of the ignored replicas is neither
// reported nor healed, while the hand edit of the image next to it is
// both.
func TestSelfHealKeepsIgnoredDifferences(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{Write: func(t *testing.T, dir, repoURL string) {
		writeFixture(t, dir, repoURL)
		f := filepath.Join(dir, "apps", "guestbook-staging.yaml")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		app := strings.Replace(string(raw), "selfHeal: false", "selfHeal: true", 1) +
			"  ignoreDifferences:\n  - group: apps\n    kind: Deployment\n    jsonPointers: [/spec/replicas]\n"
		if err := os.WriteFile(f, []byte(app), 0o644); err != nil {
			t.Fatal(err)
		}
	}})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second, DriftInterval: time.Hour})
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
	deployments := env.home.Client.AppsV1().Deployments("guestbook")
	for manager, patch := range map[string]string{
		"kubectl-scale": `{"spec":{"replicas":3}}`,
		"kubectl-edit":  `{"spec":{"template":{"spec":{"containers":[{"name":"guestbook","image":"ghcr.io/my-org/guestbook:hotfix"}]}}}}`,
	} {
		if _, err := deployments.Patch(ctx, "guestbook", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: manager}); err != nil {
			t.Fatal(err)
		}
	}

	var got []string
	for _, rep := range a.CheckDrift(ctx) {
		for _, d := range rep.Drift {
			got = append(got, rep.App+" "+d.String())
		}
		if !rep.Healed || rep.Error != "" {
			t.Errorf("%s: healed %v, error %q", rep.App, rep.Healed, rep.Error)
		}
	}
	want := []string{"guestbook-staging Deployment/guestbook/guestbook: [.spec.template.spec.containers[0].image]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	d, err := deployments.Get(ctx, "guestbook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/my-org/guestbook:0.3.1" {
		t.Errorf("after self-heal: replicas %d, image %s; want the hand scale kept (3) and the image healed (0.3.1)",
			*d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
}
