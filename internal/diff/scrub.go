package diff

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MinSecretValue is the shortest Secret value scrubbed from the rest of a
// comment: shorter values ("a", "true", "80") occur everywhere by chance,
// and hiding them would hide nothing.
const MinSecretValue = 4

// scrubber replaces the values of every Secret of a comment's renders
// wherever else they appear: in other objects (a value that kustomize
// replacements copied into a ConfigMap, a container env value), in
// names, and in render errors. Each value is shown as the fingerprint its
// Secret shows, so a reviewer can still tell that the copy is that
// Secret's value. A nil scrubber changes nothing.
type scrubber struct {
	r *strings.Replacer
}

// secretValues collects the decoded values of every Secret among objs
// into vals: data and binaryData base64-decoded (as written when they do
// not decode), stringData as written, and the same fields of the copy in
// a last-applied-configuration annotation.
func secretValues(objs []*yaml.Node, vals map[string]bool) {
	for _, o := range objs {
		if scalar(o, "kind") != "Secret" {
			continue
		}
		for _, field := range []string{"data", "stringData", "binaryData"} {
			m := lookup(o, field)
			if m == nil || m.Kind != yaml.MappingNode {
				continue
			}
			for j := 1; j < len(m.Content); j += 2 {
				v := m.Content[j]
				if v.Kind != yaml.ScalarNode {
					continue
				}
				value := v.Value
				if v.Tag == "!!binary" {
					// YAML's own base64, for bytes that are not UTF-8.
					if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), "")); err == nil {
						value = string(b)
					}
				}
				addSecretValue(vals, field, value)
			}
		}
		ann := lookup(lookup(o, "metadata"), "annotations")
		if v := lookup(ann, lastApplied); v != nil && v.Kind == yaml.ScalarNode {
			var obj map[string]any
			if json.Unmarshal([]byte(v.Value), &obj) != nil {
				continue
			}
			for _, field := range []string{"data", "stringData", "binaryData"} {
				m, _ := obj[field].(map[string]any)
				for _, val := range m {
					if s, ok := val.(string); ok {
						addSecretValue(vals, field, s)
					}
				}
			}
		}
	}
}

func addSecretValue(vals map[string]bool, field, v string) {
	if field != "stringData" {
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), "")); err == nil {
			v = string(b)
		}
	}
	if len(v) >= MinSecretValue {
		vals[v] = true
	}
}

// newScrubber returns the scrubber of vals: each value is replaced in its
// plain form, its base64 forms (a data field copied as it is written), and
// the quoted forms an error message may carry it in. Longer forms win
// where two overlap.
func newScrubber(vals map[string]bool, fp fingerprinter) *scrubber {
	if len(vals) == 0 {
		return nil
	}
	forms := map[string]string{}
	for v := range vals {
		f := fp.of([]byte(v))
		b := []byte(v)
		for _, form := range []string{
			v,
			base64.StdEncoding.EncodeToString(b),
			base64.RawStdEncoding.EncodeToString(b),
			base64.URLEncoding.EncodeToString(b),
			base64.RawURLEncoding.EncodeToString(b),
			quoted(strconv.Quote(v)),
			quoted(jsonString(v)),
		} {
			if len(form) >= MinSecretValue {
				forms[form] = f
			}
		}
	}
	keys := make([]string, 0, len(forms))
	for k := range forms {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, forms[k])
	}
	return &scrubber{r: strings.NewReplacer(pairs...)}
}

func quoted(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
}

func jsonString(v string) string {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return string(b)
}

// text scrubs s.
func (s *scrubber) text(v string) string {
	if s == nil {
		return v
	}
	return s.r.Replace(v)
}

// node scrubs every key, value and comment under n. For a Secret
// (secret), its data, stringData and binaryData are left alone: they are
// fingerprinted, from their own values.
func (s *scrubber) node(n *yaml.Node, secret bool) {
	if s == nil || n == nil {
		return
	}
	n.HeadComment, n.LineComment, n.FootComment = s.text(n.HeadComment), s.text(n.LineComment), s.text(n.FootComment)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!binary" {
			// Bytes that are not UTF-8, which YAML writes as base64:
			// scrubbed in their decoded form.
			if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), "")); err == nil {
				if v := s.text(string(b)); v != string(b) {
					n.Value = base64.StdEncoding.EncodeToString([]byte(v))
				}
				return
			}
		}
		if v := s.text(n.Value); v != n.Value {
			// "1234" was an int; "<redacted hmac:…>" is a string. A value
			// that ended inside a character leaves bytes that are not
			// UTF-8, which YAML writes as base64.
			n.Value, n.Tag = v, "!!str"
			if !utf8.ValidString(v) {
				n.Value, n.Tag, n.Style = base64.StdEncoding.EncodeToString([]byte(v)), "!!binary", 0
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if secret && (k.Value == "data" || k.Value == "stringData" || k.Value == "binaryData") {
				continue
			}
			s.node(k, false)
			s.node(n.Content[i+1], false)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			s.node(c, false)
		}
	}
}
