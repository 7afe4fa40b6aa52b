package githubapi

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// manyFiles returns n files dir/f0000.yaml… with content.
func manyFiles(dir string, n int, content string) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		files[fmt.Sprintf("%s/f%04d.yaml", dir, i)] = content
	}
	return files
}

// TestCompareListsAtMost300Files follows GitHub's "Compare two commits"
// (repos/compare-commits-with-basehead): "The list of changed files is only
// shown on the first page of results, and it includes up to 300 changed
// files for the entire comparison"; paging pages the commits; without
// paging parameters "the returned list is limited to 250 commits, and the
// last commit in the list is the most recent". A diff too large to
// generate answers 500 (TooLargeDiff).
func TestCompareListsAtMost300Files(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	base, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "small", Files: map[string]string{"a.yaml": "a: 1\n"}})
	if err != nil {
		t.Fatal(err)
	}
	mid, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "many", Files: manyFiles("many", 310, "x: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	head, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "one more", Files: map[string]string{"b.yaml": "b: 1\n"}})
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Files, Commits, TotalCommits int
		Last                         string
		Next                         int
	}
	tests := []struct {
		name string
		opts *gh.ListOptions
		want view
	}{
		{name: "no paging parameters", want: view{Files: MaxCompareFiles, Commits: 2, TotalCommits: 2, Last: head}},
		{name: "first page", opts: &gh.ListOptions{PerPage: 1}, want: view{Files: MaxCompareFiles, Commits: 1, TotalCommits: 2, Last: mid, Next: 2}},
		{name: "second page lists no files", opts: &gh.ListOptions{PerPage: 1, Page: 2}, want: view{Files: 0, Commits: 1, TotalCommits: 2, Last: head}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := e.inst.Repositories.CompareCommits(ctx, testOwner, testRepo, base, head, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := view{Files: len(c.Files), Commits: len(c.Commits), TotalCommits: c.GetTotalCommits(), Next: resp.NextPage}
			if len(c.Commits) > 0 {
				got.Last = c.Commits[len(c.Commits)-1].GetSHA()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("compare (-want +got):\n%s", diff)
			}
		})
	}

	if err := e.srv.TooLargeDiff(ctx, testOwner, testRepo, base, head); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.inst.Repositories.CompareCommits(ctx, testOwner, testRepo, base, head, nil)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusInternalServerError || er.Message != "Server Error: Sorry, this diff is taking too long to generate." {
		t.Errorf("compare of a diff too large: %v, want 500 Server Error: Sorry, this diff is taking too long to generate.", err)
	}
	if _, _, err := e.inst.Repositories.CompareCommits(ctx, testOwner, testRepo, base, mid, nil); err != nil {
		t.Errorf("compare of another pair: %v", err)
	}
}

// TestCommitFilesPaginated follows GitHub's "Get a commit"
// (repos/get-commit): "If there are more than 300 files in the commit diff
// ... the response will include pagination link headers for the remaining
// files, up to a limit of 3000 files. Each page contains the static commit
// information, and the only changes are to the file listing."
func TestCommitFilesPaginated(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	dir := t.TempDir()
	writeTestFiles(t, dir, manyFiles("apps", MaxCommitFiles+10, "x: 1\n"))
	if err := e.srv.CreateRepo(ctx, testOwner, "big", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Install(ctx, testOwner, "big"); err != nil {
		t.Fatal(err)
	}
	var files []string
	pages := 0
	opts := &gh.ListOptions{}
	var first *gh.RepositoryCommit
	for {
		c, resp, err := e.inst.Repositories.GetCommit(ctx, testOwner, "big", "main", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if first == nil {
			first = c
		} else if c.GetSHA() != first.GetSHA() || c.GetStats().GetTotal() != first.GetStats().GetTotal() {
			t.Errorf("page %d: commit %s stats %v, want the first page's %s %v", pages, c.GetSHA(), c.GetStats(), first.GetSHA(), first.GetStats())
		}
		if len(c.Files) > CommitFilesPerPage {
			t.Errorf("page %d lists %d files, more than %d", pages, len(c.Files), CommitFilesPerPage)
		}
		for _, f := range c.Files {
			files = append(files, f.GetFilename())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != MaxCommitFiles/CommitFilesPerPage || len(files) != MaxCommitFiles {
		t.Errorf("%d files on %d pages, want %d on %d", len(files), pages, MaxCommitFiles, MaxCommitFiles/CommitFilesPerPage)
	}
	if !sort.StringsAreSorted(files) || len(files) > 0 && files[0] != "README.md" && files[0] != "apps/f0000.yaml" {
		t.Errorf("files not in the diff's order: first %q", files[0])
	}
	if got := first.GetStats().GetAdditions(); got < MaxCommitFiles+10 {
		t.Errorf("stats count %d added lines, want every file's (at least %d)", got, MaxCommitFiles+10)
	}
	c, _, err := e.inst.Repositories.GetCommit(ctx, testOwner, "big", "main", &gh.ListOptions{PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 50 {
		t.Errorf("per_page 50 lists %d files", len(c.Files))
	}
}

// TestPushWebhookKeepsEveryCommit follows GitHub's push webhook
// (webhook-push): commits "includes a maximum of 2048 commits"; the cap of
// 20 applies to timeline events only and isn't applied to webhook
// deliveries. Each commit reports at most 3000 changed files.
func TestPushWebhookKeepsEveryCommit(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	var shas []string
	for i := range 25 {
		sha, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{Message: fmt.Sprintf("step %d", i),
			Files: map[string]string{fmt.Sprintf("steps/%02d.yaml", i): "x: 1\n"}})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
	}
	e.sink.reset()
	if _, _, err := e.inst.Git.UpdateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/main"),
		Object: &gh.GitObject{SHA: gh.String(shas[len(shas)-1])}}, false); err != nil {
		t.Fatal(err)
	}
	ps := pushes(t, e.sink)
	if len(ps) != 1 {
		t.Fatalf("%d push webhooks, want 1", len(ps))
	}
	var got []string
	commits, _ := ps[0]["commits"].([]any)
	for _, c := range commits {
		got = append(got, c.(map[string]any)["id"].(string))
	}
	if diff := cmp.Diff(shas, got); diff != "" {
		t.Errorf("push of 25 commits lists (-want +got):\n%s", diff)
	}

	e.sink.reset()
	if _, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "huge", Files: manyFiles("huge", MaxCommitFiles+5, "y: 1\n")}); err != nil {
		t.Fatal(err)
	}
	ps = pushes(t, e.sink)
	if len(ps) != 1 {
		t.Fatalf("%d push webhooks, want 1", len(ps))
	}
	head := ps[0]["head_commit"].(map[string]any)
	n := len(head["added"].([]any)) + len(head["removed"].([]any)) + len(head["modified"].([]any))
	if n != MaxCommitFiles {
		t.Errorf("a commit of %d files reports %d, want %d", MaxCommitFiles+5, n, MaxCommitFiles)
	}
}

// writeTestFiles writes files (by slash-separated path) under dir.
func writeTestFiles(t *testing.T, dir string, files map[string]string) {
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
