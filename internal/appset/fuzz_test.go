package appset

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.yaml.in/yaml/v3"
)

// FuzzGenerate generates a set whose Application name and git path are
// hostile templates, in either syntax, over a small repository. Whatever
// they hold, Generate returns (no panic, no error for a live context)
// within its limits: no more apps than MaxApps, no value longer than
// MaxValueBytes, and a refused set has no apps and a note.
func FuzzGenerate(f *testing.F) {
	seeds := []struct {
		tmpl, path string
		goTemplate bool
	}{
		{"{{path.basename}}", "apps/*", false},
		{"{{.path.basename}}-{{ .path.segments | len }}", "apps/*", true},
		{"{{ range until 3 }}x{{ end }}", "*", true},
		{"{{ range 100000000 }}{{ end }}", "apps/*", true},
		{"{{ $a := list 1 }}{{ $a = concat $a $a }}{{ len $a }}", "apps/*", true},
		{`{{ repeat 99999999 "x" }}`, "apps/*", true},
		{`{{ indent 99999999 "x" }}`, "apps/*", true},
		{`{{ printf "%0999999d" 1 }}`, "apps/*", true},
		{`{{define "a"}}{{template "a"}}{{end}}`, "apps/*", true},
		{"{{ a }} {{", "apps/*", false},
		{"{{{{}}}}", "../*", false},
		{"{{ env \"HOME\" }}", "/etc", true},
		{"{{ .path.path | b64enc | b64dec }}", "apps/{a,b}", true},
		{`{{ replace "" "yy" .path.path }}`, "apps/*", true},
		{`{{ regexReplaceAll "" .path.path "$0$0" }}`, "apps/*", true},
		{`{{ $a := .path.path }}{{ cat $a $a $a }}`, "apps/*", true},
		{`{{ $d := dict }}{{ $_ := set $d "d" $d }}{{ $d }}`, "apps/*", true},
		{`{{ join "," .path.segments }}`, "**/config.json", true},
		{`{{name}}-{{n.m.1}}`, "apps/*/config.json", false},
	}
	for _, s := range seeds {
		f.Add(s.tmpl, s.path, s.goTemplate)
	}
	repo := fstest.MapFS{
		"apps/a/x.yaml":      {Data: []byte("{}\n")},
		"apps/b/config.json": {Data: []byte(`{"name": "b", "n": {"m": [1, 2]}}`)},
		"apps/c/d/e/x.yaml":  {Data: []byte("{}\n")},
	}
	limits := Limits{MaxApps: 5, MaxValueBytes: 4096, MaxOutputBytes: 64 << 10, MaxWork: 1 << 16, Timeout: 2 * time.Second}
	f.Fuzz(func(t *testing.T, tmpl, p string, goTemplate bool) {
		for _, files := range []bool{false, true} {
			item := map[string]any{"path": p}
			git := map[string]any{"repoURL": "https://example.com/r.git", "directories": []any{item}}
			if files {
				git = map[string]any{"repoURL": "https://example.com/r.git", "files": []any{item}}
			}
			doc := map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": map[string]any{"name": "fuzz"},
				"spec": map[string]any{
					"goTemplate": goTemplate,
					"generators": []any{map[string]any{"git": git}},
					"template": map[string]any{"metadata": map[string]any{"name": tmpl},
						"spec": map[string]any{"source": map[string]any{"path": tmpl}}},
				},
			}
			set, err := yaml.Marshal(doc)
			if err != nil {
				t.Skip()
			}
			got, err := Generate(context.Background(), "apps/set.yaml", set, Env{Files: repo, Limits: limits})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if len(got.Apps) > limits.MaxApps {
				t.Fatalf("%d apps, over MaxApps %d", len(got.Apps), limits.MaxApps)
			}
			for _, a := range got.Apps {
				if len(a.Name) > limits.MaxValueBytes {
					t.Fatalf("name of %d bytes, over MaxValueBytes", len(a.Name))
				}
				if strings.Contains(a.File, "..") && !strings.Contains(tmpl, "..") {
					t.Fatalf("file %q", a.File)
				}
			}
			refused := false
			for _, n := range got.Notes {
				refused = refused || strings.HasPrefix(n.Message, "ApplicationSet refused")
			}
			if refused && len(got.Apps) > 0 {
				t.Fatalf("refused set with %d apps", len(got.Apps))
			}
			if (strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../")) && len(got.Apps) > 0 {
				t.Fatalf("path %q outside the repository generated %d apps", p, len(got.Apps))
			}
		}
	})
}

// FuzzFastReplace checks the fasttemplate substitution against its
// contract: a string without a "{{ ... }}" on one line is kept as it is;
// a known tag is replaced; the result is never longer than max.
func FuzzFastReplace(f *testing.F) {
	for _, s := range []string{"", "plain", "{{a}}", "{{ a }}-{{b}}", "{{", "}}{{", "{{a}}{{", "x\n{{a\n}}", "{{}}", "{{{{a}}}}"} {
		f.Add(s)
	}
	p := params{"a": "A", "b": strings.Repeat("B", 100)}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := fastReplace(s, p, 1000)
		if err != nil {
			return
		}
		if len(out) > 1000 {
			t.Fatalf("%d bytes, over the limit", len(out))
		}
		if !isTemplated.MatchString(s) && out != s {
			t.Fatalf("untemplated %q became %q", s, out)
		}
		// Where every brace is part of a "{{a}}", each is replaced. (Other
		// braces change what a tag is: "{{{a}}" holds the tag "{a", kept as
		// written, as fasttemplate keeps it.)
		n := strings.Count(s, "{{a}}")
		if n > 0 && strings.Count(s, "{") == 2*n && strings.Count(s, "}") == 2*n && isTemplated.MatchString(s) {
			if want := strings.ReplaceAll(s, "{{a}}", "A"); out != want {
				t.Fatalf("%q became %q, want %q", s, out, want)
			}
		}
	})
}
