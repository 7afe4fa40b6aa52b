package promoter

import (
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/diff"
)

// /diff renders a pull request's diff comment on request: here for a
// promoter whose diff comments on pushes are turned off; a reader may not
// ask for it.
func TestDiffCommand(t *testing.T) {
	h := newHarness(t, harnessOptions{opts: Options{NoPullRequestDiffs: true}})
	dep := h.file("main", "kustomize/base/deployment.yaml")
	n := h.openChange("base-port", map[string]string{"kustomize/base/deployment.yaml": strings.Replace(dep, "containerPort: 8080", "containerPort: 8081", 1)})
	h.settle()
	if cs := h.botComments(n); len(cs) != 0 {
		t.Fatalf("comments before /diff = %+v", cs)
	}
	h.comment(n, reader, "/diff")
	h.settle()
	for _, c := range h.botComments(n) {
		if diff.HasMarker(c.Body, PullRequestDiffKey) {
			t.Fatalf("a reader's /diff rendered the diff comment")
		}
	}
	h.comment(n, developer, "/diff")
	h.settle()
	var found bool
	for _, c := range h.botComments(n) {
		if diff.HasMarker(c.Body, PullRequestDiffKey) && strings.Contains(c.Body, "+        - containerPort: 8081") {
			found = true
		}
	}
	if !found {
		t.Errorf("no diff comment after /diff: %+v", h.botComments(n))
	}
}
