package promoter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
)

// Who may promote is decided by what GitHub says of the account, never by a
// name a user can take: a custom repository role based on write may
// promote, one based on triage may not; a user listed under
// promoters.users is matched by account id, so they keep the right after
// renaming, and whoever registers the freed login does not get it.
func TestPromoterIdentity(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, r := range []struct {
		login, role string
		base        githubapi.Permission
	}{
		{login: "dee", role: "deployer", base: githubapi.PermissionWrite},
		{login: "tia", role: "auditor", base: githubapi.PermissionTriage},
	} {
		if err := h.gh.AddCollaboratorRole(owner, repoName, r.login, r.role, r.base); err != nil {
			t.Fatal(err)
		}
	}
	h.gh.AddUser("alice")
	config := fmt.Sprintf("promoters:\n  users:\n    - {login: alice, id: %d}\n", h.gh.UserID("alice"))
	if _, err := h.gh.Push(h.ctx, owner, repoName, "main", githubapi.Commit{Message: "Let alice promote", Author: maintainer,
		Files: map[string]string{".promobot.yaml": config}}); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.RenameUser("alice", "alice-renamed"); err != nil {
		t.Fatal(err)
	}
	h.gh.AddUser("alice") // someone else, with a new id
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()

	steps := []struct {
		name      string
		login     string
		reactions []string
		refusal   string // in the reply, when refused
	}{
		{name: "custom role based on triage", login: "tia", reactions: []string{"eyes", "confused"}, refusal: "your permission is `auditor`"},
		{name: "the new owner of a listed login", login: "alice", reactions: []string{"eyes", "confused"}, refusal: "your permission is `none`"},
		{name: "custom role based on write", login: "dee", reactions: []string{"eyes", "rocket"}},
		{name: "a listed user after renaming", login: "alice-renamed", reactions: []string{"eyes", "rocket"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := len(h.replies(n))
			cmd := h.comment(n, s.login, "/promote")
			if diff := cmp.Diff(s.reactions, h.reactions(cmd)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			replies := h.replies(n)[before:]
			if s.refusal == "" {
				return
			}
			if len(replies) != 1 || !strings.Contains(replies[0].Body, "@"+s.login+", you may not promote") || !strings.Contains(replies[0].Body, s.refusal) {
				t.Errorf("replies = %+v, want one refusal of @%s saying %q", replies, s.login, s.refusal)
			}
		})
	}
	var got []string
	for _, f := range h.facts() {
		got = append(got, f.Verb+" "+f.Data.RequestedBy)
	}
	want := []string{"requested tia", "refused tia", "requested alice", "refused alice", "requested dee", "opened dee", "requested alice-renamed", "unchanged alice-renamed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if prs := h.promotionPRs(); len(prs) != 1 {
		t.Errorf("promotion pull requests = %+v, want one", prs)
	}
}
