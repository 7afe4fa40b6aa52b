package promoter

import (
	"context"
	"fmt"
	"time"

	"github.com/promobot/promobot/internal/gitops"
)

// gate checks plan's pipeline gates and returns why the promotion must
// wait, in Markdown, or "" when every gate passes:
//
//   - freeze windows: no promotion into the target while one is active;
//   - requireHealthy (default on): the source app applied the source
//     commit (or a commit descending from it) and is healthy, per the
//     applier's record;
//   - soak: the source app has run it for at least the soak time.
//
// The error is for a record or comparison that could not be read.
func (p *Promoter) gate(ctx context.Context, pr *promotion, plan Plan) (string, error) {
	g := plan.Step.Gates
	now := p.opts.Now()
	if w, frozen := g.Frozen(now); frozen {
		return fmt.Sprintf("Promotions into `%s` are frozen now (%s).", plan.To(), mdText(w.String())), nil
	}
	if !g.RequiresHealthy() && g.Soak <= 0 {
		return "", nil
	}
	src := plan.Pair.From
	rec, ok, err := p.records.Get(ctx, pr.repo, src.Name)
	if err != nil {
		return "", err
	}
	commit := short(pr.sourceCommit)
	if !ok || rec.Commit == "" {
		return fmt.Sprintf("`%s` has not applied %s yet: promobot has no successful apply of `%s` on record. "+
			"Promote once it is applied and healthy.", plan.From(), commit, src.Name), nil
	}
	applied := rec.Commit == pr.sourceCommit
	if !applied {
		cmp, err := pr.gh.Compare(ctx, pr.repo, pr.sourceCommit, rec.Commit)
		if err != nil {
			return "", err
		}
		// "ahead": what the source runs descends from the promoted commit.
		applied = cmp.Status == "ahead" || cmp.Status == "identical"
	}
	if !applied {
		return fmt.Sprintf("`%s` has not applied %s yet (`%s` last applied %s). "+
			"Promote once it is applied and healthy.", plan.From(), commit, src.Name, short(rec.Commit)), nil
	}
	if g.RequiresHealthy() && !rec.Healthy {
		why := ""
		if rec.State == "failed" && rec.Message != "" {
			why = fmt.Sprintf(": its last apply (%s) failed: %s", short(rec.Seen), mdText(clip(rec.Message, 300)))
		}
		return fmt.Sprintf("`%s` is not healthy%s. Promote once `%s` is applied and healthy.", src.Name, why, plan.From()), nil
	}
	if soak := g.Soak.D(); soak > 0 {
		ran := now.Sub(rec.AppliedAt)
		if ran < soak {
			ready := rec.AppliedAt.Add(soak).UTC().Format("2006-01-02 15:04 UTC")
			return fmt.Sprintf("`%s` must run %s for %s before it is promoted (it has run it for %s). Promote after %s.",
				plan.From(), commit, g.Soak, gitops.Duration(ran.Truncate(time.Minute)), ready), nil
		}
	}
	return "", nil
}

// clip shortens s to n bytes at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
