package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const promotionBranch = "promobot/promote/" + api + "/production"

// waitPromotionPR waits for the open promotion pull request into
// production whose title ends with tag.
func (s *stack) waitPromotionPR(tag string) githubapi.PullRequest {
	s.t.Helper()
	var got githubapi.PullRequest
	kit.Eventually(s.t, 60*time.Second, "promotion pull request to "+tag, func() (bool, string) {
		prs, err := s.gh.PRs(owner, repoName)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, pr := range prs {
			if pr.Head == promotionBranch && pr.State == "open" && strings.HasSuffix(pr.Title, " "+tag) {
				got = pr
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("#%d %s %q", pr.Number, pr.Head, pr.Title))
		}
		return false, strings.Join(seen, "; ")
	})
	return got
}

// waitReaction waits for the bot's reaction content on comment id.
func (s *stack) waitReaction(id int64, content string) {
	s.t.Helper()
	kit.Eventually(s.t, 60*time.Second, content+" on comment", func() (bool, string) {
		c, err := s.gh.CommentByID(owner, repoName, id)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range c.Reactions {
			if r.User == "promobot[bot]" && r.Content == content {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", c.Reactions)
	})
}

// A maintainer's /promote on a merged staging pull request, once staging
// applied it, opens the promotion pull request; merging that pull request
// deploys production.
func TestPromoteThenMergeDeploysProduction(t *testing.T) {
	s := startStack(t, stackOptions{}) // every role, the promoter included
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client
	prodBefore := s.file("kustomize/overlays/production/kustomization.yaml")

	n := s.openChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	sha := s.merge(n)
	if st := s.waitStatus(sha, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v, want success", st)
	}

	id, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "Staging is happy.\n/promote")
	if err != nil {
		t.Fatal(err)
	}
	pr := s.waitPromotionPR("1.1.0")
	s.waitReaction(id, "rocket") // done: labels and the diff comment are there too
	pr, err = s.gh.PR(owner, repoName, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Promote my-api-service to production: ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0"; pr.Title != want {
		t.Errorf("title = %q, want %q", pr.Title, want)
	}
	if strings.Join(pr.Labels, ",") != "promotion,env/production" {
		t.Errorf("labels = %v", pr.Labels)
	}
	branchProd, err := s.gh.File(ctx, owner, repoName, promotionBranch, "kustomize/overlays/production/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(prodBefore, "newTag: 1.0.0 #", "newTag: 1.1.0 #", 1); string(branchProd) != want {
		t.Errorf("production kustomization on the promotion branch:\n%s\nwant:\n%s", branchProd, want)
	}
	kit.Eventually(t, 60*time.Second, "diff comment on the promotion PR", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, pr.Number)
		if err != nil {
			return false, err.Error()
		}
		for _, cm := range cs {
			if cm.Author == "promobot[bot]" && strings.Contains(cm.Body, "<!-- promobot:diff promotion/my-api-service/production -->") &&
				strings.Contains(cm.Body, "image ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d comments", len(cs))
	})
	if d, _ := deployment(c, "production", api); image(d) != imageRepo+":1.0.0" {
		t.Errorf("production runs %s before the promotion is merged", image(d))
	}

	// Merging the promotion deploys production.
	merged := s.merge(pr.Number)
	if st := s.waitStatus(merged, productionApp); st.State != "success" {
		t.Errorf("production status = %+v, want success", st)
	}
	s.waitDeployment(c, "production", api, "promoted", func(d *appsv1.Deployment) bool {
		return image(d) == imageRepo+":1.1.0" && replicasOf(d) == 10
	})

	var verbs []string
	for _, f := range s.facts("promobot.promotion.>") {
		verbs = append(verbs, strings.TrimPrefix(f["_type"].(string), "dev.promobot.promotion."))
	}
	if strings.Join(verbs, ",") != "requested,opened" {
		t.Errorf("promotion facts = %v, want requested, opened", verbs)
	}
}
