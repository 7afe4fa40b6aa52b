package kustomize

import (
	"io"
	"os"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
)

// countObjects counts the documents the render of the kustomization in dir
// (slash-separated, relative to repoRoot) loads before any patch runs: each
// resource file's YAML documents and each generator, with every base counted
// as often as the graph lists it, since kustomize builds a base once per
// reference. Each directory and file is read once (the count is memoized), so
// an overlay that doubles at every level costs its number of files, not its
// number of objects.
//
// The count stops once it passes limit, and it is a floor, not a ceiling:
// Lists, Helm charts and generator plugins add objects it cannot see without
// rendering, which is why the render worker counts the result too. Anything
// the count cannot read counts nothing; the render reports it.
//
// Everything is read through an os.Root at repoRoot, so no reference, link
// included, makes it read outside the repository.
func countObjects(repoRoot, dir string, limit int) int {
	root, err := os.OpenRoot(repoRoot)
	if err != nil {
		return 0
	}
	defer root.Close()
	c := &counter{root: root, limit: limit, dirs: map[string]int{}, files: map[string]int{}}
	return c.dir(path.Clean(dir))
}

type counter struct {
	root  *os.Root
	limit int
	dirs  map[string]int // -1 while being counted: a cycle, which kustomize refuses
	files map[string]int
}

// add sums counts, saturating just past the limit.
func (c *counter) add(a, b int) int {
	if a > c.limit || b > c.limit || a+b > c.limit {
		return c.limit + 1
	}
	return a + b
}

// dir counts the kustomization in the repository-relative directory d.
func (c *counter) dir(d string) int {
	if n, ok := c.dirs[d]; ok {
		return max(n, 0)
	}
	c.dirs[d] = -1
	n := c.kustomization(d)
	c.dirs[d] = n
	return n
}

func (c *counter) kustomization(d string) int {
	var data []byte
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		b, err := c.root.ReadFile(path.Join(d, name))
		if err == nil {
			data = b
			break
		}
	}
	if data == nil {
		return 0
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return 0
	}
	k.FixKustomization() // bases become resources
	n := len(k.ConfigMapGenerator) + len(k.SecretGenerator)
	for _, r := range k.Resources {
		n = c.add(n, c.resource(d, r))
		if n > c.limit {
			return n
		}
	}
	for _, comp := range k.Components {
		n = c.add(n, c.reference(d, comp, true))
		if n > c.limit {
			return n
		}
	}
	return n
}

// resource counts a resources entry: a file or a kustomization directory.
func (c *counter) resource(d, ref string) int {
	return c.reference(d, ref, false)
}

// reference counts the file or directory ref, written in the kustomization
// in d. Remote, absolute and escaping references count nothing: the render
// refuses them.
func (c *counter) reference(d, ref string, dirOnly bool) int {
	if ref == "" || strings.HasPrefix(ref, "/") || strings.Contains(ref, "://") {
		return 0
	}
	p := path.Join(d, ref)
	if p == ".." || strings.HasPrefix(p, "../") {
		return 0
	}
	info, err := c.root.Stat(p)
	if err != nil {
		return 0
	}
	if info.IsDir() {
		return c.dir(p)
	}
	if dirOnly {
		return 0
	}
	if n, ok := c.files[p]; ok {
		return n
	}
	f, err := c.root.Open(p)
	if err != nil {
		return 0
	}
	n := countDocuments(f)
	f.Close()
	c.files[p] = n
	return n
}

// countDocuments counts the YAML documents in r that hold anything but
// comments and blank lines. It reads byte by byte through a fixed buffer, so
// a large file, or a long line, costs no more memory than the buffer.
//
// A line starting with "---" alone or followed by a blank separates
// documents, and what follows the separator on its line belongs to the new
// document; a line that is "..." (the document end marker) is no content.
func countDocuments(r io.Reader) int {
	return countDocumentsBuffered(r, 64<<10)
}

// countDocumentsBuffered is countDocuments reading size bytes at a time.
func countDocumentsBuffered(r io.Reader, size int) int {
	buf := make([]byte, size)
	n := 0
	content := false // the current document has content
	var l lineScan
	endLine := func() {
		sep, lineContent := l.result()
		if sep {
			if content {
				n++
			}
			content = false
		}
		content = content || lineContent
		l = lineScan{}
	}
	for {
		m, err := r.Read(buf)
		for _, c := range buf[:m] {
			if c == '\n' {
				endLine()
				continue
			}
			l.add(c)
		}
		if err != nil {
			break
		}
	}
	endLine()
	if content {
		n++
	}
	return n
}

// lineScan remembers what countDocuments needs of a line: its first five
// bytes, its first non-blank byte, and its first non-blank byte after the
// third.
type lineScan struct {
	head             [5]byte
	len              int
	firstNB, afterNB byte
	hasNB, hasAfter  bool
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func (l *lineScan) add(c byte) {
	if l.len < len(l.head) {
		l.head[l.len] = c
	}
	if !isBlank(c) {
		if !l.hasNB {
			l.firstNB, l.hasNB = c, true
		}
		if l.len >= 3 && !l.hasAfter {
			l.afterNB, l.hasAfter = c, true
		}
	}
	l.len++
}

// result says whether the line is a document separator and whether it
// holds content (for a separator: after the "---").
func (l *lineScan) result() (sep, content bool) {
	h := string(l.head[:min(l.len, len(l.head))])
	if strings.HasPrefix(h, "---") && (l.len == 3 || isBlank(h[3])) {
		return true, l.hasAfter && l.afterNB != '#'
	}
	if h == "..." || (l.len == 4 && h == "...\r") {
		return false, false
	}
	return false, l.hasNB && l.firstNB != '#'
}
