package state

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

// FactVersion is the version of the fact shapes this package publishes.
// A reader accepts facts of its version and older (0: facts published
// before facts carried a version, which have the shape of version 1);
// a field is only ever added, so a newer fact still decodes, and the
// version tells the reader what it may lack.
const FactVersion = 1

// Apply fact verbs (promobot.apply.<verb>.<owner>.<repo>).
const (
	ApplyRequested = "requested"
	ApplyCompleted = "completed"
	ApplyFailed    = "failed"
	ApplySkipped   = "skipped"
)

// ApplyFact is the data of a promobot.apply.* fact: one app's apply, as
// the applier tells it.
type ApplyFact struct {
	Version     int    `json:"version"`
	Repo        string `json:"repo"`
	App         string `json:"app"`
	Environment string `json:"environment,omitempty"`
	Cluster     string `json:"cluster"`
	Path        string `json:"path,omitempty"`
	Commit      string `json:"commit"`
	// State is StateApplied, StateFailed, "skipped" or "unchanged".
	State string `json:"state"`
	// Summary is one line for people: "<app> <verb> <commit>: <detail>".
	Summary string `json:"summary"`
	Error   string `json:"error,omitempty"`
	// Changes is the apply's change set (applier/cluster.ChangeSet), as
	// the applier encoded it.
	Changes json.RawMessage `json:"changes"`
	Healthy bool            `json:"healthy"`
}

// ApplyFilter is the subject filter of every apply fact with verb (every
// repository).
func ApplyFilter(verb string) string {
	return events.FactPrefix + ".apply." + events.EscapeToken(verb) + ".>"
}

// FactPublisher stores a fact; events.Bus is one.
type FactPublisher interface {
	PublishFact(ctx context.Context, f events.Fact) (events.PubAck, error)
}

// PublishApply records f on the facts stream as promobot.apply.<verb> of
// repo, with the current FactVersion, from source (a component, e.g.
// "promobot/applier").
func PublishApply(ctx context.Context, pub FactPublisher, repo github.Repo, verb, source string, f ApplyFact) error {
	f.Version = FactVersion
	f.Repo = repo.String()
	_, err := pub.PublishFact(ctx, events.Fact{
		Kind: "apply", Verb: verb, Owner: repo.Owner, Repo: repo.Name,
		Source: source, Subject: f.App, Data: f,
	})
	if err != nil {
		return fmt.Errorf("%s %s apply fact %s publish: %w", repo, f.App, verb, err)
	}
	return nil
}

// DecodeApplyFact reads the data of a promobot.apply.* fact. A fact of a
// newer version than FactVersion is read as far as this version knows it.
func DecodeApplyFact(ev event.Event) (ApplyFact, error) {
	var f ApplyFact
	if err := json.Unmarshal(ev.Data(), &f); err != nil {
		return f, fmt.Errorf("apply fact %s decode: %w", ev.ID(), err)
	}
	return f, nil
}

// SyncFact is the data of a promobot.sync.requested fact: someone asked
// (/sync) for the apps of a repository to be applied again now.
type SyncFact struct {
	Version int    `json:"version"`
	Repo    string `json:"repo"`
	// App limits the sync to one app (its Application or base name); ""
	// syncs every app.
	App string `json:"app,omitempty"`
	// By is the login that asked, on pull request PR.
	By      string `json:"by"`
	PR      int    `json:"pr,omitempty"`
	Summary string `json:"summary"`
}

// SyncRequestedFilter is the subject filter of every sync request.
func SyncRequestedFilter() string { return events.FactPrefix + ".sync.requested.>" }

// PublishSync records a sync request for repo.
func PublishSync(ctx context.Context, pub FactPublisher, repo github.Repo, f SyncFact) error {
	f.Version, f.Repo = FactVersion, repo.String()
	_, err := pub.PublishFact(ctx, events.Fact{
		Kind: "sync", Verb: "requested", Owner: repo.Owner, Repo: repo.Name,
		Source: "promobot/promoter", Subject: f.App, Data: f,
	})
	if err != nil {
		return fmt.Errorf("%s sync request publish: %w", repo, err)
	}
	return nil
}

// DecodeSyncFact reads the data of a promobot.sync.requested fact.
func DecodeSyncFact(ev event.Event) (SyncFact, error) {
	var f SyncFact
	if err := json.Unmarshal(ev.Data(), &f); err != nil {
		return SyncFact{}, fmt.Errorf("sync fact %s decode: %w", ev.ID(), err)
	}
	return f, nil
}
