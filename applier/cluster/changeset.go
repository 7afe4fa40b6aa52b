package cluster

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/fluxcd/pkg/ssa"
)

// Action is what an apply did to one object: fluxcd/pkg/ssa's action, so
// the change set speaks the same words as the ssa manager it comes from.
type Action = ssa.Action

// The actions of a [ChangeSet].
const (
	// Created: the object did not exist and was created.
	Created = ssa.CreatedAction
	// Configured: the object existed and differed from the render; it was updated.
	Configured = ssa.ConfiguredAction
	// Unchanged: the object already matched the render; nothing was written.
	Unchanged = ssa.UnchangedAction
	// Deleted: the object was pruned, the render no longer has it.
	Deleted = ssa.DeletedAction
	// Skipped: the object was left alone; Change.Reason says why.
	Skipped = ssa.SkippedAction
)

// Change is the result for one object.
type Change struct {
	// Subject names the object as Kind/namespace/name (Kind/name when
	// cluster-scoped).
	Subject string `json:"subject"`
	// Object identifies the object.
	Object ObjectRef `json:"object"`
	// Action is what was done.
	Action Action `json:"action"`
	// Reason explains a Skipped change.
	Reason string `json:"reason,omitempty"`
}

// String formats the change as "Deployment/ns/api configured".
func (c Change) String() string {
	if c.Reason != "" {
		return fmt.Sprintf("%s %s (%s)", c.Subject, c.Action, c.Reason)
	}
	return fmt.Sprintf("%s %s", c.Subject, c.Action)
}

// ChangeSet is the result of one apply: a Change per object, in the order
// they were applied and then pruned.
type ChangeSet struct {
	Changes []Change `json:"changes"`
}

// Count returns how many changes have action a.
func (cs ChangeSet) Count(a Action) int {
	n := 0
	for _, c := range cs.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Summary sums the change set up in one line for a commit status or a log,
// e.g. "3 created, 1 configured, 10 unchanged, 1 pruned". Zero counts are
// left out; an empty change set is "no objects".
func (cs ChangeSet) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Configured, Unchanged, Deleted, Skipped} {
		if n := cs.Count(a); n > 0 {
			word := string(a)
			if a == Deleted {
				word = "pruned"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}

// Changed reports whether the apply wrote anything (created, configured or
// deleted an object).
func (cs ChangeSet) Changed() bool {
	return cs.Count(Created)+cs.Count(Configured)+cs.Count(Deleted) > 0
}

// String lists one change per line.
func (cs ChangeSet) String() string {
	lines := make([]string, len(cs.Changes))
	for i, c := range cs.Changes {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}

// LogValue logs the counts and the subjects that changed, not every
// unchanged object.
func (cs ChangeSet) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("summary", cs.Summary())}
	for _, a := range []Action{Created, Configured, Deleted, Skipped} {
		var subjects []string
		for _, c := range cs.Changes {
			if c.Action == a {
				subjects = append(subjects, c.Subject)
			}
		}
		if len(subjects) > 0 {
			attrs = append(attrs, slog.Any(string(a), subjects))
		}
	}
	return slog.GroupValue(attrs...)
}
