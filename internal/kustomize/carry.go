package kustomize

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/promobot/promobot/internal/merge3"
)

// Field is one part of a kustomization that a fields promotion carries
// from a source overlay to a target overlay.
type Field struct {
	// Kind is the kustomization field: one of FieldKinds.
	Kind string
	// Name selects one entry: a generator by name, a patch by its path.
	// Empty selects the whole field.
	Name string
}

// FieldKinds are the kustomization fields a fields promotion can carry.
var FieldKinds = []string{"images", "replicas", "configMapGenerator", "secretGenerator", "patches"}

// String is the field as .promobot.yaml writes it: kind, or kind/name.
func (f Field) String() string {
	if f.Name == "" {
		return f.Kind
	}
	return f.Kind + "/" + f.Name
}

// ParseField reads kind or kind/name; the name may hold slashes (a patch
// path).
func ParseField(s string) (Field, error) {
	kind, name, _ := strings.Cut(s, "/")
	if !slices.Contains(FieldKinds, kind) {
		return Field{}, fmt.Errorf("field %q: not one promobot carries (%s)", s, strings.Join(FieldKinds, ", "))
	}
	if kind == "images" || kind == "replicas" {
		if name != "" {
			return Field{}, fmt.Errorf("field %q: %s is carried whole", s, kind)
		}
	}
	return Field{Kind: kind, Name: name}, nil
}

// Carried is what CarryFields did to the target's kustomization.
type Carried struct {
	// Kustomization is the target's new content (its old content when
	// nothing was carried or there are conflicts).
	Kustomization []byte
	// Files are the overlay-relative files the carried entries name in
	// the source (generators' env files and files, patches' paths): the
	// caller carries each with merge3.
	Files []string
	// Conflicts are the changes that could not be carried; the lines of
	// secretGenerator entries are hidden in them.
	Conflicts []merge3.Conflict
}

// CarryFields carries the change a source overlay's kustomization went
// through (before → after) onto a target overlay's kustomization, for the
// given fields only: each changed line of those fields is applied to the
// target's bytes as a three-way merge does (merge3), and nothing else of
// the target changes. A change that mixes carried and other lines, or
// meets lines the target changed on its own, is a conflict, and then
// nothing is carried.
func CarryFields(before, after, target []byte, fields []Field) (Carried, error) {
	clsBefore, err := classify(before, fields)
	if err != nil {
		return Carried{}, fmt.Errorf("carry fields: source before: %w", err)
	}
	clsAfter, err := classify(after, fields)
	if err != nil {
		return Carried{}, fmt.Errorf("carry fields: source after: %w", err)
	}
	if _, err := classify(target, fields); err != nil {
		return Carried{}, fmt.Errorf("carry fields: target: %w", err)
	}
	filter := func(h merge3.Hunk) merge3.Verdict {
		return verdict(clsBefore.lines[h.BaseStart:h.BaseEnd], clsAfter.lines[h.TheirsStart:h.TheirsEnd])
	}
	out, conflicts := merge3.MergeSome(before, after, target, filter)
	res := Carried{Kustomization: out, Conflicts: hideSecrets(conflicts, clsBefore, clsAfter), Files: clsAfter.files}
	if len(conflicts) == 0 && !bytes.Equal(out, target) {
		var k types.Kustomization
		if k.Unmarshal(target) == nil {
			if err := k.Unmarshal(out); err != nil {
				return Carried{}, fmt.Errorf("carry fields: the merged kustomization is no longer valid: %w", err)
			}
		}
	}
	return res, nil
}

// lineClass says whether a line belongs to a carried field.
type lineClass uint8

const (
	other lineClass = iota
	carried
	mixed
)

// classes is a file's lines, classified.
type classes struct {
	lines  []lineClass
	secret []bool
	files  []string
}

// classify marks each line of a kustomization: carried when it is in a
// selected field or entry, mixed when a selected and another entry share
// it, other elsewhere. It also lists the files the selected entries name.
func classify(src []byte, fields []Field) (classes, error) {
	n := lineCount(src)
	c := classes{lines: make([]lineClass, n), secret: make([]bool, n)}
	root, err := parseKustomization(src)
	if err != nil || root == nil {
		return c, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		start, end := key.Line-1, n
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		for _, f := range fields {
			if f.Kind != key.Value {
				continue
			}
			if key.Value == "secretGenerator" {
				mark(c.secret, start, end, true)
			}
			if f.Name == "" {
				markClass(c.lines, start, end, carried)
				c.files = append(c.files, entryFiles(key.Value, val.Content)...)
				continue
			}
			c.files = append(c.files, classifyEntries(&c, key.Value, f.Name, val, start, end)...)
		}
	}
	slices.Sort(c.files)
	c.files = slices.Compact(c.files)
	return c, nil
}

// classifyEntries marks the lines of the entries of a list field that
// match name as carried, and lines shared with another entry as mixed.
func classifyEntries(c *classes, kind, name string, list *yaml.Node, start, end int) []string {
	if list.Kind != yaml.SequenceNode {
		return nil
	}
	var files []string
	items := list.Content
	all := true
	for _, item := range items {
		all = all && entryName(kind, item) == name
	}
	if all { // the field holds only carried entries: its key line is theirs
		markClass(c.lines, start, start+1, carried)
	}
	for j, item := range items {
		from, to := item.Line-1, end
		if j+1 < len(items) {
			to = items[j+1].Line - 1
		}
		if j > 0 && items[j-1].Line == item.Line || j+1 < len(items) && items[j+1].Line == item.Line {
			markClass(c.lines, from, from+1, mixed)
			continue
		}
		if entryName(kind, item) == name {
			markClass(c.lines, max(from, start), to, carried)
			files = append(files, entryFiles(kind, []*yaml.Node{item})...)
		}
	}
	return files
}

// entryName is a list entry's selector: a generator's name, a patch's path.
func entryName(kind string, item *yaml.Node) string {
	if kind == "patches" {
		return scalar(mapValue(item, "path"))
	}
	return scalar(mapValue(item, "name"))
}

// entryFiles lists the overlay-relative files entries name: generators'
// envs, env and files (key=path or path), patches' path.
func entryFiles(kind string, items []*yaml.Node) []string {
	var out []string
	for _, item := range items {
		switch kind {
		case "patches":
			if p := scalar(mapValue(item, "path")); p != "" {
				out = append(out, p)
			}
		case "configMapGenerator", "secretGenerator":
			if p := scalar(mapValue(item, "env")); p != "" {
				out = append(out, p)
			}
			for _, key := range []string{"envs", "files"} {
				for _, e := range seqValues(mapValue(item, key)) {
					if _, p, ok := strings.Cut(e, "="); ok {
						e = p
					}
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func seqValues(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, v := range n.Content {
		if s := scalar(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// verdict decides a hunk from the classes of the lines it removes and
// adds: all carried → carry, none → skip, a mix → refuse.
func verdict(removed, added []lineClass) merge3.Verdict {
	var in, out bool
	for _, ls := range [][]lineClass{removed, added} {
		for _, l := range ls {
			switch l {
			case carried:
				in = true
			case other:
				out = true
			case mixed:
				in, out = true, true
			}
		}
	}
	switch {
	case in && out:
		return merge3.Refuse
	case in:
		return merge3.Carry
	}
	return merge3.Skip
}

// hideSecrets hides the lines of conflicts inside a secretGenerator.
func hideSecrets(cs []merge3.Conflict, before, after classes) []merge3.Conflict {
	out := make([]merge3.Conflict, len(cs))
	for i, c := range cs {
		if anySecret(before.secret[clamp(c.BaseStart-1, len(before.secret)):clamp(c.BaseEnd, len(before.secret))]) ||
			anySecret(after.secret[clamp(c.TheirsStart-1, len(after.secret)):clamp(c.TheirsEnd, len(after.secret))]) {
			c.Removed, c.Added = hideLines(c.Removed), hideLines(c.Added)
		}
		out[i] = c
	}
	return out
}

func clamp(i, n int) int { return min(max(i, 0), n) }

func hideLines(ls []string) []string {
	if len(ls) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("(%d lines of a secretGenerator, not shown)", len(ls))}
}

func anySecret(s []bool) bool { return slices.Contains(s, true) }

func mark(s []bool, from, to int, v bool) {
	for i := max(from, 0); i < min(to, len(s)); i++ {
		s[i] = v
	}
}

func markClass(s []lineClass, from, to int, v lineClass) {
	for i := max(from, 0); i < min(to, len(s)); i++ {
		if s[i] == other || v == mixed {
			s[i] = v
		}
	}
}

// lineCount counts a file's lines as merge3 does.
func lineCount(src []byte) int {
	n := bytes.Count(src, []byte("\n"))
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}
