package applier

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
)

// Record is what the applier knows of one app: its status (what it last
// applied and how that went) and the inventory of the objects it applied,
// decoded. It is the applier's view of the record internal/state keeps,
// which the promoter's gates read.
type Record struct {
	state.AppStatus
	Inventory cluster.Inventory `json:"inventory"`
}

// stored is the record as internal/state keeps it.
func (r Record) stored() (state.AppRecord, error) {
	inv, err := json.Marshal(r.Inventory)
	if err != nil {
		return state.AppRecord{}, fmt.Errorf("%s %s inventory encode: %w", r.Repo, r.App, err)
	}
	return state.AppRecord{AppStatus: r.AppStatus, Inventory: inv}, nil
}

// recordFromState decodes the record internal/state keeps.
func recordFromState(s state.AppRecord) (Record, error) {
	r := Record{AppStatus: s.AppStatus}
	if len(s.Inventory) > 0 {
		if err := json.Unmarshal(s.Inventory, &r.Inventory); err != nil {
			return Record{}, fmt.Errorf("%s %s inventory decode: %w", s.Repo, s.App, err)
		}
	}
	return r, nil
}

// Records reads and writes apps' records through internal/state. It is
// safe for concurrent use.
type Records struct {
	s *state.Records
}

// OpenRecords opens the apps' records.
func OpenRecords(ctx context.Context, bus *events.Bus) (*Records, error) {
	s, err := state.OpenRecords(ctx, bus)
	if err != nil {
		return nil, err
	}
	return &Records{s: s}, nil
}

// Get returns the app's record; ok is false when it has none yet.
func (r *Records) Get(ctx context.Context, repo Repo, app string) (rec Record, ok bool, err error) {
	s, ok, err := r.s.Get(ctx, repo, app)
	if err != nil || !ok {
		return Record{}, ok, err
	}
	rec, err = recordFromState(s)
	return rec, err == nil, err
}

// Put stores the app's record.
func (r *Records) Put(ctx context.Context, repo Repo, rec Record) error {
	s, err := rec.stored()
	if err != nil {
		return err
	}
	return r.s.Put(ctx, repo, s)
}

// List returns every record of repo. A record that cannot be read is left
// out.
func (r *Records) List(ctx context.Context, repo Repo) ([]Record, error) {
	all, err := r.s.List(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(all))
	for _, s := range all {
		if rec, err := recordFromState(s); err == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}
