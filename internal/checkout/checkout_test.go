package checkout_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/checkout"
)

type entry struct {
	name, body, link string
	typ              byte
}

func tarball(t testing.TB, entries []entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Name: e.name, Typeflag: e.typ, PAXRecords: map[string]string{"comment": "abc1234"}}
		}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			// A fuzzed entry tar cannot encode (a file name with a
			// trailing slash): no tarball can hold it either.
			if _, fuzzing := t.(*testing.F); fuzzing || strings.HasPrefix(t.Name(), "FuzzUntar") {
				continue
			}
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e.body))
		}
	}
	_ = tw.Close()
	_ = gz.Close()
	return &buf
}

// tree lists dir's files and links as "path: body" or "path -> target".
func tree(t testing.TB, dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			out = append(out, rel+": "+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// chain is the link chain of the report: x -> . and y -> x/.. make y the
// checkout's parent, though "x/.." spells a path inside.
var chain = []entry{
	{name: "r-1/x", link: ".", typ: tar.TypeSymlink},
	{name: "r-1/y", link: "x/..", typ: tar.TypeSymlink},
	{name: "r-1/overlays/production/kustomization.yaml", link: "../../y/secret/kubeconfig", typ: tar.TypeSymlink},
	{name: "r-1/ok.yaml", body: "ok"},
}

// deepChain escapes only after more links than os.Root follows: y ->
// b20/.. with b20 -> b19 -> ... -> b1 -> a -> .
func deepChain() []entry {
	es := []entry{{name: "r-1/a", link: ".", typ: tar.TypeSymlink}, {name: "r-1/b1", link: "a", typ: tar.TypeSymlink}}
	for i := 2; i <= 20; i++ {
		es = append(es, entry{name: "r-1/b" + itoa(i), link: "b" + itoa(i-1), typ: tar.TypeSymlink})
	}
	return append(es, entry{name: "r-1/y", link: "b20/..", typ: tar.TypeSymlink})
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestUnpack(t *testing.T) {
	deep := []string{"a -> .", "b1 -> a"}
	for i := 2; i <= 20; i++ {
		deep = append(deep, "b"+itoa(i)+" -> b"+itoa(i-1))
	}
	deep = append(deep, "y -> y")
	sort.Strings(deep)
	tests := []struct {
		name    string
		entries []entry
		want    []string
		wantErr string
	}{
		{name: "github layout", entries: []entry{
			{name: "my-org-cluster-config-abc1234/", typ: tar.TypeDir},
			{name: "my-org-cluster-config-abc1234/apps/app.yaml", body: "kind: Application"},
			{name: "my-org-cluster-config-abc1234/kustomize/base/kustomization.yaml", body: "resources: []"},
		}, want: []string{"apps/app.yaml: kind: Application", "kustomize/base/kustomization.yaml: resources: []"}},
		{name: "pax header, hard link and devices dropped", entries: []entry{
			{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
			{name: "r-1/a.yaml", body: "a"},
			{name: "r-1/b.yaml", link: "r-1/a.yaml", typ: tar.TypeLink},
			{name: "r-1/null", typ: tar.TypeChar},
			{name: "r-1/fifo", typ: tar.TypeFifo},
		}, want: []string{"a.yaml: a"}},
		{name: "relative link inside kept", entries: []entry{
			{name: "r-1/base/x.yaml", body: "x"},
			{name: "r-1/overlay/x.yaml", link: "../base/x.yaml", typ: tar.TypeSymlink},
		}, want: []string{"base/x.yaml: x", "overlay/x.yaml -> ../base/x.yaml"}},
		{name: "links leaving the checkout refused", entries: []entry{
			{name: "r-1/passwd", link: "/etc/passwd", typ: tar.TypeSymlink},
			{name: "r-1/up", link: "../../etc", typ: tar.TypeSymlink},
			{name: "r-1/sub/up", link: "../..", typ: tar.TypeSymlink},
			{name: "r-1/ok.yaml", body: "ok"},
		}, want: []string{"ok.yaml: ok", "passwd -> passwd", "sub/up -> up", "up -> up"}},
		{name: "link chain leaving the checkout refused", entries: chain,
			want: []string{"ok.yaml: ok", "overlays/production/kustomization.yaml -> ../../y/secret/kubeconfig", "x -> .", "y -> y"}},
		{name: "link chain in reverse order refused", entries: []entry{chain[2], chain[1], chain[0], chain[3]},
			want: []string{"ok.yaml: ok", "overlays/production/kustomization.yaml -> ../../y/secret/kubeconfig", "x -> .", "y -> y"}},
		{name: "deep link chain refused", entries: deepChain(), want: deep},
		{name: "link that climbs out and back in refused", entries: []entry{
			{name: "r-1/base/x.yaml", body: "x"},
			{name: "r-1/back", link: "../checkout/base", typ: tar.TypeSymlink},
		}, want: []string{"back -> back", "base/x.yaml: x"}},
		{name: "write through a link chain refused", entries: []entry{
			{name: "r-1/x", link: ".", typ: tar.TypeSymlink},
			{name: "r-1/y", link: "x/..", typ: tar.TypeSymlink},
			{name: "r-1/y/evil.yaml", body: "evil"},
		}, wantErr: "y is not a directory"},
		{name: "directory through a link refused", entries: []entry{
			{name: "r-1/y", link: "..", typ: tar.TypeSymlink},
			{name: "r-1/y/evil/", typ: tar.TypeDir},
		}, wantErr: "y is not a directory"},
		{name: "file over a link refused", entries: []entry{
			{name: "r-1/x", link: "..", typ: tar.TypeSymlink},
			{name: "r-1/x", body: "evil"},
		}, wantErr: "file exists"},
		{name: "entry escaping refused", entries: []entry{
			{name: "r-1/../../evil.yaml", body: "x"},
		}, wantErr: "escapes the checkout"},
		{name: "absolute entry refused", entries: []entry{
			{name: "/tmp/evil.yaml", body: "x"},
		}, wantErr: "escapes the checkout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "checkout")
			if err := os.Mkdir(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			err := checkout.Untar(tarball(t, tt.entries), dir, checkout.Options{})
			if got := tree(t, parent); !allBelow(got, "checkout/") {
				t.Errorf("unpack wrote outside the checkout: %q", got)
			}
			checkInside(t, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tree(t, dir)); diff != "" {
				t.Errorf("checkout (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := checkout.Unpack(strings.NewReader("not gzip"), checkout.Options{}); err == nil || !strings.Contains(err.Error(), "gunzip") {
		t.Errorf("not a tarball: %v", err)
	}
}

func allBelow(paths []string, prefix string) bool {
	for _, p := range paths {
		if !strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}

// checkInside fails when anything below dir resolves, the way the kernel
// resolves it, outside dir.
func checkInside(t testing.TB, dir string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or looping: reaches nothing
		}
		if rel, err := filepath.Rel(real, r); err != nil || !filepath.IsLocal(rel) && rel != "." {
			t.Errorf("%s resolves to %s, outside the checkout", p, r)
		}
		return nil
	})
}

func TestUnpackLimits(t *testing.T) {
	files := []entry{{name: "r-1/a", body: "0123456789"}, {name: "r-1/b", body: "0123456789"}, {name: "r-1/c", typ: tar.TypeDir}}
	tests := []struct {
		name    string
		opts    checkout.Options
		wantErr string
	}{
		{name: "within the limits", opts: checkout.Options{MaxBytes: 20, MaxEntries: 3}},
		{name: "too many bytes", opts: checkout.Options{MaxBytes: 19}, wantErr: "untar: files larger than 19 bytes in total: repository too large"},
		{name: "too many entries", opts: checkout.Options{MaxEntries: 2}, wantErr: "untar: more than 2 entries: repository too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			repo, err := checkout.Unpack(tarball(t, files), tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := repo.Remove(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, checkout.ErrTooLarge) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if repo != nil {
					t.Errorf("a failed unpack returned %s", repo.Dir())
				}
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("left on disk: %v", left)
			}
		})
	}
}

// outside is a file next to every checkout the resolution tests make,
// which no read may return.
const outside = "token: outside-secret"

func TestRepoReads(t *testing.T) {
	parent := t.TempDir()
	if err := os.MkdirAll(filepath.Join(parent, "secret"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "secret", "kubeconfig"), []byte(outside), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "checkout")
	if err := os.MkdirAll(filepath.Join(dir, "base"), 0o750); err != nil {
		t.Fatal(err)
	}
	// A local checkout holds whatever links its owner made, unrefused.
	links := map[string]string{
		"x":          ".",
		"y":          "x/..",
		"abs":        filepath.Join(parent, "secret"),
		"up":         "../secret",
		"inside":     "base",
		"kust.yaml":  "y/secret/kubeconfig",
		"back":       "../checkout/base",
		"loop":       "loop2",
		"loop2":      "loop",
		"refused":    "refused",
		"base/k.yml": "../../checkout/base/x.yaml",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "base", "x.yaml"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	repo, err := checkout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	tests := []struct {
		name     string
		want     string
		wantErr  string
		outside  bool
		wantRead bool
	}{
		{name: "base/x.yaml", want: "base/x.yaml", wantRead: true},
		{name: "inside/x.yaml", want: "base/x.yaml", wantRead: true},
		{name: "x/x/base/x.yaml", want: "base/x.yaml", wantRead: true},
		{name: "base/missing.yaml", want: "base/missing.yaml", wantErr: "no such file"},
		{name: "y/secret/kubeconfig", wantErr: "y/secret/kubeconfig: symbolic link y points outside the repository", outside: true},
		{name: "kust.yaml", wantErr: "kust.yaml: symbolic link y points outside the repository", outside: true},
		{name: "abs/kubeconfig", wantErr: "abs/kubeconfig: symbolic link abs points outside the repository", outside: true},
		{name: "up/kubeconfig", wantErr: "up/kubeconfig: symbolic link up points outside the repository", outside: true},
		{name: "back/x.yaml", wantErr: "back/x.yaml: symbolic link back points outside the repository", outside: true},
		{name: "base/k.yml", wantErr: "base/k.yml: symbolic link points outside the repository", outside: true},
		{name: "refused", wantErr: "refused: symbolic link points outside the repository", outside: true},
		{name: "../secret/kubeconfig", wantErr: "../secret/kubeconfig: outside the repository", outside: true},
		{name: "base/../../secret/kubeconfig", wantErr: "base/../../secret/kubeconfig: outside the repository", outside: true},
		{name: "y/missing/x", wantErr: "y/missing/x: symbolic link y points outside the repository", outside: true},
		{name: "loop", wantErr: "loop: too many levels of symbolic links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := repo.Resolve(tt.name)
			if tt.outside {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, checkout.ErrOutsideRepository) {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.wantErr)
				}
			} else if tt.wantErr == "" || tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
				}
			}
			raw, err := repo.ReadFile(tt.name)
			if strings.Contains(string(raw), "outside-secret") {
				t.Fatalf("ReadFile(%s) returned the outside file", tt.name)
			}
			if tt.wantRead {
				if err != nil || string(raw) != "x" {
					t.Fatalf("ReadFile = %q, %v", raw, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadFile err = %v, want %q", err, tt.wantErr)
			}
			if _, err := fs.ReadFile(repo.FS(), tt.name); err == nil {
				t.Errorf("FS().ReadFile(%s) succeeded", tt.name)
			}
		})
	}
}

func TestRepoWriteFile(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "checkout")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "victim"), []byte("before"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k.yaml"), []byte("old"), 0o604); err != nil {
		t.Fatal(err)
	}
	for l, target := range map[string]string{"x": ".", "y": "x/..", "evil.yaml": "y/victim", "link.yaml": "k.yaml"} {
		if err := os.Symlink(target, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := checkout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if err := repo.WriteFile("evil.yaml", []byte("evil")); err == nil || err.Error() != "evil.yaml: symbolic link y points outside the repository" {
		t.Errorf("write through a link chain: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "victim")); string(b) != "before" {
		t.Errorf("the outside file was written: %q", b)
	}
	if err := repo.WriteFile("link.yaml", []byte("new")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "k.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "k.yaml")); string(b) != "new" || info.Mode().Perm() != 0o604 {
		t.Errorf("k.yaml = %q %v, want \"new\" with its mode kept", b, info.Mode().Perm())
	}
}
