package github

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
)

func manyFiles(dir string, n int) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		files[fmt.Sprintf("%s/f%04d.yaml", dir, i)] = "x: 1\n"
	}
	return files
}

// TestCompareAtItsCap: GitHub lists at most 300 files of a comparison; a
// comparison at that many is Truncated (its files are not all known), one
// below is not. A comparison GitHub cannot generate (5xx) is FilesUnknown;
// a missing commit is not.
func TestCompareAtItsCap(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	base, err := f.inst.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	push := func(n int) string {
		t.Helper()
		sha, err := f.srv.Push(ctx, owner, name, "main", githubapi.Commit{Message: fmt.Sprintf("%d files", n), Files: manyFiles(fmt.Sprintf("d%d", n), n)})
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	below := push(MaxCompareFiles - 1)
	over := push(2)
	type view struct {
		Files     int
		Truncated bool
	}
	tests := []struct {
		name       string
		base, head string
		want       view
	}{
		{"below the cap", base, below, view{MaxCompareFiles - 1, false}},
		{"over the cap", base, over, view{MaxCompareFiles, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.inst.Compare(ctx, repo, tt.base, tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, view{len(c.Files), c.Truncated}); diff != "" {
				t.Errorf("compare (-want +got):\n%s", diff)
			}
		})
	}
	if err := f.srv.TooLargeDiff(ctx, owner, name, base, over); err != nil {
		t.Fatal(err)
	}
	_, err = f.inst.Compare(ctx, repo, base, over)
	if err == nil || !FilesUnknown(err) {
		t.Errorf("compare of a diff too large: %v, want an error FilesUnknown reports", err)
	}
	_, err = f.inst.Compare(ctx, repo, base, "0123456789012345678901234567890123456789")
	if err == nil || FilesUnknown(err) {
		t.Errorf("compare with a missing commit: %v, want an error FilesUnknown does not report", err)
	}
}

// TestCommitChangesAtItsCap: CommitChanges follows get-commit's pages of
// 300 files up to GitHub's 3,000; a commit at the cap is Truncated, one
// below it is not.
func TestCommitChangesAtItsCap(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	tests := []struct {
		name      string
		files     int
		wantFiles int
		truncated bool
	}{
		{"below the cap, over one page", 2*githubapi.CommitFilesPerPage + 1, 2*githubapi.CommitFilesPerPage + 1, false},
		{"over the cap", MaxCommitFiles + 5, MaxCommitFiles, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sha, err := f.srv.Push(ctx, owner, name, "main", githubapi.Commit{Message: tt.name, Files: manyFiles(fmt.Sprintf("d%d", tt.files), tt.files)})
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.inst.CommitChanges(ctx, repo, sha)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, p := range c.Paths() {
				seen[p] = true
			}
			if len(c.Files) != tt.wantFiles || len(seen) != tt.wantFiles || c.Truncated != tt.truncated || c.SHA != sha {
				t.Errorf("%d files (%d distinct), truncated %v, sha %s; want %d, %v, %s", len(c.Files), len(seen), c.Truncated, c.SHA, tt.wantFiles, tt.truncated, sha)
			}
		})
	}
}
