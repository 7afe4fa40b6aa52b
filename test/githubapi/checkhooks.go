package githubapi

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The status and check_run webhooks, and the scripting that makes a
// person or a CI service report on a commit.

// maxStatusBranches is how many branches a status webhook lists
// (webhook-status: "The array includes a maximum of 10 branches").
const maxStatusBranches = 10

// statusEventJSON is a status webhook (webhook-status in GitHub's
// description).
type statusEventJSON struct {
	ID           int64               `json:"id"`
	SHA          string              `json:"sha"`
	Name         string              `json:"name"`
	AvatarURL    *string             `json:"avatar_url"`
	TargetURL    *string             `json:"target_url"`
	Context      string              `json:"context"`
	Description  *string             `json:"description"`
	State        string              `json:"state"`
	Commit       *commitJSON         `json:"commit"`
	Branches     []statusBranchJSON  `json:"branches"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
	Repository   *repoJSON           `json:"repository"`
	Sender       *userJSON           `json:"sender"`
	Organization *orgJSON            `json:"organization,omitempty"`
	Installation installationRefJSON `json:"installation"`
}

type statusBranchJSON struct {
	Name   string `json:"name"`
	Commit struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
	Protected bool `json:"protected"`
}

// addStatus records st and queues the status webhook GitHub sends for
// every created commit status. Called with s.mu held.
func (s *Server) addStatus(ctx context.Context, out *[]*delivery, r *repo, st *commitStatus) {
	r.statuses = append(r.statuses, st)
	if r.inst == nil || !s.subscribed("status") {
		return
	}
	c, err := r.git.readCommit(ctx, st.sha)
	if err != nil {
		s.log.Error("read commit for status webhook", "repo", r.fullName(), "sha", st.sha, "err", err)
		return
	}
	rest := s.statusJSON(r, st, false)
	ev := &statusEventJSON{
		ID: st.id, SHA: st.sha, Name: r.fullName(), AvatarURL: rest.AvatarURL, TargetURL: rest.TargetURL,
		Context: st.context, Description: rest.Description, State: st.state, Commit: s.commitJSON(r, c),
		Branches: []statusBranchJSON{}, CreatedAt: st.createdAt, UpdatedAt: st.updatedAt,
		Repository: s.repoJSON(r), Sender: s.userJSON(st.creator), Organization: s.orgJSON(r),
		Installation: installationRefJSON{ID: r.inst.id, NodeID: nodeID("IN", r.inst.id)},
	}
	refs, _ := r.git.refs(ctx, "refs/heads/")
	for _, rf := range refs {
		if rf[1] != st.sha || len(ev.Branches) == maxStatusBranches {
			continue
		}
		b := statusBranchJSON{Name: strings.TrimPrefix(rf[0], "refs/heads/")}
		b.Commit.SHA, b.Commit.URL = st.sha, s.api("/repos/%s/commits/%s", r.fullName(), st.sha)
		b.Protected = r.protections[b.Name] != nil
		ev.Branches = append(ev.Branches, b)
	}
	s.emit(out, r, "status", "", ev)
}

// SetStatus posts a commit status on sha as login (an existing account:
// a person, or a CI service's user), as POST .../statuses/{sha} does,
// sending the status webhook. state is error, failure, pending or
// success.
func (s *Server) SetStatus(ctx context.Context, owner, name, sha, context, state, login string) error {
	return s.locked(func(out *[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		if !statusStates[state] {
			return fmt.Errorf("%s/%s: set status %s: invalid state %q", owner, name, context, state)
		}
		who := s.accounts[strings.ToLower(login)]
		if who == nil {
			return fmt.Errorf("%s/%s: set status %s: account %s: %w", owner, name, context, login, ErrNotFound)
		}
		if t, err := r.git.objectType(ctx, sha); err != nil || t != "commit" {
			return fmt.Errorf("%s/%s: set status %s: commit %s: %w", owner, name, context, sha, ErrNotFound)
		}
		t := now()
		s.addStatus(ctx, out, r, &commitStatus{id: s.id(), sha: sha, state: state, context: context,
			creator: who, createdAt: t, updatedAt: t})
		return nil
	})
}
