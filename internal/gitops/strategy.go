package gitops

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/kustomize"
)

// Pinned reports whether the app is pinned away from branch, the
// repository's default branch: its targetRevision names a tag, a commit or
// another branch, which Argo CD deploys instead of the branch's head. An
// empty targetRevision, HEAD and the branch itself follow the branch, and
// so does every app when no branch is known.
func (a App) Pinned(branch string) bool {
	switch a.TargetRevision {
	case "", "HEAD", branch, "refs/heads/" + branch:
		return false
	}
	return branch != ""
}

// StrategyFor is the strategy step promotes pair with: the step's own, or
// StrategyRevision when the target app is pinned away from branch, else
// StrategyImages.
func (s Step) StrategyFor(pair Pair, branch string) string {
	switch {
	case s.Strategy != "":
		return s.Strategy
	case pair.To.Pinned(branch):
		return StrategyRevision
	}
	return StrategyImages
}

// CarryFile is the prefix of a Carry entry naming an overlay file.
const CarryFile = "file/"

// CarriedFields returns the kustomization fields and the overlay files a
// fields promotion of the step carries.
func (s Step) CarriedFields() (fields []kustomize.Field, files []string) {
	for _, c := range s.Carry {
		if f, ok := strings.CutPrefix(c, CarryFile); ok {
			files = append(files, f)
			continue
		}
		if f, err := kustomize.ParseField(c); err == nil {
			fields = append(fields, f)
		}
	}
	return fields, files
}

// validateStrategy checks a step's strategy and what it carries.
func validateStrategy(add problemFunc, p string, s *PipelineStep) {
	if s.Strategy != "" && !slices.Contains(Strategies, s.Strategy) {
		add(p+".strategy", "%q is not a strategy (%s)", s.Strategy, strings.Join(Strategies, ", "))
	}
	if s.MergeMethod != "" && !slices.Contains(MergeMethods, s.MergeMethod) {
		add(p+".mergeMethod", "%q is not a merge method (%s)", s.MergeMethod, strings.Join(MergeMethods, ", "))
	}
	if s.MergeMethod != "" && !s.AutoMerge {
		add(p+".mergeMethod", "only autoMerge merges; set autoMerge: true or drop mergeMethod")
	}
	switch {
	case s.Strategy == StrategyFields && len(s.Carry) == 0:
		add(p+".carry", "strategy fields needs the fields and files it carries")
	case s.Strategy != StrategyFields && len(s.Carry) > 0:
		add(p+".carry", "only strategy fields carries fields and files")
	}
	for i, c := range s.Carry {
		q := fmt.Sprintf("%s.carry[%d]", p, i)
		if f, ok := strings.CutPrefix(c, CarryFile); ok {
			if f == "" || path.IsAbs(f) || path.Clean(f) != f || f == ".." || strings.HasPrefix(f, "../") {
				add(q, "%q is not a file inside the overlay", f)
			}
			continue
		}
		if _, err := kustomize.ParseField(c); err != nil {
			add(q, "%v, or file/<path>", err)
		}
	}
}
