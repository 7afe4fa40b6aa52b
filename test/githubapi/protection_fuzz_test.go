package githubapi

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzGateRefusal: whatever a branch's protection finds, a merge is
// refused exactly when mergeable_state would not let it through (not
// green, or behind), and the refusal is one of GitHub's sentences naming
// what it counts.
func FuzzGateRefusal(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), false, false)
	f.Add(uint8(1), uint8(0), uint8(0), false, false)
	f.Add(uint8(0), uint8(1), uint8(0), false, false)
	f.Add(uint8(2), uint8(1), uint8(0), false, false)
	f.Add(uint8(0), uint8(3), uint8(0), false, false)
	f.Add(uint8(0), uint8(0), uint8(2), false, false)
	f.Add(uint8(1), uint8(1), uint8(1), true, true)
	f.Fuzz(func(t *testing.T, expected, failing, approvals uint8, changes, behind bool) {
		g := gate{approvals: int(approvals), changesRequested: changes, behind: behind}
		for i := range int(expected) {
			g.expected = append(g.expected, fmt.Sprintf("ci/expected-%d", i))
		}
		for i := range int(failing) {
			g.failing = append(g.failing, fmt.Sprintf("ci/failing-%d", i))
		}
		g.required = append(append([]string{"ci/passed"}, g.expected...), g.failing...)
		msg := g.refusal()
		if allowed := g.green() && !g.behind; allowed != (msg == "") {
			t.Fatalf("gate %+v: refusal %q, but green %v behind %v", g, msg, g.green(), g.behind)
		}
		if msg == "" {
			return
		}
		if strings.Contains(msg, "%!") || !strings.HasSuffix(msg, ".") {
			t.Fatalf("gate %+v: malformed refusal %q", g, msg)
		}
		n := len(g.expected) + len(g.failing)
		if !behind && !changes && approvals == 0 && n > 1 && !strings.HasPrefix(msg, fmt.Sprintf("%d of %d required status checks", n, len(g.required))) {
			t.Fatalf("gate %+v: refusal %q does not count %d of %d", g, msg, n, len(g.required))
		}
	})
}
