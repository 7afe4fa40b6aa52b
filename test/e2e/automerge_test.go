package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// With autoMerge, the promotion pull request is merged by promobot only
// once the check branch protection requires is green: a failing ci/test
// leaves it open and production unchanged; a passing one merges it, and
// the merge deploys production.
func TestAutoMergeWaitsForRequiredChecks(t *testing.T) {
	s := startStack(t, stackOptions{files: map[string]string{
		".promobot.yaml": "pipeline:\n  - from: staging\n    to: production\n    autoMerge: true\n",
	}})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client

	n := s.openChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	sha := s.merge(n)
	if st := s.waitStatus(sha, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	if err := s.gh.Protect(owner, repoName, "main", githubapi.Protection{RequiredContexts: []string{"ci/test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote"); err != nil {
		t.Fatal(err)
	}
	pr := s.waitPromotionPR("1.1.0")

	if err := s.gh.SetStatus(ctx, owner, repoName, pr.HeadSHA, "ci/test", "failure", maintainer); err != nil {
		t.Fatal(err)
	}
	s.waitSettled("promoter")
	if got, err := s.gh.PR(owner, repoName, pr.Number); err != nil || got.Merged || got.State != "open" {
		t.Fatalf("promotion pull request with ci/test failing: %+v, %v; want it open", got, err)
	}
	d, err := c.AppsV1().Deployments("production").Get(ctx, api, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := image(d); got != imageRepo+":1.0.0" {
		t.Fatalf("production runs %s while its promotion waits for ci/test", got)
	}

	if err := s.gh.SetStatus(ctx, owner, repoName, pr.HeadSHA, "ci/test", "success", maintainer); err != nil {
		t.Fatal(err)
	}
	var merged githubapi.PullRequest
	kit.Eventually(t, time.Minute, "promotion pull request merged by promobot", func() (bool, string) {
		merged, err = s.gh.PR(owner, repoName, pr.Number)
		return err == nil && merged.Merged, merged.State
	})
	s.waitDeployment(c, "production", api, "auto-merged", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":1.1.0" })
	if st := s.waitStatus(merged.MergeCommitSHA, productionApp); st.State != "success" {
		t.Fatalf("production status after the auto-merge = %+v", st)
	}
	comments, err := s.gh.Comments(owner, repoName, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, cm := range comments {
		said = said || (cm.Bot && strings.HasPrefix(cm.Body, "Merged by promobot") && strings.Contains(cm.Body, "(`ci/test`)"))
	}
	if !said {
		t.Errorf("no comment says promobot merged the pull request and why: %+v", comments)
	}
}
