package kustomize

import (
	"errors"
	"strings"
	"testing"
)

// TestMatchGlob checks the include/exclude glob semantics Argo CD has
// (gobwas/glob without separators).
func TestMatchGlob(t *testing.T) {
	tests := []struct {
		name, pattern, path string
		want                bool
		bad                 bool
	}{
		{name: "literal", pattern: "a.yaml", path: "a.yaml", want: true},
		{name: "literal differs", pattern: "a.yaml", path: "b.yaml"},
		{name: "star", pattern: "*.yaml", path: "deploy.yaml", want: true},
		{name: "star crosses slashes", pattern: "*.yaml", path: "sub/deeper/deploy.yaml", want: true},
		{name: "double star", pattern: "**/x.yaml", path: "a/b/x.yaml", want: true},
		{name: "star matches empty", pattern: "a*.yaml", path: "a.yaml", want: true},
		{name: "question mark", pattern: "?.json", path: "b.json", want: true},
		{name: "question mark is one character", pattern: "?.json", path: "ab.json"},
		{name: "question mark is one rune", pattern: "?.yaml", path: "é.yaml", want: true},
		{name: "alternatives", pattern: "{config.json,*.yml}", path: "c-list.yml", want: true},
		{name: "alternatives first", pattern: "{config.json,*.yml}", path: "config.json", want: true},
		{name: "alternatives none", pattern: "{config.json,*.yml}", path: "a.yaml"},
		{name: "nested alternatives", pattern: "{a,b{c,d}}.yaml", path: "bd.yaml", want: true},
		{name: "empty alternative", pattern: "x{,-dev}.yaml", path: "x.yaml", want: true},
		{name: "class", pattern: "[abc]-*.yaml", path: "b-config.yaml", want: true},
		{name: "class misses", pattern: "[abc]-*.yaml", path: "d-job.yaml"},
		{name: "negated class", pattern: "[!abc]-*.yaml", path: "d-job.yaml", want: true},
		{name: "range", pattern: "[a-c]*", path: "c-list.yml", want: true},
		{name: "negated range", pattern: "[!a-c]*", path: "c-list.yml"},
		{name: "escape", pattern: `\*.yaml`, path: "*.yaml", want: true},
		{name: "escaped star is literal", pattern: `\*.yaml`, path: "a.yaml"},
		{name: "regexp characters are literal", pattern: "a+(b).yaml", path: "a+(b).yaml", want: true},
		{name: "dot is literal", pattern: "a.yaml", path: "aXyaml"},
		{name: "comma outside braces", pattern: "a,b.yaml", path: "a,b.yaml", want: true},
		{name: "closing brace outside braces", pattern: "a}.yaml", path: "a}.yaml", want: true},
		{name: "whole path anchored", pattern: "sub/*.yaml", path: "x/sub/a.yaml"},
		{name: "unclosed brace", pattern: "{a,b", path: "a", bad: true},
		{name: "unclosed class", pattern: "[ab", path: "a", bad: true},
		{name: "empty class", pattern: "[]", path: "a", bad: true},
		{name: "range then more", pattern: "[a-cx]", path: "a", bad: true},
		{name: "range out of order", pattern: "[z-a]", path: "a", bad: true},
		{name: "trailing backslash", pattern: `a\`, path: "a", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MatchGlob(tt.pattern, tt.path)
			if tt.bad {
				if !errors.Is(err, ErrGlob) {
					t.Fatalf("MatchGlob(%q) error = %v, want ErrGlob", tt.pattern, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

// TestDirectorySelects checks which files a directory source reads.
func TestDirectorySelects(t *testing.T) {
	tests := []struct {
		name string
		d    Directory
		rel  string
		want bool
	}{
		{name: "yaml at the top", rel: "a.yaml", want: true},
		{name: "yml", rel: "a.yml", want: true},
		{name: "json", rel: "a.json", want: true},
		{name: "jsonnet is selected (and refused when read)", rel: "a.jsonnet", want: true},
		{name: "other extension", rel: "README.md"},
		{name: "upper-case extension", rel: "A.YAML"},
		{name: "bare extension", rel: ".yaml"},
		{name: "subdirectory without recurse", rel: "sub/a.yaml"},
		{name: "subdirectory with recurse", d: Directory{Recurse: true}, rel: "sub/a.yaml", want: true},
		{name: "include matches", d: Directory{Include: "*.json"}, rel: "a.json", want: true},
		{name: "include misses", d: Directory{Include: "*.json"}, rel: "a.yaml"},
		{name: "exclude matches", d: Directory{Exclude: "a.*"}, rel: "a.yaml"},
		{name: "exclude wins over include", d: Directory{Include: "*", Exclude: "a.yaml"}, rel: "a.yaml"},
		{name: "exclude a subdirectory", d: Directory{Recurse: true, Exclude: "sub/*"}, rel: "sub/a.yaml"},
		{name: "invalid include matches nothing", d: Directory{Include: "{a"}, rel: "a.yaml"},
		{name: "invalid exclude excludes nothing", d: Directory{Exclude: "{a"}, rel: "a.yaml", want: true},
		{name: "outside", d: Directory{Recurse: true}, rel: "../a.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Selects(tt.rel); got != tt.want {
				t.Errorf("%+v.Selects(%q) = %v, want %v", tt.d, tt.rel, got, tt.want)
			}
		})
	}
}

// FuzzMatchGlob compares MatchGlob with a backtracking matcher written
// from gobwas/glob's rules, on patterns without classes (whose parsing the
// reference does not repeat).
func FuzzMatchGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"*.yaml", "a/b.yaml"}, {"{a,b{c,d}}.yaml", "bd.yaml"}, {"?x*", "éxx"}, {`\**`, "*a"},
		{"a{,b}c", "ac"}, {"**", ""}, {"{*,?}", "ab"}, {"[a-c]x", "bx"}, {"[!ab]", "c"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got, err := MatchGlob(pattern, name)
		if strings.ContainsRune(pattern, '[') || len(name) > 64 || len(pattern) > 64 || strings.Count(pattern, "{") > 8 {
			return // classes: only that MatchGlob does not panic or hang
		}
		alts, ok := expand(pattern, 0)
		if !ok {
			if err == nil {
				t.Fatalf("MatchGlob(%q) compiled a pattern the reference refuses", pattern)
			}
			return
		}
		if err != nil {
			if len(pattern) > maxGlob || strings.Count(pattern, "{") > maxGlobDepth {
				return
			}
			t.Fatalf("MatchGlob(%q): %v", pattern, err)
		}
		want := false
		for _, a := range alts {
			if refMatch([]rune(a), []rune(name)) {
				want = true
				break
			}
		}
		if got != want {
			t.Fatalf("MatchGlob(%q, %q) = %v, reference %v", pattern, name, got, want)
		}
	})
}

// expand turns a pattern's braces into its plain alternatives (escapes
// kept), or ok false for a pattern that does not parse. It gives up on
// patterns with too many alternatives.
func expand(p string, depth int) (alts []string, ok bool) {
	if depth > 8 || len(p) > 64 {
		return nil, false
	}
	r := []rune(p)
	for i := 0; i < len(r); i++ {
		switch r[i] {
		case '\\':
			if i+1 >= len(r) {
				return nil, false
			}
			i++
		case '{':
			// find the matching '}' and the top-level commas
			level, parts, start := 0, []string{}, i+1
			j := i + 1
			for ; j < len(r); j++ {
				if r[j] == '\\' {
					j++
					continue
				}
				if r[j] == '{' {
					level++
				} else if r[j] == '}' {
					if level == 0 {
						break
					}
					level--
				} else if r[j] == ',' && level == 0 {
					parts = append(parts, string(r[start:j]))
					start = j + 1
				}
			}
			if j >= len(r) {
				return nil, false
			}
			parts = append(parts, string(r[start:j]))
			rest, ok := expand(string(r[j+1:]), depth+1)
			if !ok {
				return nil, false
			}
			for _, part := range parts {
				inner, ok := expand(part, depth+1)
				if !ok {
					return nil, false
				}
				for _, in := range inner {
					for _, re := range rest {
						alts = append(alts, string(r[:i])+in+re)
						if len(alts) > 1<<16 {
							panic("too many alternatives")
						}
					}
				}
			}
			return alts, true
		}
	}
	return []string{p}, true
}

// refMatch is a backtracking matcher for '*', '?' and '\' escapes.
func refMatch(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if refMatch(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && refMatch(p[1:], s[1:])
	case '\\':
		return len(s) > 0 && len(p) > 1 && s[0] == p[1] && refMatch(p[2:], s[1:])
	default:
		return len(s) > 0 && s[0] == p[0] && refMatch(p[1:], s[1:])
	}
}
