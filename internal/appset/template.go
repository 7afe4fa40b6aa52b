package appset

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/Masterminds/sprig/v3"
	"go.yaml.in/yaml/v3"
)

// params are one set of a generator's parameters: flat strings for
// fasttemplate, any values (nested maps) for goTemplate.
type params = map[string]any

// errLimit marks errors of a limit; the set is refused.
var errLimit = errors.New("limit exceeded")

// isTemplated is Argo CD's test for a string fasttemplate renders: a "{{"
// and a later "}}" on one line. Other strings are left as they are.
var isTemplated = regexp.MustCompile(".*{{.*}}.*")

// fastReplace renders s as Argo CD's default (fasttemplate) syntax does:
// each "{{tag}}" whose trimmed tag names a string param becomes that
// param; any other tag is kept as written. max bounds the template and
// the result.
func fastReplace(s string, p params, max int) (string, error) {
	if len(s) > max {
		return "", fmt.Errorf("%w: template %s is longer than %d bytes", errLimit, quote(s), max)
	}
	if !isTemplated.MatchString(s) {
		return s, nil
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return "", fmt.Errorf("template %s: a {{ without its }}", quote(s))
		}
		b.WriteString(rest[:i])
		tag := rest[i+2 : i+2+j]
		v, ok := p[strings.TrimSpace(tag)].(string)
		if strings.TrimSpace(tag) == "" || !ok {
			v = "{{" + tag + "}}"
		}
		if b.Len()+len(v) > max {
			return "", fmt.Errorf("%w: template %s renders more than %d bytes", errLimit, quote(s), max)
		}
		b.WriteString(v)
		rest = rest[i+2+j+2:]
	}
	if b.Len() > max {
		return "", fmt.Errorf("%w: template %s renders more than %d bytes", errLimit, quote(s), max)
	}
	return b.String(), nil
}

// quote quotes a template for a note, shortened.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// rangeGuard is the function every range of a go template runs its value
// through, so that iterations cost work.
const rangeGuard = "promobotRangeGuard"

// parseGo parses s as a go template with g's functions and options. A
// template may not define or call templates (their recursion is not
// bounded), and every range costs the length of what it ranges over.
func (g *generation) parseGo(s string) (*template.Template, error) {
	if t, ok := g.parsed[s]; ok {
		return t, nil
	}
	t, err := template.New("").Funcs(g.funcs()).Option(g.options...).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", quote(s), err)
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("template %s: define and block are not allowed", quote(s))
	}
	if t.Tree != nil && t.Root != nil {
		if err := guardRanges(t.Tree, t.Root); err != nil {
			return nil, fmt.Errorf("template %s: %w", quote(s), err)
		}
	}
	g.parsed[s] = t
	return t, nil
}

// guardRanges walks the parse tree: it refuses template calls and pipes
// every range's value through rangeGuard.
func guardRanges(tr *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := guardRanges(tr, c); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return errors.New("template calls are not allowed")
	case *parse.RangeNode:
		guard := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pipe.Pos,
			Args: []parse.Node{parse.NewIdentifier(rangeGuard).SetTree(tr).SetPos(n.Pipe.Pos)}}
		n.Pipe.Cmds = append(n.Pipe.Cmds, guard)
		return errors.Join(guardRanges(tr, n.List), guardRanges(tr, n.ElseList))
	case *parse.IfNode:
		return errors.Join(guardRanges(tr, n.List), guardRanges(tr, n.ElseList))
	case *parse.WithNode:
		return errors.Join(guardRanges(tr, n.List), guardRanges(tr, n.ElseList))
	}
	return nil
}

// execGo renders s as a go template with p.
func (g *generation) execGo(s string, p params) (string, error) {
	t, err := g.parseGo(s)
	if err != nil {
		return "", err
	}
	w := &boundedWriter{max: g.env.Limits.MaxValueBytes}
	if err := t.Execute(w, p); err != nil {
		if errors.Is(err, errLimit) {
			return "", fmt.Errorf("template %s: %w", quote(s), err)
		}
		return "", fmt.Errorf("template %s: %w", quote(s), err)
	}
	return w.b.String(), nil
}

// boundedWriter fails once more than max bytes are written.
type boundedWriter struct {
	b   strings.Builder
	max int
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, fmt.Errorf("%w: renders more than %d bytes", errLimit, w.max)
	}
	return w.b.Write(p)
}

// replace renders one string of a template or generator with p, in the
// set's syntax.
func (g *generation) replace(s string, p params) (string, error) {
	if err := g.ctx.Err(); err != nil {
		return "", err
	}
	var out string
	var err error
	if g.goTemplate {
		out, err = g.execGo(s, p)
	} else {
		out, err = fastReplace(s, p, g.env.Limits.MaxValueBytes)
	}
	if err != nil {
		return "", err
	}
	g.output += len(out)
	if g.output > g.env.Limits.MaxOutputBytes {
		return "", fmt.Errorf("%w: the generated Applications are larger than %d bytes together", errLimit, g.env.Limits.MaxOutputBytes)
	}
	return out, nil
}

// renderValue renders every string of v (a decoded YAML value) with p;
// map keys and other scalars are kept, as Argo CD templates string fields
// only.
func (g *generation) renderValue(v any, p params) (any, error) {
	switch v := v.(type) {
	case string:
		return g.replace(v, p)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			r, err := g.renderValue(e, p)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := g.renderValue(e, p)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// renderNode returns a copy of n with every string scalar value rendered
// with p (mapping keys are kept), leaving out the keys in skip at n's top.
// Argo CD renders a matrix's second generator with the first one's params
// this way.
func (g *generation) renderNode(n *yaml.Node, p params, skip ...string) (*yaml.Node, error) {
	c := *n
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			keep := n.Kind == yaml.MappingNode && (i%2 == 0 || skipKey(n.Content[i-1].Value, skip))
			if keep {
				c.Content[i] = e
				continue
			}
			r, err := g.renderNode(e, p)
			if err != nil {
				return nil, err
			}
			c.Content[i] = r
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.ShortTag() == "!!str" {
			s, err := g.replace(n.Value, p)
			if err != nil {
				return nil, err
			}
			c.Value = s
		}
	}
	return &c, nil
}

func skipKey(k string, skip []string) bool {
	for _, s := range skip {
		if k == s {
			return true
		}
	}
	return false
}

// goTemplateOptions are the options Argo CD passes on to text/template.
var goTemplateOptions = map[string]bool{
	"missingkey=default": true, "missingkey=invalid": true, "missingkey=zero": true, "missingkey=error": true,
}

// removed are sprig's functions a template may not call: those that read
// the environment or the network (Argo CD removes them too), those whose
// cost an input can make unbounded (key generation, scrypt), and those
// that change a map in place, with which a map can be made to hold itself
// (printing or copying it then never ends).
var removed = []string{
	"env", "expandenv", "getHostByName",
	"genPrivateKey", "derivePassword", "buildCustomCert",
	"genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
	"set", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite",
}

// funcs returns the functions of g's go templates: sprig's, less removed,
// with those whose result an argument sizes bounded, Argo CD's own
// (normalize, toYaml, fromYaml, fromYamlArray), and every one charged to
// g's work budget.
func (g *generation) funcs() template.FuncMap {
	if g.funcMap != nil {
		return g.funcMap
	}
	m := template.FuncMap{}
	for k, v := range sprig.TxtFuncMap() {
		m[k] = v
	}
	for _, k := range removed {
		delete(m, k)
	}
	m["print"] = fmt.Sprint
	m["printf"] = fmt.Sprintf
	m["println"] = fmt.Sprintln
	m["html"] = template.HTMLEscaper
	m["js"] = template.JSEscaper
	m["urlquery"] = template.URLQueryEscaper
	m["normalize"] = SanitizeName
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["fromYamlArray"] = fromYAMLArray
	for k, v := range g.bounded() {
		m[k] = v
	}
	for k, v := range m {
		m[k] = g.charged(k, v)
	}
	m[rangeGuard] = g.guardRange
	g.funcMap = m
	return m
}

// charged wraps fn so that each call costs one unit of work plus the size
// of its arguments and of its result.
func (g *generation) charged(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	t := fv.Type()
	if t.Kind() != reflect.Func {
		return fn
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		// The arguments are charged before the call, so that no call
		// works on more than the budget: a function's result is at most a
		// few times its arguments' size, where it is not bounded
		// beforehand (bounded, boundedText).
		g.charge(1)
		for i, a := range args {
			if t.IsVariadic() && i == len(args)-1 {
				for j := 0; j < a.Len(); j++ {
					g.charge(sizeOf(a.Index(j)))
				}
				continue
			}
			g.charge(sizeOf(a))
		}
		var out []reflect.Value
		if t.IsVariadic() {
			out = fv.CallSlice(args)
		} else {
			out = fv.Call(args)
		}
		if len(out) > 0 {
			g.charge(sizeOf(out[0]))
		}
		return out
	}).Interface()
}

// charge spends n units of work; over the budget it panics, which
// text/template turns into the execution's error.
func (g *generation) charge(n int) {
	g.work += n
	if g.work > g.env.Limits.MaxWork {
		panic(fmt.Errorf("%w: the templates do more than %d units of work", errLimit, g.env.Limits.MaxWork))
	}
	if err := g.ctx.Err(); err != nil {
		panic(err)
	}
}

// guardRange charges a range for its iterations and returns v.
func (g *generation) guardRange(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() > int64(g.env.Limits.MaxWork) {
			return nil, fmt.Errorf("%w: range over %d", errLimit, rv.Int())
		}
		g.charge(int(max(rv.Int(), 0)) + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > uint64(g.env.Limits.MaxWork) {
			return nil, fmt.Errorf("%w: range over %d", errLimit, rv.Uint())
		}
		g.charge(int(rv.Uint()) + 1)
	default:
		g.charge(sizeOf(rv))
	}
	return v, nil
}

// sizeOf is the work a value costs: its bytes, or 16 per item.
func sizeOf(v reflect.Value) int {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() {
		return 1
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len() + 1
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Len() + 1
		}
		return 16*v.Len() + 1
	case reflect.Map:
		return 32*v.Len() + 1
	}
	return 1
}
