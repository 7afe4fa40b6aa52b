package promoter

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/promobot/promobot/test/githubapi"
)

// deliver posts a signed webhook delivery of event to the receiver, as
// GitHub sends the events the local GitHub does not.
func (h *harness) deliver(event string, payload any) {
	h.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(body)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	req, err := http.NewRequest(http.MethodPost, h.hookURL, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", hex.EncodeToString(id))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		h.t.Fatalf("%s delivery answered %d", event, resp.StatusCode)
	}
}

// TestMergeGroupCheck: GitHub's merge queue asks for checks on a merge
// group's commit; promobot renders it against its base as a pull request
// and posts the promobot check there, failed when an overlay in the group
// does not render.
func TestMergeGroupCheck(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	branches, err := h.gh.Branches(h.ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	base := branches["main"]
	queue := "gh-readonly-queue/main/pr-7-" + base
	tests := []struct {
		name, kustomization, conclusion string
	}{
		{name: "renders", kustomization: withTag(t, h.file("main", stagingFile), "1.2.0"), conclusion: "success"},
		{name: "broken", kustomization: addToStaging(t, h, "missing.yaml"), conclusion: "failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, err := h.gh.Push(h.ctx, owner, repoName, queue+"-"+tt.name, githubapi.Commit{Message: "Merge group", Author: developer,
				Files: map[string]string{stagingFile: tt.kustomization}, From: base})
			if err != nil {
				t.Fatal(err)
			}
			h.deliver("merge_group", map[string]any{
				"action": "checks_requested",
				"merge_group": map[string]any{"head_sha": head, "head_ref": "refs/heads/" + queue, "base_sha": base, "base_ref": "refs/heads/main",
					"head_commit": map[string]any{"id": head, "message": "Merge group"}},
				"repository":   map[string]any{"name": repoName, "full_name": owner + "/" + repoName, "default_branch": "main", "owner": map[string]any{"login": owner}},
				"installation": map[string]any{"id": h.gh.InstallationID(owner)},
			})
			h.settle()
			runs, err := h.gh.CheckRuns(owner, repoName, head)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs {
				if r.Name == PullRequestCheckName {
					got = append(got, r.Conclusion+": "+r.Title)
				}
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.conclusion+": ") {
				t.Fatalf("promobot check runs on the merge group's commit = %q, want one %s", got, tt.conclusion)
			}
		})
	}
}
