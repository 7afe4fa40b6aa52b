package kustomize

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// ErrGlob is wrapped by every error about a glob pattern that does not
// compile.
var ErrGlob = errors.New("invalid glob pattern")

// MatchGlob reports whether name matches pattern as Argo CD matches a
// directory source's include and exclude patterns: github.com/gobwas/glob
// without separators, so '*' (and '**') match any run of characters,
// slashes included; '?' matches one character; '[abc]', '[a-z]', '[!abc]'
// and '[!a-z]' match one character of (or not of) a class; '{a,b}' matches
// any of its comma-separated alternatives, which may hold patterns and
// nest; '\' makes the next character literal. A pattern that does not
// compile is an error wrapping ErrGlob; Argo CD treats it as matching
// nothing.
//
// Matching is linear in the length of name (the pattern becomes a regular
// expression), so a hostile pattern cannot make it slow. MatchGlob is safe
// for concurrent use.
func MatchGlob(pattern, name string) (bool, error) {
	re, err := compileGlob(pattern)
	if err != nil {
		return false, err
	}
	return re.MatchString(name), nil
}

// maxGlob bounds the length of a pattern, so a hostile Application cannot
// make promobot compile something huge.
const maxGlob = 4096

var globCache sync.Map // pattern → *regexp.Regexp

func compileGlob(pattern string) (*regexp.Regexp, error) {
	if re, ok := globCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	if len(pattern) > maxGlob {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrGlob, maxGlob)
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rest, err := globTerms(&b, []rune(pattern), 0)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrGlob, pattern, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w %q: unexpected %q", ErrGlob, pattern, string(rest[0]))
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrGlob, pattern, err)
	}
	globCache.Store(pattern, re)
	return re, nil
}

// globTerms translates p into b until its end or, inside braces (depth >
// 0), until the ',' or '}' that ends an alternative, which it returns with
// the rest.
func globTerms(b *strings.Builder, p []rune, depth int) ([]rune, error) {
	for len(p) > 0 {
		c := p[0]
		switch {
		case c == '*':
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			b.WriteString(`.*`)
			continue
		case c == '?':
			b.WriteString(`.`)
		case c == '\\':
			if len(p) < 2 {
				return nil, errors.New("pattern ends with '\\'")
			}
			b.WriteString(regexp.QuoteMeta(string(p[1])))
			p = p[1:]
		case c == '[':
			rest, err := globClass(b, p[1:])
			if err != nil {
				return nil, err
			}
			p = rest
			continue
		case c == '{':
			rest, err := globAlternatives(b, p[1:], depth+1)
			if err != nil {
				return nil, err
			}
			p = rest
			continue
		case depth > 0 && (c == ',' || c == '}'):
			return p, nil
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
		p = p[1:]
	}
	return p, nil
}

// maxGlobDepth bounds the nesting of braces.
const maxGlobDepth = 32

// globAlternatives translates the alternatives after a '{' up to its '}'.
func globAlternatives(b *strings.Builder, p []rune, depth int) ([]rune, error) {
	if depth > maxGlobDepth {
		return nil, fmt.Errorf("braces nested deeper than %d", maxGlobDepth)
	}
	b.WriteString(`(?:`)
	for {
		rest, err := globTerms(b, p, depth)
		if err != nil {
			return nil, err
		}
		if len(rest) == 0 {
			return nil, errors.New("'{' is not closed")
		}
		if rest[0] == '}' {
			b.WriteString(`)`)
			return rest[1:], nil
		}
		b.WriteString(`|`)
		p = rest[1:]
	}
}

// globClass translates a character class after its '[': as gobwas/glob
// reads one, either a single range ("a-z", "!a-z") or a list of characters
// ("abc", "!abc", with '\' escapes), then ']'.
func globClass(b *strings.Builder, p []rune) ([]rune, error) {
	b.WriteString(`[`)
	if len(p) > 0 && p[0] == '!' {
		b.WriteString(`^`)
		p = p[1:]
	}
	if len(p) >= 3 && p[1] == '-' {
		lo, hi := p[0], p[2]
		if hi < lo {
			return nil, fmt.Errorf("range %c-%c is out of order", lo, hi)
		}
		if len(p) < 4 || p[3] != ']' {
			return nil, errors.New("a range must be followed by ']'")
		}
		b.WriteString(classRune(lo) + `-` + classRune(hi) + `]`)
		return p[4:], nil
	}
	n := 0
	for {
		if len(p) == 0 {
			return nil, errors.New("'[' is not closed")
		}
		c := p[0]
		if c == ']' {
			if n == 0 {
				return nil, errors.New("empty character class")
			}
			b.WriteString(`]`)
			return p[1:], nil
		}
		if c == '\\' {
			if len(p) < 2 {
				return nil, errors.New("pattern ends with '\\'")
			}
			c, p = p[1], p[1:]
		}
		b.WriteString(classRune(c))
		n++
		p = p[1:]
	}
}

// classRune writes r so that it stands for itself inside a regular
// expression's character class.
func classRune(r rune) string {
	return fmt.Sprintf(`\x{%x}`, r)
}
