package promoter

import "fmt"

// Planned is the plan of one pair a selection picked, or why that pair
// cannot be promoted.
type Planned struct {
	Plan Plan
	// Err says why the pair cannot be promoted (a source overlay without
	// images:, a kustomization promobot cannot read or edit); Plan then
	// holds only App, Step and Pair.
	Err error
}

// PlanPromotion is the planner: it plans sel on s, for each pair sel
// selects (in pipeline order) the target kustomization with the source
// overlay's images set. It reads the snapshot's two checkouts and nothing
// else: no GitHub, no bus, so a local checkout plans as a pull request
// does. The error wraps ErrNothingSelected when sel matches no pair.
func PlanPromotion(s Snapshot, sel Selection) ([]Planned, error) {
	steps, pairs, err := Select(s.Steps, sel, s.Source)
	if err != nil {
		return nil, err
	}
	out := make([]Planned, len(pairs))
	for i, pair := range pairs {
		pl := Planned{Plan: Plan{App: pair.Base, Step: steps[i], Pair: pair}}
		src, err := ReadSourceKustomization(s.Source, pair.From)
		if err == nil {
			pl.Plan, err = PlanPair(steps[i], pair, src, s.Target)
		}
		pl.Err = err
		out[i] = pl
	}
	return out, nil
}

// planRefusal is the Markdown reason a pair that cannot be planned gives.
func planRefusal(pl Planned) string {
	return fmt.Sprintf("`%s` cannot be promoted: %s", pl.Plan.App, mdText(pl.Err.Error()))
}
