package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const productionManifest = "apps/my-api-service-production.yaml"

// servicePort is the port the my-api-service Service of ns serves on.
func (s *stack) servicePort(ns string) int32 {
	s.t.Helper()
	svc, err := s.home.Client.CoreV1().Services(ns).Get(context.Background(), api, metav1.GetOptions{})
	if err != nil {
		s.t.Fatalf("%s/%s: %v", ns, api, err)
	}
	return svc.Spec.Ports[0].Port
}

// Production pinned to a commit: a merge changing the base and adding a
// ConfigMap deploys staging and leaves production as it was; /promote on
// it opens the pull request that moves production's pin, its diff
// showing both changes as production will get them; merging it deploys
// production at the new revision.
func TestPromotePinnedRevision(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client

	// Production is pinned to the commit it runs.
	branches, err := s.gh.Branches(ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	first := branches["main"]
	pinned, _, err := kustomize.SetTargetRevision([]byte(s.file(productionManifest)), productionApp, first)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := s.gh.Push(ctx, owner, repoName, "main", githubapi.Commit{Message: "pin production", Author: maintainer, Files: map[string]string{productionManifest: string(pinned)}})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.waitStatus(pin, productionApp); st.State != "success" || !strings.HasPrefix(st.Description, "applied "+first[:7]) {
		t.Fatalf("production status on the pin = %+v", st)
	}

	// A change to the base: staging gets it, production does not.
	service := strings.Replace(s.file("kustomize/base/service.yaml"), "port: 80\n", "port: 8080\n", 1)
	base := strings.Replace(s.file("kustomize/base/kustomization.yaml"), "  - service.yaml\n", "  - service.yaml\n  - settings.yaml\n", 1)
	n := s.openChange("serve-8080", "Serve on 8080, with settings", map[string]string{
		"kustomize/base/service.yaml": service, "kustomize/base/kustomization.yaml": base,
		"kustomize/base/settings.yaml": configMap("my-api-settings", "", "info"),
	})
	merged := s.merge(n)
	if st := s.waitStatus(merged, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	s.waitSettled("applier")
	if got := s.servicePort("staging"); got != 8080 {
		t.Errorf("staging serves on %d, want 8080", got)
	}
	if got := s.servicePort("production"); got != 80 {
		t.Errorf("production serves on %d before the promotion, want 80", got)
	}
	if _, err := c.CoreV1().ConfigMaps("production").Get(ctx, "my-api-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("production has the new ConfigMap before the promotion: %v", err)
	}

	// /promote moves the pin; the diff shows what production gets.
	id, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "rocket")
	pr := s.waitPromotionPR(merged[:7])
	if want := fmt.Sprintf("Promote my-api-service to production: revision %s → %s", first[:7], merged[:7]); pr.Title != want {
		t.Errorf("title = %q, want %q", pr.Title, want)
	}
	onBranch, err := s.gh.File(ctx, owner, repoName, promotionBranch, productionManifest)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(pinned), "targetRevision: "+first, "targetRevision: "+merged, 1); string(onBranch) != want {
		t.Errorf("production's Application on the promotion branch:\n%s\nwant:\n%s", onBranch, want)
	}
	kit.Eventually(t, 60*time.Second, "the revision diff comment", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, pr.Number)
		if err != nil {
			return false, err.Error()
		}
		for _, cm := range cs {
			if strings.Contains(cm.Body, "<!-- promobot:diff promotion/my-api-service/production -->") {
				ok := strings.Contains(cm.Body, "my-api-settings") && strings.Contains(cm.Body, "8080")
				return ok, cm.Body
			}
		}
		return false, fmt.Sprintf("%d comments", len(cs))
	})
	if got := s.servicePort("production"); got != 80 {
		t.Errorf("production serves on %d before the pin PR merges, want 80", got)
	}

	// Merging the pin deploys production at the new revision.
	promoted := s.merge(pr.Number)
	if st := s.waitStatus(promoted, productionApp); st.State != "success" || !strings.HasPrefix(st.Description, "applied "+merged[:7]) {
		t.Fatalf("production status on the promotion = %+v", st)
	}
	if got := s.servicePort("production"); got != 8080 {
		t.Errorf("production serves on %d after the promotion, want 8080", got)
	}
	if _, err := c.CoreV1().ConfigMaps("production").Get(ctx, "my-api-settings", metav1.GetOptions{}); err != nil {
		t.Errorf("production lacks the new ConfigMap after the promotion: %v", err)
	}

	// /rollback to previous opens the pull request back to the old pin;
	// merging it restores the old objects.
	id, err = s.gh.Comment(ctx, owner, repoName, pr.Number, maintainer, "/rollback my-api-service to previous")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "rocket")
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	var back githubapi.PullRequest
	for _, p := range prs {
		if p.Head == "promobot/rollback/my-api-service/production" && p.State == "open" {
			back = p
		}
	}
	if want := fmt.Sprintf("Roll back my-api-service in production to %s: revision %s → %s", first[:7], merged[:7], first[:7]); back.Title != want {
		t.Fatalf("rollback pull request title = %q, want %q", back.Title, want)
	}
	if strings.Join(back.Labels, ",") != "rollback,env/production" {
		t.Errorf("rollback labels = %v", back.Labels)
	}
	rolledBack := s.merge(back.Number)
	if st := s.waitStatus(rolledBack, productionApp); st.State != "success" || !strings.HasPrefix(st.Description, "applied "+first[:7]) {
		t.Fatalf("production status on the rollback = %+v", st)
	}
	if got := s.servicePort("production"); got != 80 {
		t.Errorf("production serves on %d after the rollback, want 80", got)
	}
	if _, err := c.CoreV1().ConfigMaps("production").Get(ctx, "my-api-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the rollback kept the ConfigMap the promotion added: %v", err)
	}
}
