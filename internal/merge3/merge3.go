// Package merge3 carries a change made to one file onto another: the
// change from base to theirs (a source environment's file before and after
// a pull request) is applied, line by line, to ours (the target
// environment's file), as a three-way merge does. Every line of ours the
// change does not touch stays byte for byte; a change that meets lines
// ours has changed on its own is not guessed at but reported as a
// Conflict naming the lines a person must look at.
package merge3

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Conflict is one change of base → theirs that cannot be carried onto
// ours, because ours differs from base on or next to the lines it changes.
type Conflict struct {
	// BaseStart and BaseEnd are the 1-based lines of base the change
	// replaces (BaseEnd < BaseStart when it only inserts, after BaseEnd);
	// TheirsStart and TheirsEnd those of theirs it puts in their place.
	BaseStart, BaseEnd, TheirsStart, TheirsEnd int
	// Removed and Added are the change's lines, without line ends.
	Removed, Added []string
}

// String describes the conflict for a person: the change as a small diff.
func (c Conflict) String() string {
	var b strings.Builder
	if c.BaseEnd < c.BaseStart {
		fmt.Fprintf(&b, "lines added after line %d", c.BaseEnd)
	} else if c.BaseStart == c.BaseEnd {
		fmt.Fprintf(&b, "line %d", c.BaseStart)
	} else {
		fmt.Fprintf(&b, "lines %d-%d", c.BaseStart, c.BaseEnd)
	}
	for _, l := range c.Removed {
		b.WriteString("\n-" + l)
	}
	for _, l := range c.Added {
		b.WriteString("\n+" + l)
	}
	return b.String()
}

// Hunk is one change of base → theirs: base's lines [BaseStart, BaseEnd)
// become theirs' lines [TheirsStart, TheirsEnd) (0-based).
type Hunk struct {
	BaseStart, BaseEnd, TheirsStart, TheirsEnd int
}

// Verdict is what a Filter says of a hunk.
type Verdict int

const (
	// Carry the hunk.
	Carry Verdict = iota
	// Skip leaves the hunk out: it is not part of what is carried.
	Skip
	// Refuse makes the hunk a conflict (it mixes carried and other lines).
	Refuse
)

// Filter chooses which hunks of base → theirs are carried.
type Filter func(Hunk) Verdict

// Merge applies the change base → theirs to ours. It returns the merged
// content, or ours unchanged and the conflicts when any change cannot be
// carried: a merge is whole or not at all. When ours already is theirs,
// or base and theirs are equal, ours is returned as it is.
func Merge(base, theirs, ours []byte) ([]byte, []Conflict) {
	return MergeSome(base, theirs, ours, nil)
}

// MergeSome is Merge for the hunks filter carries (all when it is nil).
func MergeSome(base, theirs, ours []byte, filter Filter) ([]byte, []Conflict) {
	if bytes.Equal(base, theirs) || (filter == nil && bytes.Equal(ours, theirs)) {
		return ours, nil
	}
	b, t, o := lines(base), lines(theirs), lines(ours)
	at, atTheirs := align(keys(b), keys(o)), align(keys(t), keys(o))
	var edits []edit
	var conflicts []Conflict
	for _, op := range difflib.NewMatcherWithJunk(keys(b), keys(t), false, nil).GetOpCodes() {
		if op.Tag == 'e' {
			continue
		}
		verdict := Carry
		if filter != nil {
			verdict = filter(Hunk{BaseStart: op.I1, BaseEnd: op.I2, TheirsStart: op.J1, TheirsEnd: op.J2})
		}
		if verdict == Skip {
			continue
		}
		e, ok := place(op, at, len(o))
		if !ok && verdict == Carry && has(atTheirs, op.J1, op.J2) {
			continue // ours already has the change
		}
		if !ok || verdict == Refuse {
			conflicts = append(conflicts, Conflict{
				BaseStart: op.I1 + 1, BaseEnd: op.I2, TheirsStart: op.J1 + 1, TheirsEnd: op.J2,
				Removed: trimAll(b[op.I1:op.I2]), Added: trimAll(t[op.J1:op.J2]),
			})
			continue
		}
		e.text = t[op.J1:op.J2]
		edits = append(edits, e)
	}
	if len(conflicts) > 0 {
		return ours, conflicts
	}
	if len(edits) == 0 {
		return ours, nil
	}
	return apply(o, edits, lineEnd(ours)), nil
}

// edit replaces ours' lines [from, to) with text.
type edit struct {
	from, to int
	text     []string
}

// align maps each line of base to the line of ours it matched, or -1.
func align(base, ours []string) []int {
	at := make([]int, len(base))
	for i := range at {
		at[i] = -1
	}
	for _, m := range difflib.NewMatcherWithJunk(base, ours, false, nil).GetMatchingBlocks() {
		for k := 0; k < m.Size; k++ {
			at[m.A+k] = m.B + k
		}
	}
	return at
}

// has reports whether the lines [from, to) of theirs, at least one, are
// in ours in one run, between the same neighbours as in theirs.
func has(at []int, from, to int) bool {
	if to <= from {
		return false
	}
	for i := from; i < to; i++ {
		if at[i] < 0 || (i > from && at[i] != at[i-1]+1) {
			return false
		}
	}
	if from > 0 && at[from-1] != at[from]-1 {
		return false
	}
	return to == len(at) || at[to] == at[to-1]+1
}

// place finds where in ours the change op goes. The base lines it
// replaces must all be in ours, in one run: ours did not change them. An
// insertion goes between the base lines around it; when both are ours
// they must be neighbours there too, so that it is not placed among lines
// ours added; when only one is, it goes next to that one.
func place(op difflib.OpCode, at []int, oursLen int) (edit, bool) {
	if op.I2 > op.I1 {
		for i := op.I1; i < op.I2; i++ {
			if at[i] < 0 || (i > op.I1 && at[i] != at[i-1]+1) {
				return edit{}, false
			}
		}
		return edit{from: at[op.I1], to: at[op.I2-1] + 1}, true
	}
	hasPrev, hasNext := op.I1 > 0, op.I1 < len(at)
	var pos int
	switch {
	case !hasPrev && !hasNext: // base is empty
		if oursLen != 0 {
			return edit{}, false
		}
	case hasPrev && hasNext && at[op.I1-1] >= 0 && at[op.I1] >= 0:
		if at[op.I1] != at[op.I1-1]+1 {
			return edit{}, false // ours has lines of its own between them
		}
		pos = at[op.I1]
	case hasPrev && at[op.I1-1] >= 0:
		pos = at[op.I1-1] + 1 // the next line is not ours: after the previous
	case hasNext && at[op.I1] >= 0:
		pos = at[op.I1] // the previous line is not ours: before the next
	default: // neither neighbour is ours
		return edit{}, false
	}
	return edit{from: pos, to: pos}, true
}

// apply makes the edits (in order, not overlapping) on ours' lines. Every
// line but the last ends in a line end; added lines take ours'.
func apply(ours []string, edits []edit, nl string) []byte {
	var out []string
	next := 0
	for _, e := range edits {
		out = append(out, ours[next:e.from]...)
		for _, l := range e.text {
			out = append(out, withEnd(l, nl))
		}
		next = e.to
	}
	out = append(out, ours[next:]...)
	var b bytes.Buffer
	for i, l := range out {
		b.WriteString(l)
		if i < len(out)-1 && !strings.HasSuffix(l, "\n") {
			b.WriteString(nl)
		}
	}
	return b.Bytes()
}

// lines splits s after each newline, keeping the line ends; a last line
// without one is a line too.
func lines(s []byte) []string {
	if len(s) == 0 {
		return nil
	}
	parts := strings.SplitAfter(string(s), "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// keys returns the lines to compare: CRLF line ends read as LF, so that
// files differing only in line ends match line for line.
func keys(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		if strings.HasSuffix(l, "\r\n") {
			l = strings.TrimSuffix(l, "\r\n") + "\n"
		}
		out[i] = l
	}
	return out
}

// lineEnd returns ours' line end: "\r\n" when its first line has one.
func lineEnd(ours []byte) string {
	if i := bytes.IndexByte(ours, '\n'); i > 0 && ours[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// withEnd gives l the line end nl, unless l is a last line without one.
func withEnd(l, nl string) string {
	if !strings.HasSuffix(l, "\n") {
		return l
	}
	return strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r") + nl
}

func trimAll(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = strings.TrimRight(l, "\r\n")
	}
	return out
}
