package promoter

import (
	"context"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
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
// request's title and body before a new one is opened. Entries live where
// internal/state keeps them (state.PromotionPRs) and expire with the
// ledger. It is safe for concurrent use.
type memo struct {
	s *state.PromotionPRs[memoEntry]
}

// memoEntry is what is remembered of one promotion branch.
type memoEntry struct {
	PR      int   `json:"pr"`
	Comment int64 `json:"comment,omitempty"`
	// Base, Images and SourcePR are the pull request's base branch and
	// what it promotes (its body's promotion block), so that an update
	// needs no lookup. Entries written before they were kept lack them.
	Base     string           `json:"base,omitempty"`
	Images   []prbody.Image   `json:"images,omitempty"`
	Revision *prbody.Revision `json:"revision,omitempty"`
	SourcePR int              `json:"source_pr,omitempty"`
	// Commit is the commit promobot made on the branch: auto-merge merges
	// the pull request only while its head is this commit.
	Commit string `json:"commit,omitempty"`
}

// complete reports whether the entry says what its pull request promotes.
func (e memoEntry) complete() bool { return e.Base != "" && (len(e.Images) > 0 || e.Revision != nil) }

func openMemo(ctx context.Context, bus *events.Bus) (*memo, error) {
	s, err := state.OpenPromotionPRs[memoEntry](ctx, bus)
	if err != nil {
		return nil, err
	}
	return &memo{s: s}, nil
}

// get returns the entry of branch; ok is false when there is none (or it
// cannot be read: the caller then asks GitHub).
func (m *memo) get(ctx context.Context, repo Repo, branch string) (memoEntry, bool) {
	v, ok := m.s.Get(ctx, repo, branch)
	if !ok || v.PR == 0 {
		return memoEntry{}, false
	}
	return v, true
}

func (m *memo) put(ctx context.Context, repo Repo, branch string, v memoEntry) error {
	return m.s.Put(ctx, repo, branch, v)
}

func (m *memo) forget(ctx context.Context, repo Repo, branch string) error {
	return m.s.Forget(ctx, repo, branch)
}
