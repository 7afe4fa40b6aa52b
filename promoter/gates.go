package promoter

import (
	"context"
	"fmt"
	"time"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
)

// applyRecord is what the gates read of the applier's record of the source
// app: what it last applied and how that went.
type applyRecord struct {
	Commit    string
	Seen      string
	AppliedAt time.Time
	State     string
	Healthy   bool
	Message   string
}

// gateEvidence is what the gates read besides the plan, loaded before they
// are checked: the source app's apply record, and whether what it applied
// is the promoted commit or descends from it.
type gateEvidence struct {
	// record is the source app's apply record; recorded says there is one
	// with a commit.
	record   applyRecord
	recorded bool
	// applied says the recorded commit is the promoted commit or descends
	// from it.
	applied bool
	// freeze is the /freeze holding the target environment, if frozen.
	freeze *state.Freeze
}

// sourceRecord reads the applier's record of the source app.
func (p *Promoter) sourceRecord(ctx context.Context, repo Repo, app string) (applyRecord, bool, error) {
	rec, ok, err := p.records.Get(ctx, repo, app)
	if err != nil || !ok {
		return applyRecord{}, false, err
	}
	return applyRecord{Commit: rec.Commit, Seen: rec.Seen, AppliedAt: rec.AppliedAt, State: rec.State,
		Healthy: rec.Healthy, Message: rec.Message}, true, nil
}

// gateEvidence reads what plan's gates need at now: nothing when a freeze
// holds it or no gate reads the source's apply; else the record and, when
// it names another commit than the promoted one, one comparison.
func (p *Promoter) gateEvidence(ctx context.Context, pr *promotion, plan Plan, now time.Time) (gateEvidence, error) {
	g := plan.Step.Gates
	if f, frozen, err := p.freezes.Frozen(ctx, pr.repo, plan.To()); err != nil {
		return gateEvidence{}, err
	} else if frozen {
		return gateEvidence{freeze: &f}, nil
	}
	if _, frozen := g.Frozen(now); frozen || (!g.RequiresHealthy() && g.Soak <= 0) {
		return gateEvidence{}, nil
	}
	rec, ok, err := p.sourceRecord(ctx, pr.repo, plan.Pair.From.Name)
	if err != nil {
		return gateEvidence{}, err
	}
	ev := gateEvidence{record: rec, recorded: ok && rec.Commit != ""}
	if !ev.recorded {
		return ev, nil
	}
	ev.applied = rec.Commit == pr.sourceCommit
	if !ev.applied {
		cmp, err := pr.gh.Compare(ctx, pr.repo, pr.sourceCommit, rec.Commit)
		if err != nil {
			return gateEvidence{}, err
		}
		// "ahead": what the source runs descends from the promoted commit.
		ev.applied = cmp.Status == "ahead" || cmp.Status == "identical"
	}
	return ev, nil
}

// checkGates checks plan's pipeline gates at now on the evidence and
// returns why the promotion of sourceCommit must wait, in Markdown, or ""
// when every gate passes:
//
//   - /freeze: no promotion into a frozen target;
//   - freeze windows: no promotion into the target while one is active;
//   - requireHealthy (default on): the source app applied the source
//     commit (or a commit descending from it) and is healthy, per the
//     applier's record;
//   - soak: the source app has run it for at least the soak time.
//
// It is pure: what it reads was loaded by gateEvidence.
func checkGates(plan Plan, sourceCommit string, ev gateEvidence, now time.Time) string {
	g := plan.Step.Gates
	if ev.freeze != nil {
		return fmt.Sprintf("`%s` is %s. `/unfreeze %s` lifts it.", plan.To(), mdText(ev.freeze.Describe()), plan.To())
	}
	if w, frozen := g.Frozen(now); frozen {
		return fmt.Sprintf("Promotions into `%s` are frozen now (%s).", plan.To(), mdText(w.String()))
	}
	if !g.RequiresHealthy() && g.Soak <= 0 {
		return ""
	}
	src, rec, commit := plan.Pair.From, ev.record, markdown.ShortSHA(sourceCommit)
	if !ev.recorded {
		return fmt.Sprintf("`%s` has not applied %s yet: promobot has no successful apply of `%s` on record. "+
			"Promote once it is applied and healthy.", plan.From(), commit, src.Name)
	}
	if !ev.applied {
		return fmt.Sprintf("`%s` has not applied %s yet (`%s` last applied %s). "+
			"Promote once it is applied and healthy.", plan.From(), commit, src.Name, markdown.ShortSHA(rec.Commit))
	}
	if g.RequiresHealthy() && !rec.Healthy {
		why := ""
		if rec.State == "failed" && rec.Message != "" {
			why = fmt.Sprintf(": its last apply (%s) failed: %s", markdown.ShortSHA(rec.Seen), mdText(markdown.Clip(rec.Message, 300)))
		}
		return fmt.Sprintf("`%s` is not healthy%s. Promote once `%s` is applied and healthy.", src.Name, why, plan.From())
	}
	if soak := g.Soak.D(); soak > 0 {
		ran := now.Sub(rec.AppliedAt)
		if ran < soak {
			ready := rec.AppliedAt.Add(soak).UTC().Format("2006-01-02 15:04 UTC")
			return fmt.Sprintf("`%s` must run %s for %s before it is promoted (it has run it for %s). Promote after %s.",
				plan.From(), commit, g.Soak, gitops.Duration(ran.Truncate(time.Minute)), ready)
		}
	}
	return ""
}
