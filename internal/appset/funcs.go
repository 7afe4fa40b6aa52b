package appset

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/Masterminds/sprig/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// bounded returns sprig's functions whose result an argument sizes (a
// count, a width), checked before they run: a template cannot make them
// allocate more than a value may hold.
func (g *generation) bounded() map[string]any {
	sp := sprig.TxtFuncMap()
	maxBytes := g.env.Limits.MaxValueBytes
	maxItems := maxBytes / 16
	out := map[string]any{
		"repeat": func(count int, s string) (string, error) {
			if err := tooMany("repeat", count, maxBytes/max(len(s), 1)); err != nil {
				return "", err
			}
			return sp["repeat"].(func(int, string) string)(count, s), nil
		},
		"until": func(count int) ([]int, error) {
			if err := tooMany("until", count, maxItems); err != nil {
				return nil, err
			}
			return sp["until"].(func(int) []int)(count), nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			if step != 0 {
				if err := tooMany("untilStep", (stop-start)/step, maxItems); err != nil {
					return nil, err
				}
			}
			return sp["untilStep"].(func(int, int, int) []int)(start, stop, step), nil
		},
		"seq": func(ps ...int) (string, error) {
			n := 0
			switch len(ps) {
			case 1:
				n = ps[0]
			case 2:
				n = ps[1] - ps[0]
			case 3:
				if ps[1] != 0 {
					n = (ps[2] - ps[0]) / ps[1]
				}
			}
			if err := tooMany("seq", n, maxItems); err != nil {
				return "", err
			}
			return sp["seq"].(func(...int) string)(ps...), nil
		},
		"indent": func(spaces int, v string) (string, error) {
			if err := tooMany("indent", spaces*(strings.Count(v, "\n")+1), maxBytes); err != nil {
				return "", err
			}
			return sp["indent"].(func(int, string) string)(spaces, v), nil
		},
		"nindent": func(spaces int, v string) (string, error) {
			if err := tooMany("nindent", spaces*(strings.Count(v, "\n")+1), maxBytes); err != nil {
				return "", err
			}
			return sp["nindent"].(func(int, string) string)(spaces, v), nil
		},
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randNumeric", "randAscii", "randBytes"} {
		out[name] = g.boundedRand(sp, name)
	}
	for k, v := range g.boundedText(sp) {
		out[k] = v
	}
	return out
}

// boundedText returns sprig's functions whose result can be a product of
// their arguments' sizes (a replacement at every match, a separator
// between every item), their result's size checked before they run.
func (g *generation) boundedText(sp map[string]any) map[string]any {
	maxBytes := g.env.Limits.MaxValueBytes
	check := func(name string, size int) error {
		if size > maxBytes {
			return fmt.Errorf("%w: %s would make %d bytes, over %d", errLimit, name, size, maxBytes)
		}
		return nil
	}
	out := map[string]any{
		"replace": func(old, repl, src string) (string, error) {
			n := len(src) + 1
			if old != "" {
				n = strings.Count(src, old)
			}
			if err := check("replace", len(src)+n*len(repl)); err != nil {
				return "", err
			}
			return strings.ReplaceAll(src, old, repl), nil
		},
		"join": func(sep string, v any) (string, error) {
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
				if err := check("join", rv.Len()*len(sep)); err != nil {
					return "", err
				}
			}
			return sp["join"].(func(string, any) string)(sep, v), nil
		},
		"wrapWith": func(l int, sep, str string) (string, error) {
			if err := check("wrapWith", len(str)+(len(str)/max(l, 1)+1)*len(sep)); err != nil {
				return "", err
			}
			return sp["wrapWith"].(func(int, string, string) string)(l, sep, str), nil
		},
	}
	for _, name := range []string{"regexReplaceAll", "mustRegexReplaceAll", "regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"} {
		literal := strings.HasSuffix(name, "Literal")
		out[name] = func(regex, s, repl string) (string, error) {
			re, err := regexp.Compile(regex)
			if err != nil {
				return "", err
			}
			// A replacement is repl, its $ references expanded to
			// parts of the match.
			refs := strings.Count(repl, "$")
			if literal {
				refs = 0
			}
			size := len(s)
			for _, m := range re.FindAllStringIndex(s, -1) {
				size += len(repl) + refs*(m[1]-m[0])
				if err := check(name, size); err != nil {
					return "", err
				}
			}
			if literal {
				return re.ReplaceAllLiteralString(s, repl), nil
			}
			return re.ReplaceAllString(s, repl), nil
		}
	}
	return out
}

// tooMany is the error of a count n (or -n) over limit.
func tooMany(name string, n int, limit int) error {
	if n < 0 {
		n = -n
	}
	if n > limit {
		return fmt.Errorf("%w: %s %d is over %d", errLimit, name, n, limit)
	}
	return nil
}

// boundedRand returns sprig's random string function name, its count
// bounded.
func (g *generation) boundedRand(sp map[string]any, name string) any {
	maxBytes := g.env.Limits.MaxValueBytes
	if name == "randBytes" {
		randBytes := sp["randBytes"].(func(int) (string, error))
		return func(count int) (string, error) {
			if err := tooMany("randBytes", count, maxBytes/2); err != nil {
				return "", err
			}
			return randBytes(count)
		}
	}
	fn := sp[name].(func(int) string)
	return func(count int) (string, error) {
		if err := tooMany(name, count, maxBytes); err != nil {
			return "", err
		}
		return fn(count), nil
	}
}

// invalidNameChars are the characters SanitizeName replaces.
var invalidNameChars = regexp.MustCompile("[^-a-z0-9.]")

// SanitizeName makes name a valid Kubernetes object name as Argo CD's
// basenameNormalized and normalize do: lower case, every character but
// letters, digits, '-' and '.' replaced by '-', at most 253 characters,
// without '-' or '.' at either end.
func SanitizeName(name string) string {
	name = invalidNameChars.ReplaceAllString(strings.ToLower(name), "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// toYAML is Argo CD's toYaml: v as YAML, "" when it cannot be.
func toYAML(v any) string {
	out, err := sigsyaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// fromYAML is Argo CD's fromYaml: s as a map.
func fromYAML(s string) (map[string]any, error) {
	m := map[string]any{}
	if err := sigsyaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// fromYAMLArray is Argo CD's fromYamlArray: s as a list.
func fromYAMLArray(s string) ([]any, error) {
	var a []any
	if err := sigsyaml.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}
