package markdown

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// Hostile is a corpus of text a repository or a commenter can write: each
// entry tries to change the structure of a comment it is put in.
var Hostile = []string{
	"my-api-service-staging",
	"0`\n\nNo changes. :white_check_mark:\n<!--",
	"x\n\n### Forged heading",
	"a\r\rb\r\n\r\nc\u2028d\u2029e",
	"</summary></details>\n\n# out",
	"<details><summary>fake</summary>",
	"<!-- promobot:diff pr -->",
	"-->",
	"``` ",
	"`",
	"``",
	"` `",
	" a ",
	"  ",
	"\\",
	"a\\",
	"\\|",
	"*bold* _em_ **x** ~~del~~",
	"[link](https://evil.example/) ![img](https://evil.example/x.png)",
	"<https://evil.example/>",
	"&amp; &lt;b&gt; &#64;",
	"| a | b |",
	"@octocat and @org/team",
	"api:1.3.0@sha256:0123 (a@b) @x",
	"#1 and GH-2 and acme/repo#3",
	"<img src=x onerror=alert(1)>",
	"<script>alert(1)</script>",
	`it's "quoted" &#39; #x`,
	"line\\\nbreak",
	"trailing two spaces  \nnext",
	"1. item\n- item\n> quote\n    code",
	"===\n---",
	"\t\ttabbed",
	"ünïcødé → ·",
	"",
}

var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough),
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

func render(t *testing.T, src string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		t.Fatalf("goldmark: %v", err)
	}
	return buf.String()
}

// plain is how s must read once rendered: on one line, with @ and #
// separated from what follows.
func plain(s string, unlinked bool) string {
	s = oneLine.Replace(s)
	if unlinked {
		s = unlink(s)
	}
	return s
}

var tag = regexp.MustCompile(`<[^>]*>`)

// TestEscapes puts every hostile entry in each place and checks, with a
// CommonMark parser, that the document keeps its structure and the text
// reads as itself.
func TestEscapes(t *testing.T) {
	for _, s := range Hostile {
		t.Run(strings.ReplaceAll(s, "/", "_"), func(t *testing.T) {
			// Running text: one paragraph, no element but the paragraph.
			got := render(t, "x "+Text(s)+" y")
			inner, ok := strings.CutPrefix(got, "<p>x ")
			inner, ok2 := strings.CutSuffix(inner, " y</p>\n")
			if !ok || !ok2 || strings.ContainsAny(inner, "<>") {
				t.Errorf("Text(%q) renders %q: not one paragraph of text", s, got)
			} else if d := cmp.Diff(plain(s, true), html.UnescapeString(inner)); d != "" {
				t.Errorf("Text(%q) reads differently (-want +got):\n%s", s, d)
			}

			// A heading stays one heading.
			got = render(t, "### Title "+Text(s)+"\n\nafter")
			if !strings.HasPrefix(got, "<h3>") || strings.Count(got, "<h3>") != 1 || !strings.HasSuffix(got, "</h3>\n<p>after</p>\n") {
				t.Errorf("heading with Text(%q) renders %q", s, got)
			}

			// Code span: one paragraph holding one code element.
			got = render(t, "x "+Code(s)+" y")
			inner, ok = strings.CutPrefix(got, "<p>x <code>")
			inner, ok2 = strings.CutSuffix(inner, "</code> y</p>\n")
			want := plain(s, false)
			if want == "" {
				want = " "
			}
			if !ok || !ok2 || strings.ContainsAny(inner, "<>") {
				t.Errorf("Code(%q) renders %q: not one code span", s, got)
			} else if d := cmp.Diff(want, html.UnescapeString(inner)); d != "" {
				t.Errorf("Code(%q) reads differently (-want +got):\n%s", s, d)
			}

			// A table keeps two cells per row.
			got = render(t, "| a | b |\n|---|---|\n| "+CellCode(s)+" | y |\n")
			if n := strings.Count(got, "<td>"); n != 2 || !strings.Contains(got, "<td>y</td>") {
				t.Errorf("table with CellCode(%q) renders %q: %d cells, want 2", s, got, n)
			}

			// HTML element text: the details block stays one block whose
			// summary reads as s, and the code block after it stays code.
			doc := "<details><summary>" + HTML(s) + "</summary>\n\n```diff\n+x\n```\n</details>\n"
			got = render(t, doc)
			wantDoc := "<details><summary>" + HTML(s) + "</summary>\n<pre><code class=\"language-diff\">+x\n</code></pre>\n</details>\n"
			if got != wantDoc {
				t.Errorf("details with HTML(%q) renders %q, want %q", s, got, wantDoc)
			}
			if d := cmp.Diff(plain(s, true), html.UnescapeString(HTML(s))); d != "" || tag.MatchString(HTML(s)) {
				t.Errorf("HTML(%q) reads differently or holds a tag (-want +got):\n%s", s, d)
			}

			// A caller's line with s in a code span and around it.
			got = render(t, Line("`"+s+"` now "+s))
			if strings.Count(got, "<p>") != 1 || tag.ReplaceAllString(strings.ReplaceAll(strings.ReplaceAll(got, "<p>", ""), "</p>", ""), "") != tag.ReplaceAllString(got, "") {
				t.Errorf("Line with %q renders %q", s, got)
			}
			for _, el := range []string{"<a ", "<img", "<em>", "<strong>", "<del>", "<h", "<script", "<details", "<!--", "<br"} {
				if strings.Contains(got, el) {
					t.Errorf("Line with %q renders %s: %q", s, el, got)
				}
			}

			// A fenced block holds s whole.
			got = render(t, Fence(s)+"text\n"+s+"\n"+Fence(s)+"\nafter\n")
			if strings.Count(got, "<pre>") != 1 || !strings.HasSuffix(got, "</code></pre>\n<p>after</p>\n") {
				t.Errorf("fence around %q renders %q", s, got)
			}
		})
	}
}
