package promoter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/promoter/prbody"
)

// memo remembers, per promotion branch, the open promotion pull request
// promobot made, what it promotes and its sticky diff comment, so that a
// promotion finds them without listing pull requests or comments: a first
// promotion skips the lookup, an update moves the branch and edits the
// pull request and the comment directly. GitHub stays the truth: an entry
// is only a hint, corrected by the answers of the calls that follow (a
// deleted branch, a closed pull request, a deleted comment), and cleared
// when the pull request closes. An entry gone stale before its pull
// request's closed event is handled costs one edit of the closed pull
// request's title and body before a new one is opened. Entries live in the
// ledger bucket and expire with it. It is safe for concurrent use.
type memo struct {
	kv jetstream.KeyValue
}

// memoEntry is what is remembered of one promotion branch.
type memoEntry struct {
	PR      int   `json:"pr"`
	Comment int64 `json:"comment,omitempty"`
	// Base, Images and SourcePR are the pull request's base branch and
	// what it promotes (its body's promotion block), so that an update
	// needs no lookup. Entries written before they were kept lack them.
	Base     string         `json:"base,omitempty"`
	Images   []prbody.Image `json:"images,omitempty"`
	SourcePR int            `json:"source_pr,omitempty"`
}

// complete reports whether the entry says what its pull request promotes.
func (e memoEntry) complete() bool { return e.Base != "" && len(e.Images) > 0 }

func openMemo(ctx context.Context, bus *events.Bus) (*memo, error) {
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		return nil, err
	}
	return &memo{kv: kv}, nil
}

func memoKey(repo Repo, branch string) string {
	return events.KVKey("promoter-pr", repo.Owner, repo.Name, branch)
}

// get returns the entry of branch; ok is false when there is none (or it
// cannot be read: the caller then asks GitHub).
func (m *memo) get(ctx context.Context, repo Repo, branch string) (memoEntry, bool) {
	e, err := m.kv.Get(ctx, memoKey(repo, branch))
	if err != nil {
		return memoEntry{}, false
	}
	var v memoEntry
	if json.Unmarshal(e.Value(), &v) != nil || v.PR == 0 {
		return memoEntry{}, false
	}
	return v, true
}

func (m *memo) put(ctx context.Context, repo Repo, branch string, v memoEntry) error {
	raw, _ := json.Marshal(v)
	if _, err := m.kv.Put(ctx, memoKey(repo, branch), raw); err != nil {
		return fmt.Errorf("%s %s: remember pull request: %w", repo, branch, err)
	}
	return nil
}

func (m *memo) forget(ctx context.Context, repo Repo, branch string) error {
	if err := m.kv.Delete(ctx, memoKey(repo, branch)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s %s: forget pull request: %w", repo, branch, err)
	}
	return nil
}
