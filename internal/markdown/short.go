package markdown

// ShortSHA is the 7-character form of a commit SHA that GitHub shows (and
// links) in comments and titles; a shorter string is returned whole.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Clip shortens s to at most n characters (runes, not bytes), the last of
// which is "…" when s was cut: GitHub counts a status or deployment
// description's 140-character limit in characters. n must be positive.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
