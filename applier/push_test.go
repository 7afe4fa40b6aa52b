package applier

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/github"
)

// TestPayloadChanges: a push payload's file lists are the push's changes
// only when GitHub listed every commit and every file of each; GitHub
// delivers up to 2048 commits (the 20-commit cap is its timeline's, not
// its webhooks') and up to 3000 files a commit.
func TestPayloadChanges(t *testing.T) {
	type commit = struct {
		Added    []string `json:"added"`
		Removed  []string `json:"removed"`
		Modified []string `json:"modified"`
	}
	files := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("f%d", i)
		}
		return out
	}
	commits := func(n int) []commit {
		out := make([]commit, n)
		for i := range out {
			out[i] = commit{Modified: []string{fmt.Sprintf("app%d/x.yaml", i%3)}}
		}
		return out
	}
	tests := []struct {
		name     string
		commits  []commit
		wantLen  int
		complete bool
	}{
		{name: "no commit listed", commits: nil, complete: false},
		{name: "one commit", commits: []commit{{Added: []string{"a"}, Removed: []string{"b"}, Modified: []string{"c"}}}, wantLen: 3, complete: true},
		{name: "an empty commit", commits: []commit{{}}, wantLen: 0, complete: true},
		{name: "more than 20 commits", commits: commits(25), wantLen: 25, complete: true},
		{name: "GitHub's maximum of commits", commits: commits(github.MaxPushCommits), complete: false},
		{name: "a commit below the file cap", commits: []commit{{Modified: files(github.MaxCommitFiles - 1)}}, wantLen: github.MaxCommitFiles - 1, complete: true},
		{name: "a commit at the file cap", commits: []commit{{Added: files(10), Modified: files(github.MaxCommitFiles - 10)}}, complete: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pushPayload
			p.Commits = tt.commits
			got, complete := payloadChanges(p)
			if diff := cmp.Diff([2]any{tt.wantLen, tt.complete}, [2]any{len(got), complete}); diff != "" {
				t.Errorf("payloadChanges (-want +got):\n%s", diff)
			}
			if complete && got == nil {
				t.Error("a complete list is nil, which means every app")
			}
		})
	}
}
