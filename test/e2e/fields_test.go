package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/promobot/promobot/test/kit"
)

const fieldsConfig = `pipeline:
  - from: staging
    to: production
    strategy: fields
    carry: [replicas, configMapGenerator/app-config, patches/probe-patch.yaml]
`

// overlay is a kustomization of the my-api-service overlay of env;
// extra is production's own lines.
func overlay(env, extra string) string {
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ` + env + `
resources:
  - ../../base
replicas:
  - name: my-api-service
    count: 2
configMapGenerator:
  - name: app-config
    literals:
      - LOG_LEVEL=debug
      - FEATURE_X=off
` + extra + `patches:
  - path: probe-patch.yaml
images:
  - name: ghcr.io/my-org/my-api-service
    newTag: 1.0.0
`
}

// productionOwn is what only production has: a generator of its own and
// its resources patch.
const productionOwn = `  - name: production-only
    literals:
      - REGION=eu-west-1
# production's resources
`

func probePatch(version string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-api-service
  annotations:
    example.com/probe: ` + version + `
`
}

// A fields promotion carries exactly the declared fields and files a
// staging change touched (replicas, one generator's literal, a patch
// file) into production's overlay, byte for byte, and leaves
// production's own lines alone; a change production diverged from is
// refused with the hunk that needs a person.
func TestPromoteFields(t *testing.T) {
	s := startStack(t, stackOptions{files: map[string]string{
		".promobot.yaml": fieldsConfig,
		"kustomize/overlays/staging/kustomization.yaml":    overlay("staging", ""),
		"kustomize/overlays/staging/probe-patch.yaml":      probePatch("v1"),
		"kustomize/overlays/production/kustomization.yaml": overlay("production", productionOwn),
		"kustomize/overlays/production/probe-patch.yaml":   probePatch("v1"),
	}})
	s.addUsers()
	ctx := context.Background()
	c := s.home.Client
	s.waitDeployment(c, "production", api, "synced at install", func(d *appsv1.Deployment) bool { return replicasOf(d) == 2 })

	n := s.openChange("staging-tuning", "Tune staging", map[string]string{
		"kustomize/overlays/staging/kustomization.yaml": strings.NewReplacer("count: 2", "count: 3", "FEATURE_X=off", "FEATURE_X=on").Replace(overlay("staging", "")),
		"kustomize/overlays/staging/probe-patch.yaml":   probePatch("v2"),
	})
	merged := s.merge(n)
	if st := s.waitStatus(merged, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	id, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "rocket")
	want := strings.NewReplacer("count: 2", "count: 3", "FEATURE_X=off", "FEATURE_X=on").Replace(overlay("production", productionOwn))
	for file, content := range map[string]string{
		"kustomize/overlays/production/kustomization.yaml": want,
		"kustomize/overlays/production/probe-patch.yaml":   probePatch("v2"),
	} {
		got, err := s.gh.File(ctx, owner, repoName, promotionBranch, file)
		if err != nil || string(got) != content {
			t.Errorf("%s on the promotion branch (%v):\n%s\nwant:\n%s", file, err, got, content)
		}
	}
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	var promotion int
	for _, pr := range prs {
		if pr.Head == promotionBranch && pr.State == "open" {
			promotion = pr.Number
		}
	}
	if promotion == 0 {
		t.Fatal("no promotion pull request")
	}
	promoted := s.merge(promotion)
	if st := s.waitStatus(promoted, productionApp); st.State != "success" {
		t.Fatalf("production status = %+v", st)
	}
	s.waitDeployment(c, "production", api, "the carried change", func(d *appsv1.Deployment) bool {
		return replicasOf(d) == 3 && d.Annotations["example.com/probe"] == "v2"
	})

	// Production sets its own log level; staging's change of it is refused.
	s.mergeChange("prod-log-level", "Production logs warnings", map[string]string{
		"kustomize/overlays/production/kustomization.yaml": strings.Replace(want, "LOG_LEVEL=debug", "LOG_LEVEL=warn", 1),
	})
	n = s.openChange("staging-logs", "Staging logs info", map[string]string{
		"kustomize/overlays/staging/kustomization.yaml": strings.NewReplacer("count: 2", "count: 3", "FEATURE_X=off", "FEATURE_X=on", "LOG_LEVEL=debug", "LOG_LEVEL=info").Replace(overlay("staging", "")),
	})
	merged = s.merge(n)
	if st := s.waitStatus(merged, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote"); err != nil {
		t.Fatal(err)
	}
	kit.Eventually(t, 60*time.Second, "the refusal naming the hunk", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, n)
		if err != nil {
			return false, err.Error()
		}
		for _, cm := range cs {
			if cm.Author == "promobot[bot]" && strings.Contains(cm.Body, "cannot be promoted") {
				ok := strings.Contains(cm.Body, "-      - LOG_LEVEL=debug\n+      - LOG_LEVEL=info") &&
					strings.Contains(cm.Body, "kustomize/overlays/production/kustomization.yaml, line")
				return ok, cm.Body
			}
		}
		return false, fmt.Sprintf("%d comments", len(cs))
	})
	if prs, _ := s.gh.PRs(owner, repoName); len(prs) > 0 {
		for _, pr := range prs {
			if pr.Head == promotionBranch && pr.State == "open" {
				t.Errorf("a conflicting promotion opened #%d", pr.Number)
			}
		}
	}
}
