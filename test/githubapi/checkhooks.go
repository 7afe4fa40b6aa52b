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

// pullMinimalJSON is a pull request as check runs list it
// (pull-request-minimal).
type pullMinimalJSON struct {
	ID     int64          `json:"id"`
	Number int            `json:"number"`
	URL    string         `json:"url"`
	Head   pullMinimalRef `json:"head"`
	Base   pullMinimalRef `json:"base"`
}

type pullMinimalRef struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo struct {
		ID   int64  `json:"id"`
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"repo"`
}

// openPullsAt lists the open pull requests whose head is sha, as a check
// run's pull_requests does.
func (s *Server) openPullsAt(r *repo, sha string) []any {
	out := []any{}
	ref := func(branch, sha string) pullMinimalRef {
		p := pullMinimalRef{Ref: branch, SHA: sha}
		p.Repo.ID, p.Repo.URL, p.Repo.Name = r.id, s.api("/repos/%s", r.fullName()), r.name
		return p
	}
	for _, is := range r.sortedIssues() {
		if is.pr == nil || is.state != "open" || is.pr.headSHA != sha {
			continue
		}
		out = append(out, pullMinimalJSON{ID: is.pr.id, Number: is.number, URL: s.api("/repos/%s/pulls/%d", r.fullName(), is.number),
			Head: ref(is.pr.head, is.pr.headSHA), Base: ref(is.pr.base, is.pr.baseSHA)})
	}
	return out
}

// checkSuiteEventJSON is the check suite a check_run webhook carries.
type checkSuiteEventJSON struct {
	ID         int64   `json:"id"`
	NodeID     string  `json:"node_id"`
	HeadBranch *string `json:"head_branch"`
	HeadSHA    string  `json:"head_sha"`
	Status     string  `json:"status"`
	Conclusion *string `json:"conclusion"`
	URL        string  `json:"url"`
	Before     *string `json:"before"`
	After      *string `json:"after"`
	// PullRequests are the open pull requests whose head is the suite's.
	PullRequests []any    `json:"pull_requests"`
	App          *appJSON `json:"app"`
}

// checkRunEventJSON is a check_run webhook (webhook-check-run-completed).
type checkRunEventJSON struct {
	Action   string `json:"action"`
	CheckRun struct {
		*checkRunJSON
		CheckSuite checkSuiteEventJSON `json:"check_suite"`
		// Not nullable in webhooks: GitHub sends "" and the run's page.
		DetailsURL string `json:"details_url"`
		ExternalID string `json:"external_id"`
	} `json:"check_run"`
	Repository   *repoJSON           `json:"repository"`
	Sender       *userJSON           `json:"sender"`
	Organization *orgJSON            `json:"organization,omitempty"`
	Installation installationRefJSON `json:"installation"`
}

// emitCheckRun queues a check_run webhook for cr. Called with s.mu held.
func (s *Server) emitCheckRun(ctx context.Context, out *[]*delivery, r *repo, cr *checkRun, action string, sender *account) {
	if r.inst == nil || !s.subscribed("check_run") {
		return
	}
	ev := &checkRunEventJSON{Action: action, Repository: s.repoJSON(r), Sender: s.userJSON(sender), Organization: s.orgJSON(r),
		Installation: installationRefJSON{ID: r.inst.id, NodeID: nodeID("IN", r.inst.id)}}
	ev.CheckRun.checkRunJSON = s.checkRunJSON(r, cr)
	ev.CheckRun.DetailsURL, ev.CheckRun.ExternalID = cr.detailsURL, cr.externalID
	if cr.detailsURL == "" {
		ev.CheckRun.DetailsURL = *ev.CheckRun.HTMLURL
	}
	suite := checkSuiteEventJSON{ID: cr.suiteID, NodeID: nodeID("CS", cr.suiteID), HeadSHA: cr.headSHA, Status: cr.status,
		URL: s.api("/repos/%s/check-suites/%d", r.fullName(), cr.suiteID), PullRequests: ev.CheckRun.PullRequests,
		App: ev.CheckRun.App}
	if cr.status == "completed" {
		suite.Conclusion = strPtr(cr.conclusion)
	}
	refs, _ := r.git.refs(ctx, "refs/heads/")
	for _, rf := range refs {
		if rf[1] == cr.headSHA {
			suite.HeadBranch = strPtr(strings.TrimPrefix(rf[0], "refs/heads/"))
			break
		}
	}
	ev.CheckRun.CheckSuite = suite
	s.emit(out, r, "check_run", action, ev)
}

// ciAppFor returns the CI App named slug, registering it when new. Called
// with s.mu held.
func (s *Server) ciAppFor(slug string) *ciApp {
	if s.ciApps == nil {
		s.ciApps = map[string]*ciApp{}
	}
	a := s.ciApps[slug]
	if a == nil {
		a = &ciApp{id: s.id(), slug: slug}
		s.ciApps[slug] = a
		s.ensureAccount(slug+"[bot]", "Bot")
	}
	return a
}

// CompleteCheckRun completes the check run name on sha reported by the
// CI App ciSlug (another GitHub App than promobot's; registered on first
// use), creating it when that App has none in progress, with conclusion
// (success, failure, neutral, cancelled, skipped, timed_out,
// action_required or stale), and sends the check_run completed webhook.
func (s *Server) CompleteCheckRun(ctx context.Context, owner, name, sha, checkName, conclusion, ciSlug string) error {
	return s.locked(func(out *[]*delivery) error {
		r, err := s.mustRepo(owner, name)
		if err != nil {
			return err
		}
		if !checkConclusions[conclusion] {
			return fmt.Errorf("%s/%s: complete check run %s: invalid conclusion %q", owner, name, checkName, conclusion)
		}
		if t, err := r.git.objectType(ctx, sha); err != nil || t != "commit" {
			return fmt.Errorf("%s/%s: complete check run %s: commit %s: %w", owner, name, checkName, sha, ErrNotFound)
		}
		app := s.ciAppFor(ciSlug)
		var cr *checkRun
		for _, x := range r.checkRuns {
			if x.ci == app && x.headSHA == sha && x.name == checkName && x.status != "completed" {
				cr = x
			}
		}
		t := now()
		if cr == nil {
			cr = &checkRun{id: s.id(), name: checkName, headSHA: sha, createdAt: t, startedAt: &t, ci: app}
			if r.suites[sha] == 0 {
				r.suites[sha] = s.id()
			}
			cr.suiteID = r.suites[sha]
			r.checkRuns = append(r.checkRuns, cr)
		}
		cr.status, cr.conclusion, cr.completedAt = "completed", conclusion, &t
		s.emitCheckRun(ctx, out, r, cr, "completed", s.accounts[strings.ToLower(ciSlug+"[bot]")])
		return nil
	})
}
