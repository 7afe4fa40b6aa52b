package promoter

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const teamConfig = "promoters:\n  teams: [my-org/release-managers]\n"

// A user with read permission who is an active member of a team listed
// under promoters.teams may promote; a reader outside it, and one invited
// to it who has not joined, are refused.
func TestTeamPromoters(t *testing.T) {
	perms := githubapi.DefaultPermissions()
	perms["members"] = "read"
	h := newHarness(t, harnessOptions{permissions: perms, files: map[string]string{".promobot.yaml": teamConfig}})
	for login, invited := range map[string]bool{"rose": false, "ivy": true} {
		if err := h.gh.AddCollaborator(owner, repoName, login, githubapi.PermissionRead); err != nil {
			t.Fatal(err)
		}
		add := h.gh.AddTeamMember
		if invited {
			add = h.gh.InviteTeamMember
		}
		if err := add(owner, "release-managers", login, githubapi.TeamMember); err != nil {
			t.Fatal(err)
		}
	}
	// A member of another team of the organization is no promoter either.
	if err := h.gh.AddTeamMember(owner, "developers", reader, githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()

	refusals := []struct {
		name   string
		login  string
		golden string
	}{
		{name: "reader in another team", login: reader, golden: "reply-refused-teams.md"},
		{name: "invited, not yet a member", login: "ivy", golden: "reply-refused-invited.md"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.replies(n))
			cmd := h.comment(n, tt.login, "/promote")
			if diff := cmp.Diff([]string{"eyes", "confused"}, h.reactions(cmd)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			replies := h.replies(n)[before:]
			if len(replies) != 1 {
				t.Fatalf("replies = %+v, want one refusal", replies)
			}
			kit.Golden(t, filepath.Join("testdata", tt.golden), replies[0].Body)
			if got := h.promotionPRs(); len(got) != 0 {
				t.Errorf("promotion pull requests opened: %+v", got)
			}
			branches, err := h.gh.Branches(h.ctx, owner, repoName)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := branches[promoBranch]; ok {
				t.Errorf("promotion branch %s created", promoBranch)
			}
		})
	}

	cmd := h.comment(n, "rose", "/promote")
	if diff := cmp.Diff([]string{"eyes", "rocket"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions on the team member's command (-want +got):\n%s", diff)
	}
	prs := h.promotionPRs()
	if len(prs) != 1 || prs[0].State != "open" || !strings.HasSuffix(prs[0].Title, "1.0.0 → 1.1.0") {
		t.Fatalf("promotion pull requests = %+v, want one promoting 1.1.0", prs)
	}
	if !strings.Contains(prs[0].Body, "Requested by @rose") {
		t.Errorf("promotion body does not name rose:\n%s", prs[0].Body)
	}
	var got []string
	for _, f := range h.facts() {
		got = append(got, f.Verb+" "+f.Data.RequestedBy)
	}
	want := []string{"requested reader", "refused reader", "requested ivy", "refused ivy", "requested rose", "opened rose"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
}

// Without the organization permission Members: read, promobot cannot tell
// who is in a team: a team member's command fails at once with a reply
// that names the missing permission, and nothing is promoted.
func TestTeamPromotersNeedMembersPermission(t *testing.T) {
	h := newHarness(t, harnessOptions{files: map[string]string{".promobot.yaml": teamConfig}})
	if err := h.gh.AddCollaborator(owner, repoName, "rose", githubapi.PermissionRead); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.AddTeamMember(owner, "release-managers", "rose", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()
	h.gh.ResetCalls()
	cmd := h.comment(n, "rose", "/promote")

	if diff := cmp.Diff([]string{"eyes", "confused"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	replies := h.replies(n)
	if len(replies) != 1 || !strings.Contains(replies[0].Body, "Members: read") || !strings.Contains(replies[0].Body, "my-org/release-managers") {
		t.Fatalf("replies = %+v, want one naming the team and the missing permission", replies)
	}
	// Failed once, not retried: asking again cannot help.
	if got := h.gh.Calls().ByRoute["GET /orgs/{org}/teams/{team_slug}/memberships/{username}"]; got != 1 {
		t.Errorf("team membership read %d times, want 1", got)
	}
	if got := h.promotionPRs(); len(got) != 0 {
		t.Errorf("promotion pull requests opened: %+v", got)
	}
}

// promoters.teams means what GitHub means by a team's members: they
// include the members of its child teams, so a reader in a team nested
// under a listed one may promote.
func TestTeamPromotersIncludeChildTeams(t *testing.T) {
	perms := githubapi.DefaultPermissions()
	perms["members"] = "read"
	h := newHarness(t, harnessOptions{permissions: perms, files: map[string]string{".promobot.yaml": teamConfig}})
	if err := h.gh.AddTeam(owner, "oncall", "release-managers"); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.AddTeam(owner, "oncall-eu", "oncall"); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.AddCollaborator(owner, repoName, "otto", githubapi.PermissionRead); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.AddTeamMember(owner, "oncall-eu", "otto", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()

	cmd := h.comment(n, "otto", "/promote")
	if diff := cmp.Diff([]string{"eyes", "rocket"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions on the child team member's command (-want +got):\n%s", diff)
	}
	prs := h.promotionPRs()
	if len(prs) != 1 || prs[0].State != "open" || !strings.Contains(prs[0].Body, "Requested by @otto") {
		t.Fatalf("promotion pull requests = %+v, want one requested by otto", prs)
	}
}
