package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// SetTargetRevision moves the pin of the Argo CD Application named app in
// manifest (a file of one or more YAML documents) to rev: the value of its
// spec.source.targetRevision is replaced on the bytes, keeping its quoting
// where it can, and nothing else in the file changes (comments, other
// documents, key order, indentation). It returns the new content and the
// revision the pin held before; when the pin already is rev, the content
// is returned unchanged.
//
// An Application without a targetRevision, or with several sources, is an
// error: promobot moves an existing pin, it does not choose what to pin.
func SetTargetRevision(manifest []byte, app, rev string) (out []byte, old string, err error) {
	if rev == "" || strings.ContainsAny(rev, "\r\n") || strings.TrimSpace(rev) != rev {
		return nil, "", fmt.Errorf("set targetRevision of %s: revision %q is not a single word", app, rev)
	}
	val, err := findTargetRevision(manifest, app)
	if err != nil {
		return nil, "", fmt.Errorf("set targetRevision of %s: %w", app, err)
	}
	if val.Value == rev {
		return manifest, rev, nil
	}
	e := &editor{src: manifest, nl: "\n"}
	e.index()
	end, err := e.scalarEnd(val, false)
	if err != nil {
		return nil, "", fmt.Errorf("set targetRevision of %s: %w", app, err)
	}
	e.add(e.start(val), end, formatScalar(rev, val.Style, false))
	if out, err = e.apply(); err != nil {
		return nil, "", fmt.Errorf("set targetRevision of %s: %w", app, err)
	}
	back, err := findTargetRevision(out, app)
	if err != nil || back.Value != rev {
		return nil, "", fmt.Errorf("set targetRevision of %s: the edited file does not read back as %q", app, rev)
	}
	return out, val.Value, nil
}

// TargetRevision returns the spec.source.targetRevision of the Application
// named app in manifest.
func TargetRevision(manifest []byte, app string) (string, error) {
	val, err := findTargetRevision(manifest, app)
	if err != nil {
		return "", fmt.Errorf("targetRevision of %s: %w", app, err)
	}
	return val.Value, nil
}

// findTargetRevision returns the scalar node of the targetRevision of the
// Application named app, its line and column counted in the whole file.
func findTargetRevision(manifest []byte, app string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no Application of that name in the file")
		}
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if scalar(mapValue(root, "kind")) != "Application" || scalar(mapValue(mapValue(root, "metadata"), "name")) != app {
			continue
		}
		spec := mapValue(root, "spec")
		if mapValue(spec, "sources") != nil {
			return nil, errors.New("the Application has several sources; promobot moves the pin of a single source")
		}
		val := mapValue(mapValue(spec, "source"), "targetRevision")
		if val == nil || val.Kind != yaml.ScalarNode || isNull(val) || val.Value == "" {
			return nil, errors.New("the Application has no spec.source.targetRevision to move")
		}
		if val.Alias != nil || val.Anchor != "" {
			return nil, fmt.Errorf("line %d: targetRevision is an alias or an anchor, which promobot does not edit", val.Line)
		}
		return val, nil
	}
}

// scalar returns n's value when n is a scalar, else "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
