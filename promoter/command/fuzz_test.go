package command

import (
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

var markdownParser = goldmark.New().Parser()

// leafKinds maps the offset of every line segment of a comment to the
// kind of the leaf block holding it, as a CommonMark parser reads the
// comment.
func leafKinds(body []byte) map[int]string {
	kinds := map[int]string{}
	doc := markdownParser.Parse(text.NewReader(body))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || n.Type() != ast.TypeBlock || n.Kind() == ast.KindDocument {
			return ast.WalkContinue, nil
		}
		kind := n.Kind().String()
		if h, ok := n.(*ast.HTMLBlock); ok {
			switch h.HTMLBlockType {
			case ast.HTMLBlockType6, ast.HTMLBlockType7:
				kind = "VisibleHTML"
			}
		}
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			kinds[lines.At(i).Start] = kind
		}
		return ast.WalkContinue, nil
	})
	return kinds
}

// commandLineVisible reports whether line (a line of body, trimmed) is
// somewhere a reader sees it as text at the start of a line: in a
// paragraph, a heading or visible HTML, never in code, a comment or a
// quote marker's line.
func commandLineVisible(body, line string) bool {
	kinds := leafKinds([]byte(body))
	start := 0
	for _, raw := range strings.Split(body, "\n") {
		end := start + len(raw)
		if strings.TrimSpace(strings.TrimRight(raw, "\r")) == line {
			ok, bad := false, false
			for off, kind := range kinds {
				if off < start || off > end {
					continue
				}
				switch kind {
				case "Paragraph", "TextBlock", "Heading", "VisibleHTML":
					ok = true
				default:
					bad = true
				}
			}
			_, rest := indentation(raw)
			if ok && !bad && !strings.HasPrefix(rest, ">") {
				return true
			}
		}
		start = end + 1
	}
	return false
}

// replyIntact reports what is wrong with a reply's structure: it must be
// a quote of one paragraph, then paragraphs of text and code spans only.
func replyIntact(reply string) string {
	src := []byte(reply)
	doc := markdownParser.Parse(text.NewReader(src))
	first := doc.FirstChild()
	if first == nil || first.Kind() != ast.KindBlockquote || first.ChildCount() != 1 || first.FirstChild().Kind() != ast.KindParagraph {
		return "does not start with a quote of one paragraph"
	}
	problem := ""
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindDocument, ast.KindBlockquote, ast.KindParagraph, ast.KindText, ast.KindCodeSpan, ast.KindString:
		default:
			problem = "holds a " + n.Kind().String()
			return ast.WalkStop, nil
		}
		if n.Kind() == ast.KindBlockquote && n != first {
			problem = "holds a second quote"
		}
		return ast.WalkContinue, nil
	})
	return problem
}

// FuzzParse: no comment makes Parse panic, a command (or a reply) comes
// only from a line a reader sees as text at the start of a line outside
// quotes, code and comments, and a reply quotes the line without letting
// it change the reply's structure.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"/promote",
		"/promote web to production",
		"/promote help",
		"/promte to prodution",
		"Looks good.\r\n   /promote to production\r\nthanks",
		"> /promote\n/promote worker",
		"```\n/promote\n```\n/promote web",
		"~~~~\n```\n/promote\n~~~~",
		"    /promote",
		"<!--\n/promote\n-->",
		"Ship it <!-- hidden\n/promote\n-->",
		"<pre>\n/promote\n</pre>",
		"<details>\n/promote\n</details>",
		"- item\n  /promote",
		"/promote `x`<!--",
		"/promote @octocat #1 **x** [y](z) <img src=x>",
		"/promote 0`\n\nNo changes. :white_check_mark:\n<!--",
		"/promote a | b\r\n\r\n---",
		"/PROMOTE\tWeb\tTO\tProduction",
		"/promote to \u2028production",
	} {
		f.Add(seed, "production")
	}
	f.Fuzz(func(t *testing.T, body, env string) {
		for _, k := range []Known{known, {}, {Apps: []string{"web", env}, Environments: []string{"staging", env}}} {
			r := Parse(body, k)
			switch r.Kind {
			case KindIgnore:
				if r.Line != "" || r.Reply != "" {
					t.Fatalf("Parse(%q) ignores with a line or reply: %+v", body, r)
				}
				continue
			case KindCommand:
				if r.Command.Line != r.Line || (r.Command.Verb != VerbPromote && r.Command.Verb != VerbHelp) {
					t.Fatalf("Parse(%q) = %+v: inconsistent command", body, r)
				}
			case KindReply:
				if problem := replyIntact(r.Reply); problem != "" {
					t.Fatalf("Parse(%q) replies %q: the reply %s", body, r.Reply, problem)
				}
			}
			if !strings.HasPrefix(strings.ToLower(r.Line), "/") || !commandLineVisible(body, r.Line) {
				t.Fatalf("Parse(%q) = %s from line %q, which a reader does not see as a command line", body, r.Kind, r.Line)
			}
		}
	})
}
