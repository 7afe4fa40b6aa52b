// Package markdown puts text promobot does not control (names and
// messages from a repository, a commenter's words) into the GitHub-flavoured
// Markdown of its comments, so that the text reads as itself and can never
// change the structure around it: no line break, heading, list, quote,
// code fence, HTML element or comment, link, emphasis, table cell, @mention
// or #reference comes from it.
//
// Each function is for one place in a document: Code for an inline code
// span, Text for running text in the middle of a line, HTML for text inside
// an HTML element such as <summary>, CellCode for a code span in a table
// cell, Fence for a fenced code block, and Line for a caller's own Markdown
// line that may embed such text. ShortSHA and Clip shorten what every role
// shows: a commit as GitHub names it, a description to GitHub's
// character limit.
package markdown

import (
	"html"
	"strings"
)

// oneLine replaces every line ending CommonMark knows (and the Unicode
// line and paragraph separators) with a space: text that cannot break a
// line cannot start a block.
var oneLine = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "\u2028", " ", "\u2029", " ")

// zwsp separates an @ or # from what follows, so GitHub neither mentions
// a user or team nor links an issue. GitHub finds those in the rendered
// text, after entities and backslash escapes are gone, so only a character
// in between (or a code span) stops them.
const zwsp = "\u200b"

// unlink breaks @mentions and #references: a # anywhere (owner/repo#12
// is a reference), an @ where a mention can start, at the start or after
// a character that is not a letter, digit or underscore ("1.3.0@sha256:…"
// stays as it is).
func unlink(s string) string {
	if !strings.ContainsAny(s, "@#") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte(c)
		if c == '#' || (c == '@' && (i == 0 || !isWord(s[i-1]))) {
			b.WriteString(zwsp)
		}
	}
	return b.String()
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Code returns s as an inline code span: on one line, fenced by more
// backticks than any run inside it, padded with a space where CommonMark
// would otherwise strip or misread its edges. Nothing inside a code span
// is Markdown, HTML, a mention or a reference.
func Code(s string) string {
	s = oneLine.Replace(s)
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// CellCode is Code for a cell of a GFM table, where a pipe splits cells
// even inside a code span unless it is escaped. A backslash right before
// a pipe would turn the escape back into a cell boundary, so it is shown
// as a fullwidth reverse solidus.
func CellCode(s string) string {
	c := Code(strings.ReplaceAll(s, "\\|", "\uff3c|"))
	return strings.ReplaceAll(c, "|", "\\|")
}

// textEscapes backslash-escapes the ASCII punctuation that means something
// in the middle of a line: code spans, emphasis, links and images, raw
// HTML and entities, table cells, strikethrough, and the backslash itself.
var textEscapes = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_[]<>&|~!#" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(pairs...)
}()

// Text returns s escaped for running Markdown text in the middle of a line
// (after a list marker, a heading's hashes or other words): one line, with
// every character that could open an inline construct escaped, and
// mentions and references broken. It renders as s.
func Text(s string) string {
	return textEscapes.Replace(unlink(oneLine.Replace(s)))
}

// HTML returns s escaped for the text of an HTML element in a comment,
// such as <summary>: one line (a blank line would end the HTML block and
// let what follows be read as Markdown), with <, >, &, and quotes as
// entities, and mentions and references broken.
func HTML(s string) string {
	return html.EscapeString(unlink(oneLine.Replace(s)))
}

// Fence returns a backtick fence for a fenced code block holding s: at
// least three backticks and more than the longest run of backticks in s,
// so no line of s can close the block.
func Fence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

// Line makes a line of Markdown written by a caller safe to embed: the
// caller's code spans are kept as they are (on one line), and everything
// outside them is escaped as Text. A backtick run that closes nothing is
// shown as backticks. Use it for labels a caller builds from names, such
// as "`production` now (`main` 1a2b3c4)".
func Line(s string) string {
	s = oneLine.Replace(s)
	var b strings.Builder
	text := 0 // start of the pending text outside code spans
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := run(s, i, '`')
		end := closingRun(s, i+n, n)
		if end < 0 {
			i += n
			continue
		}
		b.WriteString(Text(s[text:i]))
		b.WriteString(s[i : end+n])
		i = end + n
		text = i
	}
	b.WriteString(Text(s[text:]))
	return b.String()
}

// closingRun returns the index of the first run of exactly n backticks at
// or after from, or -1.
func closingRun(s string, from, n int) int {
	for j := from; j < len(s); {
		if s[j] != '`' {
			j++
			continue
		}
		m := run(s, j, '`')
		if m == n {
			return j
		}
		j += m
	}
	return -1
}

// run is the length of the run of c starting at s[i].
func run(s string, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

func longestRun(s string, c byte) int {
	longest := 0
	for i := 0; i < len(s); {
		if s[i] != c {
			i++
			continue
		}
		n := run(s, i, c)
		longest = max(longest, n)
		i += n
	}
	return longest
}
