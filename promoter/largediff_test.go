package promoter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/test/githubapi"
)

// TestPullRequestDiffChangedFilesUnknown: when GitHub cannot list every
// file a pull request changes (its compare lists at most 300, and answers
// 5xx for a diff too large to generate), the diff comment renders every
// app and says why, instead of leaving out the apps whose files were not
// listed. Here the staging overlay's change sorts after the files GitHub
// lists.
func TestPullRequestDiffChangedFilesUnknown(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	staging := withTag(t, h.file("main", stagingFile), "2.0.0")
	tests := []struct {
		name     string
		files    map[string]string
		tooLarge bool
		want     string
	}{
		{
			name:  "more files than compare lists",
			files: map[string]string{stagingFile: staging},
			want:  fmt.Sprintf("This pull request changes more files than GitHub lists (%d). Every app is rendered.", github.MaxCompareFiles),
		},
		{
			name:     "a diff GitHub cannot generate",
			files:    map[string]string{stagingFile: staging},
			tooLarge: true,
			want:     "GitHub could not list the files this pull request changes. Every app is rendered.",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			branch := fmt.Sprintf("large-%d", i)
			files := map[string]string{}
			for p, c := range tt.files {
				files[p] = c
			}
			if !tt.tooLarge {
				for j := range github.MaxCompareFiles + 5 {
					files[fmt.Sprintf("docs/page-%03d.md", j)] = "# page\n"
				}
			}
			head, err := h.gh.Push(h.ctx, owner, repoName, branch, githubapi.Commit{Message: tt.name, Author: developer, Files: files})
			if err != nil {
				t.Fatal(err)
			}
			if tt.tooLarge {
				if err := h.gh.TooLargeDiff(h.ctx, owner, repoName, "main", head); err != nil {
					t.Fatal(err)
				}
			}
			n, err := h.gh.OpenPR(h.ctx, owner, repoName, githubapi.NewPR{Title: tt.name, Head: branch, Author: developer})
			if err != nil {
				t.Fatal(err)
			}
			h.settle()
			cs := h.botComments(n)
			if len(cs) != 1 {
				t.Fatalf("comments = %+v, want one diff comment\n%s", cs, h.logText())
			}
			body := cs[0].Body
			for _, want := range []string{tt.want, "#### `my-api-service-staging` · staging", "ghcr.io/my-org/my-api-service:2.0.0"} {
				if !strings.Contains(body, want) {
					t.Errorf("diff comment lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

// TestPromoteCommitOverTheFileCap: /promote on a pull request whose merge
// commit changes more files than GitHub lists for a commit (3,000, the
// staging overlay's change sorting after them) considers every app: the
// staging image change is promoted, where the listed files alone would
// select nothing.
func TestPromoteCommitOverTheFileCap(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	files := map[string]string{stagingFile: withTag(t, h.file("main", stagingFile), "1.1.0")}
	for j := range github.MaxCommitFiles + 5 {
		files[fmt.Sprintf("docs/page-%04d.md", j)] = "# page\n"
	}
	n := h.openChange("docs-and-bump", files)
	sha, err := h.gh.MergePR(h.ctx, owner, repoName, n, maintainer, "merge")
	if err != nil {
		t.Fatal(err)
	}
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()

	h.comment(n, maintainer, "/promote")
	prs := h.promotionPRs()
	if len(prs) != 1 {
		t.Fatalf("promotion pull requests = %+v, want 1; replies %+v\n%s", prs, h.replies(n), h.logText())
	}
	if want := "Promote my-api-service to production: ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0"; prs[0].Title != want {
		t.Errorf("title = %q, want %q", prs[0].Title, want)
	}
}
