package github

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
)

// TeamMember answers who may promote through promoters.teams: only an
// active membership counts.
func TestTeamMember(t *testing.T) {
	perms := githubapi.DefaultPermissions()
	perms["members"] = "read"
	f := newFixtureOn(t, githubapi.Options{Permissions: perms})
	if err := f.srv.AddTeamMember(owner, "release-managers", "mia", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddTeamMember(owner, "release-managers", "max", githubapi.TeamMaintainer); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.InviteTeamMember(owner, "release-managers", "ivy", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddTeamMember("globex", "release-managers", "gus", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	f.srv.AddUser("rita")

	tests := []struct {
		name             string
		org, team, login string
		want             bool
	}{
		{name: "member", org: owner, team: "release-managers", login: "mia", want: true},
		{name: "maintainer", org: owner, team: "release-managers", login: "max", want: true},
		{name: "pending invitation", org: owner, team: "release-managers", login: "ivy", want: false},
		{name: "not in the team", org: owner, team: "release-managers", login: "rita", want: false},
		{name: "unknown login", org: owner, team: "release-managers", login: "nobody", want: false},
		{name: "unknown team", org: owner, team: "platform", login: "mia", want: false},
		{name: "another organization's team", org: "globex", team: "release-managers", login: "gus", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.inst.TeamMember(f.ctx, tt.org, tt.team, tt.login)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("member (-want +got):\n%s", diff)
			}
		})
	}
}

// Without the organization permission Members: read, GitHub refuses the
// read: an error the caller can name, not a silent "not a member".
func TestTeamMemberWithoutPermission(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.AddTeamMember(owner, "release-managers", "mia", githubapi.TeamMember); err != nil {
		t.Fatal(err)
	}
	_, err := f.inst.TeamMember(f.ctx, owner, "release-managers", "mia")
	var api *APIError
	if !errors.As(err, &api) || api.Status != 403 || Temporary(err) {
		t.Fatalf("error = %v, want a permanent 403 APIError", err)
	}
}
