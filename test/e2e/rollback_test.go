package e2e

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/promobot/promobot/test/githubapi"
)

// /rollback of an app that follows main puts its overlay's images back to
// what it ran before, through a pull request; merging it deploys them.
func TestRollbackImages(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client

	n := s.openChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	sha := s.merge(n)
	if st := s.waitStatus(sha, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote"); err != nil {
		t.Fatal(err)
	}
	promoted := s.merge(s.waitPromotionPR("1.1.0").Number)
	if st := s.waitStatus(promoted, productionApp); st.State != "success" {
		t.Fatalf("production status = %+v", st)
	}
	s.waitDeployment(c, "production", api, "promoted", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":1.1.0" })

	// A reader may not roll back; a maintainer may.
	if _, err := s.gh.Comment(ctx, owner, repoName, n, reader, "/rollback my-api-service"); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "may not")
	id, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/rollback my-api-service")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "rocket")
	var back githubapi.PullRequest
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prs {
		if p.Head == "promobot/rollback/my-api-service/production" && p.State == "open" {
			back = p
		}
	}
	if !strings.HasPrefix(back.Title, "Roll back my-api-service in production to ") || !strings.HasSuffix(back.Title, "1.1.0 → 1.0.0") {
		t.Fatalf("rollback pull request = %q", back.Title)
	}
	merged := s.merge(back.Number)
	if st := s.waitStatus(merged, productionApp); st.State != "success" {
		t.Fatalf("production status after the rollback = %+v", st)
	}
	s.waitDeployment(c, "production", api, "rolled back", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":1.0.0" })
}
