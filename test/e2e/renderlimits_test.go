package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/internal/kustomize/kustomizetest"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// A pull request in one repository whose overlay doubles at each of 12
// levels (4,096 objects, over a minute of kustomize) gets its diff comment
// refused at the render time limit, within 35 s, with the reason; a merge in
// another repository, made while that render runs, is applied and reported
// before the refusal: previews never hold up applies.
func TestSlowPreviewRenderIsRefusedWithoutStallingApplies(t *testing.T) {
	ctx := context.Background()
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()

	// Repository B: one app, applied at install.
	const bOwner, bApp, bNS = "team-b", "web-staging", "web-b"
	bSHA := s.createRepo(bOwner, map[string]string{
		"apps/web-staging.yaml":               application(bApp, s.gh.WebURL()+"/"+bOwner+"/gitops.git", "overlays/staging", inClusterServer, bNS),
		"overlays/staging/kustomization.yaml": "resources:\n- settings.yaml\n",
		"overlays/staging/settings.yaml":      configMap("web-settings", "", "info"),
	})
	if _, err := s.gh.Install(ctx, bOwner, "gitops"); err != nil {
		t.Fatal(err)
	}
	if st := s.repoStatus(bOwner, bSHA, bApp); st.State != "success" {
		t.Fatalf("repository B's first sync: %s %q", st.State, st.Description)
	}

	// Repository A: a pull request that makes staging render the doubling
	// overlay.
	files := doublingFiles(t, "kustomize/doubling", 12)
	staging := "kustomize/overlays/staging/kustomization.yaml"
	files[staging] = strings.Replace(s.file(staging), "resources:\n  - ../../base\n", "resources:\n  - ../../base\n  - ../../doubling/levels/12\n", 1)
	if files[staging] == s.file(staging) {
		t.Fatal("the staging overlay's resources moved; update the test")
	}
	opened := time.Now()
	n := s.openChange("doubling", "Double every level", files)

	// The preview render has started once a render worker of serve has
	// spent a second of CPU: ordinary renders take milliseconds.
	kit.Eventually(t, 30*time.Second, "a render worker busy with the doubling overlay", func() (bool, string) {
		cpu := childCPU(t, s.cmd.Process.Pid)
		return cpu >= time.Second, fmt.Sprintf("busiest child %s of CPU", cpu)
	})

	// Meanwhile, B's merge is applied and reported...
	pushed := time.Now()
	merged, err := s.gh.Push(ctx, bOwner, "gitops", "main", githubapi.Commit{
		Message: "Log at debug level", Author: developer,
		Files: map[string]string{"overlays/staging/settings.yaml": configMap("web-settings", "", "debug")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.repoStatus(bOwner, merged, bApp); st.State != "success" {
		t.Errorf("repository B's merge during A's preview: %s %q, want success", st.State, st.Description)
	}
	t.Logf("repository B's merge reported %s after its push, during A's preview render", time.Since(pushed).Round(time.Millisecond))
	cm, err := s.home.Client.CoreV1().ConfigMaps(bNS).Get(ctx, "web-settings", metav1.GetOptions{})
	if err != nil || cm.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("repository B's ConfigMap after the merge: %v %v, want LOG_LEVEL debug", cm.Data, err)
	}
	// ...before A's preview is refused (the sentinel: no comment yet).
	if c, ok := diffComment(t, s, n); ok {
		t.Fatalf("A's diff comment was posted before B's merge was reported, so B's apply waited for it:\n%s", c)
	}

	// A's pull request gets the refusal, naming the limit.
	const want = "kustomize/overlays/staging: render refused: render took longer than 30s (limit --render-timeout)"
	var body string
	kit.Eventually(t, 60*time.Second, "A's diff comment", func() (bool, string) {
		c, ok := diffComment(t, s, n)
		body = c
		return ok, "no diff comment"
	})
	took := time.Since(opened)
	if !strings.Contains(body, want) {
		t.Errorf("A's diff comment lacks %q:\n%s", want, body)
	}
	if took > 35*time.Second {
		t.Errorf("A's refusal came %s after the pull request opened, want at most 35s", took)
	}
	t.Logf("refused %s after the pull request opened", took.Round(time.Millisecond))
}

// doublingFiles returns the files of a doubling overlay of depth levels
// under dir, as kustomizetest writes them.
func doublingFiles(t *testing.T, dir string, depth int) map[string]string {
	t.Helper()
	root := t.TempDir()
	if _, err := kustomizetest.WriteDoublingOverlay(root, dir, depth, 1); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// diffComment returns promobot's diff comment on pull request n of the
// fixture repository, if there is one.
func diffComment(t *testing.T, s *stack, n int) (string, bool) {
	t.Helper()
	cs, err := s.gh.Comments(owner, repoName, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Author == "promobot[bot]" && strings.Contains(c.Body, "<!-- promobot:diff pr -->") {
			return c.Body, true
		}
	}
	return "", false
}

// childCPU returns the most CPU time (user and system) any child process of
// pid has spent, from /proc.
func childCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var most time.Duration
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command name, in parentheses: state ppid ... utime
		// (14th field) stime (15th).
		end := bytes.LastIndexByte(raw, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(raw[end+1:]))
		if len(f) < 13 || f[1] != strconv.Itoa(pid) {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		// Linux reports clock ticks of 1/100 s (USER_HZ).
		most = max(most, time.Duration(utime+stime)*10*time.Millisecond)
	}
	return most
}

// The operator's --render-max-objects reaches the applier: a merge whose
// staging overlay grows past it fails staging's status naming the limit and
// applies nothing of staging, while production, changed by the same merge,
// is applied.
func TestMergeOverTheObjectLimitFailsOnlyItsApp(t *testing.T) {
	ctx := context.Background()
	s := startStack(t, stackOptions{args: []string{"--render-max-objects", "50"}})
	s.addUsers()
	s.waitInitialSync()

	files := doublingFiles(t, "kustomize/doubling", 6) // 64 objects
	staging := "kustomize/overlays/staging/kustomization.yaml"
	files[staging] = strings.Replace(s.file(staging), "resources:\n  - ../../base\n", "resources:\n  - ../../base\n  - ../../doubling/levels/6\n", 1)
	for p, c := range s.bumpOverlay("production", "1.2.0") {
		files[p] = c
	}
	sha := s.mergeChange("doubling", "Double staging, bump production", files)

	st := s.waitStatus(sha, stagingApp)
	const want = "render refused: more than 50 objects (limit --render-max-objects)"
	if st.State != "failure" || !strings.Contains(st.Description, want) {
		t.Errorf("staging status = %s %q, want a failure saying %q", st.State, st.Description, want)
	}
	if st := s.waitStatus(sha, productionApp); st.State != "success" {
		t.Errorf("production status = %s %q, want success", st.State, st.Description)
	}
	s.waitDeployment(s.home.Client, "production", api, "bumped", func(d *appsv1.Deployment) bool {
		return image(d) == imageRepo+":1.2.0"
	})
	cms, err := s.home.Client.CoreV1().ConfigMaps("staging").List(ctx, metav1.ListOptions{LabelSelector: "app=doubling"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 0 {
		t.Errorf("%d ConfigMaps of the refused render were applied to staging", len(cms.Items))
	}
}
