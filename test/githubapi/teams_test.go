package githubapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// Team membership as an installation reads it: active and pending members
// with their role, 404 for anyone else, for unknown teams and for another
// organization's teams, 403 without the organization permission members.
func TestTeamMembership(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Permissions = DefaultPermissions()
		o.Permissions["members"] = "read"
	})
	for _, m := range []struct {
		org, team, login string
		role             TeamRole
		invite           bool
	}{
		{testOwner, "release-managers", "alice", TeamMember, false},
		{testOwner, "Release-Managers", "bob", TeamMaintainer, false},
		{testOwner, "release-managers", "carol", TeamMember, true},
		{"globex", "ops", "alice", TeamMember, false},
	} {
		add := e.srv.AddTeamMember
		if m.invite {
			add = e.srv.InviteTeamMember
		}
		if err := add(m.org, m.team, m.login, m.role); err != nil {
			t.Fatal(err)
		}
	}
	narrow := must(e.app.Apps.CreateInstallationToken(e.ctx, e.instID, &gh.InstallationTokenOptions{
		Permissions: &gh.InstallationPermissions{Contents: gh.String("read")}})).ok(t)
	noMembers := e.tokenClient(narrow.GetToken())

	type got struct {
		Status      int
		State, Role string
	}
	tests := []struct {
		name        string
		client      *gh.Client
		org, team   string
		login       string
		want        got
		wantURLPart string
	}{
		{name: "active member", org: testOwner, team: "release-managers", login: "alice",
			want: got{200, "active", "member"}, wantURLPart: "/memberships/alice"},
		{name: "maintainer, names in any case", org: "ACME", team: "release-managers", login: "BOB",
			want: got{200, "active", "maintainer"}, wantURLPart: "/memberships/bob"},
		{name: "invited, not yet accepted", org: testOwner, team: "release-managers", login: "carol",
			want: got{200, "pending", "member"}, wantURLPart: "/memberships/carol"},
		{name: "not in the team", org: testOwner, team: "release-managers", login: "mallory", want: got{Status: 404}},
		{name: "unknown team", org: testOwner, team: "nope", login: "alice", want: got{Status: 404}},
		{name: "another organization's team", org: "globex", team: "ops", login: "alice", want: got{Status: 404}},
		{name: "token without members permission", client: noMembers, org: testOwner, team: "release-managers", login: "alice",
			want: got{Status: 403}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			if c == nil {
				c = e.inst
			}
			m, resp, err := c.Teams.GetTeamMembershipBySlug(e.ctx, tt.org, tt.team, tt.login)
			g := got{Status: statusOf(err)}
			if err == nil {
				g = got{Status: resp.StatusCode, State: m.GetState(), Role: m.GetRole()}
			} else if g.Status == 0 {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("membership (-want +got):\n%s", diff)
			}
			if tt.wantURLPart != "" && !strings.Contains(m.GetURL(), tt.wantURLPart) {
				t.Errorf("url = %q, want it to contain %q", m.GetURL(), tt.wantURLPart)
			}
		})
	}

	// Users have no teams; roles are GitHub's.
	e.srv.AddUser("dave")
	if err := e.srv.AddTeamMember("dave", "friends", "alice", TeamMember); err == nil {
		t.Error("a team on a user account was accepted")
	}
	if err := e.srv.AddTeamMember(testOwner, "release-managers", "erin", "owner"); err == nil {
		t.Error("an unknown team role was accepted")
	}
}

// Contract: "Get team membership for a user"
// (docs.github.com/rest/teams/members#get-team-membership-for-a-user):
// "Team members will include the members of child teams." A member of a
// child team, at any depth, is an active member of every ancestor team (as
// member, whatever their role below); membership does not flow upwards or
// sideways, and a team moved out of a parent takes its members with it.
func TestTeamMembershipChildTeams(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Permissions = DefaultPermissions()
		o.Permissions["members"] = "read"
	})
	for _, tm := range []struct{ slug, parent string }{
		{"engineering", ""},
		{"platform", "engineering"},
		{"sre", "platform"},
		{"design", "engineering"},
		{"moved", "engineering"},
	} {
		if err := e.srv.AddTeam(testOwner, tm.slug, tm.parent); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		team, login string
		role        TeamRole
		invite      bool
	}{
		{"engineering", "erin", TeamMaintainer, false},
		{"platform", "pat", TeamMember, false},
		{"sre", "sam", TeamMaintainer, false},
		{"sre", "ivy", TeamMember, true},
		{"design", "dana", TeamMember, false},
		{"moved", "mo", TeamMember, false},
	} {
		add := e.srv.AddTeamMember
		if m.invite {
			add = e.srv.InviteTeamMember
		}
		if err := add(testOwner, m.team, m.login, m.role); err != nil {
			t.Fatal(err)
		}
	}
	// moved leaves engineering for the top level.
	if err := e.srv.AddTeam(testOwner, "moved", ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		team, login string
		want        string // status state role
	}{
		{"engineering", "erin", "200 active maintainer"},
		{"engineering", "pat", "200 active member"},
		{"engineering", "sam", "200 active member"},
		{"platform", "sam", "200 active member"},
		{"sre", "sam", "200 active maintainer"},
		{"engineering", "ivy", "200 pending member"},
		{"engineering", "dana", "200 active member"},
		{"platform", "erin", "404"},
		{"sre", "pat", "404"},
		{"platform", "dana", "404"},
		{"engineering", "mo", "404"},
		{"moved", "mo", "200 active member"},
	}
	for _, tt := range tests {
		t.Run(tt.team+"/"+tt.login, func(t *testing.T) {
			m, resp, err := e.inst.Teams.GetTeamMembershipBySlug(e.ctx, testOwner, tt.team, tt.login)
			got := strconv.Itoa(statusOf(err))
			if err == nil {
				got = strings.Join([]string{strconv.Itoa(resp.StatusCode), m.GetState(), m.GetRole()}, " ")
			} else if statusOf(err) == 0 {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("membership (-want +got):\n%s", diff)
			}
		})
	}

	// Nesting is a tree: no team under itself or its own child.
	for _, bad := range []struct{ slug, parent string }{{"engineering", "engineering"}, {"engineering", "sre"}, {"", "engineering"}, {"a/b", ""}} {
		if err := e.srv.AddTeam(testOwner, bad.slug, bad.parent); err == nil {
			t.Errorf("AddTeam(%q, %q) accepted", bad.slug, bad.parent)
		}
	}
	e.srv.AddUser("dave")
	if err := e.srv.AddTeam("dave", "friends", ""); err == nil {
		t.Error("a team on a user account was accepted")
	}
}
