package promoter

import (
	"context"
	"fmt"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter/command"
)

// ReactionDone acknowledges a command that took effect without a pull
// request (/freeze, /unfreeze).
const ReactionDone = "+1"

// freezeCommand runs /freeze and /unfreeze: only the repository's admins
// may stop or restart deployments. The environment is checked against the
// pipeline of the default branch; the freeze is stored on the bus, where
// the applier and the promoter read it, and told as a promobot.freeze.*
// fact.
func (p *Promoter) freezeCommand(ctx context.Context, run *commandRun, cmd command.Command) (answer, error) {
	if _, denied, err := p.admitAction(ctx, run, cmd.Verb, true); err != nil || denied != nil {
		return deref(denied), err
	}
	return withResolved(ctx, run, cmd, func(_ *world, cmd command.Command) (answer, error) {
		if cmd.Verb == command.VerbUnfreeze {
			return p.unfreeze(ctx, run, cmd)
		}
		return p.freeze(ctx, run, cmd)
	})
}

func (p *Promoter) freeze(ctx context.Context, run *commandRun, cmd command.Command) (answer, error) {
	f := state.Freeze{Env: frozenEnv(cmd.Env), By: run.login, ByID: run.userID, Reason: cmd.Reason, At: p.opts.Now().UTC(), PR: run.number}
	if err := p.freezes.Set(ctx, run.repo, f); err != nil {
		return answer{}, err
	}
	p.publishFreeze(ctx, run.repo, "set", f)
	return answer{reactions: []string{ReactionDone}, reply: fmt.Sprintf("%s%s is %s. Nothing is applied to it and nothing is promoted into it until `/unfreeze%s`.",
		quoteLine(run.line), envName(cmd.Env), mdText(f.Describe()), unfreezeArg(cmd.Env))}, nil
}

func (p *Promoter) unfreeze(ctx context.Context, run *commandRun, cmd command.Command) (answer, error) {
	lifted, err := p.freezes.Lift(ctx, run.repo, frozenEnv(cmd.Env))
	if err != nil {
		return answer{}, err
	}
	if !lifted {
		return refusal(fmt.Sprintf("%s%s is not frozen.", quoteLine(run.line), envName(cmd.Env))), nil
	}
	f := state.Freeze{Env: frozenEnv(cmd.Env), By: run.login, ByID: run.userID, At: p.opts.Now().UTC(), PR: run.number}
	p.publishFreeze(ctx, run.repo, "lifted", f)
	return answer{reactions: []string{ReactionDone}, reply: fmt.Sprintf("%s%s is unfrozen by @%s: the next push applies to it, and promotions into it go ahead.",
		quoteLine(run.line), envName(cmd.Env), mdText(run.login))}, nil
}

// publishFreeze tells a freeze set or lifted as a promobot.freeze.<verb>
// fact.
func (p *Promoter) publishFreeze(ctx context.Context, repo Repo, verb string, f state.Freeze) {
	f.Repo = repo.String()
	what := map[string]string{"set": "frozen", "lifted": "unfrozen"}[verb]
	data := state.FreezeFact{Version: state.FactVersion, Freeze: f, Summary: fmt.Sprintf("%s %s by @%s", f.Env, what, f.By)}
	if _, err := p.bus.PublishFact(context.WithoutCancel(ctx), events.Fact{
		Kind: "freeze", Verb: verb, Owner: repo.Owner, Repo: repo.Name,
		Source: "promobot/promoter", Subject: f.Env, Data: data,
	}); err != nil {
		p.log.Error("fact not published", "kind", "freeze", "verb", verb, "error", err)
	}
}

// frozenEnv is the key of a freeze of env ("" freezes every environment).
func frozenEnv(env string) string {
	if env == "" {
		return state.AllEnvironments
	}
	return env
}

func envName(env string) string {
	if env == "" {
		return "Every environment"
	}
	return "`" + mdCode(env) + "`"
}

func unfreezeArg(env string) string {
	if env == "" {
		return ""
	}
	return " " + mdCode(env)
}
