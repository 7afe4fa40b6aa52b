package ui

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter/prbody"
)

// pageView is everything one render of the page shows.
type pageView struct {
	Repos      []repoView
	Promotions []promotionView
	Feed       []feedView
	Dead       []deadView
	// Problems are what could not be read from the bus, said on the page.
	Problems []string
	Now      time.Time
}

// repoView is one repository's matrix: its apps' rows by environment.
type repoView struct {
	Name, URL string
	Envs      []envView
	Rows      []rowView
}

// envView is one environment's column; Freeze describes the /freeze that
// holds it ("" none).
type envView struct {
	Name, Freeze string
}

// rowView is one app (its name without the environment) across Envs.
type rowView struct {
	App   string
	Cells []cellView
}

// cellView is one app in one environment; Present is false when the app
// has no record there.
type cellView struct {
	Present bool
	App     string
	// Commit is the commit the app runs: the last one applied
	// successfully; PR the pull request whose merge made it.
	Commit, ShortCommit, CommitURL string
	PR                             int
	PRURL                          string
	// Failed is the newer commit whose apply failed (State failed), ""
	// when the failed apply was of Commit itself.
	Failed, ShortFailed, FailedURL string
	// ChecksURL is the checks of the last commit tried.
	ChecksURL string
	// State is state.StateApplied or state.StateFailed; Message the
	// failure.
	State, Message string
	Healthy        bool
	// Drift is the last drift fact's verb since the last apply ("" none).
	Drift string
	At    time.Time
	Age   string
}

// promotionView is one open promotion pull request and what holds it.
type promotionView struct {
	Repo, RepoURL, App, Env string
	Rollback                bool
	PR                      int
	PRURL                   string
	SourcePR                int
	SourcePRURL             string
	Images                  []string
	// Gate says what holds the promotion ("" nothing promobot knows of);
	// Frozen says a /freeze does.
	Gate   string
	Frozen bool
}

type feedView struct {
	FeedItem
	Age string
}

type deadView struct {
	DeadItem
	Age string
}

// promotionEntry is what the page reads of the promoter's memory of a
// promotion pull request (state.PromotionPRs).
type promotionEntry struct {
	PR       int              `json:"pr"`
	Base     string           `json:"base,omitempty"`
	Images   []prbody.Image   `json:"images,omitempty"`
	Revision *prbody.Revision `json:"revision,omitempty"`
	SourcePR int              `json:"source_pr,omitempty"`
}

// maxMessage bounds a failure or a gate's reason on the page; the rest is
// in the fact (promobot events tail) and on GitHub.
const maxMessage = 600

// links forms GitHub's web addresses.
type links struct{ base string }

func (l links) repo(repo string) string { return l.base + "/" + repo }
func (l links) commit(repo, sha string) string {
	return l.repo(repo) + "/commit/" + sha
}
func (l links) checks(repo, sha string) string { return l.commit(repo, sha) + "/checks" }
func (l links) pull(repo string, n int) string { return fmt.Sprintf("%s/pull/%d", l.repo(repo), n) }

// matrix builds every served repository's matrix from the apply records.
func (s *Server) matrix(ctx context.Context, snap snapshot, now time.Time) ([]repoView, []string) {
	repos, err := s.registry.Repos(ctx)
	if err != nil {
		return nil, []string{"repositories: " + err.Error()}
	}
	slices.SortFunc(repos, func(a, b state.RepoInstallation) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Repo, b.Repo))
	})
	var out []repoView
	var problems []string
	for _, ri := range repos {
		repo := github.Repo{Owner: ri.Owner, Name: ri.Repo}
		recs, err := s.records.List(ctx, repo)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		v := s.repoMatrix(repo.String(), recs, snap, now)
		for i, env := range v.Envs {
			if f, frozen, err := s.freezes.Frozen(ctx, repo, env.Name); err != nil {
				problems = append(problems, err.Error())
			} else if frozen {
				v.Envs[i].Freeze = describeFreeze(f)
			}
		}
		out = append(out, v)
	}
	return out, problems
}

// describeFreeze is a freeze for people: who froze what, why and when.
func describeFreeze(f state.Freeze) string {
	return f.Describe() + ", since " + f.At.UTC().Format("2006-01-02 15:04 UTC")
}

// repoMatrix lays one repository's records out as apps × environments.
func (s *Server) repoMatrix(repo string, recs []state.AppRecord, snap snapshot, now time.Time) repoView {
	v := repoView{Name: repo, URL: s.links.repo(repo)}
	byRow := map[string]map[string]state.AppStatus{}
	var envs []string
	for _, r := range recs {
		env := cmp.Or(r.Environment, "-")
		if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
		base := gitops.BaseName(r.App, r.Environment)
		if byRow[base] == nil {
			byRow[base] = map[string]state.AppStatus{}
		}
		byRow[base][env] = r.AppStatus
	}
	slices.SortFunc(envs, compareEnvs)
	for _, env := range envs {
		v.Envs = append(v.Envs, envView{Name: env})
	}
	for _, base := range slices.Sorted(maps.Keys(byRow)) {
		row := rowView{App: base}
		for _, env := range envs {
			st, ok := byRow[base][env]
			row.Cells = append(row.Cells, s.cell(repo, st, ok, snap, now))
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// cell is one app's cell: what it runs, how its last apply went and when.
func (s *Server) cell(repo string, st state.AppStatus, ok bool, snap snapshot, now time.Time) cellView {
	if !ok {
		return cellView{}
	}
	c := cellView{Present: true, App: st.App, State: st.State, Message: clip(st.Message, maxMessage), Healthy: st.Healthy, At: st.AppliedAt}
	c.Commit = st.Commit
	if c.Commit != "" {
		c.ShortCommit, c.CommitURL = short(c.Commit), s.links.commit(repo, c.Commit)
		if pr, ok := snap.merges[c.Commit]; ok {
			c.PR, c.PRURL = pr.Number, cmp.Or(pr.URL, s.links.pull(repo, pr.Number))
		}
	}
	if st.State == state.StateFailed && st.Seen != "" && st.Seen != st.Commit {
		c.Failed, c.ShortFailed, c.FailedURL = st.Seen, short(st.Seen), s.links.commit(repo, st.Seen)
	}
	if tried := cmp.Or(c.Failed, c.Commit); tried != "" {
		c.ChecksURL = s.links.checks(repo, tried)
	}
	k := appKey{repo, st.App}
	if f, ok := snap.applied[k]; ok && f.At.After(c.At) {
		c.At = f.At
	}
	if f, ok := snap.drift[k]; ok && f.At.After(st.AppliedAt) && f.Verb != "healed" {
		c.Drift = f.Verb
	}
	if !c.At.IsZero() {
		c.Age = age(now.Sub(c.At))
	}
	return c
}

// compareEnvs orders environments as promotions go (dev before staging
// before production), unknown ones after, by name.
func compareEnvs(a, b string) int {
	ra, oka := gitops.EnvironmentRank(a)
	rb, okb := gitops.EnvironmentRank(b)
	switch {
	case oka && okb && ra != rb:
		return cmp.Compare(ra, rb)
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return cmp.Compare(a, b)
}

// promotions lists the open promotion pull requests the promoter
// remembers, with what holds each: a /freeze of its environment, or the
// reason of its last fact that waited or was refused.
func (s *Server) promotions(ctx context.Context, snap snapshot) ([]promotionView, []string) {
	var out []promotionView
	open := map[branchKey]bool{}
	prs, err := s.prs.List(ctx)
	if err != nil {
		return nil, []string{"promotion pull requests: " + err.Error()}
	}
	for _, p := range prs {
		if p.Entry.PR > 0 {
			out = append(out, s.promotion(ctx, p.Repo, p.Branch, p.Entry, snap))
			open[branchKey{p.Repo.String(), p.Branch}] = true
		}
	}
	out = append(out, s.heldBack(ctx, snap, open)...)
	slices.SortFunc(out, func(a, b promotionView) int {
		return cmp.Or(cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.App, b.App), compareEnvs(a.Env, b.Env))
	})
	return out, nil
}

// heldBack lists the promotions whose last fact is a refusal and that
// have no open pull request: what a gate (a soak time, a freeze, an
// unhealthy source) keeps from being opened, with its reason.
func (s *Server) heldBack(ctx context.Context, snap snapshot, open map[branchKey]bool) []promotionView {
	var out []promotionView
	for k, f := range snap.promos {
		owner, name, ok := strings.Cut(k.repo, "/")
		if open[k] || f.Verb != "refused" || !ok {
			continue
		}
		v := s.promotion(ctx, github.Repo{Owner: owner, Name: name}, k.branch, promotionEntry{}, snap)
		v.PR, v.PRURL = 0, ""
		if !v.Frozen {
			v.Gate = "refused " + age(s.opts.Now().Sub(f.At)) + " ago: " + clip(f.Reason, maxMessage)
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) promotion(ctx context.Context, repo github.Repo, branch string, e promotionEntry, snap snapshot) promotionView {
	name := repo.String()
	v := promotionView{Repo: name, RepoURL: s.links.repo(name), PR: e.PR, PRURL: s.links.pull(name, e.PR)}
	kind, rest, _ := strings.Cut(strings.TrimPrefix(branch, "promobot/"), "/")
	v.Rollback = kind == "rollback"
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		v.App, v.Env = rest[:i], rest[i+1:]
	}
	if e.SourcePR > 0 {
		v.SourcePR, v.SourcePRURL = e.SourcePR, s.links.pull(name, e.SourcePR)
	}
	for _, im := range e.Images {
		to := refString(im.To)
		if im.To.NewName == "" {
			to = im.Name + to
		}
		v.Images = append(v.Images, to)
	}
	if e.Revision != nil {
		v.Images = append(v.Images, "revision "+e.Revision.From+" → "+short(e.Revision.To))
	}
	if f, frozen, err := s.freezes.Frozen(ctx, repo, v.Env); err == nil && frozen {
		v.Gate, v.Frozen = describeFreeze(f), true
	} else if f, ok := snap.promos[branchKey{name, branch}]; ok && f.Verb == "waiting" {
		v.Gate = f.Verb + ": " + clip(f.Reason, maxMessage)
	}
	return v
}

func refString(r prbody.Ref) string {
	s := r.NewName
	if r.NewTag != "" {
		s += ":" + r.NewTag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

func (s *Server) feed(snap snapshot, now time.Time) ([]feedView, []deadView) {
	feed := make([]feedView, 0, len(snap.feed))
	for _, f := range snap.feed {
		feed = append(feed, feedView{FeedItem: f, Age: age(now.Sub(f.At))})
	}
	dead := make([]deadView, 0, len(snap.dead))
	for _, d := range snap.dead {
		dead = append(dead, deadView{DeadItem: d, Age: age(now.Sub(d.At))})
	}
	return feed, dead
}

// age is d for people: "12s", "5m", "3h", "2d".
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
