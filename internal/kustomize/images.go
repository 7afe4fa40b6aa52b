package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/checkout"
)

// Image is one entry of a kustomization's images: list.
type Image struct {
	// Name is the image name the entry matches in the resources.
	Name string `json:"name"`
	// NewName replaces the image name; empty keeps Name.
	NewName string `json:"newName,omitempty"`
	// NewTag replaces the tag.
	NewTag string `json:"newTag,omitempty"`
	// Digest replaces the tag with a digest (or follows the tag when both
	// are set).
	Digest string `json:"digest,omitempty"`
}

// Reference returns the image reference kustomize writes into containers
// for this entry, e.g. "ghcr.io/acme/api:1.2.3" or "ghcr.io/acme/api@sha256:…".
func (i Image) Reference() string {
	ref := i.Name
	if i.NewName != "" {
		ref = i.NewName
	}
	if i.NewTag != "" {
		ref += ":" + i.NewTag
	}
	if i.Digest != "" {
		ref += "@" + i.Digest
	}
	return ref
}

// ImageChange is one image that SetImages changed.
type ImageChange struct {
	// Name is the entry's name.
	Name string
	// From is the entry before the edit; the zero Image when it was added.
	From Image
	// To is the entry after the edit.
	To Image
}

// imageFields are the value fields of an images entry in the order
// `kustomize edit set image` writes them.
var imageFields = []string{"newName", "newTag", "digest"}

func (i Image) field(name string) string {
	switch name {
	case "newName":
		return i.NewName
	case "newTag":
		return i.NewTag
	case "digest":
		return i.Digest
	}
	return ""
}

func (i *Image) setField(name, v string) {
	switch name {
	case "newName":
		i.NewName = v
	case "newTag":
		i.NewTag = v
	case "digest":
		i.Digest = v
	}
}

// imageListKeys are the kustomization keys holding image entries: images and
// its deprecated alias imageTags, which kustomize still reads.
var imageListKeys = []string{"images", "imageTags"}

// ReadImages returns the images: entries of a kustomization file (any of the
// accepted file names; the content is what matters), in file order, followed
// by the entries of the deprecated imageTags: list. Values are returned as
// written, without YAML re-typing.
func ReadImages(kustomization []byte) ([]Image, error) {
	doc, err := parseKustomization(kustomization)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, key := range imageListKeys {
		seq := mapValue(doc, key)
		if seq == nil || isNull(seq) {
			continue
		}
		if seq.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("kustomization %s: not a list", key)
		}
		for idx, item := range seq.Content {
			img, err := readImage(item)
			if err != nil {
				return nil, fmt.Errorf("kustomization %s[%d]: %w", key, idx, err)
			}
			out = append(out, img)
		}
	}
	return out, nil
}

func readImage(item *yaml.Node) (Image, error) {
	if item.Kind != yaml.MappingNode {
		return Image{}, errors.New("not a mapping")
	}
	var img Image
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			continue
		}
		val := v.Value
		if isNull(v) {
			val = ""
		}
		switch k.Value {
		case "name":
			img.Name = val
		default:
			img.setField(k.Value, val)
		}
	}
	if img.Name == "" {
		return Image{}, errors.New("entry without a name")
	}
	return img, nil
}

// parseKustomization returns the root mapping of a kustomization, or nil for
// a file with no content.
func parseKustomization(src []byte) (*yaml.Node, error) {
	rn, err := yaml.Parse(string(src))
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kustomization parse: %w", err)
	}
	n := rn.YNode()
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("kustomization parse: the document is not a mapping")
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// mapValue returns the value node of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapKey returns the key node of key in mapping m, or nil.
func mapKey(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// SetImages sets images in a kustomization file and returns the new file
// content and what changed, in the order of images.
//
// Each given image is matched by Name against the images: (and the deprecated
// imageTags:) entries. A matched entry is made equal to the given Image: its
// newName, newTag and digest values are replaced, added or removed so that
// the entry renders the same image as the given one. An image with no entry is
// appended to images: in the list's own style (block or flow, indentation),
// and images: is added at the end of the file when there is none.
//
// The edit is made on the bytes: kyaml parses the file only to locate the
// values (its nodes carry line and column), and only those bytes change.
// Comments, blank lines, key order, indentation and the quoting of every
// other value stay as they were; a replaced value keeps its quoting style, and
// a plain value that YAML would read as a number or boolean is
// double-quoted. When nothing needs to change, out is kustomization itself
// and changes is empty.
//
// SetImages is a pure function, safe for concurrent use.
func SetImages(kustomization []byte, images []Image) (out []byte, changes []ImageChange, err error) {
	seen := map[string]bool{}
	for _, img := range images {
		if img.Name == "" {
			return nil, nil, errors.New("set images: an image has no name")
		}
		if seen[img.Name] {
			return nil, nil, fmt.Errorf("set images: image %q given twice", img.Name)
		}
		seen[img.Name] = true
		for _, v := range []string{img.Name, img.NewName, img.NewTag, img.Digest} {
			if strings.ContainsAny(v, "\r\n") {
				return nil, nil, fmt.Errorf("set images: image %q: a value spans lines", img.Name)
			}
		}
	}
	doc, err := parseKustomization(kustomization)
	if err != nil {
		return nil, nil, fmt.Errorf("set images: %w", err)
	}
	e := &editor{src: kustomization, doc: doc, nl: "\n"}
	if bytes.Contains(kustomization, []byte("\r\n")) {
		e.nl = "\r\n"
	}
	e.index()

	var added []Image
	for _, img := range images {
		change, found, err := e.setEntry(img)
		if err != nil {
			return nil, nil, fmt.Errorf("set images: %s: %w", img.Name, err)
		}
		if !found {
			added = append(added, img)
			changes = append(changes, ImageChange{Name: img.Name, To: img})
			continue
		}
		if change != nil {
			changes = append(changes, *change)
		}
	}
	if len(added) > 0 {
		if err := e.append(added); err != nil {
			return nil, nil, fmt.Errorf("set images: %w", err)
		}
	}
	if len(e.edits) == 0 {
		return kustomization, nil, nil
	}
	out, err = e.apply()
	if err != nil {
		return nil, nil, fmt.Errorf("set images: %w", err)
	}
	if err := verify(kustomization, out, images); err != nil {
		return nil, nil, fmt.Errorf("set images: %w", err)
	}
	return out, changes, nil
}

// verify re-reads the edited file: every given image must read back as given,
// and a file kustomize accepted before must still be accepted.
func verify(before, after []byte, images []Image) error {
	got, err := ReadImages(after)
	if err != nil {
		return fmt.Errorf("edited file does not parse: %w", err)
	}
	byName := map[string]Image{}
	for _, g := range got {
		if _, ok := byName[g.Name]; !ok {
			byName[g.Name] = g
		}
	}
	for _, want := range images {
		if g := byName[want.Name]; g != want {
			return fmt.Errorf("edited file reads image %q back as %+v, want %+v", want.Name, g, want)
		}
	}
	var k types.Kustomization
	if k.Unmarshal(before) == nil {
		if err := k.Unmarshal(after); err != nil {
			return fmt.Errorf("edited file is no longer a valid kustomization: %w", err)
		}
	}
	return nil
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
	seq        int
}

// editor collects byte edits of one kustomization file.
type editor struct {
	src       []byte
	doc       *yaml.Node
	nl        string
	lineStart []int
	edits     []edit
	// lastLineEnded is set once an insertion at the end of a source
	// without a final newline has ended its last line.
	lastLineEnded bool
}

func (e *editor) index() {
	e.lineStart = []int{0}
	for i, b := range e.src {
		if b == '\n' {
			e.lineStart = append(e.lineStart, i+1)
		}
	}
}

func (e *editor) add(start, end int, text string) {
	e.edits = append(e.edits, edit{start: start, end: end, text: text, seq: len(e.edits)})
}

// apply returns src with every edit made. Edits must not overlap.
func (e *editor) apply() ([]byte, error) {
	edits := append([]edit(nil), e.edits...)
	sort.Slice(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start > edits[j].start
		}
		return edits[i].seq > edits[j].seq
	})
	out := append([]byte(nil), e.src...)
	limit := len(out)
	for _, ed := range edits {
		if ed.end > limit {
			return nil, errors.New("internal error: overlapping edits")
		}
		limit = ed.start
		out = append(out[:ed.start], append([]byte(ed.text), out[ed.end:]...)...)
	}
	return out, nil
}

// offset returns the byte offset of a node's 1-based line and column (a
// column counts characters).
func (e *editor) offset(line, col int) int {
	if line < 1 || line > len(e.lineStart) {
		return len(e.src)
	}
	off := e.lineStart[line-1]
	for c := 1; c < col && off < len(e.src); c++ {
		_, size := utf8.DecodeRune(e.src[off:])
		off += size
	}
	return off
}

func (e *editor) start(n *yaml.Node) int { return e.offset(n.Line, n.Column) }

// lineEnd returns the offset just past the newline ending the line that holds
// off (or the end of the file).
func (e *editor) lineEnd(off int) int {
	i := bytes.IndexByte(e.src[off:], '\n')
	if i < 0 {
		return len(e.src)
	}
	return off + i + 1
}

// lineBegin returns the offset of the start of the line holding off.
func (e *editor) lineBegin(off int) int {
	return bytes.LastIndexByte(e.src[:off], '\n') + 1
}

// scalarEnd returns the offset just past the scalar n as written.
func (e *editor) scalarEnd(n *yaml.Node, flow bool) (int, error) {
	s := e.start(n)
	src := e.src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := s + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return e.checkQuoted(n, s, i+1)
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := s + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return e.checkQuoted(n, s, i+1)
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0:
		end := s
		for end < len(src) {
			c := src[end]
			if c == '\n' || c == '\r' {
				break
			}
			if (c == ' ' || c == '\t') && end+1 < len(src) && src[end+1] == '#' {
				break
			}
			if c == ':' && (end+1 == len(src) || strings.IndexByte(" \t\r\n", src[end+1]) >= 0) {
				break
			}
			if flow && (c == ',' || c == ']' || c == '}') {
				break
			}
			end++
		}
		for end > s && (src[end-1] == ' ' || src[end-1] == '\t') {
			end--
		}
		if string(src[s:end]) == n.Value {
			return end, nil
		}
	}
	return 0, fmt.Errorf("line %d: value %q is written in a form promobot does not edit (multi-line, tagged or block scalar)", n.Line, n.Value)
}

// checkQuoted confirms that src[s:end] is the quoted scalar n.
func (e *editor) checkQuoted(n *yaml.Node, s, end int) (int, error) {
	var v string
	if err := yaml.Unmarshal(e.src[s:end], &v); err != nil || v != n.Value {
		return 0, fmt.Errorf("line %d: cannot locate quoted value %q", n.Line, n.Value)
	}
	return end, nil
}

// nodeEnd returns the offset just past node n as written.
func (e *editor) nodeEnd(n *yaml.Node, flow bool) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) && n.Value == "" {
			return e.start(n), nil
		}
		return e.scalarEnd(n, flow)
	case yaml.MappingNode, yaml.SequenceNode:
		isFlow := n.Style&yaml.FlowStyle != 0
		if isFlow || len(n.Content) == 0 {
			closer := byte('}')
			if n.Kind == yaml.SequenceNode {
				closer = ']'
			}
			from := e.start(n) + 1
			if len(n.Content) > 0 {
				end, err := e.nodeEnd(n.Content[len(n.Content)-1], true)
				if err != nil {
					return 0, err
				}
				from = end
			}
			i, err := e.findCloser(from, closer)
			if err != nil {
				return 0, err
			}
			return i + 1, nil
		}
		return e.nodeEnd(n.Content[len(n.Content)-1], false)
	case yaml.AliasNode:
		return 0, fmt.Errorf("line %d: aliases are not edited", n.Line)
	}
	return 0, fmt.Errorf("line %d: unexpected node", n.Line)
}

// findCloser returns the offset of the first closer at or after from,
// skipping whitespace, commas and comments.
func (e *editor) findCloser(from int, closer byte) (int, error) {
	for i := from; i < len(e.src); i++ {
		switch c := e.src[i]; {
		case c == closer:
			return i, nil
		case c == '#':
			i = e.lineEnd(i) - 1
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',':
		default:
			return 0, fmt.Errorf("unexpected %q in a flow collection", c)
		}
	}
	return 0, fmt.Errorf("unterminated flow collection, missing %q", closer)
}

// entries returns the images entries named name, from images: and imageTags:.
func (e *editor) entries(name string) []*yaml.Node {
	var out []*yaml.Node
	for _, key := range imageListKeys {
		seq := mapValue(e.doc, key)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			if v := mapValue(item, "name"); v != nil && v.Kind == yaml.ScalarNode && v.Value == name {
				out = append(out, item)
			}
		}
	}
	return out
}

// setEntry edits every entry named img.Name to equal img. It reports the
// change (nil when the entries already match) and whether any entry exists.
func (e *editor) setEntry(img Image) (*ImageChange, bool, error) {
	items := e.entries(img.Name)
	if len(items) == 0 {
		return nil, false, nil
	}
	var change *ImageChange
	for _, item := range items {
		from, err := readImage(item)
		if err != nil {
			return nil, true, err
		}
		if from == img {
			continue
		}
		if change == nil {
			change = &ImageChange{Name: img.Name, From: from, To: img}
		}
		if err := e.setFields(item, from, img); err != nil {
			return nil, true, err
		}
	}
	return change, true, nil
}

// setFields edits the mapping item so that its value fields equal want.
func (e *editor) setFields(item *yaml.Node, have, want Image) error {
	flow := item.Style&yaml.FlowStyle != 0
	for _, f := range imageFields {
		hv, wv := have.field(f), want.field(f)
		if hv == wv {
			continue
		}
		key, val := mapKey(item, f), mapValue(item, f)
		switch {
		case wv == "":
			if err := e.removeField(item, key, flow); err != nil {
				return err
			}
		case val != nil && val.Kind == yaml.ScalarNode && !(isNull(val) && val.Value == ""):
			end, err := e.scalarEnd(val, flow)
			if err != nil {
				return err
			}
			e.add(e.start(val), end, formatScalar(wv, val.Style, flow))
		case val != nil && isNull(val):
			// "newTag:" with no value: write the value after the colon.
			end, err := e.scalarEnd(key, flow)
			if err != nil {
				return err
			}
			colon := bytes.IndexByte(e.src[end:], ':')
			if colon < 0 {
				return fmt.Errorf("line %d: cannot find the colon after %s", key.Line, f)
			}
			e.add(end+colon+1, end+colon+1, " "+formatScalar(wv, e.styleOf(f), flow))
		case val != nil:
			return fmt.Errorf("line %d: %s is not a plain value", val.Line, f)
		default:
			if err := e.insertField(item, f, wv, flow); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeField deletes key and its value from the mapping item.
func (e *editor) removeField(item, key *yaml.Node, flow bool) error {
	idx := -1
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i] == key {
			idx = i
		}
	}
	if idx < 0 {
		return errors.New("internal error: key not in entry")
	}
	val := item.Content[idx+1]
	valEnd, err := e.nodeEnd(val, flow)
	if err != nil {
		return err
	}
	keyStart := e.start(key)
	if flow {
		if idx > 0 {
			prevEnd, err := e.nodeEnd(item.Content[idx-1], true)
			if err != nil {
				return err
			}
			e.add(prevEnd, valEnd, "")
			return nil
		}
		if idx+2 < len(item.Content) {
			e.add(keyStart, e.start(item.Content[idx+2]), "")
			return nil
		}
		return errors.New("cannot remove the only field of an entry")
	}
	begin := e.lineBegin(keyStart)
	if strings.TrimSpace(string(e.src[begin:keyStart])) == "" {
		rest := strings.TrimSpace(string(e.src[valEnd:e.lineEnd(valEnd)]))
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return fmt.Errorf("line %d: unexpected text after %s", key.Line, key.Value)
		}
		e.add(begin, e.lineEnd(valEnd), "")
		return nil
	}
	// The key shares the line with the list dash ("- newTag: x"): pull the
	// next key up onto this line.
	if idx+2 < len(item.Content) {
		e.add(keyStart, e.start(item.Content[idx+2]), "")
		return nil
	}
	return fmt.Errorf("line %d: cannot remove %s", key.Line, key.Value)
}

// insertField adds field: value to the mapping item, after the nearest field
// that precedes it in kustomize's order (name, newName, newTag, digest).
func (e *editor) insertField(item *yaml.Node, field, value string, flow bool) error {
	order := append([]string{"name"}, imageFields...)
	var after *yaml.Node
	for _, f := range order {
		if f == field {
			break
		}
		if v := mapValue(item, f); v != nil {
			after = v
		}
	}
	if after == nil {
		after = item.Content[len(item.Content)-1]
	}
	end, err := e.nodeEnd(after, flow)
	if err != nil {
		return err
	}
	text := field + ": " + formatScalar(value, e.styleOf(field), flow)
	if flow {
		e.add(end, end, ", "+text)
		return nil
	}
	indent := strings.Repeat(" ", item.Content[0].Column-1)
	at := e.lineEnd(end)
	e.add(at, at, e.endLastLine(at)+indent+text+e.nl)
	return nil
}

// styleOf returns the quoting style used for field elsewhere in the images
// lists, so added values look like their neighbours.
func (e *editor) styleOf(field string) yaml.Style {
	for _, key := range imageListKeys {
		seq := mapValue(e.doc, key)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range seq.Content {
			if v := mapValue(item, field); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
				return v.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
			}
		}
	}
	return 0
}

// append adds entries for images to the images: list, creating it at the end
// of the file when there is none.
func (e *editor) append(images []Image) error {
	seq := mapValue(e.doc, "images")
	switch {
	case seq == nil:
		return e.appendNewList(images)
	case isNull(seq):
		return e.fillNullList(seq, images)
	case seq.Kind != yaml.SequenceNode:
		return errors.New("images is not a list")
	case seq.Style&yaml.FlowStyle != 0:
		return e.appendFlow(seq, images)
	default:
		return e.appendBlock(seq, images)
	}
}

// entryFields returns the key/value pairs of an entry in kustomize's order.
func entryFields(img Image) [][2]string {
	out := [][2]string{{"name", img.Name}}
	for _, f := range imageFields {
		if v := img.field(f); v != "" {
			out = append(out, [2]string{f, v})
		}
	}
	return out
}

// blockEntry writes an entry as block lines: the dash at dashCol (0-based)
// and keys at keyCol.
func (e *editor) blockEntry(img Image, dashCol, keyCol int) string {
	var b strings.Builder
	for i, kv := range entryFields(img) {
		if i == 0 {
			b.WriteString(strings.Repeat(" ", dashCol) + "-" + strings.Repeat(" ", keyCol-dashCol-1))
		} else {
			b.WriteString(strings.Repeat(" ", keyCol))
		}
		b.WriteString(kv[0] + ": " + formatScalar(kv[1], e.styleOf(kv[0]), false) + e.nl)
	}
	return b.String()
}

func (e *editor) flowEntry(img Image) string {
	var parts []string
	for _, kv := range entryFields(img) {
		parts = append(parts, kv[0]+": "+formatScalar(kv[1], e.styleOf(kv[0]), true))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (e *editor) appendBlock(seq *yaml.Node, images []Image) error {
	last := seq.Content[len(seq.Content)-1]
	end, err := e.nodeEnd(last, false)
	if err != nil {
		return err
	}
	dashCol := seq.Column - 1
	keyCol := dashCol + 2
	if first := seq.Content[0]; first.Kind == yaml.MappingNode && first.Style&yaml.FlowStyle == 0 && first.Line == seq.Line {
		keyCol = first.Column - 1
	}
	at := e.lineEnd(end)
	e.insertEntries(at, images, dashCol, keyCol)
	return nil
}

func (e *editor) appendFlow(seq *yaml.Node, images []Image) error {
	var parts []string
	for _, img := range images {
		parts = append(parts, e.flowEntry(img))
	}
	if len(seq.Content) == 0 {
		open := e.start(seq)
		e.add(open+1, open+1, strings.Join(parts, ", "))
		return nil
	}
	end, err := e.nodeEnd(seq.Content[len(seq.Content)-1], true)
	if err != nil {
		return err
	}
	e.add(end, end, ", "+strings.Join(parts, ", "))
	return nil
}

// insertEntries writes images as block list entries at offset at (a line
// start, or the end of a source without a final newline).
func (e *editor) insertEntries(at int, images []Image, dashCol, keyCol int) {
	var b strings.Builder
	b.WriteString(e.endLastLine(at))
	for _, img := range images {
		b.WriteString(e.blockEntry(img, dashCol, keyCol))
	}
	e.add(at, at, b.String())
}

// fillNullList writes entries under an "images:" key that has no value.
func (e *editor) fillNullList(val *yaml.Node, images []Image) error {
	key := mapKey(e.doc, "images")
	dashCol, keyCol := e.listIndent(key.Column - 1)
	if val.Value != "" {
		end, err := e.scalarEnd(val, false)
		if err != nil {
			return err
		}
		e.add(e.start(val), end, "")
	}
	at := e.lineEnd(e.start(key))
	e.insertEntries(at, images, dashCol, keyCol)
	return nil
}

// endLastLine returns what an insertion at offset at must start with to end
// the file's last line: nothing unless at is the end of the file; nothing
// when the file ends with a line break; the rest of a CRLF when it ends
// with a lone CR (found by FuzzSetImages: a second break there would add a
// blank line); else the file's line break. Only the first insertion at the
// end gets it: insertions at one offset come out in the order they were
// made, and each field added to a last entry without a final line break
// would otherwise add a blank line (found by FuzzSetImages).
func (e *editor) endLastLine(at int) string {
	if at != len(e.src) || e.lastLineEnded {
		return ""
	}
	switch {
	case len(e.src) == 0 || e.src[len(e.src)-1] == '\n':
		return ""
	case e.src[len(e.src)-1] == '\r':
		e.lastLineEnded = true
		return strings.TrimPrefix(e.nl, "\r")
	default:
		e.lastLineEnded = true
		return e.nl
	}
}

// appendNewList adds "images:" with entries at the end of the file.
func (e *editor) appendNewList(images []Image) error {
	col := 0
	if e.doc != nil && len(e.doc.Content) > 0 {
		col = e.doc.Content[0].Column - 1
		if e.doc.Style&yaml.FlowStyle != 0 {
			return errors.New("the kustomization is a flow mapping; add images: by hand")
		}
	}
	dashCol, keyCol := e.listIndent(col)
	var b strings.Builder
	b.WriteString(e.endLastLine(len(e.src)))
	b.WriteString(strings.Repeat(" ", col) + "images:" + e.nl)
	for _, img := range images {
		b.WriteString(e.blockEntry(img, dashCol, keyCol))
	}
	e.add(len(e.src), len(e.src), b.String())
	return nil
}

// listIndent returns the dash and key columns (0-based) for a new block list
// under a key at keyCol, copying the first block list of mappings (or of
// scalars) in the file: "- name" under the key, or indented "  - name".
func (e *editor) listIndent(keyCol int) (dashCol, itemCol int) {
	if e.doc != nil {
		for i := 0; i+1 < len(e.doc.Content); i += 2 {
			k, v := e.doc.Content[i], e.doc.Content[i+1]
			if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
				continue
			}
			offset := v.Column - k.Column
			gap := 2
			if first := v.Content[0]; first.Line == v.Line && first.Column > v.Column {
				gap = first.Column - v.Column
			}
			return keyCol + offset, keyCol + offset + gap
		}
	}
	return keyCol, keyCol + 2
}

// formatScalar writes v in style, falling back to double quotes when a plain
// v would not read back as the same string (e.g. 1.10, yes, or text with
// YAML indicators).
func formatScalar(v string, style yaml.Style, flow bool) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(v)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case plainSafe(v, flow):
		return v
	default:
		return doubleQuote(v)
	}
}

// doubleQuote returns v as a YAML double-quoted scalar.
func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// plainSafe reports whether v written plain reads back as the string v, both
// for kyaml (YAML 1.2) and for the YAML-to-JSON conversion kustomize uses to
// load a kustomization (YAML 1.1 rules: yes, on and 0755 are not strings).
func plainSafe(v string, flow bool) bool {
	if v == "" || v != strings.TrimSpace(v) || yaml.IsValueNonString(v) {
		return false
	}
	doc := "k: " + v + "\n"
	if flow {
		doc = "{k: " + v + "}\n"
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return false
	}
	if s, ok := m["k"].(string); !ok || s != v {
		return false
	}
	var j map[string]any
	if err := k8syaml.Unmarshal([]byte(doc), &j); err != nil {
		return false
	}
	s, ok := j["k"].(string)
	return ok && s == v
}

// SetImagesInDir runs SetImages on the kustomization file in dir, whichever
// of the accepted names it has, and writes the file back when something
// changed. It returns the file's path and the changes. dir is a directory of
// its own: the file may not be a link out of it (see SetImagesIn).
func SetImagesInDir(dir string, images []Image) (file string, changes []ImageChange, err error) {
	repo, err := checkout.Open(dir)
	if err != nil {
		return "", nil, err
	}
	defer repo.Close()
	name, changes, err := SetImagesIn(repo, ".", images)
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, filepath.FromSlash(name)), changes, nil
}

// SetImagesIn runs SetImages on the kustomization file in the
// repository-relative directory dir of a checkout, reading and writing it
// through the checkout's os.Root, and writes it back when something
// changed. It returns the file's repository-relative name and the changes.
// A kustomization that is a link out of the repository is an error naming
// it, and nothing is written.
func SetImagesIn(repo *checkout.Repo, dir string, images []Image) (file string, changes []ImageChange, err error) {
	name, err := FindKustomizationIn(repo, dir)
	if err != nil {
		return "", nil, err
	}
	file = path.Join(dir, name)
	before, err := repo.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("%s read: %w", file, err)
	}
	after, changes, err := SetImages(before, images)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(changes) == 0 {
		return file, nil, nil
	}
	if err := repo.WriteFile(file, after); err != nil {
		return "", nil, fmt.Errorf("%s write: %w", file, err)
	}
	return file, changes, nil
}
