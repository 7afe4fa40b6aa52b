package promoter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/promobot/promobot/events"
)

// appliedFact is the part of a promobot.apply.completed fact the promoter
// reads.
type appliedFact struct {
	Repo        string `json:"repo"`
	App         string `json:"app"`
	Environment string `json:"environment"`
	Commit      string `json:"commit"`
	State       string `json:"state"`
	Healthy     bool   `json:"healthy"`
}

// HandleApplied handles one promobot.apply.completed fact: when the app
// applied healthy is the source of a pipeline step with autoPromote, the
// promotion pull request for it is opened or updated (gates permitting)
// without a comment. It is idempotent.
func (p *Promoter) HandleApplied(ctx context.Context, d events.Delivery) error {
	var f appliedFact
	if err := json.Unmarshal(d.Event.Data(), &f); err != nil {
		return events.Permanent(fmt.Errorf("apply fact %s: decode: %w", d.Event.ID(), err))
	}
	if f.State != "applied" || !f.Healthy || f.Commit == "" {
		return nil
	}
	owner, name, ok := strings.Cut(f.Repo, "/")
	if !ok {
		return nil
	}
	repo := Repo{Owner: owner, Name: name}
	consumer := p.opts.Consumer + "-auto"
	log := p.log.With("event_id", d.Event.ID(), "repo", repo.String(), "app", f.App, "revision", short(f.Commit))
	done, err := p.ledger.Done(ctx, consumer, d.Event.ID())
	if err != nil || done {
		return err
	}
	ri, err := p.registry.Repo(ctx, owner, name)
	if errors.Is(err, events.ErrNotInstalled) {
		log.Debug("repository not installed, no auto-promotion")
		return nil
	}
	if err != nil {
		return err
	}
	gh, err := p.gh.GitHub(ctx, ri.InstallationID)
	if err != nil {
		return fmt.Errorf("%s: %w", repo, err)
	}
	if err := p.autoPromote(ctx, gh, repo, f, log); err != nil {
		if p.lastAttempt(d, err) {
			log.Error("auto-promotion failed", "error", err)
			p.publish(ctx, repo, "failed", f.App, factData{App: f.App, From: f.Environment, SourceCommit: f.Commit, Auto: true, Reason: err.Error()})
		}
		return err
	}
	return p.ledger.MarkDone(ctx, consumer, d.Event.ID(), f.Commit)
}

func (p *Promoter) autoPromote(ctx context.Context, gh GitHub, repo Repo, f appliedFact, log *slog.Logger) error {
	info, err := gh.Repository(ctx, repo)
	if err != nil {
		return err
	}
	w, err := loadWorld(ctx, gh, repo, info)
	if err != nil {
		return err
	}
	defer w.close()
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
				log: p.log.With("repo", repo.String(), "app", pair.Base, "env", s.To, "revision", short(f.Commit)),
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
