package diff

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lastApplied is the annotation kubectl (and Argo CD) stores a copy of the
// whole object in; for a Secret that copy holds its values.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// resource is one rendered object, already redacted and serialised.
type resource struct {
	kind, namespace, name string
	// text is the object as YAML with every Secret value replaced by a
	// fingerprint. Nothing else of the object is kept.
	text string
	// images maps a container ("containers/api") to its image.
	images map[string]string
	// replicas is spec.replicas, or "".
	replicas string
	// secret maps "data.<key>"/"stringData.<key>" to the value's
	// fingerprint, for Secrets.
	secret map[string]string
}

func (r *resource) key() string {
	return r.kind + "/" + r.namespace + "/" + r.name
}

// fingerprinter replaces Secret values with a keyed hash: two different
// values show as different fingerprints, so a reviewer sees that a value
// changed, but without the key even a short value cannot be recovered by
// hashing guesses.
type fingerprinter struct {
	key []byte
}

func (f fingerprinter) of(value []byte) string {
	mac := hmac.New(sha256.New, f.key)
	mac.Write(value)
	return "<redacted hmac:" + hex.EncodeToString(mac.Sum(nil))[:8] + ">"
}

// dataValue is the fingerprint of a Secret data value: the base64 is
// decoded first, so a value moved between data and stringData keeps its
// fingerprint.
func (f fingerprinter) dataValue(v string) string {
	if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), "")); err == nil {
		return f.of(b)
	}
	return f.of([]byte(v))
}

// parseObjects splits multi-document YAML into objects (items of a List
// count as objects).
func parseObjects(data []byte) ([]*yaml.Node, error) {
	var out []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("rendered output document %d is not valid YAML: %s", doc, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rendered output document %d is not an object", doc)
		}
		objs := []*yaml.Node{root}
		if strings.HasSuffix(scalar(root, "kind"), "List") {
			if items := lookup(root, "items"); items != nil && items.Kind == yaml.SequenceNode {
				objs = items.Content
			}
		}
		for _, o := range objs {
			if o.Kind == yaml.MappingNode {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// parseResources turns objects into resources: Secrets redacted, the
// values of every Secret (s) scrubbed from everything else, each
// serialised.
func parseResources(objs []*yaml.Node, fp fingerprinter, s *scrubber) ([]*resource, error) {
	out := make([]*resource, 0, len(objs))
	for _, o := range objs {
		r, err := newResource(o, fp, s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func newResource(n *yaml.Node, fp fingerprinter, s *scrubber) (*resource, error) {
	isSecret := scalar(n, "kind") == "Secret"
	r := &resource{images: map[string]string{}}
	if isSecret {
		r.secret = map[string]string{}
		redactSecretData(n, fp, r.secret)
	}
	redactLastApplied(n, isSecret, fp)
	s.node(n, isSecret)
	r.kind = scalar(n, "kind")
	if meta := lookup(n, "metadata"); meta != nil {
		r.name = scalar(meta, "name")
		r.namespace = scalar(meta, "namespace")
		if r.name == "" {
			r.name = scalar(meta, "generateName")
		}
	}
	if r.kind == "" {
		r.kind = "Unknown"
	}
	if spec := lookup(n, "spec"); spec != nil {
		if rep := lookup(spec, "replicas"); rep != nil && rep.Kind == yaml.ScalarNode {
			r.replicas = rep.Value
		}
	}
	collectImages(n, "", r.images)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent() // as kustomize build prints it
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("%s/%s encode: %w", r.kind, r.name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s/%s encode: %w", r.kind, r.name, err)
	}
	r.text = buf.String()
	return r, nil
}

// redactSecretData replaces every value under data and stringData. A value
// that is not a string (an invalid Secret) is replaced whole.
func redactSecretData(n *yaml.Node, fp fingerprinter, seen map[string]string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		field, v := n.Content[i].Value, n.Content[i+1]
		if field != "data" && field != "stringData" && field != "binaryData" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				n.Content[i+1] = redacted(fp.of([]byte(nodeString(v))))
			}
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			k, val := v.Content[j], v.Content[j+1]
			var f string
			switch {
			case val.Kind != yaml.ScalarNode:
				f = fp.of([]byte(nodeString(val)))
			case field == "stringData":
				f = fp.of([]byte(val.Value))
			default:
				f = fp.dataValue(val.Value)
			}
			v.Content[j+1] = redacted(f)
			seen[k.Value] = f
			k.HeadComment, k.LineComment, k.FootComment = "", "", ""
		}
		v.HeadComment, v.LineComment, v.FootComment = "", "", ""
	}
}

func redacted(f string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f}
}

// redactLastApplied masks Secret values in a last-applied-configuration
// annotation: the JSON is decoded and its data/stringData values replaced;
// a Secret's annotation that cannot be decoded is replaced whole.
func redactLastApplied(n *yaml.Node, isSecret bool, fp fingerprinter) {
	ann := lookup(lookup(n, "metadata"), "annotations")
	if ann == nil || ann.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(ann.Content); i += 2 {
		if ann.Content[i].Value != lastApplied {
			continue
		}
		v := ann.Content[i+1]
		var obj map[string]any
		if err := json.Unmarshal([]byte(v.Value), &obj); err != nil {
			if isSecret || strings.Contains(v.Value, "Secret") {
				ann.Content[i+1] = redacted(fp.of([]byte(v.Value)))
			}
			continue
		}
		if kind, _ := obj["kind"].(string); kind != "Secret" && !isSecret {
			continue
		}
		for _, field := range []string{"data", "stringData", "binaryData"} {
			m, ok := obj[field].(map[string]any)
			if !ok {
				if obj[field] != nil {
					obj[field] = fp.of([]byte(fmt.Sprint(obj[field])))
				}
				continue
			}
			for k, val := range m {
				s, _ := val.(string)
				if field == "stringData" {
					m[k] = fp.of([]byte(s))
				} else {
					m[k] = fp.dataValue(s)
				}
			}
		}
		var buf bytes.Buffer
		je := json.NewEncoder(&buf)
		je.SetEscapeHTML(false)
		err := je.Encode(obj)
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if err != nil {
			ann.Content[i+1] = redacted(fp.of([]byte(v.Value)))
			continue
		}
		ann.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(b)}
	}
}

// collectImages records every container image under n, keyed by the list
// it is in and the container's name ("initContainers/migrate").
func collectImages(n *yaml.Node, list string, out map[string]string) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		if img := scalar(n, "image"); img != "" && list != "" {
			name := scalar(n, "name")
			out[list+"/"+name] = img
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			child := ""
			if strings.HasSuffix(strings.ToLower(k), "containers") {
				child = k
			}
			collectImages(n.Content[i+1], child, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			collectImages(c, list, out)
		}
	}
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	if v := lookup(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func nodeString(n *yaml.Node) string {
	b, err := yaml.Marshal(n)
	if err != nil {
		return n.Value
	}
	return string(b)
}
