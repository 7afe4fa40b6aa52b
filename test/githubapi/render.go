package githubapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// The JSON shapes below follow GitHub's OpenAPI description field by field,
// including required fields that are null, which go-github's types (all
// omitempty) cannot express. Webhook payloads are go-github event types
// decoded from these same shapes (see webhooks.go).

func nodeID(kind string, id int64) string {
	return base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("0%s%d", kind, id)))
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type userJSON struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	UserViewType      string `json:"user_view_type"`
	SiteAdmin         bool   `json:"site_admin"`
}

func (s *Server) userJSON(a *account) *userJSON {
	if a == nil {
		return nil
	}
	u := s.api("/users/%s", a.login)
	if a.kind == "Organization" {
		u = s.api("/orgs/%s", a.login)
	}
	return &userJSON{
		Login: a.login, ID: a.id, NodeID: nodeID("U", a.id),
		AvatarURL:         s.web("/avatars/u/%d?v=4", a.id),
		URL:               u,
		HTMLURL:           s.web("/%s", a.login),
		FollowersURL:      s.api("/users/%s/followers", a.login),
		FollowingURL:      s.api("/users/%s/following{/other_user}", a.login),
		GistsURL:          s.api("/users/%s/gists{/gist_id}", a.login),
		StarredURL:        s.api("/users/%s/starred{/owner}{/repo}", a.login),
		SubscriptionsURL:  s.api("/users/%s/subscriptions", a.login),
		OrganizationsURL:  s.api("/users/%s/orgs", a.login),
		ReposURL:          s.api("/users/%s/repos", a.login),
		EventsURL:         s.api("/users/%s/events{/privacy}", a.login),
		ReceivedEventsURL: s.api("/users/%s/received_events", a.login),
		Type:              a.kind,
		UserViewType:      "public",
	}
}

type repoJSON struct {
	ID                       int64           `json:"id"`
	NodeID                   string          `json:"node_id"`
	Name                     string          `json:"name"`
	FullName                 string          `json:"full_name"`
	Private                  bool            `json:"private"`
	Owner                    *userJSON       `json:"owner"`
	HTMLURL                  string          `json:"html_url"`
	Description              *string         `json:"description"`
	Fork                     bool            `json:"fork"`
	URL                      string          `json:"url"`
	ArchiveURL               string          `json:"archive_url"`
	AssigneesURL             string          `json:"assignees_url"`
	BlobsURL                 string          `json:"blobs_url"`
	BranchesURL              string          `json:"branches_url"`
	CollaboratorsURL         string          `json:"collaborators_url"`
	CommentsURL              string          `json:"comments_url"`
	CommitsURL               string          `json:"commits_url"`
	CompareURL               string          `json:"compare_url"`
	ContentsURL              string          `json:"contents_url"`
	ContributorsURL          string          `json:"contributors_url"`
	DeploymentsURL           string          `json:"deployments_url"`
	DownloadsURL             string          `json:"downloads_url"`
	EventsURL                string          `json:"events_url"`
	ForksURL                 string          `json:"forks_url"`
	GitCommitsURL            string          `json:"git_commits_url"`
	GitRefsURL               string          `json:"git_refs_url"`
	GitTagsURL               string          `json:"git_tags_url"`
	GitURL                   string          `json:"git_url"`
	IssueCommentURL          string          `json:"issue_comment_url"`
	IssueEventsURL           string          `json:"issue_events_url"`
	IssuesURL                string          `json:"issues_url"`
	KeysURL                  string          `json:"keys_url"`
	LabelsURL                string          `json:"labels_url"`
	LanguagesURL             string          `json:"languages_url"`
	MergesURL                string          `json:"merges_url"`
	MilestonesURL            string          `json:"milestones_url"`
	NotificationsURL         string          `json:"notifications_url"`
	PullsURL                 string          `json:"pulls_url"`
	ReleasesURL              string          `json:"releases_url"`
	SSHURL                   string          `json:"ssh_url"`
	StargazersURL            string          `json:"stargazers_url"`
	StatusesURL              string          `json:"statuses_url"`
	SubscribersURL           string          `json:"subscribers_url"`
	SubscriptionURL          string          `json:"subscription_url"`
	TagsURL                  string          `json:"tags_url"`
	TeamsURL                 string          `json:"teams_url"`
	TreesURL                 string          `json:"trees_url"`
	CloneURL                 string          `json:"clone_url"`
	MirrorURL                *string         `json:"mirror_url"`
	HooksURL                 string          `json:"hooks_url"`
	SVNURL                   string          `json:"svn_url"`
	Homepage                 *string         `json:"homepage"`
	Language                 *string         `json:"language"`
	ForksCount               int             `json:"forks_count"`
	StargazersCount          int             `json:"stargazers_count"`
	WatchersCount            int             `json:"watchers_count"`
	Size                     int             `json:"size"`
	DefaultBranch            string          `json:"default_branch"`
	OpenIssuesCount          int             `json:"open_issues_count"`
	IsTemplate               bool            `json:"is_template"`
	Topics                   []string        `json:"topics"`
	HasIssues                bool            `json:"has_issues"`
	HasProjects              bool            `json:"has_projects"`
	HasWiki                  bool            `json:"has_wiki"`
	HasPages                 bool            `json:"has_pages"`
	HasDownloads             bool            `json:"has_downloads"`
	HasDiscussions           bool            `json:"has_discussions"`
	Archived                 bool            `json:"archived"`
	Disabled                 bool            `json:"disabled"`
	Visibility               string          `json:"visibility"`
	PushedAt                 time.Time       `json:"pushed_at"`
	CreatedAt                time.Time       `json:"created_at"`
	UpdatedAt                time.Time       `json:"updated_at"`
	Permissions              map[string]bool `json:"permissions,omitempty"`
	AllowRebaseMerge         bool            `json:"allow_rebase_merge"`
	AllowSquashMerge         bool            `json:"allow_squash_merge"`
	AllowMergeCommit         bool            `json:"allow_merge_commit"`
	AllowAutoMerge           bool            `json:"allow_auto_merge"`
	DeleteBranchOnMerge      bool            `json:"delete_branch_on_merge"`
	AllowForking             bool            `json:"allow_forking"`
	WebCommitSignoffRequired bool            `json:"web_commit_signoff_required"`
	License                  *struct{}       `json:"license"`
	Forks                    int             `json:"forks"`
	OpenIssues               int             `json:"open_issues"`
	Watchers                 int             `json:"watchers"`
	NetworkCount             int             `json:"network_count"`
	SubscribersCount         int             `json:"subscribers_count"`
}

func (s *Server) repoJSON(r *repo) *repoJSON {
	a := func(p string) string { return s.api("/repos/%s%s", r.fullName(), p) }
	open := 0
	for _, is := range r.issues {
		if is.state == "open" {
			open++
		}
	}
	return &repoJSON{
		ID: r.id, NodeID: nodeID("R", r.id), Name: r.name, FullName: r.fullName(), Private: true,
		Owner: s.userJSON(r.owner), HTMLURL: s.web("/%s", r.fullName()), URL: a(""),
		ArchiveURL: a("/{archive_format}{/ref}"), AssigneesURL: a("/assignees{/user}"),
		BlobsURL: a("/git/blobs{/sha}"), BranchesURL: a("/branches{/branch}"),
		CollaboratorsURL: a("/collaborators{/collaborator}"), CommentsURL: a("/comments{/number}"),
		CommitsURL: a("/commits{/sha}"), CompareURL: a("/compare/{base}...{head}"),
		ContentsURL: a("/contents/{+path}"), ContributorsURL: a("/contributors"),
		DeploymentsURL: a("/deployments"), DownloadsURL: a("/downloads"), EventsURL: a("/events"),
		ForksURL: a("/forks"), GitCommitsURL: a("/git/commits{/sha}"), GitRefsURL: a("/git/refs{/sha}"),
		GitTagsURL: a("/git/tags{/sha}"), GitURL: s.web("/%s.git", r.fullName()),
		IssueCommentURL: a("/issues/comments{/number}"), IssueEventsURL: a("/issues/events{/number}"),
		IssuesURL: a("/issues{/number}"), KeysURL: a("/keys{/key_id}"), LabelsURL: a("/labels{/name}"),
		LanguagesURL: a("/languages"), MergesURL: a("/merges"), MilestonesURL: a("/milestones{/number}"),
		NotificationsURL: a("/notifications{?since,all,participating}"), PullsURL: a("/pulls{/number}"),
		ReleasesURL: a("/releases{/id}"), SSHURL: "git@localhost:" + r.fullName() + ".git",
		StargazersURL: a("/stargazers"), StatusesURL: a("/statuses/{sha}"), SubscribersURL: a("/subscribers"),
		SubscriptionURL: a("/subscription"), TagsURL: a("/tags"), TeamsURL: a("/teams"),
		TreesURL: a("/git/trees{/sha}"), CloneURL: s.web("/%s.git", r.fullName()), HooksURL: a("/hooks"),
		SVNURL: s.web("/%s", r.fullName()), DefaultBranch: r.defaultBranch,
		OpenIssuesCount: open, OpenIssues: open, Topics: []string{},
		HasIssues: true, HasProjects: false, HasWiki: false, HasDownloads: true,
		Visibility: "private", PushedAt: r.pushedAt, CreatedAt: r.createdAt, UpdatedAt: r.pushedAt,
		AllowSquashMerge: !r.noSquash, AllowMergeCommit: !r.noMergeCommit, AllowRebaseMerge: r.allowRebase, AllowForking: true,
	}
}

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
}

func (s *Server) labelJSON(r *repo, l *label) labelJSON {
	return labelJSON{ID: l.id, NodeID: nodeID("LA", l.id), URL: s.api("/repos/%s/labels/%s", r.fullName(), pathEscape(l.name)),
		Name: l.name, Description: strPtr(l.description), Color: l.color}
}

func (s *Server) labelsJSON(r *repo, ls []*label) []labelJSON {
	out := []labelJSON{}
	for _, l := range ls {
		out = append(out, s.labelJSON(r, l))
	}
	return out
}

type appJSON struct {
	ID          int64             `json:"id"`
	Slug        string            `json:"slug"`
	NodeID      string            `json:"node_id"`
	ClientID    string            `json:"client_id"`
	Owner       *userJSON         `json:"owner"`
	Name        string            `json:"name"`
	Description *string           `json:"description"`
	ExternalURL string            `json:"external_url"`
	HTMLURL     string            `json:"html_url"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Permissions map[string]string `json:"permissions"`
	Events      []string          `json:"events"`
}

func (s *Server) appJSON() *appJSON {
	owner := s.ensureAccount("promobot", "Organization")
	return &appJSON{
		ID: s.opts.AppID, Slug: s.opts.AppSlug, NodeID: nodeID("A", s.opts.AppID),
		ClientID: "Iv1." + fmt.Sprintf("%016x", s.opts.AppID), Owner: s.userJSON(owner),
		Name: s.opts.AppSlug, ExternalURL: s.web("/"), HTMLURL: s.web("/apps/%s", s.opts.AppSlug),
		CreatedAt: s.appCreated, UpdatedAt: s.appCreated,
		Permissions: s.opts.Permissions, Events: s.opts.Events,
	}
}

type reactionRollup struct {
	URL        string `json:"url"`
	TotalCount int    `json:"total_count"`
	PlusOne    int    `json:"+1"`
	MinusOne   int    `json:"-1"`
	Laugh      int    `json:"laugh"`
	Confused   int    `json:"confused"`
	Heart      int    `json:"heart"`
	Hooray     int    `json:"hooray"`
	Eyes       int    `json:"eyes"`
	Rocket     int    `json:"rocket"`
}

type commentJSON struct {
	ID                int64          `json:"id"`
	NodeID            string         `json:"node_id"`
	URL               string         `json:"url"`
	HTMLURL           string         `json:"html_url"`
	Body              string         `json:"body"`
	User              *userJSON      `json:"user"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
	IssueURL          string         `json:"issue_url"`
	AuthorAssociation string         `json:"author_association"`
	PerformedViaApp   *appJSON       `json:"performed_via_github_app"`
	Reactions         reactionRollup `json:"reactions"`
}

func (s *Server) commentJSON(cm *comment) *commentJSON {
	r := cm.repo
	roll := reactionRollup{URL: s.api("/repos/%s/issues/comments/%d/reactions", r.fullName(), cm.id)}
	for _, re := range cm.reactions {
		roll.TotalCount++
		switch re.content {
		case "+1":
			roll.PlusOne++
		case "-1":
			roll.MinusOne++
		case "laugh":
			roll.Laugh++
		case "confused":
			roll.Confused++
		case "heart":
			roll.Heart++
		case "hooray":
			roll.Hooray++
		case "eyes":
			roll.Eyes++
		case "rocket":
			roll.Rocket++
		}
	}
	out := &commentJSON{
		ID: cm.id, NodeID: nodeID("IC", cm.id),
		URL:     s.api("/repos/%s/issues/comments/%d", r.fullName(), cm.id),
		HTMLURL: s.web("/%s/pull/%d#issuecomment-%d", r.fullName(), cm.number, cm.id),
		Body:    cm.body, User: s.userJSON(cm.user), CreatedAt: cm.createdAt, UpdatedAt: cm.updatedAt,
		IssueURL:          s.api("/repos/%s/issues/%d", r.fullName(), cm.number),
		AuthorAssociation: association(r, cm.user), Reactions: roll,
	}
	if cm.viaApp {
		out.PerformedViaApp = s.appJSON()
	}
	return out
}

func association(r *repo, a *account) string {
	if a == nil {
		return "NONE"
	}
	if strings.EqualFold(a.login, r.owner.login) {
		return "OWNER"
	}
	switch r.role(a.login) {
	case PermissionNone:
		return "NONE"
	case PermissionRead:
		return "CONTRIBUTOR"
	}
	return "COLLABORATOR"
}

type reactionJSON struct {
	ID        int64     `json:"id"`
	NodeID    string    `json:"node_id"`
	User      *userJSON `json:"user"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) reactionJSON(re *reaction) reactionJSON {
	return reactionJSON{ID: re.id, NodeID: nodeID("RE", re.id), User: s.userJSON(re.user), Content: re.content, CreatedAt: re.createdAt}
}

type link struct {
	Href string `json:"href"`
}

type branchRefJSON struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  *userJSON `json:"user"`
	Repo  *repoJSON `json:"repo"`
}

// pullJSON covers pull-request-simple (lists) and, with detail set,
// pull-request (single PR).
type pullJSON struct {
	URL                string          `json:"url"`
	ID                 int64           `json:"id"`
	NodeID             string          `json:"node_id"`
	HTMLURL            string          `json:"html_url"`
	DiffURL            string          `json:"diff_url"`
	PatchURL           string          `json:"patch_url"`
	IssueURL           string          `json:"issue_url"`
	CommitsURL         string          `json:"commits_url"`
	ReviewCommentsURL  string          `json:"review_comments_url"`
	ReviewCommentURL   string          `json:"review_comment_url"`
	CommentsURL        string          `json:"comments_url"`
	StatusesURL        string          `json:"statuses_url"`
	Number             int             `json:"number"`
	State              string          `json:"state"`
	Locked             bool            `json:"locked"`
	Title              string          `json:"title"`
	User               *userJSON       `json:"user"`
	Body               *string         `json:"body"`
	Labels             []labelJSON     `json:"labels"`
	Milestone          *struct{}       `json:"milestone"`
	ActiveLockReason   *string         `json:"active_lock_reason"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	ClosedAt           *time.Time      `json:"closed_at"`
	MergedAt           *time.Time      `json:"merged_at"`
	MergeCommitSHA     *string         `json:"merge_commit_sha"`
	Assignee           *userJSON       `json:"assignee"`
	Assignees          []*userJSON     `json:"assignees"`
	RequestedReviewers []*userJSON     `json:"requested_reviewers"`
	RequestedTeams     []struct{}      `json:"requested_teams"`
	Head               branchRefJSON   `json:"head"`
	Base               branchRefJSON   `json:"base"`
	Links              map[string]link `json:"_links"`
	AuthorAssociation  string          `json:"author_association"`
	AutoMerge          *struct{}       `json:"auto_merge"`
	Draft              bool            `json:"draft"`
	*pullDetailJSON                    // flattened; nil in lists
}

type pullDetailJSON struct {
	Merged              bool      `json:"merged"`
	Mergeable           *bool     `json:"mergeable"`
	Rebaseable          *bool     `json:"rebaseable"`
	MergeableState      string    `json:"mergeable_state"`
	MergedBy            *userJSON `json:"merged_by"`
	Comments            int       `json:"comments"`
	ReviewComments      int       `json:"review_comments"`
	MaintainerCanModify bool      `json:"maintainer_can_modify"`
	Commits             int       `json:"commits"`
	Additions           int       `json:"additions"`
	Deletions           int       `json:"deletions"`
	ChangedFiles        int       `json:"changed_files"`
}

func (s *Server) pullJSON(r *repo, is *issue, detail *pullDetailJSON) *pullJSON {
	pr := is.pr
	full := r.fullName()
	a := func(p string) string { return s.api("/repos/%s%s", full, p) }
	self := a(fmt.Sprintf("/pulls/%d", is.number))
	rj := s.repoJSON(r)
	out := &pullJSON{
		URL: self, ID: pr.id, NodeID: nodeID("PR", pr.id),
		HTMLURL:           s.web("/%s/pull/%d", full, is.number),
		DiffURL:           s.web("/%s/pull/%d.diff", full, is.number),
		PatchURL:          s.web("/%s/pull/%d.patch", full, is.number),
		IssueURL:          a(fmt.Sprintf("/issues/%d", is.number)),
		CommitsURL:        self + "/commits",
		ReviewCommentsURL: self + "/comments",
		ReviewCommentURL:  a("/pulls/comments{/number}"),
		CommentsURL:       a(fmt.Sprintf("/issues/%d/comments", is.number)),
		StatusesURL:       a("/statuses/" + pr.headSHA),
		Number:            is.number, State: is.state, Title: is.title, User: s.userJSON(is.user),
		Body: strPtr(is.body), Labels: s.labelsJSON(r, is.labels),
		CreatedAt: is.createdAt, UpdatedAt: is.updatedAt, ClosedAt: is.closedAt, MergedAt: pr.mergedAt,
		MergeCommitSHA: strPtr(pr.mergeCommitSHA), Assignees: []*userJSON{}, RequestedReviewers: []*userJSON{},
		RequestedTeams: []struct{}{},
		Head:           branchRefJSON{Label: r.owner.login + ":" + pr.head, Ref: pr.head, SHA: pr.headSHA, User: s.userJSON(r.owner), Repo: rj},
		Base:           branchRefJSON{Label: r.owner.login + ":" + pr.base, Ref: pr.base, SHA: pr.baseSHA, User: s.userJSON(r.owner), Repo: rj},
		Links: map[string]link{
			"self": {self}, "html": {s.web("/%s/pull/%d", full, is.number)},
			"issue": {a(fmt.Sprintf("/issues/%d", is.number))}, "comments": {a(fmt.Sprintf("/issues/%d/comments", is.number))},
			"review_comments": {self + "/comments"}, "review_comment": {a("/pulls/comments{/number}")},
			"commits": {self + "/commits"}, "statuses": {a("/statuses/" + pr.headSHA)},
		},
		AuthorAssociation: association(r, is.user), Draft: pr.draft,
		pullDetailJSON: detail,
	}
	return out
}

type issuePRLinks struct {
	URL      string     `json:"url"`
	HTMLURL  string     `json:"html_url"`
	DiffURL  string     `json:"diff_url"`
	PatchURL string     `json:"patch_url"`
	MergedAt *time.Time `json:"merged_at"`
}

type issueJSON struct {
	ID                int64          `json:"id"`
	NodeID            string         `json:"node_id"`
	URL               string         `json:"url"`
	RepositoryURL     string         `json:"repository_url"`
	LabelsURL         string         `json:"labels_url"`
	CommentsURL       string         `json:"comments_url"`
	EventsURL         string         `json:"events_url"`
	HTMLURL           string         `json:"html_url"`
	Number            int            `json:"number"`
	State             string         `json:"state"`
	Title             string         `json:"title"`
	Body              *string        `json:"body"`
	User              *userJSON      `json:"user"`
	Labels            []labelJSON    `json:"labels"`
	Assignee          *userJSON      `json:"assignee"`
	Assignees         []*userJSON    `json:"assignees"`
	Milestone         *struct{}      `json:"milestone"`
	Locked            bool           `json:"locked"`
	ActiveLockReason  *string        `json:"active_lock_reason"`
	Comments          int            `json:"comments"`
	PullRequest       *issuePRLinks  `json:"pull_request,omitempty"`
	ClosedAt          *time.Time     `json:"closed_at"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
	Draft             bool           `json:"draft"`
	ClosedBy          *userJSON      `json:"closed_by"`
	AuthorAssociation string         `json:"author_association"`
	StateReason       *string        `json:"state_reason"`
	Reactions         reactionRollup `json:"reactions"`
}

func (s *Server) issueJSON(r *repo, is *issue) *issueJSON {
	full := r.fullName()
	self := s.api("/repos/%s/issues/%d", full, is.number)
	out := &issueJSON{
		ID: is.id, NodeID: nodeID("I", is.id), URL: self, RepositoryURL: s.api("/repos/%s", full),
		LabelsURL: self + "/labels{/name}", CommentsURL: self + "/comments", EventsURL: self + "/events",
		HTMLURL: s.web("/%s/issues/%d", full, is.number), Number: is.number, State: is.state, Title: is.title,
		Body: strPtr(is.body), User: s.userJSON(is.user), Labels: s.labelsJSON(r, is.labels),
		Assignees: []*userJSON{}, Comments: len(is.comments), ClosedAt: is.closedAt,
		CreatedAt: is.createdAt, UpdatedAt: is.updatedAt, ClosedBy: s.userJSON(is.closedBy),
		AuthorAssociation: association(r, is.user),
		Reactions:         reactionRollup{URL: self + "/reactions"},
	}
	if is.pr != nil {
		out.HTMLURL = s.web("/%s/pull/%d", full, is.number)
		out.Draft = is.pr.draft
		out.PullRequest = &issuePRLinks{
			URL: s.api("/repos/%s/pulls/%d", full, is.number), HTMLURL: out.HTMLURL,
			DiffURL: out.HTMLURL + ".diff", PatchURL: out.HTMLURL + ".patch", MergedAt: is.pr.mergedAt,
		}
	}
	if is.state == "closed" {
		reason := "completed"
		out.StateReason = &reason
	}
	return out
}

type gitUserJSON struct {
	Name  string    `json:"name"`
	Email string    `json:"email"`
	Date  time.Time `json:"date"`
}

func gitUser(id identity) gitUserJSON {
	return gitUserJSON{Name: id.Name, Email: id.Email, Date: id.When.UTC()}
}

type shaURL struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url,omitempty"`
}

type verificationJSON struct {
	Verified   bool    `json:"verified"`
	Reason     string  `json:"reason"`
	Signature  *string `json:"signature"`
	Payload    *string `json:"payload"`
	VerifiedAt *string `json:"verified_at"`
}

var unsigned = verificationJSON{Reason: "unsigned"}

type gitCommitJSON struct {
	SHA          string           `json:"sha"`
	NodeID       string           `json:"node_id"`
	URL          string           `json:"url"`
	HTMLURL      string           `json:"html_url"`
	Author       gitUserJSON      `json:"author"`
	Committer    gitUserJSON      `json:"committer"`
	Message      string           `json:"message"`
	Tree         shaURL           `json:"tree"`
	Parents      []shaURL         `json:"parents"`
	Verification verificationJSON `json:"verification"`
}

func (s *Server) gitCommitJSON(r *repo, c *gitCommit) *gitCommitJSON {
	full := r.fullName()
	out := &gitCommitJSON{
		SHA: c.SHA, NodeID: nodeID("C", int64(len(c.SHA))) + c.SHA[:8],
		URL:     s.api("/repos/%s/git/commits/%s", full, c.SHA),
		HTMLURL: s.web("/%s/commit/%s", full, c.SHA),
		Author:  gitUser(c.Author), Committer: gitUser(c.Committer), Message: c.Message,
		Tree:         shaURL{SHA: c.Tree, URL: s.api("/repos/%s/git/trees/%s", full, c.Tree)},
		Parents:      []shaURL{},
		Verification: unsigned,
	}
	for _, p := range c.Parents {
		out.Parents = append(out.Parents, shaURL{SHA: p, URL: s.api("/repos/%s/git/commits/%s", full, p), HTMLURL: s.web("/%s/commit/%s", full, p)})
	}
	return out
}

type commitInnerJSON struct {
	URL          string           `json:"url"`
	Author       *gitUserJSON     `json:"author"`
	Committer    *gitUserJSON     `json:"committer"`
	Message      string           `json:"message"`
	CommentCount int              `json:"comment_count"`
	Tree         shaURL           `json:"tree"`
	Verification verificationJSON `json:"verification"`
}

type statsJSON struct {
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
	Total     int `json:"total"`
}

type diffEntryJSON struct {
	SHA              *string `json:"sha"`
	Filename         string  `json:"filename"`
	Status           string  `json:"status"`
	Additions        int     `json:"additions"`
	Deletions        int     `json:"deletions"`
	Changes          int     `json:"changes"`
	BlobURL          string  `json:"blob_url"`
	RawURL           string  `json:"raw_url"`
	ContentsURL      string  `json:"contents_url"`
	Patch            string  `json:"patch,omitempty"`
	PreviousFilename string  `json:"previous_filename,omitempty"`
}

// commitJSON is the "commit" schema of the commits and compare APIs.
type commitJSON struct {
	URL         string          `json:"url"`
	SHA         string          `json:"sha"`
	NodeID      string          `json:"node_id"`
	HTMLURL     string          `json:"html_url"`
	CommentsURL string          `json:"comments_url"`
	Commit      commitInnerJSON `json:"commit"`
	Author      *userJSON       `json:"author"`
	Committer   *userJSON       `json:"committer"`
	Parents     []shaURL        `json:"parents"`
	Stats       *statsJSON      `json:"stats,omitempty"`
	Files       []diffEntryJSON `json:"files,omitempty"`
}

func (s *Server) commitJSON(r *repo, c *gitCommit) *commitJSON {
	full := r.fullName()
	au, cu := gitUser(c.Author), gitUser(c.Committer)
	out := &commitJSON{
		URL: s.api("/repos/%s/commits/%s", full, c.SHA), SHA: c.SHA, NodeID: nodeID("C", 0) + c.SHA[:8],
		HTMLURL:     s.web("/%s/commit/%s", full, c.SHA),
		CommentsURL: s.api("/repos/%s/commits/%s/comments", full, c.SHA),
		Commit: commitInnerJSON{
			URL: s.api("/repos/%s/git/commits/%s", full, c.SHA), Author: &au, Committer: &cu, Message: c.Message,
			Tree:         shaURL{SHA: c.Tree, URL: s.api("/repos/%s/git/trees/%s", full, c.Tree)},
			Verification: unsigned,
		},
		Author:    s.userJSON(s.accountByEmail(c.Author.Email)),
		Committer: s.userJSON(s.accountByEmail(c.Committer.Email)),
		Parents:   []shaURL{},
	}
	for _, p := range c.Parents {
		out.Parents = append(out.Parents, shaURL{SHA: p, URL: s.api("/repos/%s/commits/%s", full, p), HTMLURL: s.web("/%s/commit/%s", full, p)})
	}
	return out
}

func (s *Server) accountByEmail(email string) *account {
	for _, a := range s.accounts {
		if strings.EqualFold(a.email, email) {
			return a
		}
	}
	return nil
}

func (s *Server) diffEntries(r *repo, ref string, changes []fileChange) []diffEntryJSON {
	full := r.fullName()
	out := []diffEntryJSON{}
	for _, ch := range changes {
		e := diffEntryJSON{
			Filename: ch.Path, Additions: ch.Additions, Deletions: ch.Deletions, Changes: ch.Additions + ch.Deletions,
			BlobURL:     s.web("/%s/blob/%s/%s", full, ref, pathEscape(ch.Path)),
			RawURL:      s.web("/%s/raw/%s/%s", full, ref, pathEscape(ch.Path)),
			ContentsURL: s.api("/repos/%s/contents/%s?ref=%s", full, pathEscape(ch.Path), ref),
			Patch:       ch.Patch,
		}
		sha := ch.NewSHA
		switch ch.Status {
		case "A":
			e.Status = "added"
		case "D":
			e.Status = "removed"
			sha = ch.OldSHA
		case "R":
			e.Status = "renamed"
			e.PreviousFilename = ch.OldPath
		case "C":
			e.Status = "copied"
			e.PreviousFilename = ch.OldPath
		case "T":
			e.Status = "changed"
		default:
			e.Status = "modified"
		}
		e.SHA = &sha
		out = append(out, e)
	}
	return out
}

func pathEscape(p string) string {
	parts := strings.Split(p, "/")
	for i, x := range parts {
		parts[i] = urlPathEscape(x)
	}
	return strings.Join(parts, "/")
}

type linksJSON struct {
	Self string  `json:"self"`
	Git  *string `json:"git"`
	HTML *string `json:"html"`
}

type contentJSON struct {
	Type        string    `json:"type"`
	Encoding    string    `json:"encoding,omitempty"`
	Size        int64     `json:"size"`
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Content     *string   `json:"content,omitempty"`
	SHA         string    `json:"sha"`
	URL         string    `json:"url"`
	GitURL      *string   `json:"git_url"`
	HTMLURL     *string   `json:"html_url"`
	DownloadURL *string   `json:"download_url"`
	Target      string    `json:"target,omitempty"`
	Links       linksJSON `json:"_links"`
}

func (s *Server) contentJSON(r *repo, ref string, e treeEntry, content []byte) *contentJSON {
	full := r.fullName()
	typ := "file"
	switch {
	case e.Type == "tree":
		typ = "dir"
	case e.Type == "commit":
		typ = "submodule"
	case e.Mode == "120000":
		typ = "symlink"
	}
	kind := "blob"
	if typ == "dir" {
		kind = "tree"
	}
	self := s.api("/repos/%s/contents/%s?ref=%s", full, pathEscape(e.Path), ref)
	gitURL := s.api("/repos/%s/git/%ss/%s", full, kind, e.SHA)
	htmlURL := s.web("/%s/%s/%s/%s", full, kind, ref, pathEscape(e.Path))
	size := e.Size
	if size < 0 {
		size = 0
	}
	out := &contentJSON{
		Type: typ, Size: size, Name: path.Base(e.Path), Path: e.Path, SHA: e.SHA, URL: self,
		GitURL: &gitURL, HTMLURL: &htmlURL, Links: linksJSON{Self: self, Git: &gitURL, HTML: &htmlURL},
	}
	if typ == "file" || typ == "symlink" {
		dl := s.web("/%s/raw/%s/%s", full, ref, pathEscape(e.Path))
		out.DownloadURL = &dl
	}
	if content != nil {
		if typ == "symlink" {
			out.Target = string(content)
		} else {
			out.Encoding = "base64"
			enc := wrap60(base64.StdEncoding.EncodeToString(content))
			if e.Size > 1<<20 {
				out.Encoding, enc = "none", ""
			}
			out.Content = &enc
		}
	}
	return out
}

// wrap60 breaks base64 into 60-character lines, as GitHub's contents API does.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

type refJSON struct {
	Ref    string `json:"ref"`
	NodeID string `json:"node_id"`
	URL    string `json:"url"`
	Object struct {
		Type string `json:"type"`
		SHA  string `json:"sha"`
		URL  string `json:"url"`
	} `json:"object"`
}

func (s *Server) refJSON(r *repo, name, sha, typ string) *refJSON {
	out := &refJSON{Ref: name, NodeID: nodeID("REF", r.id) + strings.ReplaceAll(name, "/", "_"),
		URL: s.api("/repos/%s/git/%s", r.fullName(), pathEscape(name))}
	out.Object.Type = typ
	out.Object.SHA = sha
	out.Object.URL = s.api("/repos/%s/git/%ss/%s", r.fullName(), typ, sha)
	return out
}

type statusJSON struct {
	URL         string    `json:"url"`
	AvatarURL   *string   `json:"avatar_url"`
	ID          int64     `json:"id"`
	NodeID      string    `json:"node_id"`
	State       string    `json:"state"`
	Description *string   `json:"description"`
	TargetURL   *string   `json:"target_url"`
	Context     string    `json:"context"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Creator     *userJSON `json:"creator,omitempty"`
}

func (s *Server) statusJSON(r *repo, st *commitStatus, withCreator bool) statusJSON {
	avatar := s.web("/avatars/u/%d?v=4", st.creator.id)
	out := statusJSON{
		URL: s.api("/repos/%s/statuses/%s", r.fullName(), st.sha), AvatarURL: &avatar,
		ID: st.id, NodeID: nodeID("SC", st.id), State: st.state, Description: strPtr(st.description),
		TargetURL: strPtr(st.targetURL), Context: st.context, CreatedAt: st.createdAt, UpdatedAt: st.updatedAt,
	}
	if withCreator {
		out.Creator = s.userJSON(st.creator)
	}
	return out
}

type checkRunOutputJSON struct {
	Title            *string `json:"title"`
	Summary          *string `json:"summary"`
	Text             *string `json:"text"`
	AnnotationsCount int     `json:"annotations_count"`
	AnnotationsURL   string  `json:"annotations_url"`
}

type checkSuiteRef struct {
	ID int64 `json:"id"`
}

type checkRunJSON struct {
	ID           int64              `json:"id"`
	HeadSHA      string             `json:"head_sha"`
	NodeID       string             `json:"node_id"`
	ExternalID   *string            `json:"external_id"`
	URL          string             `json:"url"`
	HTMLURL      *string            `json:"html_url"`
	DetailsURL   *string            `json:"details_url"`
	Status       string             `json:"status"`
	Conclusion   *string            `json:"conclusion"`
	StartedAt    *time.Time         `json:"started_at"`
	CompletedAt  *time.Time         `json:"completed_at"`
	Output       checkRunOutputJSON `json:"output"`
	Name         string             `json:"name"`
	CheckSuite   *checkSuiteRef     `json:"check_suite"`
	App          *appJSON           `json:"app"`
	PullRequests []any              `json:"pull_requests"`
}

func (s *Server) checkRunJSON(r *repo, cr *checkRun) *checkRunJSON {
	self := s.api("/repos/%s/check-runs/%d", r.fullName(), cr.id)
	html := s.web("/%s/runs/%d", r.fullName(), cr.id)
	return &checkRunJSON{
		ID: cr.id, HeadSHA: cr.headSHA, NodeID: nodeID("CR", cr.id), ExternalID: strPtr(cr.externalID),
		URL: self, HTMLURL: &html, DetailsURL: strPtr(cr.detailsURL), Status: cr.status,
		Conclusion: strPtr(cr.conclusion), StartedAt: cr.startedAt, CompletedAt: cr.completedAt,
		Output: checkRunOutputJSON{Title: strPtr(cr.title), Summary: strPtr(cr.summary), Text: strPtr(cr.text),
			AnnotationsURL: self + "/annotations"},
		Name: cr.name, CheckSuite: &checkSuiteRef{ID: cr.suiteID}, App: s.checkRunApp(cr), PullRequests: s.openPullsAt(r, cr.headSHA),
	}
}

// checkRunApp is the App that created cr: promobot's, or a CI App.
func (s *Server) checkRunApp(cr *checkRun) *appJSON {
	a := s.appJSON()
	if cr.ci == nil {
		return a
	}
	owner := s.ensureAccount(cr.ci.slug, "Organization")
	return &appJSON{
		ID: cr.ci.id, Slug: cr.ci.slug, NodeID: nodeID("A", cr.ci.id), ClientID: fmt.Sprintf("Iv1.%016x", cr.ci.id),
		Owner: s.userJSON(owner), Name: cr.ci.slug, ExternalURL: s.web("/"), HTMLURL: s.web("/apps/%s", cr.ci.slug),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Permissions: map[string]string{"checks": "write", "metadata": "read"},
		Events: []string{},
	}
}

type deploymentJSON struct {
	URL                   string    `json:"url"`
	ID                    int64     `json:"id"`
	NodeID                string    `json:"node_id"`
	SHA                   string    `json:"sha"`
	Ref                   string    `json:"ref"`
	Task                  string    `json:"task"`
	Payload               any       `json:"payload"`
	OriginalEnvironment   string    `json:"original_environment"`
	Environment           string    `json:"environment"`
	Description           *string   `json:"description"`
	Creator               *userJSON `json:"creator"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
	StatusesURL           string    `json:"statuses_url"`
	RepositoryURL         string    `json:"repository_url"`
	TransientEnvironment  bool      `json:"transient_environment"`
	ProductionEnvironment bool      `json:"production_environment"`
	PerformedViaApp       *appJSON  `json:"performed_via_github_app"`
}

func (s *Server) deploymentJSON(r *repo, d *deployment) *deploymentJSON {
	self := s.api("/repos/%s/deployments/%d", r.fullName(), d.id)
	out := &deploymentJSON{
		URL: self, ID: d.id, NodeID: nodeID("DE", d.id), SHA: d.sha, Ref: d.ref, Task: d.task, Payload: d.payload,
		OriginalEnvironment: d.environment, Environment: d.environment, Description: strPtr(d.description),
		Creator: s.userJSON(d.creator), CreatedAt: d.createdAt, UpdatedAt: d.updatedAt,
		StatusesURL: self + "/statuses", RepositoryURL: s.api("/repos/%s", r.fullName()),
		TransientEnvironment: d.transient, ProductionEnvironment: d.production,
	}
	if d.viaApp {
		out.PerformedViaApp = s.appJSON()
	}
	return out
}

type deploymentStatusJSON struct {
	URL            string    `json:"url"`
	ID             int64     `json:"id"`
	NodeID         string    `json:"node_id"`
	State          string    `json:"state"`
	Creator        *userJSON `json:"creator"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	TargetURL      string    `json:"target_url"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	DeploymentURL  string    `json:"deployment_url"`
	RepositoryURL  string    `json:"repository_url"`
	EnvironmentURL string    `json:"environment_url"`
	LogURL         string    `json:"log_url"`
}

func (s *Server) deploymentStatusJSON(r *repo, d *deployment, st *deploymentStatus) deploymentStatusJSON {
	dep := s.api("/repos/%s/deployments/%d", r.fullName(), d.id)
	return deploymentStatusJSON{
		URL: fmt.Sprintf("%s/statuses/%d", dep, st.id), ID: st.id, NodeID: nodeID("DES", st.id), State: st.state,
		Creator: s.userJSON(st.creator), Description: st.description, Environment: st.environment,
		TargetURL: st.targetURL, CreatedAt: st.createdAt, UpdatedAt: st.createdAt, DeploymentURL: dep,
		RepositoryURL: s.api("/repos/%s", r.fullName()), EnvironmentURL: st.environmentURL, LogURL: st.logURL,
	}
}

// installAccount is an installation's account. GitHub's description of
// GET /app/installations declares it allOf(simple-user, enterprise), so it
// also carries the enterprise fields (name, slug, timestamps).
type installAccount struct {
	*userJSON
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type installationJSON struct {
	ID                  int64             `json:"id"`
	Account             *installAccount   `json:"account"`
	RepositorySelection string            `json:"repository_selection"`
	AccessTokensURL     string            `json:"access_tokens_url"`
	RepositoriesURL     string            `json:"repositories_url"`
	HTMLURL             string            `json:"html_url"`
	AppID               int64             `json:"app_id"`
	AppSlug             string            `json:"app_slug"`
	ClientID            string            `json:"client_id"`
	TargetID            int64             `json:"target_id"`
	TargetType          string            `json:"target_type"`
	Permissions         map[string]string `json:"permissions"`
	Events              []string          `json:"events"`
	CreatedAt           time.Time         `json:"created_at"`
	UpdatedAt           time.Time         `json:"updated_at"`
	SingleFileName      *string           `json:"single_file_name"`
	SuspendedBy         *userJSON         `json:"suspended_by"`
	SuspendedAt         *time.Time        `json:"suspended_at"`
}

func (s *Server) installationJSON(in *installation) *installationJSON {
	return &installationJSON{
		ID: in.id, RepositorySelection: "selected",
		Account: &installAccount{userJSON: s.userJSON(in.account), Name: in.account.login, Slug: in.account.login,
			CreatedAt: in.createdAt, UpdatedAt: in.createdAt},
		AccessTokensURL: s.api("/app/installations/%d/access_tokens", in.id),
		RepositoriesURL: s.api("/installation/repositories"),
		HTMLURL:         s.web("/organizations/%s/settings/installations/%d", in.account.login, in.id),
		AppID:           s.opts.AppID, AppSlug: s.opts.AppSlug, ClientID: s.appJSON().ClientID,
		TargetID: in.account.id, TargetType: in.account.kind,
		Permissions: in.permissions, Events: in.events, CreatedAt: in.createdAt, UpdatedAt: in.updatedAt,
	}
}

// toJSONMap round-trips v through JSON (used to build go-github types).
func toJSON[T any](v any) (*T, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		return nil, err
	}
	return out, nil
}
