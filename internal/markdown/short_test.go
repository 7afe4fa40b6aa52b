package markdown

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShortSHA(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "full SHA", in: "4f1c2a9e8d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a", want: "4f1c2a9"},
		{name: "seven", in: "4f1c2a9", want: "4f1c2a9"},
		{name: "shorter", in: "main", want: "main"},
		{name: "empty", in: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ShortSHA(tc.in); got != tc.want {
				t.Errorf("ShortSHA(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "fits", in: "checkout: ok", n: 140, want: "checkout: ok"},
		{name: "exactly n", in: "abcde", n: 5, want: "abcde"},
		{name: "cut: n characters with the mark", in: "abcdef", n: 5, want: "abcd…"},
		{name: "n characters of several bytes fit", in: "ééééé", n: 5, want: "ééééé"},
		{name: "cut between characters, never inside one", in: "éééééé", n: 5, want: "éééé…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Clip(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > tc.n || !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q: %d characters, valid UTF-8 %v", tc.in, tc.n, got, n, utf8.ValidString(got))
			}
		})
	}
}

// FuzzClip: a clip is never longer than n characters, leaves s whole when
// it fits and, for valid UTF-8, is valid and a prefix of s (but for the
// mark).
func FuzzClip(f *testing.F) {
	f.Add("checkout: repository too large", 10)
	f.Add("ééééé", 5)
	f.Add("éééééé", 5)
	f.Add("a\xffb", 2)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 1<<12 {
			return
		}
		got := Clip(s, n)
		if utf8.RuneCountInString(s) <= n {
			if got != s {
				t.Fatalf("Clip(%q, %d) = %q, want it whole", s, n, got)
			}
			return
		}
		if c := utf8.RuneCountInString(got); c > n {
			t.Fatalf("Clip(%q, %d) = %q: %d characters", s, n, got, c)
		}
		if !utf8.ValidString(s) {
			return // its invalid bytes come back as U+FFFD
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Clip(%q, %d) = %q: not valid UTF-8", s, n, got)
		}
		if kept, ok := strings.CutSuffix(got, "…"); !ok || !strings.HasPrefix(s, kept) {
			t.Fatalf("Clip(%q, %d) = %q: not a prefix of s and the mark", s, n, got)
		}
	})
}
