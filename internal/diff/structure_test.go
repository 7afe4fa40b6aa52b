package diff

import (
	"fmt"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// structure is what a reader of a comment sees of its shape, as a
// CommonMark parser reads it.
type structure struct {
	// Markers counts HTML comments; MarkerFirst: the first block is the
	// marker.
	Markers     int
	MarkerFirst bool
	// Headings are the levels of the headings, in order.
	Headings []int
	// Details and Closes count <details> and </details> blocks; Summaries
	// are the texts of the summaries.
	Details, Closes int
	// CodeBlocks counts fenced code blocks.
	CodeBlocks int
	// NoChanges counts paragraphs that say "No changes".
	NoChanges int
	// ListItems counts list items; Breaks thematic breaks.
	ListItems, Breaks int
	// Other lists everything a comment never holds: links, images, raw
	// inline HTML, other HTML blocks, quotes, indented code.
	Other []string
}

var parser = goldmark.New()

// parseStructure reads the structure of a comment body.
func parseStructure(body string) structure {
	src := []byte(body)
	doc := parser.Parser().Parse(text.NewReader(src))
	var s structure
	first := true
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		isFirst := first && n.Type() == ast.TypeBlock && n.Kind() != ast.KindDocument
		if isFirst {
			first = false
		}
		switch n := n.(type) {
		case *ast.HTMLBlock:
			raw := blockText(n, src)
			switch {
			case strings.HasPrefix(raw, "<!--"):
				s.Markers++
				s.MarkerFirst = s.MarkerFirst || isFirst && n.Lines().Len() == 1
			case strings.HasPrefix(raw, "<details><summary>") && strings.HasSuffix(raw, "</summary>\n") && n.Lines().Len() == 1:
				inner := strings.TrimSuffix(strings.TrimPrefix(raw, "<details><summary>"), "</summary>\n")
				if strings.ContainsAny(inner, "<>") {
					s.Other = append(s.Other, "summary with markup: "+raw)
				}
				s.Details++
			case raw == "</details>\n":
				s.Closes++
			default:
				s.Other = append(s.Other, "html block: "+raw)
			}
		case *ast.Heading:
			s.Headings = append(s.Headings, n.Level)
		case *ast.FencedCodeBlock:
			s.CodeBlocks++
		case *ast.Paragraph:
			if strings.HasPrefix(blockText(n, src), "No changes") {
				s.NoChanges++
			}
		case *ast.ListItem:
			s.ListItems++
		case *ast.ThematicBreak:
			s.Breaks++
		case *ast.Link, *ast.Image, *ast.AutoLink, *ast.RawHTML, *ast.Blockquote, *ast.CodeBlock:
			s.Other = append(s.Other, fmt.Sprintf("%s at %q", n.Kind(), nodeText(n, src)))
		}
		return ast.WalkContinue, nil
	})
	return s
}

func blockText(n ast.Node, src []byte) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(src))
	}
	return b.String()
}

func nodeText(n ast.Node, src []byte) string {
	if n.Type() == ast.TypeBlock {
		return blockText(n, src)
	}
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			b.Write(t.Segment.Value(src))
		}
	}
	return b.String()
}

// wantStructure is the structure Render must give c of apps (made with a
// key and without a footer): the marker first and only, a heading per
// app shown, a section per change shown, a code block per section and
// per failed side, "No changes" only when nothing changed and nothing
// failed.
func wantStructure(apps []AppRender, c Comment, notices int) structure {
	shown := len(c.Changes) - len(c.Omitted)
	w := structure{Markers: 1, MarkerFirst: true, Headings: []int{3}, Details: shown, Closes: shown, CodeBlocks: shown}
	for _, a := range apps {
		w.Headings = append(w.Headings, 4)
		if a.BeforeErr != nil || !parses(a.Before) {
			w.CodeBlocks++
		}
		if a.AfterErr != nil || !parses(a.After) {
			w.CodeBlocks++
		}
	}
	if len(c.Changes) == 0 && c.RenderErrors == 0 {
		w.NoChanges = 1
	}
	w.ListItems = min(notices, maxNotices)
	if notices > maxNotices {
		w.ListItems++
	}
	return w
}

func parses(data []byte) bool {
	_, err := parseObjects(data)
	return err == nil
}
