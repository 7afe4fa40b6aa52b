package promoter

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/merge3"
)

// FileEdit is one file a promotion changes: its repository-relative,
// slash-separated path and its bytes before and after.
type FileEdit struct {
	Path          string
	Before, After []byte
}

// Edits are every file the plan changes: the target's kustomization (or
// Application manifest) first, then the files a fields promotion carries.
// Files the promotion leaves as they are are not listed.
func (p Plan) Edits() []FileEdit {
	var out []FileEdit
	if p.File != "" && string(p.Before) != string(p.After) {
		out = append(out, FileEdit{Path: p.File, Before: p.Before, After: p.After})
	}
	for _, e := range p.Carried {
		if string(e.Before) != string(e.After) {
			out = append(out, e)
		}
	}
	return out
}

// ConflictError is a fields promotion that cannot be carried: the target
// changed, on its own, lines the source's change touches.
type ConflictError struct {
	// Conflicts are the hunks, by file (repository-relative).
	Conflicts map[string][]merge3.Conflict
}

// conflictHead opens a ConflictError's message.
const conflictHead = "the target changed on its own what this change touches; carry these by hand:"

func (e *ConflictError) Error() string { return conflictHead + "\n" + e.hunks() }

// hunks lists the conflicts by file, each as a small diff.
func (e *ConflictError) hunks() string {
	files := make([]string, 0, len(e.Conflicts))
	for f := range e.Conflicts {
		files = append(files, f)
	}
	slices.Sort(files)
	var lines []string
	for _, f := range files {
		for _, c := range e.Conflicts[f] {
			lines = append(lines, fmt.Sprintf("%s, %s", f, c))
		}
	}
	return strings.Join(lines, "\n")
}

// PlanFields plans promoting pair of step by carrying the change the
// source overlay went through (its files in sourceBefore → sourceAfter,
// the checkouts of the commit promoted and of its parent) onto the
// target overlay in targetRoot, for what the step carries: kustomization
// fields (kustomize.CarryFields) and overlay files (merge3), each
// byte-preserving. A change that meets the target's own changes is a
// *ConflictError naming every hunk.
func PlanFields(step gitops.Step, pair gitops.Pair, sourceBefore, sourceAfter, targetRoot string) (Plan, error) {
	p := Plan{App: pair.Base, Step: step, Pair: pair, Strategy: gitops.StrategyFields}
	if sourceBefore == "" {
		return p, fmt.Errorf("%s: a fields promotion needs the source's parent commit, and none is given", pair.From.Name)
	}
	trees, err := openTrees(sourceBefore, sourceAfter, targetRoot)
	if err != nil {
		return p, err
	}
	defer trees.close()
	fields, files := step.CarriedFields()
	kBefore, err := readOptional(trees.before, pair.From, "")
	if err != nil {
		return p, err
	}
	_, kAfter, err := readKustomization(trees.after, pair.From)
	if err != nil {
		return p, err
	}
	if p.File, p.Before, err = readKustomization(trees.target, pair.To); err != nil {
		return p, err
	}
	conflicts := map[string][]merge3.Conflict{}
	carried, err := kustomize.CarryFields(kBefore, kAfter, p.Before, fields)
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.File, err)
	}
	p.After = carried.Kustomization
	if len(carried.Conflicts) > 0 {
		conflicts[p.File] = carried.Conflicts
	}
	for _, f := range append(carried.Files, files...) {
		e, cs, err := carryFile(trees, pair, f)
		if err != nil {
			return p, err
		}
		if len(cs) > 0 {
			conflicts[e.Path] = cs
		}
		if !slices.ContainsFunc(p.Carried, func(o FileEdit) bool { return o.Path == e.Path }) {
			p.Carried = append(p.Carried, e)
		}
	}
	if len(conflicts) > 0 {
		return p, &ConflictError{Conflicts: conflicts}
	}
	return p, nil
}

// carryFile carries the change of the overlay file rel (relative to the
// overlay) from the source overlay onto the target overlay.
func carryFile(trees *trees, pair gitops.Pair, rel string) (FileEdit, []merge3.Conflict, error) {
	if path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return FileEdit{}, nil, fmt.Errorf("%s: %q is not a file inside the overlay", pair.From.Name, rel)
	}
	before, err := readOptional(trees.before, pair.From, rel)
	if err != nil {
		return FileEdit{}, nil, err
	}
	after, err := readOptional(trees.after, pair.From, rel)
	if err != nil {
		return FileEdit{}, nil, err
	}
	e := FileEdit{Path: path.Join(pair.To.Path, rel)}
	if e.Before, err = readOptional(trees.target, pair.To, rel); err != nil {
		return FileEdit{}, nil, err
	}
	merged, cs := merge3.Merge(before, after, e.Before)
	e.After = merged
	return e, cs, nil
}

// readOptional reads rel in app's overlay of a checkout ("" for its
// kustomization), nil when it does not exist. A file that is a link out
// of the repository is an error.
func readOptional(repo *checkout.Repo, app gitops.App, rel string) ([]byte, error) {
	if rel == "" {
		_, raw, err := readKustomization(repo, app)
		if errors.Is(err, checkout.ErrOutsideRepository) {
			return nil, err
		}
		return raw, nil // none before: the overlay is new
	}
	raw, err := repo.ReadFile(path.Join(app.Path, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", app.Name, path.Join(app.Path, rel), err)
	}
	return raw, nil
}

// trees are the three checkouts a fields promotion reads.
type trees struct{ before, after, target *checkout.Repo }

func openTrees(before, after, target string) (*trees, error) {
	t := &trees{}
	var err error
	if t.before, err = checkout.Open(before); err != nil {
		return nil, err
	}
	if t.after, err = checkout.Open(after); err != nil {
		t.before.Close()
		return nil, err
	}
	if t.target, err = checkout.Open(target); err != nil {
		t.before.Close()
		t.after.Close()
		return nil, err
	}
	return t, nil
}

func (t *trees) close() {
	t.before.Close()
	t.after.Close()
	t.target.Close()
}
