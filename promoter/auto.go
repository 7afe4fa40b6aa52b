package promoter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
)

// appliedFact is the apply fact the promoter reads.
type appliedFact = state.ApplyFact

// HandleApplied handles one promobot.apply.completed fact: when the app
// applied healthy is the source of a pipeline step with autoPromote, the
// promotion pull request for it is opened or updated (gates permitting)
// without a comment. It returns the commit promoted from (what the ledger
// records under FactRoutes), or "" for a fact it leaves alone.
func (p *Promoter) HandleApplied(ctx context.Context, d events.Delivery) (string, error) {
	f, err := state.DecodeApplyFact(d.Event)
	if err != nil {
		return "", events.Permanent(err)
	}
	if f.State != state.StateApplied || !f.Healthy || f.Commit == "" {
		return "", nil
	}
	owner, name, ok := strings.Cut(f.Repo, "/")
	if !ok {
		return "", nil
	}
	repo := Repo{Owner: owner, Name: name}
	log := events.Logger(ctx).With("repo", repo.String(), "app", f.App, "revision", markdown.ShortSHA(f.Commit))
	ri, err := p.registry.Repo(ctx, owner, name)
	if errors.Is(err, state.ErrNotInstalled) {
		log.Debug("repository not installed, no auto-promotion")
		return "", nil
	}
	if err != nil {
		return "", err
	}
	gh, err := p.gh.GitHub(ctx, ri.InstallationID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	if err := p.autoPromote(ctx, gh, repo, f, log); err != nil {
		if p.lastAttempt(d, err) {
			log.Error("auto-promotion failed", "error", err)
			p.publish(ctx, repo, "failed", f.App, factData{App: f.App, From: f.Environment, SourceCommit: f.Commit, Auto: true, Reason: err.Error()})
		}
		return "", err
	}
	return f.Commit, nil
}

// autoPromote loads the repository's default branch and promotes what f
// applied.
func (p *Promoter) autoPromote(ctx context.Context, gh GitHub, repo Repo, f appliedFact, log *slog.Logger) error {
	info, err := gh.Repository(ctx, repo)
	if err != nil {
		return err
	}
	_, err = withWorld(ctx, gh, repo, info, func(w *world) (struct{}, error) {
		return struct{}{}, p.autoPromoteOn(ctx, gh, repo, info, w, f, log)
	})
	return err
}

// autoPromoteOn promotes what f applied into each next environment whose
// pipeline step has autoPromote, on the loaded world.
func (p *Promoter) autoPromoteOn(ctx context.Context, gh GitHub, repo Repo, info github.RepoInfo, w *world, f appliedFact, log *slog.Logger) error {
	if w.err != nil {
		return nil // the applier reports a broken configuration
	}
	for _, s := range w.steps {
		if !s.AutoPromote {
			continue
		}
		for _, pair := range s.Pairs {
			if pair.From.Name != f.App {
				continue
			}
			p.publish(ctx, repo, "requested", pair.Base, factData{App: pair.Base, From: s.From, To: s.To, SourceCommit: f.Commit, Auto: true})
			outs, err := p.promote(ctx, &promotion{
				gh: gh, repo: repo, info: info, world: w, sourceCommit: f.Commit, auto: true,
				command: "auto-promotion", sel: Selection{App: pair.From.Name, To: s.To},
				log: p.log.With("repo", repo.String(), "app", pair.Base, "env", s.To, "revision", markdown.ShortSHA(f.Commit)),
			})
			var nothing errNothing
			if errors.As(err, &nothing) {
				continue
			}
			if err != nil {
				return err
			}
			for _, o := range outs {
				log.Info("auto-promotion", "outcome", string(o.Kind), "env", s.To, "promotion_pr", o.PR.Number)
			}
		}
	}
	return nil
}
