package githubapi

import (
	"strings"
	"time"
)

// Permission is a repository role, as GitHub names them.
type Permission string

// Repository roles, lowest first.
const (
	PermissionNone     Permission = "none"
	PermissionRead     Permission = "read"
	PermissionTriage   Permission = "triage"
	PermissionWrite    Permission = "write"
	PermissionMaintain Permission = "maintain"
	PermissionAdmin    Permission = "admin"
)

// legacy maps a role to the coarse permission the collaborator permission
// endpoint reports in "permission" (admin, write, read or none).
func (p Permission) legacy() string {
	switch p {
	case PermissionAdmin:
		return "admin"
	case PermissionMaintain, PermissionWrite:
		return "write"
	case PermissionTriage, PermissionRead:
		return "read"
	}
	return "none"
}

func (p Permission) valid() bool {
	switch p {
	case PermissionNone, PermissionRead, PermissionTriage, PermissionWrite, PermissionMaintain, PermissionAdmin:
		return true
	}
	return false
}

// account is a user, organization or bot.
type account struct {
	login string
	id    int64
	kind  string // User, Organization, Bot
	email string
}

type label struct {
	id          int64
	name        string
	color       string
	description string
}

type reaction struct {
	id        int64
	user      *account
	content   string
	createdAt time.Time
}

type comment struct {
	id        int64
	repo      *repo
	number    int
	user      *account
	viaApp    bool
	body      string
	createdAt time.Time
	updatedAt time.Time
	reactions []*reaction
}

// pullData is what a pull request adds to an issue.
type pullData struct {
	id             int64
	head, base     string // branch names
	headSHA        string
	baseSHA        string
	draft          bool
	merged         bool
	mergedAt       *time.Time
	mergedBy       *account
	mergeCommitSHA string
	maintainerMod  bool
	// mergeableFor is the base and head pair whose mergeability has been
	// computed; until a read asks for the current pair, mergeable is null.
	mergeableFor string
	reviews      []*review // oldest first
}

// review is a submitted pull request review.
type review struct {
	id          int64
	user        *account
	state       string // APPROVED, CHANGES_REQUESTED, COMMENTED
	commitID    string
	submittedAt time.Time
}

// issue is an issue or, with pr set, a pull request (they share numbers).
type issue struct {
	id        int64
	number    int
	title     string
	body      string
	user      *account
	viaApp    bool
	state     string // open, closed
	labels    []*label
	createdAt time.Time
	updatedAt time.Time
	closedAt  *time.Time
	closedBy  *account
	pr        *pullData
	comments  []*comment
}

type commitStatus struct {
	id          int64
	sha         string
	state       string
	targetURL   string
	description string
	context     string
	creator     *account
	createdAt   time.Time
	updatedAt   time.Time
}

type checkRun struct {
	id          int64
	suiteID     int64
	name        string
	headSHA     string
	externalID  string
	detailsURL  string
	status      string
	conclusion  string
	startedAt   *time.Time
	completedAt *time.Time
	title       string
	summary     string
	text        string
	annotations []annotationReq
	createdAt   time.Time
	// ci is the App that created the run; nil for promobot's App.
	ci *ciApp
}

// ciApp is another GitHub App (a CI service) that reports check runs.
type ciApp struct {
	id   int64
	slug string
}

type deploymentStatus struct {
	id             int64
	state          string
	description    string
	environment    string
	targetURL      string
	logURL         string
	environmentURL string
	creator        *account
	createdAt      time.Time
}

type deployment struct {
	id          int64
	sha         string
	ref         string
	task        string
	payload     any
	environment string
	description string
	transient   bool
	production  bool
	creator     *account
	viaApp      bool
	createdAt   time.Time
	updatedAt   time.Time
	statuses    []*deploymentStatus // oldest first
}

// repo is one repository and everything GitHub keeps about it.
type repo struct {
	id            int64
	owner         *account
	name          string
	git           *gitRepo
	defaultBranch string
	createdAt     time.Time
	pushedAt      time.Time
	inst          *installation
	perms         map[string]Permission // login → role
	customRoles   map[string]string     // login → custom role name, based on perms[login]
	nextNumber    int
	issues        map[int]*issue
	labels        map[string]*label // lower-cased name → label
	statuses      []*commitStatus   // oldest first
	checkRuns     []*checkRun       // oldest first
	suites        map[string]int64  // head SHA → check suite id
	deployments   []*deployment     // oldest first

	// protections are the protected branches' rules, by branch name.
	protections map[string]*Protection
	// The merge methods refused (a new repository allows merge commits
	// and squash merges, not rebase merges).
	noMergeCommit, noSquash, allowRebase bool

	// tooLarge are the base and head commits whose compare answers 500
	// (TooLargeDiff).
	tooLarge map[[2]string]bool
}

func (r *repo) fullName() string { return r.owner.login + "/" + r.name }

// roleName returns the name of login's role: a custom role's name, else
// the role itself.
func (r *repo) roleName(login string) string {
	for l, name := range r.customRoles {
		if strings.EqualFold(l, login) {
			return name
		}
	}
	return string(r.role(login))
}

// role returns the permission login has on the repository (for a custom
// role, the role it is based on).
func (r *repo) role(login string) Permission {
	if strings.EqualFold(login, r.owner.login) {
		return PermissionAdmin
	}
	for l, p := range r.perms {
		if strings.EqualFold(l, login) {
			return p
		}
	}
	return PermissionNone
}

// installation is the App installed on an account for some repositories.
type installation struct {
	id          int64
	account     *account
	repos       []*repo
	permissions map[string]string
	events      []string
	createdAt   time.Time
	updatedAt   time.Time
}

func (in *installation) has(r *repo) bool {
	for _, x := range in.repos {
		if x == r {
			return true
		}
	}
	return false
}

// token is an installation access token.
type token struct {
	value       string
	inst        *installation
	expiresAt   time.Time
	permissions map[string]string
	repos       []*repo // nil: every repository of the installation
}

func (t *token) canSee(r *repo) bool {
	if !t.inst.has(r) {
		return false
	}
	if t.repos == nil {
		return true
	}
	for _, x := range t.repos {
		if x == r {
			return true
		}
	}
	return false
}

// allows reports whether the token grants resource at level (read < write).
func (t *token) allows(resource, level string) bool {
	have := t.permissions[resource]
	if resource == "metadata" && have == "" && len(t.permissions) > 0 {
		have = "read" // every installation token can read metadata
	}
	switch level {
	case "read":
		return have == "read" || have == "write" || have == "admin"
	case "write":
		return have == "write" || have == "admin"
	}
	return false
}

// archiveLink is a short-lived download URL for a tarball.
type archiveLink struct {
	repo      *repo
	sha       string
	expiresAt time.Time
}

// manifestCode is a pending App manifest conversion.
type manifestCode struct {
	manifest  map[string]any
	expiresAt time.Time
}
