package promoter

import (
	"strings"
	"testing"

	"github.com/promobot/promobot/test/githubapi"
)

// TestPullRequestCheck: every pull request head gets the check run
// promobot, which a branch rule can require: green with the diff's summary
// and a link to the comment; failed, with an annotation on the file at
// fault, for an overlay that does not render or an invalid .promobot.yaml.
func TestPullRequestCheck(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	check := func(t *testing.T, n int) githubapi.CheckRun {
		t.Helper()
		pr, err := h.gh.PR(owner, repoName, n)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := h.gh.CheckRuns(owner, repoName, pr.HeadSHA)
		if err != nil {
			t.Fatal(err)
		}
		var got []githubapi.CheckRun
		for _, r := range runs {
			if r.Name == PullRequestCheckName {
				got = append(got, r)
			}
		}
		if len(got) != 1 || got[0].Status != "completed" {
			t.Fatalf("check runs %s on the head: %+v, want one completed", PullRequestCheckName, runs)
		}
		return got[0]
	}

	t.Run("a change that renders", func(t *testing.T) {
		n := h.openChange("bump-ok", map[string]string{stagingFile: withTag(t, h.file("main", stagingFile), "1.1.0")})
		h.settle()
		run := check(t, n)
		if run.Conclusion != "success" || run.Title != "1 resource changed in 1 app" || len(run.Annotations) != 0 {
			t.Errorf("check = %+v", run)
		}
		cs := h.botComments(n)
		if len(cs) != 1 || !strings.Contains(run.Summary, "#issuecomment-") {
			t.Errorf("summary %q does not link the diff comment (%d comments)", run.Summary, len(cs))
		}
	})

	t.Run("an overlay that does not render", func(t *testing.T) {
		n := h.openChange("broken", map[string]string{stagingFile: addToStaging(t, h, "missing.yaml")})
		h.settle()
		run := check(t, n)
		if run.Conclusion != "failure" || run.Title != "1 app fail to render" {
			t.Errorf("check = %+v", run)
		}
		if len(run.Annotations) != 1 || run.Annotations[0].Path != "kustomize/overlays/staging/kustomization.yaml" ||
			run.Annotations[0].Level != "failure" || !strings.Contains(run.Annotations[0].Message, "missing.yaml") {
			t.Errorf("annotations = %+v", run.Annotations)
		}
	})

	t.Run("an invalid .promobot.yaml", func(t *testing.T) {
		n := h.openChange("bad-config", map[string]string{".promobot.yaml": "pipeline:\n  - from: staging\n    to: production\n    strategy: everything\n"})
		h.settle()
		run := check(t, n)
		if run.Conclusion != "failure" || !strings.Contains(run.Title, ".promobot.yaml is invalid") {
			t.Errorf("check = %+v", run)
		}
		if len(run.Annotations) != 1 || run.Annotations[0].Path != ".promobot.yaml" || !strings.Contains(run.Annotations[0].Message, `"everything" is not a strategy`) {
			t.Errorf("annotations = %+v", run.Annotations)
		}
	})
}
