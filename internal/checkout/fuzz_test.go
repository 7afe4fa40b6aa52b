package checkout_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/checkout"
)

// entriesOf decodes a fuzzed entry list: one entry per line, a type letter
// (d directory, f file, l symbolic link, h hard link, anything else a
// device), the name, and after "=" the link target or the file's body.
// Every name is put below the top-level directory Unpack drops.
func entriesOf(data string) []entry {
	var es []entry
	for _, line := range strings.Split(data, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line[1:], "=")
		e := entry{name: "r-1/" + name}
		switch line[0] {
		case 'd':
			e.typ = tar.TypeDir
		case 'f':
			e.typ, e.body = tar.TypeReg, value
		case 'l':
			e.typ, e.link = tar.TypeSymlink, value
		case 'h':
			e.typ, e.link = tar.TypeLink, "r-1/"+value
		default:
			e.typ = tar.TypeChar
		}
		es = append(es, e)
	}
	return es
}

// FuzzUntar checks that no tarball, however its entries and links are
// arranged, writes anything outside the checkout or leaves anything in it
// that resolves outside: a sentinel directory beside the checkout must stay
// as it was, and every path below the checkout must resolve, as the kernel
// resolves it, inside it or nowhere.
func FuzzUntar(f *testing.F) {
	for _, seed := range []string{
		"fapps/app.yaml=kind: Application\ndbase\nfbase/kustomization.yaml=resources: []",
		"lx=.\nly=x/..\nloverlays/production/kustomization.yaml=../../y/sentinel/secret",
		"ly=x/..\nlx=.\nfy/evil=evil",
		"lx=.\nly=x/..\ndy/evil",
		"la=.\nlb=a/a/a/a/a/a/a/a/a/a\nlc=b/..\nfc/sentinel/evil=evil",
		"lup=../sentinel\nfup/evil=evil",
		"labs=/tmp\nfabs/evil=evil",
		"lsub/up=../..\nfsub/up/evil=x",
		"lback=../checkout\nfback/x=x",
		"lx=y\nly=x\nfx/z=z",
		"fa=1\nfa=2\nla=..",
		"fa=1\nhb=a\nnc",
		"l..=.\nf../evil=x",
		"ld/l=../../..\nfd/l=x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		es := entriesOf(data)
		if len(es) > 64 {
			return
		}
		parent := t.TempDir()
		dir := filepath.Join(parent, "checkout")
		sentinel := filepath.Join(parent, "sentinel")
		for _, d := range []string{dir, sentinel} {
			if err := os.Mkdir(d, 0o750); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sentinel, "secret"), []byte("outside"), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = checkout.Untar(tarball(t, es), dir, checkout.Options{MaxBytes: 1 << 20, MaxEntries: 100})
		got := tree(t, parent)
		for _, p := range got {
			if !strings.HasPrefix(p, "checkout"+string(filepath.Separator)) && p != "sentinel/secret: outside" {
				t.Fatalf("written outside the checkout: %q (all: %q)", p, got)
			}
		}
		checkInside(t, dir)
		repo, err := checkout.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		// Every path the checkout holds reads through the Repo without
		// ever returning the outside file.
		_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			for _, name := range []string{rel, rel + "/secret", rel + "/../sentinel/secret", rel + "/sentinel/secret"} {
				if b, err := repo.ReadFile(filepath.ToSlash(name)); err == nil && string(b) == "outside" {
					t.Fatalf("ReadFile(%s) read the outside file", name)
				}
			}
			return nil
		})
	})
}
