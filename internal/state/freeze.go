package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

// AllEnvironments is the Env of a freeze of every environment of a
// repository (a /freeze that names none).
const AllEnvironments = "*"

// Freeze is an environment frozen with /freeze: nothing is applied to
// it and nothing is promoted into it until /unfreeze.
type Freeze struct {
	Repo string `json:"repo"`
	// Env is the environment frozen, or AllEnvironments.
	Env string `json:"env"`
	// By is the login that froze it, ByID its account id.
	By   string `json:"by"`
	ByID int64  `json:"by_id,omitempty"`
	// Reason is what they wrote after the command, as written.
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// PR is the pull request the command was commented on.
	PR int `json:"pr,omitempty"`
}

// Freezes keeps the frozen environments of every repository in the
// freezes bucket (events.BucketFreezes), keyed <owner>.<repo>.<env>. It is
// safe for concurrent use.
type Freezes struct {
	kv jetstream.KeyValue
}

// OpenFreezes opens the freezes bucket.
func OpenFreezes(ctx context.Context, bus *events.Bus) (*Freezes, error) {
	kv, err := bus.KeyValue(ctx, events.BucketFreezes)
	if err != nil {
		return nil, err
	}
	return &Freezes{kv: kv}, nil
}

func freezeKey(repo github.Repo, env string) string {
	return events.KVKey(repo.Owner, repo.Name, env)
}

// Set freezes f.Env of repo (replacing an earlier freeze of it).
func (s *Freezes) Set(ctx context.Context, repo github.Repo, f Freeze) error {
	f.Repo = repo.String()
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, freezeKey(repo, f.Env), raw); err != nil {
		return fmt.Errorf("%s freeze %s: %w", repo, f.Env, err)
	}
	return nil
}

// Lift unfreezes env of repo; it reports whether it was frozen.
func (s *Freezes) Lift(ctx context.Context, repo github.Repo, env string) (bool, error) {
	if _, ok, err := s.get(ctx, repo, env); err != nil || !ok {
		return false, err
	}
	if err := s.kv.Delete(ctx, freezeKey(repo, env)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, fmt.Errorf("%s unfreeze %s: %w", repo, env, err)
	}
	return true, nil
}

// Frozen returns the freeze that holds env of repo: its own, or a freeze
// of every environment.
func (s *Freezes) Frozen(ctx context.Context, repo github.Repo, env string) (Freeze, bool, error) {
	if env != "" {
		if f, ok, err := s.get(ctx, repo, env); err != nil || ok {
			return f, ok, err
		}
	}
	return s.get(ctx, repo, AllEnvironments)
}

func (s *Freezes) get(ctx context.Context, repo github.Repo, env string) (Freeze, bool, error) {
	e, err := s.kv.Get(ctx, freezeKey(repo, env))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Freeze{}, false, nil
	}
	if err != nil {
		return Freeze{}, false, fmt.Errorf("%s freeze of %s read: %w", repo, env, err)
	}
	var f Freeze
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return Freeze{}, false, fmt.Errorf("%s freeze of %s decode: %w", repo, env, err)
	}
	return f, true, nil
}

// Describe is the freeze for a status or a reply: "frozen by @alice
// (/freeze production): incident 42".
func (f Freeze) Describe() string {
	what := "/freeze"
	if f.Env != AllEnvironments {
		what += " " + f.Env
	}
	s := fmt.Sprintf("frozen by @%s (%s)", f.By, what)
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// FreezeFact is the data of a promobot.freeze.{set,lifted} fact.
type FreezeFact struct {
	// Version is FactVersion.
	Version int `json:"version"`
	Freeze
	// Summary is one line for people: "production frozen by @alice".
	Summary string `json:"summary"`
}
