package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/test/githubapi"
)

// TestMassPruneTrailer: a push that cuts an app from five objects to one
// without consent fails the app's status with "prune refused" and keeps
// the four; the next push whose head commit carries the line
// "promobot: allow-mass-prune" (read from the push webhook's head_commit,
// as GitHub sends it) prunes them. The consent is that commit's only: a
// later cut without the line is refused again, and through a pull request
// it is the merge commit's message that counts, not the pull request's
// commits.
func TestMassPruneTrailer(t *testing.T) {
	ctx := context.Background()
	s := startStack(t, stackOptions{noInstall: true})
	url := s.gh.WebURL() + "/team-a/gitops.git"
	objects := func(names ...string) string {
		var docs []string
		for _, n := range names {
			docs = append(docs, configMap(n, "", "info"))
		}
		return strings.Join(docs, "---\n")
	}
	head := s.createRepo("team-a", map[string]string{
		"apps/jobs.yaml":          application("jobs", url, "jobs", inClusterServer, "jobs"),
		"jobs/kustomization.yaml": "resources: [configmaps.yaml]\n",
		"jobs/configmaps.yaml":    objects("cm-0", "cm-1", "cm-2", "cm-3", "cm-4"),
	})
	if _, err := s.gh.Install(ctx, "team-a", "gitops"); err != nil {
		t.Fatal(err)
	}
	if st := s.repoStatus("team-a", head, "jobs"); st.State != "success" {
		t.Fatalf("initial sync: %s %q", st.State, st.Description)
	}
	left := func() []string {
		t.Helper()
		list, err := s.home.Client.CoreV1().ConfigMaps("jobs").List(ctx, metav1.ListOptions{LabelSelector: "promobot.dev/app=jobs"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cm := range list.Items {
			names = append(names, cm.Name)
		}
		return names
	}
	push := func(branch, msg, configmaps string) string {
		t.Helper()
		sha, err := s.gh.Push(ctx, "team-a", "gitops", branch, githubapi.Commit{Message: msg,
			Files: map[string]string{"jobs/configmaps.yaml": configmaps}, From: "main"})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	// merge pushes the commit to a branch, opens a pull request and merges
	// it with a merge commit whose message is mergeMessage ("" for
	// GitHub's default).
	merge := func(branch, msg, configmaps, mergeMessage string) string {
		t.Helper()
		push(branch, msg, configmaps)
		n, err := s.gh.OpenPR(ctx, "team-a", "gitops", githubapi.NewPR{Title: "Shrink the jobs", Head: branch})
		if err != nil {
			t.Fatal(err)
		}
		sha, err := s.gh.MergePRWithMessage(ctx, "team-a", "gitops", n, "", "merge", "", mergeMessage)
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	refused := func(n, of int) string {
		return clipStatus(fmt.Sprintf(`cluster https://kubernetes.default.svc: prune refused: would delete %d of %d objects; add a line "%s" to the commit message or set prune.allowMass in .promobot.yaml to allow it`, n, of, applier.MassPruneTrailer))
	}
	all := []string{"cm-0", "cm-1", "cm-2", "cm-3", "cm-4"}

	steps := []struct {
		name, message string
		// branch, when set, takes the commit through a pull request merged
		// with mergeMessage.
		branch, mergeMessage string
		render               []string
		wantState            string
		wantDesc             string // exact, or a part of a success description
		wantLeft             []string
	}{
		{
			name: "cut without consent", message: "Keep one job",
			render: []string{"cm-0"}, wantState: "failure", wantDesc: refused(4, 5), wantLeft: all,
		},
		{
			// The trailer must be a line of its own: in a sentence it
			// allows nothing.
			name: "trailer inside a sentence", message: "Keep one job; see promobot: allow-mass-prune in the docs",
			render: []string{"cm-1"}, wantState: "failure", wantDesc: refused(4, 5), wantLeft: all,
		},
		{
			name: "cut with the trailer", message: "Keep one job\n\nThe others moved to the batch cluster.\n\n" + applier.MassPruneTrailer,
			render: []string{"cm-0"}, wantState: "success", wantDesc: "4 pruned", wantLeft: []string{"cm-0"},
		},
		{
			name: "back to five", message: "Bring the jobs back",
			render: all, wantState: "success", wantLeft: all,
		},
		{
			name: "a later cut needs consent again", message: "Keep two jobs",
			render: []string{"cm-0", "cm-1"}, wantState: "failure", wantDesc: refused(3, 5), wantLeft: all,
		},
		{
			// What is applied is the commit that lands on main: a line in
			// a pull request's commit does not reach GitHub's default
			// merge commit message, so the merger has not consented.
			name: "trailer in a pull request's commit, default merge message", branch: "cut-1",
			message: "Keep one job\n\n" + applier.MassPruneTrailer,
			render:  []string{"cm-1"}, wantState: "failure", wantDesc: refused(4, 5), wantLeft: all,
		},
		{
			name: "trailer in the merge commit's message", branch: "cut-2", message: "Keep one job",
			mergeMessage: "Shrink the jobs\n\n" + applier.MassPruneTrailer,
			render:       []string{"cm-0"}, wantState: "success", wantDesc: "4 pruned", wantLeft: []string{"cm-0"},
		},
	}
	// Each step changes the render (a push that changes no file of the app
	// does not apply it).
	for _, step := range steps {
		var sha string
		if step.branch == "" {
			sha = push("main", step.message, objects(step.render...))
		} else {
			sha = merge(step.branch, step.message, objects(step.render...), step.mergeMessage)
		}
		st := s.repoStatus("team-a", sha, "jobs")
		okDesc := st.Description == step.wantDesc || (step.wantState == "success" && strings.Contains(st.Description, step.wantDesc))
		if st.State != step.wantState || !okDesc {
			t.Errorf("%s: status %s %q, want %s %q", step.name, st.State, st.Description, step.wantState, step.wantDesc)
		}
		if got := left(); strings.Join(got, ",") != strings.Join(step.wantLeft, ",") {
			t.Errorf("%s: ConfigMaps of the app %v, want %v", step.name, got, step.wantLeft)
		}
	}
}
