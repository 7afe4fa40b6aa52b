package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// Users of the fixture repository.
const (
	developer  = "dev"        // write
	maintainer = "maintainer" // maintain
	reader     = "reader"     // read
)

func (s *stack) addUsers() {
	s.t.Helper()
	for login, p := range map[string]githubapi.Permission{
		developer: githubapi.PermissionWrite, maintainer: githubapi.PermissionMaintain, reader: githubapi.PermissionRead,
	} {
		if err := s.gh.AddCollaborator(owner, repoName, login, p); err != nil {
			s.t.Fatal(err)
		}
	}
}

// openChange pushes files (content "" deletes the path) to a new branch and
// opens a PR from it; it returns the PR number.
func (s *stack) openChange(branch, title string, files map[string]string) int {
	s.t.Helper()
	ctx := context.Background()
	c := githubapi.Commit{Message: title, Author: developer, Files: map[string]string{}, From: "main"}
	for p, content := range files {
		if content == "" {
			c.Delete = append(c.Delete, p)
		} else {
			c.Files[p] = content
		}
	}
	if _, err := s.gh.Push(ctx, owner, repoName, branch, c); err != nil {
		s.t.Fatal(err)
	}
	n, err := s.gh.OpenPR(ctx, owner, repoName, githubapi.NewPR{Title: title, Head: branch, Author: developer})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// merge merges PR n as the maintainer and returns the merge commit.
func (s *stack) merge(n int) string {
	s.t.Helper()
	sha, err := s.gh.MergePR(context.Background(), owner, repoName, n, maintainer, "merge")
	if err != nil {
		s.t.Fatal(err)
	}
	return sha
}

// mergeChange opens a PR with files and merges it.
func (s *stack) mergeChange(branch, title string, files map[string]string) string {
	s.t.Helper()
	return s.merge(s.openChange(branch, title, files))
}

// file reads a file of the repository's default branch.
func (s *stack) file(path string) string {
	s.t.Helper()
	raw, err := s.gh.File(context.Background(), owner, repoName, "main", path)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(raw)
}

// waitStatus waits for the commit status promobot/<app> on sha to leave
// pending and returns it.
func (s *stack) waitStatus(sha, app string) githubapi.Status {
	s.t.Helper()
	return s.waitRepoStatus(owner, repoName, sha, "promobot/"+app)
}

// repoStatus waits for the final commit status of app on owner/gitops@sha.
func (s *stack) repoStatus(owner, sha, app string) githubapi.Status {
	s.t.Helper()
	return s.waitRepoStatus(owner, "gitops", sha, "promobot/"+app)
}

// syncRows returns the app rows of the newest completed sync check run on
// sha, once there is one.
func (s *stack) syncRows(sha string) []kit.SyncRow {
	s.t.Helper()
	s.waitRepoStatus(owner, repoName, sha, "promobot")
	runs, err := s.gh.CheckRuns(owner, repoName, sha)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Name == "promobot/sync" && runs[i].Status == "completed" {
			return kit.SyncRows(runs[i].Text)
		}
	}
	return nil
}

// reportTexts is everything promobot reported on GitHub about sha: its
// commit statuses and its check runs.
func (s *stack) reportTexts(sha string) []string {
	s.t.Helper()
	var out []string
	sts, err := s.gh.Statuses(owner, repoName, sha)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, st := range sts {
		out = append(out, st.Context+" "+st.State+" "+st.Description)
	}
	runs, err := s.gh.CheckRuns(owner, repoName, sha)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range runs {
		out = append(out, r.Name+" "+r.Conclusion+" "+r.Title+"\n"+r.Summary+"\n"+r.Text)
	}
	return out
}

// waitRepoStatus waits for what the sync check run on owner/name@sha says
// of statusContext ("promobot/<app>" for an app's row, "promobot" for the
// sync itself), in the shape of the commit status it replaces.
func (s *stack) waitRepoStatus(owner, name, sha, statusContext string) githubapi.Status {
	s.t.Helper()
	var got githubapi.Status
	app := strings.TrimPrefix(strings.TrimPrefix(statusContext, "promobot"), "/")
	kit.Eventually(s.t, 60*time.Second, owner+"/"+name+" sync check run for "+statusContext+" on "+sha[:7], func() (bool, string) {
		runs, err := s.gh.CheckRuns(owner, name, sha)
		if err != nil {
			return false, err.Error()
		}
		st, ok := kit.SyncStatus(runs, app)
		got = st
		return ok, fmt.Sprintf("%+v", runs)
	})
	return got
}

// application is an Argo CD Application of repository url.
func application(name, url, path, server, ns string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: %s
  namespace: argocd
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: %s
  destination:
    server: %s
    namespace: %s
  syncPolicy:
    automated: {prune: true}
    syncOptions: [CreateNamespace=true]
`, name, url, path, server, ns)
}

// configMap renders a ConfigMap; ns "" leaves the namespace to the app.
func configMap(name, ns, level string) string {
	meta := "  name: " + name + "\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + meta + "data:\n  LOG_LEVEL: " + level + "\n"
}

const (
	inClusterServer = "https://kubernetes.default.svc"
	edgeServer      = "https://edge.example.internal:6443"
)

// createRepo creates owner/gitops on the local GitHub with files and
// returns the head of main.
func (s *stack) createRepo(owner string, files map[string]string) string {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), owner)
	writeFiles(s.t, dir, files)
	if err := s.gh.CreateRepo(context.Background(), owner, "gitops", dir); err != nil {
		s.t.Fatal(err)
	}
	heads, err := s.gh.Branches(context.Background(), owner, "gitops")
	if err != nil {
		s.t.Fatal(err)
	}
	return heads["main"]
}

// writeFiles writes files (by slash-separated path) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// deployment reads a Deployment from a cluster.
func deployment(c kubernetes.Interface, ns, name string) (*appsv1.Deployment, error) {
	return c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// image returns a Deployment's first container image.
func image(d *appsv1.Deployment) string {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d == nil || d.Spec.Replicas == nil {
		return -1
	}
	return *d.Spec.Replicas
}

// waitDeployment waits until the Deployment satisfies cond.
func (s *stack) waitDeployment(c kubernetes.Interface, ns, name, what string, cond func(*appsv1.Deployment) bool) *appsv1.Deployment {
	s.t.Helper()
	var d *appsv1.Deployment
	kit.Eventually(s.t, 60*time.Second, fmt.Sprintf("Deployment %s/%s %s", ns, name, what), func() (bool, string) {
		var err error
		d, err = deployment(c, ns, name)
		if err != nil {
			return false, err.Error()
		}
		return cond(d), fmt.Sprintf("replicas %d image %s", replicasOf(d), image(d))
	})
	return d
}

// bumpStaging returns the staging overlay with its image tag set to tag.
func (s *stack) bumpOverlay(env, tag string) map[string]string {
	p := "kustomize/overlays/" + env + "/kustomization.yaml"
	cur := s.file(p)
	i := strings.Index(cur, "newTag: ")
	if i < 0 {
		s.t.Fatalf("%s has no newTag", p)
	}
	end := i + len("newTag: ")
	j := end
	for j < len(cur) && cur[j] != ' ' && cur[j] != '\n' {
		j++
	}
	return map[string]string{p: cur[:end] + tag + cur[j:]}
}

func readFile(dir, p string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	return string(raw), err
}
