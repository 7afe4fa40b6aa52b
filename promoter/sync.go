package promoter

import (
	"context"
	"fmt"

	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter/command"
)

// syncCommand runs /sync [app]: whoever may promote asks the applier,
// through a promobot.sync.requested fact, to apply the repository's apps
// (or one) again now, at the head of the default branch; the apps'
// commit statuses there tell how it went.
func (p *Promoter) syncCommand(ctx context.Context, run *commandRun, cmd command.Command) (answer, error) {
	if _, denied, err := p.admitAction(ctx, run, cmd.Verb, false); err != nil || denied != nil {
		return deref(denied), err
	}
	return withWorld(ctx, run.gh, run.repo, run.info, func(w *world) (answer, error) {
		if w.repo == nil {
			return refusal(replyConfig(run.line, w.err)), nil
		}
		if cmd.App != "" {
			res := command.Resolve(cmd, command.Known{Apps: w.repo.AppNames(), Environments: []string{}})
			if res.Kind != command.KindCommand {
				return refusal(res.Reply), nil
			}
			cmd = res.Command
		}
		f := state.SyncFact{App: cmd.App, By: run.login, PR: run.number, Summary: fmt.Sprintf("%s asked by @%s", cmd.String(), run.login)}
		if err := state.PublishSync(ctx, p.bus, run.repo, f); err != nil {
			return answer{}, err
		}
		what := "Every app"
		if cmd.App != "" {
			what = "`" + mdCode(cmd.App) + "`"
		}
		return answer{reactions: []string{ReactionDone}, reply: fmt.Sprintf("%s%s is applied again at the head of `%s` (%s); its `promobot/<app>` status there tells how it went.",
			quoteLine(run.line), what, mdCode(run.info.DefaultBranch), markdown.ShortSHA(w.head.SHA))}, nil
	})
}
