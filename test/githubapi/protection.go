package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Protection is a branch's classic protection, the part promobot meets:
// required status checks ("Require status checks to pass before
// merging") and Strict ("Require branches to be up to date before
// merging"). Reviews are not modelled.
type Protection struct {
	// RequiredContexts are the status contexts or check run names that
	// must be green on a pull request's head before it merges; compared
	// ignoring case, as GitHub compares status contexts.
	RequiredContexts []string
	// Strict requires the head to contain the base branch's tip.
	Strict bool
	// RequiredApprovals is how many approving reviews, by people with
	// write access other than the author, a pull request needs ("Require
	// approvals"); a review requesting changes by such a person blocks it.
	RequiredApprovals int
}

// Protect sets branch's protection (replacing any before it), as an
// administrator does in the repository's settings. The branch must exist.
func (s *Server) Protect(owner, name, branch string, p Protection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return err
	}
	if r.git.refSHA(context.Background(), "refs/heads/"+branch) == "" {
		return fmt.Errorf("%s/%s: protect branch %s: %w", owner, name, branch, ErrNotFound)
	}
	p.RequiredContexts = append([]string{}, p.RequiredContexts...)
	if r.protections == nil {
		r.protections = map[string]*Protection{}
	}
	r.protections[branch] = &p
	return nil
}

// SetMergeMethods sets which merge methods the repository allows (its
// allow_merge_commit, allow_squash_merge and allow_rebase_merge settings;
// a new repository allows merge commits and squash merges). GitHub's
// settings page requires at least one.
func (s *Server) SetMergeMethods(owner, name string, merge, squash, rebase bool) error {
	if !merge && !squash && !rebase {
		return errors.New("set merge methods: at least one merge method must be allowed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.mustRepo(owner, name)
	if err != nil {
		return err
	}
	r.noMergeCommit, r.noSquash, r.allowRebase = !merge, !squash, rebase
	return nil
}

// methodRefusal is GitHub's 405 message for a merge method the repository
// does not allow, "" when it is allowed.
func (r *repo) methodRefusal(method string) string {
	switch {
	case method == "merge" && r.noMergeCommit:
		return "Merge commits are not allowed on this repository."
	case method == "squash" && r.noSquash:
		return "Squash merges are not allowed on this repository."
	case method == "rebase" && !r.allowRebase:
		return "Rebase merges are not allowed on this repository."
	}
	return ""
}

// checkVerdict is how a required context stands on a commit.
type checkVerdict int

const (
	verdictExpected checkVerdict = iota // missing or still pending
	verdictFailing
	verdictPassed
)

// contextVerdict judges the required context name on sha: its newest
// commit status (contexts compared ignoring case) and its newest check
// run of that name. Either one green is enough; a completed check run
// passes when it concluded success, neutral or skipped.
func (r *repo) contextVerdict(sha, name string) checkVerdict {
	v := verdictExpected
	for _, st := range r.latestStatuses(sha) {
		if !strings.EqualFold(st.context, name) {
			continue
		}
		switch st.state {
		case "success":
			return verdictPassed
		case "error", "failure":
			v = verdictFailing
		}
	}
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		cr := r.checkRuns[i]
		if cr.headSHA != sha || !strings.EqualFold(cr.name, name) {
			continue
		}
		if cr.status == "completed" {
			switch cr.conclusion {
			case "success", "neutral", "skipped":
				return verdictPassed
			default:
				v = verdictFailing
			}
		}
		break
	}
	return v
}

// gate is what a base branch's protection says of merging head.
type gate struct {
	approvals        int // the approvals required, when fewer were given
	changesRequested bool
	required         []string
	expected         []string // required contexts missing or pending on head
	failing          []string // required contexts failed on head
	behind           bool     // Strict, and head lacks the base's tip
}

// protectionGate evaluates the protection of is's base branch for a
// merge of its head into baseTip. An unprotected branch gives the zero
// gate.
func (r *repo) protectionGate(ctx context.Context, is *issue, baseTip string) gate {
	base, headSHA := is.pr.base, is.pr.headSHA
	p := r.protections[base]
	if p == nil {
		return gate{}
	}
	g := r.checksGate(p, headSHA)
	if p.RequiredApprovals > 0 {
		approved, changes := r.reviewsOf(is)
		if approved < p.RequiredApprovals {
			g.approvals = p.RequiredApprovals
		}
		g.changesRequested = changes
	}
	g.behind = p.Strict && !r.git.isAncestor(ctx, baseTip, headSHA)
	return g
}

// checksGate judges p's required contexts on sha ("" for a commit not
// written yet, on which none can have passed).
func (r *repo) checksGate(p *Protection, sha string) gate {
	g := gate{required: p.RequiredContexts}
	for _, name := range p.RequiredContexts {
		switch r.contextVerdict(sha, name) {
		case verdictExpected:
			g.expected = append(g.expected, name)
		case verdictFailing:
			g.failing = append(g.failing, name)
		}
	}
	return g
}

// pushRefusal is GitHub's message refusing an API write that moves
// branch from old to next without a pull request ("" for a new commit
// yet to be written, zeroSHA for a deletion), "" when the branch's
// protection allows it: protected branches are not deleted or
// force-pushed, take no direct change when they require approvals, and
// take only a commit whose required checks passed.
func (r *repo) pushRefusal(ctx context.Context, branch, old, next string) string {
	p := r.protections[branch]
	switch {
	case p == nil:
		return ""
	case next == zeroSHA:
		return "Cannot delete this protected branch"
	case next != "" && old != zeroSHA && !r.git.isAncestor(ctx, old, next):
		return "Cannot force-push to this branch"
	case p.RequiredApprovals > 0:
		return "Changes must be made through a pull request."
	}
	return r.checksGate(p, next).refusal()
}

// green reports whether every required context passed and the reviews
// the branch requires are there.
func (g gate) green() bool {
	return len(g.expected) == 0 && len(g.failing) == 0 && g.approvals == 0 && !g.changesRequested
}

// reviewsOf counts the approvals of is by people with write access other
// than its author (each person's latest approving or change-requesting
// review counts), and whether one of them requests changes.
func (r *repo) reviewsOf(is *issue) (int, bool) {
	latest := map[*account]string{}
	for _, rv := range is.pr.reviews {
		if rv.state != "COMMENTED" {
			latest[rv.user] = rv.state
		}
	}
	approved, changes := 0, false
	for who, state := range latest {
		if who == is.user || !canWrite(r.role(who.login)) {
			continue
		}
		switch state {
		case "APPROVED":
			approved++
		case "CHANGES_REQUESTED":
			changes = true
		}
	}
	return approved, changes
}

// refusal is GitHub's 405 message refusing the merge, "" when the gate
// lets it through. An out-of-date head is named first (updating the
// branch runs the checks again anyway), then missing reviews, then
// required checks, the order GitHub lists them in.
func (g gate) refusal() string {
	switch n := len(g.expected) + len(g.failing); {
	case g.behind:
		return "Head branch is not up to date with the base branch."
	case g.changesRequested:
		return "Changes requested by a reviewer with write access."
	case g.approvals == 1:
		return "At least 1 approving review is required by reviewers with write access."
	case g.approvals > 1:
		return fmt.Sprintf("At least %d approving reviews are required by reviewers with write access.", g.approvals)
	case n == 0:
		return ""
	case n == 1 && len(g.failing) == 1:
		return fmt.Sprintf("Required status check %q is failing.", g.failing[0])
	case n == 1:
		return fmt.Sprintf("Required status check %q is expected.", g.expected[0])
	case len(g.expected) == 0:
		return fmt.Sprintf("%d of %d required status checks are failing.", n, len(g.required))
	default:
		return fmt.Sprintf("%d of %d required status checks are expected.", n, len(g.required))
	}
}

// unstable reports whether a status or check run on sha that no rule
// requires did not pass (mergeable_state "unstable").
func (r *repo) unstable(sha string) bool {
	for _, st := range r.latestStatuses(sha) {
		if st.state == "error" || st.state == "failure" {
			return true
		}
	}
	seen := map[string]bool{}
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		cr := r.checkRuns[i]
		if cr.headSHA != sha || seen[strings.ToLower(cr.name)] {
			continue
		}
		seen[strings.ToLower(cr.name)] = true
		if cr.status == "completed" && r.contextVerdict(sha, cr.name) == verdictFailing {
			return true
		}
	}
	return false
}

// mergeableState is GitHub's mergeable_state of a pull request whose
// mergeability is computed: dirty (conflicts), behind (Strict and out of
// date), blocked (a required check is not green), unstable (a check
// nothing requires did not pass) or clean.
func (r *repo) mergeableState(ctx context.Context, is *issue, baseTip string, conflict bool) string {
	g := r.protectionGate(ctx, is, baseTip)
	switch {
	case conflict:
		return "dirty"
	case g.behind:
		return "behind"
	case !g.green():
		return "blocked"
	case r.unstable(is.pr.headSHA):
		return "unstable"
	}
	return "clean"
}

// canWrite reports whether role p may push (write, maintain or admin).
func canWrite(p Permission) bool {
	return p == PermissionWrite || p == PermissionMaintain || p == PermissionAdmin
}

// Review submits a review of pull request number by login (an account
// created when new): event is APPROVE, REQUEST_CHANGES or COMMENT, as in
// "Create a review for a pull request". Only approvals by people with
// write access count toward Protection.RequiredApprovals; an author
// cannot approve or request changes on their own pull request. No
// webhook is sent.
func (s *Server) Review(ctx context.Context, owner, name string, number int, login, event string) error {
	states := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
	return s.locked(func(_ *[]*delivery) error {
		r, is, err := s.scriptIssue(owner, name, number)
		if err != nil {
			return err
		}
		state, ok := states[event]
		switch {
		case is.pr == nil || is.state != "open":
			return fmt.Errorf("review %s/%s#%d: not an open pull request", owner, name, number)
		case !ok:
			return fmt.Errorf("review %s/%s#%d: invalid event %q", owner, name, number, event)
		}
		who := s.person(login, r)
		if who == is.user && state != "COMMENTED" {
			return fmt.Errorf("review %s/%s#%d: Can not approve your own pull request", owner, name, number)
		}
		is.pr.reviews = append(is.pr.reviews, &review{id: s.id(), user: who, state: state, commitID: is.pr.headSHA, submittedAt: now()})
		return nil
	})
}

// ---- GET /repos/{owner}/{repo}/branches/{branch} ----

type requiredChecksJSON struct {
	URL              string              `json:"url"`
	EnforcementLevel string              `json:"enforcement_level"`
	Contexts         []string            `json:"contexts"`
	Checks           []requiredCheckJSON `json:"checks"`
	ContextsURL      string              `json:"contexts_url"`
	Strict           bool                `json:"strict"`
}

type requiredCheckJSON struct {
	Context string `json:"context"`
	AppID   *int64 `json:"app_id"`
}

type branchProtectionJSON struct {
	URL                  string              `json:"url"`
	Enabled              bool                `json:"enabled"`
	RequiredStatusChecks *requiredChecksJSON `json:"required_status_checks,omitempty"`
}

type branchWithProtectionJSON struct {
	Name   string      `json:"name"`
	Commit *commitJSON `json:"commit"`
	Links  struct {
		HTML string `json:"html"`
		Self string `json:"self"`
	} `json:"_links"`
	Protected     bool                 `json:"protected"`
	Protection    branchProtectionJSON `json:"protection"`
	ProtectionURL string               `json:"protection_url"`
	// RequiredApprovingReviewCount is sent for a branch that requires
	// approvals.
	RequiredApprovingReviewCount int `json:"required_approving_review_count,omitempty"`
}

// getBranch: GET /repos/{owner}/{repo}/branches/{branch}. Unlike
// .../branches/{branch}/protection (administration permission), it needs
// only contents read, and shows the required status checks.
func (s *Server) getBranch(c *call) (int, any) {
	r, branch := c.repo, c.param("branch")
	sha := r.git.refSHA(c.ctx(), "refs/heads/"+branch)
	if sha == "" {
		return fail(http.StatusNotFound, "Branch not found")
	}
	commit, err := r.git.readCommit(c.ctx(), sha)
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	self := s.api("/repos/%s/branches/%s", r.fullName(), pathEscape(branch))
	out := &branchWithProtectionJSON{Name: branch, Commit: s.commitJSON(r, commit), ProtectionURL: self + "/protection"}
	out.Links.HTML = s.web("/%s/tree/%s", r.fullName(), pathEscape(branch))
	out.Links.Self = self
	out.Protection.URL = self + "/protection"
	if p := r.protections[branch]; p != nil {
		out.Protected, out.Protection.Enabled = true, true
		rc := &requiredChecksJSON{
			URL: self + "/protection/required_status_checks", EnforcementLevel: "non_admins",
			Contexts: append([]string{}, p.RequiredContexts...), Checks: []requiredCheckJSON{},
			ContextsURL: self + "/protection/required_status_checks/contexts", Strict: p.Strict,
		}
		for _, ctxName := range p.RequiredContexts {
			rc.Checks = append(rc.Checks, requiredCheckJSON{Context: ctxName})
		}
		out.Protection.RequiredStatusChecks = rc
		out.RequiredApprovingReviewCount = p.RequiredApprovals
	} else {
		out.Protection.RequiredStatusChecks = &requiredChecksJSON{EnforcementLevel: "off", Contexts: []string{}, Checks: []requiredCheckJSON{}}
	}
	return http.StatusOK, out
}

// UpdateBranch brings pull request number's head up to date with its base
// as login, as the pull request's "Update branch" button does: a merge
// commit of the base's tip into the head branch (push and pull_request
// synchronize webhooks). It returns the new head SHA; a head that already
// contains the base is left as it is.
func (s *Server) UpdateBranch(ctx context.Context, owner, name string, number int, login string) (string, error) {
	var head string
	err := s.locked(func(out *[]*delivery) error {
		r, is, err := s.scriptIssue(owner, name, number)
		if err != nil {
			return err
		}
		if is.pr == nil || is.state != "open" {
			return fmt.Errorf("update branch of %s/%s#%d: not an open pull request", owner, name, number)
		}
		pr, g := is.pr, r.git
		baseTip := g.refSHA(ctx, "refs/heads/"+pr.base)
		if head = pr.headSHA; g.isAncestor(ctx, baseTip, head) {
			return nil
		}
		tree, conflict, err := g.mergeTree(ctx, head, baseTip)
		if err != nil {
			return fmt.Errorf("update branch of %s/%s#%d: %w", owner, name, number, err)
		}
		if conflict {
			return fmt.Errorf("update branch of %s/%s#%d: merge conflict between base and head", owner, name, number)
		}
		who := s.person(login, r)
		id := s.actorIdentity(who)
		msg := fmt.Sprintf("Merge branch '%s' into %s", pr.base, pr.head)
		commit, err := g.commitTree(ctx, tree, []string{head, baseTip}, id, identity{Name: "GitHub", Email: "noreply@github.com", When: now()}, msg)
		if err != nil {
			return fmt.Errorf("update branch of %s/%s#%d: %w", owner, name, number, err)
		}
		if err := s.moveRef(ctx, out, r, "refs/heads/"+pr.head, head, commit, who, false); err != nil {
			return fmt.Errorf("update branch of %s/%s#%d: %w", owner, name, number, err)
		}
		head = commit
		return nil
	})
	return head, err
}
