package appset

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// list is the list generator: one params set per element of elements, then
// of elementsYaml.
func (g *generation) list(spec *yaml.Node) ([]params, error) {
	var l struct {
		Elements     []yaml.Node `yaml:"elements"`
		ElementsYaml string      `yaml:"elementsYaml"`
	}
	if err := spec.Decode(&l); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var out []params
	for i := range l.Elements {
		var e any
		if err := l.Elements[i].Decode(&e); err != nil {
			return nil, refuse("element %d: %s", i+1, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		m, ok := normalize(e).(map[string]any)
		if !ok {
			return nil, refuse("element %d is not a mapping", i+1)
		}
		p, err := g.listParams(m)
		if err != nil {
			return nil, refuse("element %d: %v", i+1, err)
		}
		out = append(out, p)
	}
	if l.ElementsYaml != "" {
		var es []map[string]any
		if err := sigsyaml.Unmarshal([]byte(l.ElementsYaml), &es); err != nil {
			return nil, refuse("elementsYaml: %v", err)
		}
		// Argo CD takes elementsYaml's elements as they are, in either
		// syntax.
		out = append(out, es...)
	}
	return out, nil
}

// listParams are the params of one list element: the element itself for
// goTemplate; else its string values, and values.<k> for its values map.
func (g *generation) listParams(e map[string]any) (params, error) {
	if g.goTemplate {
		return e, nil
	}
	p := params{}
	for k, v := range e {
		if k == "values" {
			vm, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("values is not a mapping")
			}
			for vk, vv := range vm {
				s, ok := vv.(string)
				if !ok {
					return nil, fmt.Errorf("values.%s is not a string (without goTemplate, element values must be strings)", vk)
				}
				p["values."+vk] = s
			}
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s is not a string (without goTemplate, element values must be strings)", k)
		}
		p[k] = s
	}
	return p, nil
}

// clusters is the cluster generator over the operator's clusters.
func (g *generation) clusters(spec *yaml.Node) ([]params, error) {
	var c struct {
		Selector labelSelector     `yaml:"selector"`
		Values   map[string]string `yaml:"values"`
	}
	if err := spec.Decode(&c); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	clusters := g.env.Clusters
	if clusters == nil {
		clusters = []Cluster{InCluster}
	}
	var out []params
	for _, cl := range clusters {
		// Argo CD leaves out the cluster it runs in when a selector is
		// set: it has no cluster secret, so no labels to match.
		if !c.Selector.empty() && len(cl.Labels) == 0 {
			continue
		}
		ok, err := c.Selector.matches(cl.Labels)
		if err != nil {
			return nil, refuse("selector: %v", err)
		}
		if !ok {
			continue
		}
		p := g.clusterParams(cl)
		if err := g.addValues(p, c.Values); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (g *generation) clusterParams(cl Cluster) params {
	if g.goTemplate {
		labels, annotations := map[string]any{}, map[string]any{}
		for k, v := range cl.Labels {
			labels[k] = v
		}
		for k, v := range cl.Annotations {
			annotations[k] = v
		}
		return params{"name": cl.Name, "nameNormalized": SanitizeName(cl.Name), "server": cl.Server, "project": "",
			"metadata": map[string]any{"labels": labels, "annotations": annotations}}
	}
	p := params{"name": cl.Name, "nameNormalized": SanitizeName(cl.Name), "server": cl.Server, "project": ""}
	for k, v := range cl.Labels {
		p["metadata.labels."+k] = v
	}
	for k, v := range cl.Annotations {
		p["metadata.annotations."+k] = v
	}
	return p
}

// addValues adds a generator's values, each rendered with p: values.<k>,
// or a values map for goTemplate.
func (g *generation) addValues(p params, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	rendered := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		s, err := g.replace(values[k], p)
		if err != nil {
			return fmt.Errorf("values.%s: %w", k, err)
		}
		rendered[k] = s
	}
	if g.goTemplate {
		p["values"] = rendered
		return nil
	}
	for k, v := range rendered {
		p["values."+k] = v
	}
	return nil
}

// combine is the spec of a matrix or merge generator.
type combine struct {
	Generators []yaml.Node `yaml:"generators"`
	MergeKeys  []string    `yaml:"mergeKeys"`
}

// maxNesting is how deep matrix and merge generators nest: Argo CD allows
// one combination generator inside another.
const maxNesting = 2

// child runs the i-th child generator of a matrix or merge, rendered with
// prev (nil for none).
func (g *generation) child(n *yaml.Node, i int, prev params) ([]params, error) {
	if g.depth >= maxNesting {
		return nil, refuse("matrix and merge generators nest more than %d levels", maxNesting)
	}
	g.depth++
	ps, _, note, err := g.generator(n, prev)
	g.depth--
	if err != nil {
		return nil, wrapRefused(fmt.Sprintf("child generator %d", i+1), err)
	}
	if note != nil {
		return nil, refuse("child generator %d: %s", i+1, note.Message)
	}
	return ps, nil
}

// matrix is the matrix generator: every params set of the first child
// combined with every one of the second, which is rendered with the
// first's params (so its git path may use them).
func (g *generation) matrix(spec *yaml.Node) ([]params, error) {
	var c combine
	if err := spec.Decode(&c); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(c.Generators) != 2 {
		return nil, refuse("a matrix needs exactly two child generators, found %d", len(c.Generators))
	}
	first, err := g.child(&c.Generators[0], 0, nil)
	if err != nil {
		return nil, err
	}
	var out []params
	for _, p1 := range first {
		second, err := g.child(&c.Generators[1], 1, p1)
		if err != nil {
			return nil, err
		}
		for _, p2 := range second {
			if len(out) >= g.env.Limits.MaxApps {
				return nil, refuse("it generates more than %d params sets", g.env.Limits.MaxApps)
			}
			p, err := g.combineParams(p1, p2)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// combineParams combines a matrix's two params sets as Argo CD does: for
// goTemplate, a deep merge where the first's values win (a stage's values
// over global defaults, as Argo CD's documentation shows); else the union,
// where a key with two different values is an error.
func (g *generation) combineParams(a, b params) (params, error) {
	if g.goTemplate {
		return deepMerge(deepMerge(params{}, a, false), b, false), nil
	}
	out := maps.Clone(a)
	for k, v := range b {
		if av, ok := out[k]; ok && av != v {
			return nil, refuse("found duplicate key %s with different value, a: %v, b: %v", k, av, v)
		}
		out[k] = v
	}
	return out, nil
}

// deepMerge merges src into dst (maps merged key by key); with override,
// src's values win, else dst's stay.
func deepMerge(dst, src params, override bool) params {
	for k, sv := range src {
		dv, ok := dst[k]
		dm, dok := dv.(map[string]any)
		sm, sok := sv.(map[string]any)
		switch {
		case dok && sok:
			dst[k] = deepMerge(maps.Clone(dm), sm, override)
		case !ok || override:
			dst[k] = sv
		}
	}
	return dst
}

// merge is the merge generator: the first child's params sets, each
// overridden by the params set of a later child with the same values of
// mergeKeys.
func (g *generation) merge(spec *yaml.Node) ([]params, error) {
	var c combine
	if err := spec.Decode(&c); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(c.Generators) < 2 {
		return nil, refuse("a merge needs two or more child generators, found %d", len(c.Generators))
	}
	if len(c.MergeKeys) == 0 {
		return nil, refuse("no mergeKeys were specified; a merge needs at least one")
	}
	base, err := g.child(&c.Generators[0], 0, nil)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(c.Generators); i++ {
		ps, err := g.child(&c.Generators[i], i, nil)
		if err != nil {
			return nil, err
		}
		byKey := map[string]params{}
		for _, p := range ps {
			k := mergeKey(c.MergeKeys, p)
			if _, dup := byKey[k]; dup {
				return nil, refuse("the params of child generator %d are not unique by mergeKeys (duplicate key %s)", i+1, k)
			}
			byKey[k] = p
		}
		for j, b := range base {
			o, ok := byKey[mergeKey(c.MergeKeys, b)]
			if !ok {
				continue
			}
			if g.goTemplate {
				base[j] = deepMerge(deepMerge(params{}, b, true), o, true)
			} else {
				m := maps.Clone(b)
				maps.Copy(m, o)
				base[j] = m
			}
		}
	}
	return base, nil
}

// mergeKey is the JSON of p's values of keys, as Argo CD keys param sets.
func mergeKey(keys []string, p params) string {
	k := map[string]any{}
	for _, key := range keys {
		k[key] = lookup(p, key)
	}
	out, err := json.Marshal(k)
	if err != nil {
		return fmt.Sprint(k)
	}
	return string(out)
}

// lookup returns p[key], or for a goTemplate params set the value at the
// dotted path key.
func lookup(p params, key string) any {
	if v, ok := p[key]; ok {
		return v
	}
	var cur any = p
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
