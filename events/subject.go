package events

import (
	"fmt"
	"strings"
)

// Subject prefixes of the two streams.
const (
	// GitHubPrefix is the first token of every subject carrying a GitHub
	// webhook delivery: github.<event>.<owner>.<repo>.
	GitHubPrefix = "github"
	// FactPrefix is the first token of every subject carrying one of
	// promobot's own facts: promobot.<kind>.<verb>.<owner>.<repo>.
	FactPrefix = "promobot"
	// noToken stands in for a token that has no value (an event without a
	// repository, say).
	noToken = "_"
)

// EscapeToken makes s usable as one NATS subject token. Characters NATS
// forbids or treats specially in a token ('.', '*', '>', whitespace), the
// escape character '%' itself and anything outside printable ASCII are
// percent-encoded, so distinct inputs stay distinct ("a.b" and "a%2Eb" differ).
// An empty string becomes "_".
func EscapeToken(s string) string {
	if s == "" {
		return noToken
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '*' || c == '>' || c == '%' || c <= ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// GitHubSubject is the subject a GitHub delivery is published on:
// github.<event>.<owner>.<repo>, each token escaped. Deliveries without a
// repository use "_" for the missing tokens.
func GitHubSubject(event, owner, repo string) string {
	return strings.Join([]string{GitHubPrefix, EscapeToken(event), EscapeToken(owner), EscapeToken(repo)}, ".")
}

// GitHubFilter is the subject filter matching deliveries of one event kind
// (for example "push") from every repository.
func GitHubFilter(event string) string {
	return GitHubPrefix + "." + EscapeToken(event) + ".>"
}

// FactSubject is the subject one of promobot's own facts is published on:
// promobot.<kind>.<verb>.<owner>.<repo>, for example
// promobot.apply.completed.acme.cluster-config.
func FactSubject(kind, verb, owner, repo string) string {
	return strings.Join([]string{FactPrefix, EscapeToken(kind), EscapeToken(verb), EscapeToken(owner), EscapeToken(repo)}, ".")
}

// FactType is the CloudEvent type of a promobot fact: dev.promobot.<kind>.<verb>.
func FactType(kind, verb string) string {
	return "dev.promobot." + kind + "." + verb
}
