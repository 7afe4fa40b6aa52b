package applier

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/test/githubapi"
)

// TestPayloadChanges: a push payload's file lists are the push's changes
// only when GitHub listed every commit and every file of each; GitHub
// delivers up to 2048 commits (the 20-commit cap is its timeline's, not
// its webhooks') and up to 3000 files a commit.
func TestPayloadChanges(t *testing.T) {
	type commit = pushCommit
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

// TestPushChanges: the files a push changed come from its payload when
// GitHub listed them all, else from compare; a compare at GitHub's
// 300-file cap, one GitHub cannot generate (500 "this diff is taking too
// long to generate"), and a push that moved the branch back (a force push
// to an older commit, listing no commit) leave them unknown (nil: every
// app).
func TestPushChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateRepo(ctx, "acme", "gitops", ""); err != nil {
		t.Fatal(err)
	}
	id, err := srv.Install(ctx, "acme", "gitops")
	if err != nil {
		t.Fatal(err)
	}
	app, err := github.NewApp(github.Options{AppID: srv.AppID(), PrivateKey: srv.AppPrivateKeyPEM(), BaseURL: srv.URL(), Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := app.Installation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	repo := Repo{Owner: "acme", Name: "gitops"}
	push := func(files map[string]string) string {
		t.Helper()
		sha, err := srv.Push(ctx, "acme", "gitops", "main", githubapi.Commit{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	many := func(n int) map[string]string {
		files := map[string]string{}
		for i := range n {
			files[fmt.Sprintf("docs/%04d.md", i)] = "# doc\n"
		}
		return files
	}
	root, err := gh.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	small := push(map[string]string{"app/a.yaml": "a: 1\n"})
	large := push(many(github.MaxCompareFiles + 1))
	tooLarge := push(map[string]string{"app/b.yaml": "b: 1\n"})
	if err := srv.TooLargeDiff(ctx, "acme", "gitops", large, tooLarge); err != nil {
		t.Fatal(err)
	}
	type commit = pushCommit
	tests := []struct {
		name          string
		before, after string
		commits       []commit
		want          []string
	}{
		{name: "the payload lists every file", before: root, after: small,
			commits: []commit{{Added: []string{"app/a.yaml"}}}, want: []string{"app/a.yaml"}},
		{name: "no commit listed: compare", before: root, after: small, want: []string{"app/a.yaml"}},
		{name: "compare at its cap", before: small, after: large},
		{name: "compare too large to generate", before: large, after: tooLarge},
		{name: "the branch moved back", before: tooLarge, after: small},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pushPayload
			p.Before, p.After, p.Commits = tt.before, tt.after, tt.commits
			got, err := pushChanges(ctx, gh, repo, p, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changed files (-want +got):\n%s", diff)
			}
			if (tt.want == nil) != (got == nil) {
				t.Errorf("changed files %v: nil %v, want nil %v", got, got == nil, tt.want == nil)
			}
		})
	}
}
