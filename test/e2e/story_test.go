package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/story"
)

// TestStory plays the seed's story end to end, the same story `make demo`
// prints, and asserts each step's outcome.
func TestStory(t *testing.T) {
	ctx := context.Background()
	log := &kit.Buffer{}
	shot := filepath.Join(t.ArtifactDir(), "status-page.png")
	env, err := story.Start(ctx, story.Options{Promobot: promobotBin, Fixture: fixtureDir(t), Dir: t.TempDir(), Log: log, Screenshot: shot})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	var out bytes.Buffer
	res, err := story.Play(ctx, env, &out)
	if err != nil {
		t.Fatalf("%v\nstory so far:\n%s\npromobot log:\n%s", err, out.String(), log.String())
	}
	t.Logf("the status page's screenshot: %s", shot)
	if res.StagingReplicas != 1 || res.ProductionReplicas != 10 {
		t.Errorf("after install: staging %d replicas, production %d; want 1 and 10", res.StagingReplicas, res.ProductionReplicas)
	}
	if res.StatusState != "success" || len(res.DeploymentStates) == 0 || res.DeploymentStates[len(res.DeploymentStates)-1] != "success" {
		t.Errorf("merge: status %s, deployment %v", res.StatusState, res.DeploymentStates)
	}
	if strings.Join(res.PromotionFiles, ",") != "kustomize/overlays/production/kustomization.yaml" {
		t.Errorf("promotion PR changes %v", res.PromotionFiles)
	}
	if strings.Join(res.PromotionLabels, ",") != "env/production,promotion" && strings.Join(res.PromotionLabels, ",") != "promotion,env/production" {
		t.Errorf("promotion PR labels %v", res.PromotionLabels)
	}
	if !strings.Contains(res.RefusalReply, "/promote") {
		t.Errorf("the refusal does not quote the command: %q", res.RefusalReply)
	}
	if res.ProductionImage != "ghcr.io/my-org/my-api-service:1.1.0" {
		t.Errorf("production runs %s", res.ProductionImage)
	}
}
