package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
)

// TestLargePush: pushes larger than GitHub lists still apply every app
// they affect. GitHub's push webhook lists every commit (up to 2048; the
// 20-commit cap is its timeline's) with up to 3,000 files each, and its
// compare lists at most 300 files. On 30 apps of 14 ConfigMap files each:
//   - a pull request of 30 commits (one per app) changing 420 files is
//     merged: its push lists every commit, and every app applies;
//   - a commit changing 3,005 documentation files and one file of every
//     app is pushed: the webhook lists 3,000 of its files (the
//     documentation, which sorts first) and compare 300, so the changed
//     files are unknown and every app is considered, and applies.
func TestLargePush(t *testing.T) {
	ctx := context.Background()
	s := startStack(t, stackOptions{noInstall: true})
	// This test is about GitHub's file limits, not its pacing: three syncs
	// of 30 apps report about 270 writes, over GitHub's 80 a minute, and
	// the reports would arrive minutes later. The throttle is off.
	s.gh.SetThrottle(nil)
	const (
		org       = "team-large"
		apps      = 30
		filesEach = 14
	)
	url := s.gh.WebURL() + "/" + org + "/gitops.git"
	appName := func(i int) string { return fmt.Sprintf("svc-%02d", i) }
	cmFile := func(i, j int) string { return fmt.Sprintf("services/%s/cm-%02d.yaml", appName(i), j) }
	appFiles := func(i int, level string) map[string]string {
		files := map[string]string{}
		var res []string
		for j := range filesEach {
			files[cmFile(i, j)] = configMap(fmt.Sprintf("cm-%02d", j), "", level)
			res = append(res, fmt.Sprintf("cm-%02d.yaml", j))
		}
		files[fmt.Sprintf("services/%s/kustomization.yaml", appName(i))] = "resources: [" + strings.Join(res, ", ") + "]\n"
		return files
	}
	files := map[string]string{}
	for i := range apps {
		files["apps/"+appName(i)+".yaml"] = application(appName(i), url, "services/"+appName(i), inClusterServer, appName(i))
		for p, c := range appFiles(i, "info") {
			files[p] = c
		}
	}
	head := s.createRepo(org, files)
	if _, err := s.gh.Install(ctx, org, "gitops"); err != nil {
		t.Fatal(err)
	}
	for i := range apps {
		if st := s.repoStatus(org, head, appName(i)); st.State != "success" {
			t.Fatalf("install sync of %s: %s %q", appName(i), st.State, st.Description)
		}
	}

	// everyApp checks that every app reports success on sha and that its
	// ConfigMaps carry level in the cluster.
	everyApp := func(step, sha, level string) {
		t.Helper()
		for i := range apps {
			if st := s.repoStatus(org, sha, appName(i)); st.State != "success" {
				t.Errorf("%s: %s status %s %q, want success", step, appName(i), st.State, st.Description)
			}
			var stale []string
			list, err := s.home.Client.CoreV1().ConfigMaps(appName(i)).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cm := range list.Items {
				if strings.HasPrefix(cm.Name, "cm-") && cm.Data["LOG_LEVEL"] != level {
					stale = append(stale, cm.Name+"="+cm.Data["LOG_LEVEL"])
				}
			}
			if len(stale) > 0 {
				t.Errorf("%s: %s ConfigMaps not at %s: %v", step, appName(i), level, stale)
			}
		}
	}

	// A pull request of one commit per app, 420 files, merged.
	for i := range apps {
		c := githubapi.Commit{Message: "Debug " + appName(i), Files: map[string]string{}, From: "main"}
		for p, content := range appFiles(i, "debug") {
			if strings.Contains(p, "/cm-") {
				c.Files[p] = content
			}
		}
		if _, err := s.gh.Push(ctx, org, "gitops", "debug-everything", c); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.gh.OpenPR(ctx, org, "gitops", githubapi.NewPR{Title: "Debug everything", Head: "debug-everything"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	merged, err := s.gh.MergePR(ctx, org, "gitops", n, "", "merge")
	if err != nil {
		t.Fatal(err)
	}
	everyApp("merge of 30 commits and 420 files", merged, "debug")
	t.Logf("merge of 30 commits and 420 files: every app applied and reported in %s", time.Since(start).Round(time.Millisecond))

	// One commit of 3,005 documentation files and one file of every app.
	big := githubapi.Commit{Message: "Document everything, warn everywhere", Files: map[string]string{}}
	for j := range githubapi.MaxCommitFiles + 5 {
		big.Files[fmt.Sprintf("docs/page-%04d.md", j)] = "# page\n"
	}
	for i := range apps {
		big.Files[cmFile(i, 0)] = configMap("cm-00", "", "warn")
	}
	start = time.Now()
	sha, err := s.gh.Push(ctx, org, "gitops", "main", big)
	if err != nil {
		t.Fatal(err)
	}
	for i := range apps {
		if st := s.repoStatus(org, sha, appName(i)); st.State != "success" {
			t.Errorf("push of 3,035 files: %s status %s %q, want success", appName(i), st.State, st.Description)
			continue
		}
		cm, err := s.home.Client.CoreV1().ConfigMaps(appName(i)).Get(ctx, "cm-00", metav1.GetOptions{})
		if err != nil || cm.Data["LOG_LEVEL"] != "warn" {
			t.Errorf("push of 3,035 files: %s cm-00 %v %v, want warn", appName(i), cm.Data, err)
		}
	}
	t.Logf("push of 3,035 files (pushed through the local GitHub, then synced): every app applied and reported in %s", time.Since(start).Round(time.Millisecond))
}
