package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// The image conventions of Helm charts: the keys under an "image" mapping
// that promobot promotes, at the top of the values or nested
// (<component>.image.tag).
var imageKeys = []string{"repository", "tag"}

// ImagePaths returns the paths of the image values in a values file, in
// file order: "image.repository" and "image.tag" where an "image" mapping
// holds them, at any depth ("api.image.tag"). A file that does not parse
// has none.
func ImagePaths(values []byte) []string {
	doc, err := parseValues(values)
	if err != nil || doc == nil {
		return nil
	}
	var out []string
	var walk func(m *yaml.Node, prefix string)
	walk = func(m *yaml.Node, prefix string) {
		if m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind != yaml.ScalarNode || strings.Contains(k.Value, ".") {
				continue
			}
			if k.Value == "image" && v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					ik, iv := v.Content[j], v.Content[j+1]
					if iv.Kind == yaml.ScalarNode && contains(imageKeys, ik.Value) {
						out = append(out, prefix+"image."+ik.Value)
					}
				}
				continue
			}
			walk(v, prefix+k.Value+".")
		}
	}
	walk(doc, "")
	return out
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// GetValue returns the scalar at path (dot-separated keys, "image.tag") in
// a values file, as written; ok is false when there is none.
func GetValue(values []byte, path string) (value string, ok bool, err error) {
	keys, err := splitPath(path)
	if err != nil {
		return "", false, err
	}
	doc, err := parseValues(values)
	if err != nil {
		return "", false, fmt.Errorf("values %s: %w", path, err)
	}
	n := doc
	for _, k := range keys {
		n, err = child(n, k)
		if err != nil {
			return "", false, fmt.Errorf("values %s: %w", path, err)
		}
		if n == nil {
			return "", false, nil
		}
	}
	if n.Kind != yaml.ScalarNode {
		return "", false, fmt.Errorf("values %s: not a single value", path)
	}
	if n.Tag == "!!null" {
		return "", false, nil
	}
	return n.Value, true, nil
}

// SetValue sets the scalar at path (dot-separated keys, "image.tag") in a
// values file to value and returns the new content. The edit is made on
// the bytes: only the value's own bytes change, keeping its quoting (a
// plain value that helm would read as another type than before is
// double-quoted); comments, key order, indentation and every other value
// stay as they were. A missing key, and the mappings leading to it, is
// added after the last entry of the deepest mapping that exists, indented
// like it. When the value already is value, data is returned unchanged.
//
// Aliases, anchors, block scalars and multi-line values are not edited (an
// error says so). SetValue is a pure function, safe for concurrent use.
func SetValue(data []byte, path string, value string) ([]byte, error) {
	keys, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(value, "\r\n") {
		return nil, fmt.Errorf("set values %s: the value spans lines", path)
	}
	doc, err := parseValues(data)
	if err != nil {
		return nil, fmt.Errorf("set values %s: %w", path, err)
	}
	// As helm reads a values file (chartutil.ReadValues): a file it
	// cannot read is not edited.
	var helmView map[string]any
	if err := sigsyaml.Unmarshal(data, &helmView); err != nil {
		return nil, fmt.Errorf("set values %s: helm cannot read the file: %w", path, err)
	}
	e := newValueEditor(data)
	out, err := e.set(doc, keys, value)
	if err != nil {
		return nil, fmt.Errorf("set values %s: %w", path, err)
	}
	if got, ok, err := GetValue(out, path); err != nil || !ok || got != value {
		return nil, fmt.Errorf("set values %s: the edited file does not read back as %q", path, value)
	}
	return out, nil
}

// splitPath splits a dot-separated path into its keys.
func splitPath(path string) ([]string, error) {
	keys := strings.Split(path, ".")
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("values path %q: empty key", path)
		}
	}
	return keys, nil
}

// parseValues returns the root node of a values file (nil for a file with
// no content). A file of several documents is refused: helm reads one.
func parseValues(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse: a values file holds one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("parse: the values are not a mapping")
	}
	return root, nil
}

// child returns the value of key in the mapping m (nil when absent, or
// when m is nil). A key given twice, an alias or an anchor on the way is
// an error: the edit would not be where helm reads.
func child(m *yaml.Node, key string) (*yaml.Node, error) {
	if m == nil {
		return nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: not a mapping", m.Line)
	}
	var found *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != key {
			if k.Kind == yaml.ScalarNode && k.Value == "<<" {
				return nil, fmt.Errorf("line %d: merge keys are not edited", k.Line)
			}
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("line %d: key %s given twice", k.Line, key)
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" {
			return nil, fmt.Errorf("line %d: %s is an alias or an anchor, which promobot does not edit", v.Line, key)
		}
		found = v
	}
	return found, nil
}

// valueEditor edits one values file on its bytes.
type valueEditor struct {
	src       []byte
	nl        string
	lineStart []int
}

func newValueEditor(src []byte) *valueEditor {
	e := &valueEditor{src: src, nl: "\n", lineStart: []int{0}}
	if bytes.Contains(src, []byte("\r\n")) {
		e.nl = "\r\n"
	}
	for i, b := range src {
		if b == '\n' {
			e.lineStart = append(e.lineStart, i+1)
		}
	}
	return e
}

// replace returns src with src[start:end] replaced by text.
func (e *valueEditor) replace(start, end int, text string) []byte {
	out := make([]byte, 0, len(e.src)-(end-start)+len(text))
	out = append(out, e.src[:start]...)
	out = append(out, text...)
	return append(out, e.src[end:]...)
}

// offset returns the byte offset of a node's 1-based line and column (a
// column counts characters).
func (e *valueEditor) offset(n *yaml.Node) int {
	if n.Line < 1 || n.Line > len(e.lineStart) {
		return len(e.src)
	}
	off := e.lineStart[n.Line-1]
	for c := 1; c < n.Column && off < len(e.src); c++ {
		_, size := utf8.DecodeRune(e.src[off:])
		off += size
	}
	return off
}

// set edits the scalar at keys below root.
func (e *valueEditor) set(root *yaml.Node, keys []string, value string) ([]byte, error) {
	parent, flow := root, false
	for i, k := range keys {
		n, err := child(parent, k)
		if err != nil {
			return nil, err
		}
		if n == nil {
			return e.insert(parent, keys[i:], value, flow)
		}
		flow = flow || parent.Style&yaml.FlowStyle != 0
		if i == len(keys)-1 {
			return e.replaceScalar(parent, n, value, flow)
		}
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: %s is not a mapping", n.Line, k)
		}
		parent = n
	}
	return nil, errors.New("no keys")
}

// replaceScalar replaces the value bytes of the scalar n, in mapping m.
func (e *valueEditor) replaceScalar(m, n *yaml.Node, value string, flow bool) ([]byte, error) {
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: not a single value", n.Line)
	}
	if n.Tag != "!!null" && n.Value == value {
		return e.src, nil
	}
	if n.Tag == "!!null" && n.Value == "" {
		// "tag:" with nothing after it: write the value after the colon.
		end, err := e.entryEnd(m, keyIndex(m, n))
		if err != nil {
			return nil, err
		}
		return e.replace(end, end, " "+formatValue(value, 0, "", flow)), nil
	}
	end, err := e.scalarEnd(n, flow)
	if err != nil {
		return nil, err
	}
	return e.replace(e.offset(n), end, formatValue(value, n.Style, n.Value, flow)), nil
}

// keyIndex returns the index in m.Content of the key of value v.
func keyIndex(m, v *yaml.Node) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i+1] == v {
			return i
		}
	}
	return -1
}

// scalarEnd returns the offset just past the scalar n as written, checking
// that those bytes are n.
func (e *valueEditor) scalarEnd(n *yaml.Node, flow bool) (int, error) {
	s := e.offset(n)
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

// checkQuoted confirms that src[s:end] is the quoted scalar n, on one
// line (found by FuzzSetValue: a quoted value folded over lines would
// lose its line break).
func (e *valueEditor) checkQuoted(n *yaml.Node, s, end int) (int, error) {
	if bytes.ContainsAny(e.src[s:end], "\r\n") {
		return 0, fmt.Errorf("line %d: value %q is written in a form promobot does not edit (multi-line, tagged or block scalar)", n.Line, n.Value)
	}
	var v string
	if err := yaml.Unmarshal(e.src[s:end], &v); err != nil || v != n.Value {
		return 0, fmt.Errorf("line %d: cannot locate quoted value %q", n.Line, n.Value)
	}
	return end, nil
}

// formatValue writes value in style. A plain value stays plain only when
// helm reads it as the same type as old (a string stays a string, a number
// a number); else it is double-quoted.
func formatValue(value string, style yaml.Style, old string, flow bool) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(value)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case plainReadsAs(value, old, flow):
		return value
	default:
		return doubleQuote(value)
	}
}

// plainReadsAs reports whether value written plain reads back as the
// string value for YAML 1.2 (yaml.v3, which located it) and, for helm
// (sigs.k8s.io/yaml, YAML 1.1), as a value of the type old has written
// plain ("" for a new key: a string).
func plainReadsAs(value, old string, flow bool) bool {
	if value == "" || value != strings.TrimSpace(value) {
		return false
	}
	doc := func(v string) []byte {
		if flow {
			return []byte("{k: " + v + "}\n")
		}
		return []byte("k: " + v + "\n")
	}
	var n yaml.Node
	if err := yaml.Unmarshal(doc(value), &n); err != nil || len(n.Content) == 0 || len(n.Content[0].Content) != 2 {
		return false
	}
	if v := n.Content[0].Content[1]; v.Kind != yaml.ScalarNode || v.Value != value || v.Style != 0 {
		return false
	}
	var got map[string]any
	if err := sigsyaml.Unmarshal(doc(value), &got); err != nil {
		return false
	}
	want := map[string]any{"k": old}
	if old != "" {
		if err := sigsyaml.Unmarshal(doc(old), &want); err != nil {
			return false
		}
	}
	if reflect.TypeOf(got["k"]) != reflect.TypeOf(want["k"]) {
		return false
	}
	s, isString := got["k"].(string)
	return !isString || s == value
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

// insert adds keys (the first missing in mapping m, nil for an empty file)
// with value at the end of m.
func (e *valueEditor) insert(m *yaml.Node, keys []string, value string, flow bool) ([]byte, error) {
	switch {
	case m == nil:
		at := len(e.src)
		return e.replace(at, at, e.endLastLine(at)+e.block(keys, value, 0, e.indentStep(nil))), nil
	case m.Style&yaml.FlowStyle != 0 || flow:
		text := flowEntry(keys, value)
		if len(m.Content) == 0 {
			at := e.offset(m) + 1
			return e.replace(at, at, text), nil
		}
		end, err := e.nodeEnd(m.Content[len(m.Content)-1], true)
		if err != nil {
			return nil, err
		}
		return e.replace(end, end, ", "+text), nil
	case len(m.Content) == 0:
		return nil, fmt.Errorf("line %d: empty mapping; add %s by hand", m.Line, strings.Join(keys, "."))
	}
	end, err := e.entryEnd(m, len(m.Content)-2)
	if err != nil {
		return nil, err
	}
	at := e.lineEnd(end)
	col := m.Content[0].Column - 1
	return e.replace(at, at, e.endLastLine(at)+e.block(keys, value, col, e.indentStep(m))), nil
}

// block writes keys as nested block mappings at column col, each level
// step deeper, the last holding value.
func (e *valueEditor) block(keys []string, value string, col, step int) string {
	var b strings.Builder
	for i, k := range keys {
		b.WriteString(strings.Repeat(" ", col+i*step))
		b.WriteString(formatKey(k) + ":")
		if i == len(keys)-1 {
			b.WriteString(" " + formatValue(value, 0, "", false))
		}
		b.WriteString(e.nl)
	}
	return b.String()
}

// flowEntry writes keys as nested flow mappings: "a: {b: value}".
func flowEntry(keys []string, value string) string {
	text := formatKey(keys[len(keys)-1]) + ": " + formatValue(value, 0, "", true)
	for i := len(keys) - 2; i >= 0; i-- {
		text = formatKey(keys[i]) + ": {" + text + "}"
	}
	return text
}

// formatKey writes a key plain when it reads back as that string, else
// double-quoted.
func formatKey(k string) string {
	if plainReadsAs(k, "", true) {
		return k
	}
	return doubleQuote(k)
}

// indentStep returns how much deeper the file indents a nested block
// mapping than its parent: the first one found below m (or anywhere, for
// nil), else 2.
func (e *valueEditor) indentStep(m *yaml.Node) int {
	doc, _ := parseValues(e.src)
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n == nil || n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			return 0
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := n.Content[i+1]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Column > n.Content[i].Column {
				return v.Content[0].Column - n.Content[i].Column
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if s := find(n.Content[i+1]); s > 0 {
				return s
			}
		}
		return 0
	}
	for _, n := range []*yaml.Node{m, doc} {
		if s := find(n); s > 0 {
			return s
		}
	}
	return 2
}

// entryEnd returns the offset just past the entry of block mapping m
// whose key is m.Content[i]: past its value, or past the colon of a key
// with no value (whose empty null has no place of its own).
func (e *valueEditor) entryEnd(m *yaml.Node, i int) (int, error) {
	key, v := m.Content[i], m.Content[i+1]
	if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "") {
		return e.nodeEnd(v, false)
	}
	end, err := e.scalarEnd(key, false)
	if err != nil {
		return 0, err
	}
	colon := bytes.IndexByte(e.src[end:], ':')
	if colon < 0 {
		return 0, fmt.Errorf("line %d: cannot find the colon after %s", key.Line, key.Value)
	}
	return end + colon + 1, nil
}

// nodeEnd returns the offset just past node n as written.
func (e *valueEditor) nodeEnd(n *yaml.Node, flow bool) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" && n.Value == "" {
			return e.offset(n), nil
		}
		return e.scalarEnd(n, flow)
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			closer := byte('}')
			if n.Kind == yaml.SequenceNode {
				closer = ']'
			}
			from := e.offset(n) + 1
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
	}
	return 0, fmt.Errorf("line %d: aliases are not edited", n.Line)
}

// findCloser returns the offset of the first closer at or after from,
// skipping whitespace, commas and comments.
func (e *valueEditor) findCloser(from int, closer byte) (int, error) {
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

// lineEnd returns the offset just past the newline ending the line that
// holds off (or the end of the file).
func (e *valueEditor) lineEnd(off int) int {
	i := bytes.IndexByte(e.src[off:], '\n')
	if i < 0 {
		return len(e.src)
	}
	return off + i + 1
}

// endLastLine returns the line break an insertion at offset at needs
// first: one when at is the end of a file whose last line has none.
func (e *valueEditor) endLastLine(at int) string {
	switch {
	case at != len(e.src) || len(e.src) == 0 || e.src[len(e.src)-1] == '\n':
		return ""
	case e.src[len(e.src)-1] == '\r':
		return strings.TrimPrefix(e.nl, "\r")
	default:
		return e.nl
	}
}
