package promoter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// outsideSecret is in a file beside the promoter's checkouts, which a link
// chain in the repository points at.
const outsideSecret = "s3cr3t-outside-token"

// A repository whose production kustomization is a link through a chain
// (x -> ., y -> x/.., so y is the checkout's parent) to a file outside the
// checkout: /promote is refused with a reply naming the link, no promotion
// pull request is opened, and no byte of the outside file appears in any
// comment, pull request, commit or log line.
func TestPromoteRefusesLinkChainOutOfTheRepository(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// A valid kustomization with images, so that a promoter that followed
	// the link would go on to commit it.
	outside := "# kubeconfig token: " + outsideSecret + "\nimages:\n- name: ghcr.io/my-org/my-api-service\n  newTag: 0.9.0\n"
	if err := os.WriteFile(filepath.Join(tmp, "kubeconfig"), []byte(outside), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{links: map[string]string{
		"x":      ".",
		"y":      "x/..",
		prodFile: "../../../y/kubeconfig",
	}})
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()

	h.comment(n, maintainer, "/promote\n")
	if prs := h.promotionPRs(); len(prs) != 0 {
		t.Errorf("promotion pull requests = %+v, want none", prs)
	}
	replies := h.replies(n)
	want := prodFile + ": symbolic link y points outside the repository"
	if len(replies) != 1 || !strings.Contains(replies[0].Body, want) {
		t.Errorf("replies = %+v, want one naming the link: %q", replies, want)
	}
	for _, c := range h.botComments(n) {
		if strings.Contains(c.Body, outsideSecret) {
			t.Errorf("a comment shows the outside file:\n%s", c.Body)
		}
	}
	if got := h.git("log", "--all", "-p"); strings.Contains(got, outsideSecret) {
		t.Errorf("a commit holds the outside file:\n%s", got)
	}
	if strings.Contains(h.logText(), outsideSecret) {
		t.Errorf("the log shows the outside file:\n%s", h.logText())
	}
}
