package appset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// generation is the state of one Generate call.
type generation struct {
	ctx        context.Context
	env        Env
	goTemplate bool
	options    []string
	reads      *Reads

	funcMap template.FuncMap
	parsed  map[string]*template.Template
	work    int
	output  int
	// depth is how deep in matrix and merge generators the generation is.
	depth int
	// dirs and files list the repository once, for the git generators.
	dirs, files []string
	listed      bool
}

// run generates the Applications of m, read from file.
func (g *generation) run(file string, m *setManifest) ([]Generated, []Note, error) {
	if !strings.HasPrefix(m.APIVersion, "argoproj.io/") || m.Kind != "ApplicationSet" {
		return nil, nil, refuse("not an ApplicationSet (apiVersion %q, kind %q)", m.APIVersion, m.Kind)
	}
	if present(&m.Spec.TemplatePatch) {
		return nil, nil, refuse("templatePatch is not supported: promobot renders spec.template only, and generating without the patch would deploy something else")
	}
	if len(m.Spec.Generators) == 0 {
		return nil, nil, refuse("spec.generators is empty, so it generates no Application")
	}
	for _, o := range m.Spec.GoTemplateOptions {
		if !goTemplateOptions[o] {
			return nil, nil, refuse("goTemplateOptions %q is not one text/template knows (missingkey=default, invalid, zero or error)", o)
		}
	}
	g.options = m.Spec.GoTemplateOptions
	g.parsed = map[string]*template.Template{}
	base, err := decodeTemplate(&m.Spec.Template)
	if err != nil {
		return nil, nil, refuse("spec.template: %v", err)
	}
	var apps []Generated
	var notes []Note
	names := map[string]bool{}
	for i := range m.Spec.Generators {
		ps, tmpl, note, err := g.generator(&m.Spec.Generators[i], nil)
		if err != nil {
			return nil, notes, wrapRefused(fmt.Sprintf("generator %d", i+1), err)
		}
		if note != nil {
			notes = append(notes, *note)
			continue
		}
		t := fillTemplate(tmpl, base)
		for _, p := range ps {
			if len(apps) >= g.env.Limits.MaxApps {
				return nil, notes, refuse("it generates more than %d Applications", g.env.Limits.MaxApps)
			}
			app, err := g.application(file, m, t, p)
			if err != nil {
				return nil, notes, wrapRefused(fmt.Sprintf("generator %d", i+1), err)
			}
			if names[app.Name] {
				return nil, notes, refuse("it generates two Applications named %s", quote(app.Name))
			}
			names[app.Name] = true
			apps = append(apps, app)
		}
	}
	return apps, notes, nil
}

// wrapRefused prefixes err with where it happened, keeping it a refusal of
// the set (or a context error).
func wrapRefused(where string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	kind := NoteInvalid
	var r *refusal
	if errors.As(err, &r) {
		kind = r.kind
	}
	return &refusal{kind: kind, msg: where + ": " + err.Error()}
}

// application renders the template t with p into an Application manifest.
func (g *generation) application(file string, m *setManifest, t map[string]any, p params) (Generated, error) {
	r, err := g.renderValue(t, p)
	if err != nil {
		return Generated{}, err
	}
	rt := r.(map[string]any)
	meta, _ := rt["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	// Argo CD creates the Applications in the set's namespace.
	delete(meta, "namespace")
	if m.Metadata.Namespace != "" {
		meta["namespace"] = m.Metadata.Namespace
	}
	name, _ := meta["name"].(string)
	doc := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta}
	if spec, ok := rt["spec"]; ok {
		doc["spec"] = spec
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return Generated{}, fmt.Errorf("application %s marshal: %w", quote(name), err)
	}
	if err := enc.Close(); err != nil {
		return Generated{}, fmt.Errorf("application %s marshal: %w", quote(name), err)
	}
	return Generated{Name: name, File: file + "#" + name, Manifest: b.Bytes()}, nil
}

// decodeTemplate decodes a template: mapping (metadata, spec) as a value
// renderValue walks; an absent one is empty.
func decodeTemplate(n *yaml.Node) (map[string]any, error) {
	if !present(n) {
		return map[string]any{}, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	m, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, errors.New("not a mapping")
	}
	return m, nil
}

// normalize turns the map[any]any yaml produces for non-string keys into
// map[string]any.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	}
	return v
}

// fillTemplate returns a generator's template with what it leaves empty
// taken from the set's, as Argo CD merges them (mergo without override:
// zero values of the generator's are filled, maps merged key by key).
func fillTemplate(gen, base map[string]any) map[string]any {
	if len(gen) == 0 {
		return base
	}
	out := make(map[string]any, len(gen)+len(base))
	for k, v := range gen {
		out[k] = v
	}
	for k, b := range base {
		v, ok := out[k]
		switch {
		case !ok || isZero(v):
			out[k] = b
		default:
			vm, vok := v.(map[string]any)
			bm, bok := b.(map[string]any)
			if vok && bok {
				out[k] = fillTemplate(vm, bm)
			}
		}
	}
	return out
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case int:
		return v == 0
	case float64:
		return v == 0
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// present reports whether a node was written.
func present(n *yaml.Node) bool {
	return n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// refusedGenerators are the generators promobot does not run, with why.
var refusedGenerators = map[string]string{
	"scmProvider":             "it lists repositories of an SCM provider's API, another system than this repository",
	"pullRequest":             "it lists pull requests through an SCM provider's API, another system than this repository",
	"clusterDecisionResource": "it reads a resource in Argo CD's cluster, which promobot does not have",
	"plugin":                  "it calls a plugin's HTTP service, which promobot does not run",
}

// generator runs one generator (a top-level one, or a child of a matrix or
// merge, with prev the params it is rendered with). It returns its params
// and its own template, or a note when promobot does not run it.
func (g *generation) generator(n *yaml.Node, prev params) ([]params, map[string]any, *Note, error) {
	if err := g.ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil, nil, refuse("a generator must be a mapping")
	}
	var kinds []string
	var selector *yaml.Node
	var spec *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		switch {
		case k == "selector":
			selector = n.Content[i+1]
		case refusedGenerators[k] != "":
			return nil, nil, &Note{Kind: NoteUnsupported, Message: fmt.Sprintf("%s generator is not supported: %s; its Applications are not generated", k, refusedGenerators[k])}, nil
		default:
			kinds = append(kinds, k)
			spec = n.Content[i+1]
		}
	}
	if len(kinds) != 1 {
		return nil, nil, nil, refuse("a generator needs exactly one kind (list, clusters, git, matrix, merge), found %s", strings.Join(kinds, ", "))
	}
	if prev != nil {
		r, err := g.renderNode(spec, prev, "template")
		if err != nil {
			return nil, nil, nil, err
		}
		spec = r
	}
	ps, tmpl, err := g.run1(kinds[0], spec)
	if err != nil {
		return nil, nil, nil, err
	}
	if selector != nil {
		ps, err = g.selectParams(selector, ps)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return ps, tmpl, nil, nil
}

// run1 runs the generator kind with its spec.
func (g *generation) run1(kind string, spec *yaml.Node) ([]params, map[string]any, error) {
	var tmplNode struct {
		Template yaml.Node `yaml:"template"`
	}
	if err := spec.Decode(&tmplNode); err != nil {
		return nil, nil, refuse("%s: %s", kind, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	tmpl, err := decodeTemplate(&tmplNode.Template)
	if err != nil {
		return nil, nil, refuse("%s.template: %v", kind, err)
	}
	var ps []params
	switch kind {
	case "list":
		ps, err = g.list(spec)
	case "clusters":
		ps, err = g.clusters(spec)
	case "git":
		ps, err = g.git(spec)
	case "matrix":
		ps, err = g.matrix(spec)
	case "merge":
		ps, err = g.merge(spec)
	default:
		return nil, nil, refuse("unknown generator %s", quote(kind))
	}
	if err != nil {
		return nil, nil, wrapRefused(kind, err)
	}
	return ps, tmpl, nil
}
