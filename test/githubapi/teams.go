package githubapi

import (
	"fmt"
	"net/http"
	"strings"
)

// TeamRole is a member's role in a team, as GitHub names them.
type TeamRole string

// Team roles.
const (
	TeamMember     TeamRole = "member"
	TeamMaintainer TeamRole = "maintainer"
)

// team is an organization's team and its memberships.
type team struct {
	id      int64
	org     *account
	slug    string
	members map[string]*teamMembership // lower-cased login
	// parent is the team this one is nested under (nil: top level);
	// children are the teams nested under this one.
	parent   *team
	children []*team
}

// teamMembership is one user's place in a team. A pending membership is an
// invitation the user has not accepted yet.
type teamMembership struct {
	user    *account
	role    TeamRole
	pending bool
}

func teamKey(org, slug string) string { return strings.ToLower(org + "/" + slug) }

// AddTeamMember makes login (created when new) an active member of the
// team org/teamSlug, creating the organization and the team when new.
// Adding a member again sets their role. The organization must not be a
// user account: users have no teams.
func (s *Server) AddTeamMember(org, teamSlug, login string, role TeamRole) error {
	return s.setTeamMembership(org, teamSlug, login, role, false)
}

// InviteTeamMember invites login to the team org/teamSlug: until accepted
// the membership is pending, and GitHub reports its state as "pending".
func (s *Server) InviteTeamMember(org, teamSlug, login string, role TeamRole) error {
	return s.setTeamMembership(org, teamSlug, login, role, true)
}

// AddTeam creates the team org/slug nested under the team org/parent
// (created at the top level when new), or, with parent "", at the top
// level; the organization is created when new. For an existing team it
// moves the team under parent. As on GitHub, a team's members include
// the members of its child teams, at every depth; a team cannot be nested
// under itself or one of its children.
func (s *Server) AddTeam(org, slug, parent string) error {
	if slug == "" || strings.Contains(slug, "/") || strings.Contains(parent, "/") {
		return fmt.Errorf("team %s/%s: invalid team slug (parent %q)", org, slug, parent)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ensureTeam(org, slug)
	if err != nil {
		return err
	}
	var p *team
	if parent != "" {
		if p, err = s.ensureTeam(org, parent); err != nil {
			return err
		}
		for a := p; a != nil; a = a.parent {
			if a == t {
				return fmt.Errorf("team %s/%s: cannot be nested under %s, its own child", org, slug, parent)
			}
		}
	}
	if t.parent != nil {
		kept := t.parent.children[:0]
		for _, c := range t.parent.children {
			if c != t {
				kept = append(kept, c)
			}
		}
		t.parent.children = kept
	}
	t.parent = p
	if p != nil {
		p.children = append(p.children, t)
	}
	return nil
}

// ensureTeam returns the team org/slug, creating the organization and the
// team when new. Called with s.mu held.
func (s *Server) ensureTeam(org, slug string) (*team, error) {
	o := s.ensureAccount(org, "Organization")
	if o.kind != "Organization" {
		return nil, fmt.Errorf("team %s/%s: %s is a %s, not an organization", org, slug, org, o.kind)
	}
	t := s.teams[teamKey(org, slug)]
	if t == nil {
		t = &team{id: s.id(), org: o, slug: strings.ToLower(slug), members: map[string]*teamMembership{}}
		s.teams[teamKey(org, slug)] = t
	}
	return t, nil
}

func (s *Server) setTeamMembership(org, slug, login string, role TeamRole, pending bool) error {
	if role != TeamMember && role != TeamMaintainer {
		return fmt.Errorf("team %s/%s: invalid role %q for %s", org, slug, role, login)
	}
	if slug == "" || strings.Contains(slug, "/") {
		return fmt.Errorf("team %s/%s: invalid team slug", org, slug)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ensureTeam(org, slug)
	if err != nil {
		return err
	}
	u := s.ensureAccount(login, "User")
	t.members[strings.ToLower(u.login)] = &teamMembership{user: u, role: role, pending: pending}
	return nil
}

// teamMembershipJSON is GitHub's team-membership schema.
type teamMembershipJSON struct {
	URL   string `json:"url"`
	Role  string `json:"role"`
	State string `json:"state"`
}

// membership returns login's membership of t: their own, or else one
// through a child team at any depth ("Team members will include the
// members of child teams"), an active one before a pending one. Through a
// child team the role is member: maintaining a child team maintains only
// that team.
func (t *team) membership(login string) *teamMembership {
	if m := t.members[login]; m != nil {
		return m
	}
	var pending *teamMembership
	for _, c := range t.children {
		m := c.membership(login)
		if m == nil {
			continue
		}
		inherited := &teamMembership{user: m.user, role: TeamMember, pending: m.pending}
		if !m.pending {
			return inherited
		}
		pending = inherited
	}
	return pending
}

// getTeamMembership: GET /orgs/{org}/teams/{team_slug}/memberships/{username}.
// As on GitHub, an unknown team and a user who is not in it are both 404;
// a member of a child team is a member.
func (s *Server) getTeamMembership(c *call) (int, any) {
	t := s.teams[teamKey(c.param("org"), c.param("team_slug"))]
	if t == nil {
		return notFound()
	}
	m := t.membership(strings.ToLower(c.param("username")))
	if m == nil {
		return notFound()
	}
	state := "active"
	if m.pending {
		state = "pending"
	}
	return http.StatusOK, teamMembershipJSON{
		URL:  s.api("/organizations/%d/team/%d/memberships/%s", t.org.id, t.id, urlPathEscape(m.user.login)),
		Role: string(m.role), State: state,
	}
}

// authorizeOrg admits an installation token to an organization endpoint:
// the installation must be on {org} (GitHub hides other organizations'
// teams) and hold the route's organization permission.
func (s *Server) authorizeOrg(c *call) (int, any, bool) {
	if c.app {
		st, body := fail(http.StatusForbidden, "Resource not accessible by integration")
		return st, body, false
	}
	if c.tok == nil {
		st, body := fail(http.StatusUnauthorized, "Requires authentication")
		return st, body, false
	}
	if !strings.EqualFold(c.tok.inst.account.login, c.param("org")) {
		st, body := notFound()
		return st, body, false
	}
	for _, res := range c.route.perm.alts {
		if c.tok.allows(res, c.route.perm.level) {
			return 0, nil, true
		}
	}
	st, body := fail(http.StatusForbidden, "Resource not accessible by integration")
	return st, body, false
}
