package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/kit"
)

// /sync <app> applies one app again now: a Deployment deleted by hand is
// back, and only that app was applied.
func TestSyncCommandReappliesAnApp(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	kit.Eventually(t, time.Minute, "the install sync to finish", func() (bool, string) {
		n := len(s.facts("promobot.apply.completed.>"))
		return n >= 3, fmt.Sprintf("%d applies completed", n)
	})
	ctx := context.Background()
	c := s.home.Client
	if err := c.AppsV1().Deployments("production").Delete(ctx, api, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n := s.openChange("talk", "A place to talk", map[string]string{"README.md": "# cluster-config\n"})
	before := len(s.facts("promobot.apply.completed.>"))

	if _, err := s.gh.Comment(ctx, owner, repoName, n, reader, "/sync "+productionApp); err != nil {
		t.Fatal(err)
	}
	s.botReply(n, "may not")
	id, err := s.gh.Comment(ctx, owner, repoName, n, developer, "/sync "+productionApp)
	if err != nil {
		t.Fatal(err)
	}
	s.waitReaction(id, "+1")
	s.waitDeployment(c, "production", api, "applied again by /sync", func(d *appsv1.Deployment) bool { return replicasOf(d) == 10 })
	s.waitSettled("applier")
	var apps []string
	kit.Eventually(t, time.Minute, "the apply the sync made", func() (bool, string) {
		apps = nil
		for _, f := range s.facts("promobot.apply.completed.>")[before:] {
			apps = append(apps, f["app"].(string))
		}
		return slices.Contains(apps, productionApp), fmt.Sprint(apps)
	})
	if len(apps) != 1 || apps[0] != productionApp {
		t.Errorf("apps applied by /sync = %v, want only %s", apps, productionApp)
	}
}
