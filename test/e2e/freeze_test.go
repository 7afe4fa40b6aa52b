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

const admin = "platform-admin"

// botReply waits for promobot's reply on pull request n that contains
// want, and returns it.
func (s *stack) botReply(n int, want string) string {
	s.t.Helper()
	var body string
	kit.Eventually(s.t, 60*time.Second, "promobot's reply saying "+want, func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, n)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, c := range cs {
			if c.Author == "promobot[bot]" && strings.Contains(c.Body, want) {
				body = c.Body
				return true, ""
			}
			seen = append(seen, c.Body)
		}
		return false, strings.Join(seen, "\n---\n")
	})
	return body
}

// Emergency stop: only an admin may /freeze production; while it is
// frozen a merge changing production applies nothing there (its status
// says who froze it and why) and /promote into it is refused; /unfreeze,
// and the next push applies.
func TestFreezeStopsProduction(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	if err := s.gh.AddCollaborator(owner, repoName, admin, githubapi.PermissionAdmin); err != nil {
		t.Fatal(err)
	}
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client
	n := s.openChange("freeze-here", "A place to talk", map[string]string{"README.md": "# cluster-config\n"})

	// A maintainer may not freeze; an admin may.
	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/freeze production"); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "only the repository's admins may `/freeze`")
	id, err := s.gh.Comment(ctx, owner, repoName, n, admin, "/freeze production incident 42, database failover")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "+1")
	s.botReply(n, "platform-admin (/freeze production): incident 42, database failover. Nothing is applied to it")

	// A merge changing production: nothing applied there, staging goes on.
	merged := s.mergeChange("bump-both", "Bump both", map[string]string{
		"kustomize/overlays/staging/kustomization.yaml":    strings.Replace(s.file("kustomize/overlays/staging/kustomization.yaml"), "newTag: 1.0.0", "newTag: 1.2.0", 1),
		"kustomize/overlays/production/kustomization.yaml": strings.Replace(s.file("kustomize/overlays/production/kustomization.yaml"), "newTag: 1.0.0", "newTag: 1.2.0", 1),
	})
	st := s.waitStatus(merged, productionApp)
	if st.State != "failure" || !strings.Contains(st.Description, "frozen by @platform-admin") {
		t.Errorf("production status while frozen = %+v", st)
	}
	if st := s.waitStatus(merged, stagingApp); st.State != "success" {
		t.Errorf("staging status = %+v", st)
	}
	s.waitSettled("applier")
	if d, _ := deployment(c, "production", api); image(d) != imageRepo+":1.0.0" {
		t.Errorf("production runs %s while frozen", image(d))
	}

	// A promotion into production is refused while it is frozen.
	promo := s.openChange("bump-staging", "Bump staging", s.bumpOverlay("staging", "1.3.0"))
	staged := s.merge(promo)
	if st := s.waitStatus(staged, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v", st)
	}
	if _, err := s.gh.Comment(ctx, owner, repoName, promo, maintainer, "/promote"); err != nil {
		t.Fatal(err)
	}
	s.botReply(promo, "platform-admin (/freeze production): incident 42")

	// Unfrozen, the next push applies production.
	if _, err := s.gh.Comment(ctx, owner, repoName, n, admin, "/unfreeze production"); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "`production` is unfrozen by")
	next := s.mergeChange("touch-production", "Production to 1.2.1", map[string]string{
		"kustomize/overlays/production/kustomization.yaml": strings.Replace(s.file("kustomize/overlays/production/kustomization.yaml"), "newTag: 1.2.0", "newTag: 1.2.1", 1),
	})
	if st := s.waitStatus(next, productionApp); st.State != "success" {
		t.Errorf("production status after /unfreeze = %+v", st)
	}
	s.waitDeployment(c, "production", api, "applied after /unfreeze", func(d *appsv1.Deployment) bool {
		return image(d) == imageRepo+":1.2.1"
	})
	var verbs []string
	for _, f := range s.facts("promobot.freeze.>") {
		verbs = append(verbs, fmt.Sprint(f["_type"]))
	}
	if strings.Join(verbs, ",") != "dev.promobot.freeze.set,dev.promobot.freeze.lifted" {
		t.Errorf("freeze facts = %v", verbs)
	}
}

// With --frozen-allows-rollback, an admin's /rollback --force into a
// frozen production opens the pull request, and its merge is applied
// there though the freeze holds; other merges still are not.
func TestFrozenEnvironmentTakesARollback(t *testing.T) {
	s := startStack(t, stackOptions{args: []string{"--frozen-allows-rollback"}})
	s.addUsers()
	if err := s.gh.AddCollaborator(owner, repoName, admin, githubapi.PermissionAdmin); err != nil {
		t.Fatal(err)
	}
	s.waitInitialSync()
	ctx := context.Background()
	c := s.home.Client
	bumped := s.mergeChange("bump-production", "Production to 1.2.0", map[string]string{
		"kustomize/overlays/production/kustomization.yaml": strings.Replace(s.file("kustomize/overlays/production/kustomization.yaml"), "newTag: 1.0.0", "newTag: 1.2.0", 1),
	})
	if st := s.waitStatus(bumped, productionApp); st.State != "success" {
		t.Fatalf("production status = %+v", st)
	}
	n := s.openChange("freeze-here", "A place to talk", map[string]string{"README.md": "# cluster-config\n"})
	if _, err := s.gh.Comment(ctx, owner, repoName, n, admin, "/freeze production bad release"); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "Nothing is applied to it")
	held := s.mergeChange("bump-again", "Production to 1.3.0", map[string]string{
		"kustomize/overlays/production/kustomization.yaml": strings.Replace(s.file("kustomize/overlays/production/kustomization.yaml"), "newTag: 1.2.0", "newTag: 1.3.0", 1),
	})
	if st := s.waitStatus(held, productionApp); st.State != "failure" || !strings.Contains(st.Description, "frozen by") {
		t.Errorf("an ordinary merge into frozen production: %+v", st)
	}

	if _, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/rollback my-api-service"); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "or an admin rolls back with `--force`")
	id, err := s.gh.Comment(ctx, owner, repoName, n, admin, "/rollback my-api-service --force")
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "rocket")
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	back := 0
	for _, p := range prs {
		if p.Head == "promobot/rollback/my-api-service/production" && p.State == "open" {
			back = p.Number
		}
	}
	if back == 0 {
		t.Fatal("no rollback pull request")
	}
	merged := s.merge(back)
	if st := s.waitStatus(merged, productionApp); st.State != "success" {
		t.Errorf("production status on the rollback merge = %+v", st)
	}
	s.waitDeployment(c, "production", api, "rolled back while frozen", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":1.0.0" })
}
