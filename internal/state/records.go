package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

// Record states.
const (
	// StateApplied says the record's Seen commit applied.
	StateApplied = "applied"
	// StateFailed says the apply of the record's Seen commit failed.
	StateFailed = "failed"
)

// AppStatus is what promobot knows of one app's applies: what it last
// applied and how that went.
type AppStatus struct {
	Repo        string `json:"repo"`
	App         string `json:"app"`
	Environment string `json:"environment,omitempty"`
	Path        string `json:"path"`
	Server      string `json:"server"`
	Namespace   string `json:"namespace,omitempty"`
	// Commit is the last commit applied successfully; AppliedAt when.
	Commit    string    `json:"commit,omitempty"`
	AppliedAt time.Time `json:"applied_at,omitempty"`
	// Seen is the newest commit an apply was attempted for, successful or
	// not; pushes older than it are skipped.
	Seen string `json:"seen,omitempty"`
	// State is StateApplied or StateFailed (for Seen).
	State string `json:"state"`
	// Message explains a failure; Summary counts the last change set.
	Message string `json:"message,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Healthy says every object of Commit was Current after the apply.
	Healthy bool `json:"healthy"`
}

// AppRecord is the stored record of one app: its status and the objects
// it applied. The applier writes it; the promoter's gates read it.
type AppRecord struct {
	AppStatus
	// Inventory is the applier's inventory of the objects it applied
	// (applier/cluster.Inventory), kept as the applier encoded it.
	Inventory json.RawMessage `json:"inventory"`
}

// Records reads and writes apps' records in the apps bucket
// (events.BucketApps), keyed <owner>.<repo>.<app>. It is safe for
// concurrent use.
type Records struct {
	kv jetstream.KeyValue
}

// OpenRecords opens the apps bucket.
func OpenRecords(ctx context.Context, bus *events.Bus) (*Records, error) {
	kv, err := bus.KeyValue(ctx, events.BucketApps)
	if err != nil {
		return nil, err
	}
	return &Records{kv: kv}, nil
}

func recordKey(repo github.Repo, app string) string { return events.KVKey(repo.Owner, repo.Name, app) }

// Get returns the app's record; ok is false when it has none yet.
func (r *Records) Get(ctx context.Context, repo github.Repo, app string) (rec AppRecord, ok bool, err error) {
	e, err := r.kv.Get(ctx, recordKey(repo, app))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return AppRecord{}, false, nil
	}
	if err != nil {
		return AppRecord{}, false, fmt.Errorf("%s %s record read: %w", repo, app, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return AppRecord{}, false, fmt.Errorf("%s %s record decode: %w", repo, app, err)
	}
	return rec, true, nil
}

// Previous returns the newest earlier record of the app whose Commit is
// another than the current record's: what the app ran before its current
// commit (/rollback ... to previous). ok is false when the bucket's
// history (64 records per app) holds none.
func (r *Records) Previous(ctx context.Context, repo github.Repo, app string) (rec AppRecord, ok bool, err error) {
	cur, ok, err := r.Get(ctx, repo, app)
	if err != nil || !ok {
		return AppRecord{}, false, err
	}
	hist, err := r.kv.History(ctx, recordKey(repo, app))
	if err != nil {
		return AppRecord{}, false, fmt.Errorf("%s %s record history: %w", repo, app, err)
	}
	for i := len(hist) - 1; i >= 0; i-- {
		var old AppRecord
		if hist[i].Operation() != jetstream.KeyValuePut || json.Unmarshal(hist[i].Value(), &old) != nil {
			continue
		}
		if old.Commit != "" && old.Commit != cur.Commit {
			return old, true, nil
		}
	}
	return AppRecord{}, false, nil
}

// Put stores the app's record, replacing the one it had.
func (r *Records) Put(ctx context.Context, repo github.Repo, rec AppRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s %s record encode: %w", repo, rec.App, err)
	}
	if _, err := r.kv.Put(ctx, recordKey(repo, rec.App), raw); err != nil {
		return fmt.Errorf("%s %s record write: %w", repo, rec.App, err)
	}
	return nil
}

// List returns every record of repo. A record that cannot be read is left
// out.
func (r *Records) List(ctx context.Context, repo github.Repo) ([]AppRecord, error) {
	prefix := events.KVKey(repo.Owner, repo.Name) + "."
	lister, err := r.kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s records list: %w", repo, err)
	}
	var out []AppRecord
	for k := range lister.Keys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e, err := r.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec AppRecord
		if json.Unmarshal(e.Value(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}
