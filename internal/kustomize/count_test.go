package kustomize

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize/kustomizetest"
)

// TestCountObjectsMatchesRender compares the graph's count with the objects
// the render prints, for overlays where both must agree.
func TestCountObjectsMatchesRender(t *testing.T) {
	root := t.TempDir()
	writeFile(t, path.Join(root, "docs/kustomization.yaml"), "resources:\n- many.yaml\nconfigMapGenerator:\n- name: gen\n  literals:\n  - a=b\nsecretGenerator:\n- name: s\n  literals:\n  - a=b\n")
	writeFile(t, path.Join(root, "docs/many.yaml"), "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\n# only a comment\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: three\ndata:\n  x: |\n    ---\n    not a separator\n...\n")
	writeFile(t, path.Join(root, "comp/kustomization.yaml"), "resources:\n- ../docs\ncomponents:\n- ../component\n")
	writeFile(t, path.Join(root, "component/kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- cm.yaml\n")
	writeFile(t, path.Join(root, "component/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-component\n")
	type tc struct{ root, dir string }
	tests := map[string]tc{
		"fixture staging":                     {fixtureRepo, "kustomize/overlays/staging"},
		"fixture production":                  {fixtureRepo, "kustomize/overlays/production"},
		"fixture guestbook":                   {fixtureRepo, "guestbook"},
		"separators, comments and generators": {root, "docs"},
		"components":                          {root, "comp"},
	}
	for _, d := range []struct{ depth, per int }{{0, 1}, {1, 1}, {3, 2}, {5, 3}} {
		dir, err := kustomizetest.WriteDoublingOverlay(root, fmt.Sprintf("d%d-%d", d.depth, d.per), d.depth, d.per)
		if err != nil {
			t.Fatal(err)
		}
		tests[fmt.Sprintf("doubling depth %d, %d at the bottom", d.depth, d.per)] = tc{root, dir}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := Render(context.Background(), tt.root, tt.dir, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Resources(out)
			if err != nil {
				t.Fatal(err)
			}
			w, err := walk(tt.root, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(len(res), countObjects(w.root, tt.dir, 1<<30)); diff != "" {
				t.Errorf("count (-render +graph):\n%s", diff)
			}
		})
	}
}

// TestCountObjectsStopsPastTheLimit counts an overlay of 2^60 objects: the
// count must stop just past the limit, without overflowing.
func TestCountObjectsStopsPastTheLimit(t *testing.T) {
	root := t.TempDir()
	dir, err := kustomizetest.WriteDoublingOverlay(root, "huge", 60, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := countObjects(root, dir, 20000); got != 20001 {
		t.Errorf("countObjects = %d, want 20001 (the limit, plus one)", got)
	}
}

// TestCountDocuments covers the separator rules, long lines included.
func TestCountDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{name: "empty", in: "", want: 0},
		{name: "one without separator", in: "a: b\n", want: 1},
		{name: "leading separator", in: "---\na: b\n", want: 1},
		{name: "separators only", in: "---\n---\n---\n", want: 0},
		{name: "comment documents", in: "# x\n---\n  # y\n---\na: b\n", want: 1},
		{name: "content on the separator line", in: "--- {a: b}\n--- [1]\n", want: 2},
		{name: "comment on the separator line", in: "--- # c\na: b\n---\nc: d\n", want: 2},
		{name: "indented separator is content", in: "a: |\n  ---\n  x\n", want: 1},
		{name: "separator-like key", in: "---a: b\n", want: 1},
		{name: "document end marker", in: "a: b\n...\n---\n...\n", want: 1},
		{name: "CRLF", in: "a: b\r\n---\r\nc: d\r\n", want: 2},
		{name: "long line then separator", in: "a: " + strings.Repeat("x", 200<<10) + "\n---\nb: c\n", want: 2},
		{name: "long line ending in separator text", in: "a: " + strings.Repeat("x", 64<<10-3) + "---\nb: c\n", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := countDocuments(strings.NewReader(tt.in)); got != tt.want {
				t.Errorf("countDocuments = %d, want %d", got, tt.want)
			}
		})
	}
}

// FuzzCountDocuments reads arbitrary input 16 bytes at a time, so long
// lines arrive in pieces: the count must be the one of a line-by-line
// reading of the whole input.
func FuzzCountDocuments(f *testing.F) {
	for _, seed := range []string{
		"", "a: b\n", "---\na: b\n---\nc: d\n", "--- {a: b}\n", "# c\n---\n...\n",
		"a: |\n  ---\n", "x: 0123456789abcdef0123456789---\n---\ny: 1\n", "---\r\na\r\n", "----\n", "--- \t\n",
		"\x00", "---\x00\n", "...\r\n...\n... \n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := countDocumentsBuffered(strings.NewReader(in), 16)
		if want := countLines(in); got != want {
			t.Errorf("countDocuments(%q) = %d through a small buffer, %d line by line", in, got, want)
		}
		if lines := strings.Count(in, "\n") + 1; got > lines {
			t.Errorf("countDocuments(%q) = %d, more than its %d lines", in, got, lines)
		}
	})
}

// countLines is countDocuments over whole lines, for comparison.
func countLines(in string) int {
	n, content := 0, false
	blank := func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' }
	for _, line := range strings.Split(in, "\n") {
		rest, sep := strings.CutPrefix(line, "---")
		if sep && rest != "" && !blank(rune(rest[0])) {
			sep, rest = false, line
		}
		if sep && content {
			n++
		}
		if sep {
			content = false
		}
		if !sep && (line == "..." || line == "...\r") {
			continue
		}
		if t := strings.TrimLeftFunc(rest, blank); t != "" && t[0] != '#' {
			content = true
		}
	}
	if content {
		n++
	}
	return n
}
