package promoter

import (
	"errors"
	"fmt"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

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
		out[i] = planPair(s, steps[i], pair)
	}
	return out, nil
}

// planPair plans one pair with its step's strategy (gitops.Step.StrategyFor).
func planPair(s Snapshot, step gitops.Step, pair gitops.Pair) Planned {
	pl := Planned{Plan: Plan{App: pair.Base, Step: step, Pair: pair}}
	switch strategy := step.StrategyFor(pair, s.DefaultBranch); strategy {
	case gitops.StrategyRevision:
		pl.Plan, pl.Err = PlanRevision(step, pair, s.SourceCommit, s.Target)
	case gitops.StrategyFields:
		pl.Plan, pl.Err = PlanFields(step, pair, s.SourceBefore, s.Source, s.Target)
	case gitops.StrategyImages:
		if _, helm := helmSource(pair.To); helm {
			pl.Plan, pl.Err = PlanHelm(step, pair, s.Source, s.Target)
			break
		}
		src, err := ReadSourceKustomization(s.Source, pair.From)
		if err == nil {
			pl.Plan, err = PlanPair(step, pair, src, s.Target)
		}
		pl.Plan.Strategy, pl.Err = strategy, err
	default:
		pl.Err = fmt.Errorf("strategy %s is not carried out yet", strategy)
	}
	return pl
}

// planRefusal is the Markdown reason a pair that cannot be planned gives;
// a fields promotion's conflicts are shown as a diff of the hunks that
// need a person.
func planRefusal(pl Planned) string {
	var conflict *ConflictError
	if errors.As(pl.Err, &conflict) {
		hunks := conflict.hunks()
		fence := markdown.Fence(hunks)
		return fmt.Sprintf("`%s` cannot be promoted: %s\n\n%sdiff\n%s\n%s", pl.Plan.App, mdText(conflictHead), fence, hunks, fence)
	}
	return fmt.Sprintf("`%s` cannot be promoted: %s", pl.Plan.App, mdText(pl.Err.Error()))
}
