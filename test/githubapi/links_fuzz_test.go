package githubapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"testing"
)

// FuzzPushLinks: whatever target a repository's symbolic link has, a link
// pushed with Commit.Links comes back the same from the tarball (a symlink
// entry whose Linkname is the target) and from File (the target bytes), so
// tests can hand promobot any link a hostile repository holds; a target
// no file system can hold (empty, or with a NUL byte) is refused by Push.
func FuzzPushLinks(f *testing.F) {
	for _, seed := range []string{".", "x/..", "../../../y/kustomization.yaml", "/etc/passwd", "a b\tc", "ünïcode/ℵ", "..", "x//y/", "-rf", "a\nb"} {
		f.Add(seed)
	}
	ctx := context.Background()
	srv, err := New(Options{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	if err := srv.CreateRepo(ctx, testOwner, testRepo, ""); err != nil {
		f.Fatal(err)
	}
	r := srv.repoByName(testOwner, testRepo)
	f.Fuzz(func(t *testing.T, target string) {
		sha, err := srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "Link", Links: map[string]string{"l": target}})
		refused := target == "" || strings.ContainsRune(target, 0)
		if err != nil {
			if refused {
				return
			}
			t.Fatalf("push a link to %q: %v", target, err)
		}
		if refused {
			t.Fatalf("a link to %q was pushed", target)
		}
		got, err := srv.File(ctx, testOwner, testRepo, sha, "l")
		if err != nil || string(got) != target {
			t.Errorf("File(l) = %q, %v; want %q", got, err, target)
		}
		var buf bytes.Buffer
		if err := r.git.archive(ctx, &buf, sha, "p/"); err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("tarball with a link to %q: %v", target, err)
			}
			if h.Name != "p/l" {
				continue
			}
			found = true
			if h.Typeflag != tar.TypeSymlink || h.Linkname != target {
				t.Errorf("tarball entry l: type %q link %q, want a symlink to %q", h.Typeflag, h.Linkname, target)
			}
		}
		if !found {
			t.Errorf("tarball has no entry l for a link to %q", target)
		}
	})
}
