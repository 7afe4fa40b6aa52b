package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

// installations gives the applier an installation's GitHub API the way
// `promobot serve` does (internal/github over the App's key, the local API's
// base URL). Every client is wrapped in a timer.
type installations struct {
	app   *github.App
	timer *githubTimer

	mu      sync.Mutex
	clients map[int64]applier.GitHub
}

func newInstallations(appID int64, keyPEM []byte, baseURL string, timer *githubTimer) (*installations, error) {
	app, err := github.NewApp(github.Options{AppID: appID, PrivateKey: keyPEM, BaseURL: baseURL})
	if err != nil {
		return nil, err
	}
	return &installations{app: app, timer: timer, clients: map[int64]applier.GitHub{}}, nil
}

// GitHub returns installation id's client; safe for concurrent use.
func (i *installations) GitHub(ctx context.Context, id int64) (applier.GitHub, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c, ok := i.clients[id]; ok {
		return c, nil
	}
	c, err := i.app.Installation(ctx, id)
	if err != nil {
		return applier.GitHub{}, fmt.Errorf("installation %d client: %w", id, err)
	}
	t := &timedGitHub{next: c, timer: i.timer}
	g := applier.GitHub{RepoReader: t, Reporter: t}
	i.clients[id] = g
	return g, nil
}

// githubTimer adds up the time the applier spends in GitHub calls, by
// method. Safe for concurrent use.
type githubTimer struct {
	mu    sync.Mutex
	calls map[string]int
	spent map[string]time.Duration
}

func newGitHubTimer() *githubTimer {
	return &githubTimer{calls: map[string]int{}, spent: map[string]time.Duration{}}
}

func (t *githubTimer) observe(method string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	t.calls[method]++
	t.spent[method] += d
	t.mu.Unlock()
}

// snapshot returns the calls and total time so far, and resets them.
func (t *githubTimer) reset() (calls int, spent time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, n := range t.calls {
		calls += n
		spent += t.spent[k]
	}
	t.calls, t.spent = map[string]int{}, map[string]time.Duration{}
	return calls, spent
}

// timedGitHub times every call of the applier's GitHub API.
type timedGitHub struct {
	next  *github.InstallationClient
	timer *githubTimer
}

func (g *timedGitHub) Repository(ctx context.Context, repo github.Repo) (github.RepoInfo, error) {
	defer g.timer.observe("Repository", time.Now())
	return g.next.Repository(ctx, repo)
}

func (g *timedGitHub) BranchHead(ctx context.Context, repo github.Repo, branch string) (string, error) {
	defer g.timer.observe("BranchHead", time.Now())
	return g.next.BranchHead(ctx, repo, branch)
}

// Tarball is timed to the end of the download: the body is read here.
func (g *timedGitHub) Tarball(ctx context.Context, repo github.Repo, ref string) (io.ReadCloser, error) {
	defer g.timer.observe("Tarball", time.Now())
	rc, err := g.next.Tarball(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}

func (g *timedGitHub) ResolveRevision(ctx context.Context, repo github.Repo, rev string) (string, error) {
	defer g.timer.observe("ResolveRevision", time.Now())
	return g.next.ResolveRevision(ctx, repo, rev)
}

func (g *timedGitHub) Compare(ctx context.Context, repo github.Repo, base, head string) (github.Comparison, error) {
	defer g.timer.observe("Compare", time.Now())
	return g.next.Compare(ctx, repo, base, head)
}

func (g *timedGitHub) CreateStatus(ctx context.Context, repo github.Repo, sha string, s github.Status) error {
	defer g.timer.observe("CreateStatus", time.Now())
	return g.next.CreateStatus(ctx, repo, sha, s)
}

func (g *timedGitHub) CreateDeployment(ctx context.Context, repo github.Repo, d github.Deployment) (int64, error) {
	defer g.timer.observe("CreateDeployment", time.Now())
	return g.next.CreateDeployment(ctx, repo, d)
}

func (g *timedGitHub) CreateDeploymentStatus(ctx context.Context, repo github.Repo, id int64, s github.DeploymentStatus) error {
	defer g.timer.observe("CreateDeploymentStatus", time.Now())
	return g.next.CreateDeploymentStatus(ctx, repo, id, s)
}

func (g *timedGitHub) CreateCheckRun(ctx context.Context, repo github.Repo, r github.CheckRun) (int64, error) {
	defer g.timer.observe("CreateCheckRun", time.Now())
	return g.next.CreateCheckRun(ctx, repo, r)
}

func (g *timedGitHub) UpdateCheckRun(ctx context.Context, repo github.Repo, id int64, r github.CheckRun) error {
	defer g.timer.observe("UpdateCheckRun", time.Now())
	return g.next.UpdateCheckRun(ctx, repo, id, r)
}

// kubeRequest is one request promobot made to the cluster.
type kubeRequest struct {
	method     string
	dryRun     bool
	start, end time.Time
}

// write reports whether the request changes the cluster: any method but
// GET and HEAD, unless it is a dry run (fluxcd/pkg/ssa compares through a
// server-side dry-run apply).
func (r kubeRequest) write() bool {
	return r.method != http.MethodGet && r.method != http.MethodHead && !r.dryRun
}

// kubeRecorder records every request made through a rest.Config it wraps
// (rest.Config.WrapTransport). Safe for concurrent use.
type kubeRecorder struct {
	mu   sync.Mutex
	reqs []kubeRequest
}

func (k *kubeRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := kubeRequest{method: req.Method, dryRun: req.URL.Query().Get("dryRun") != "", start: time.Now()}
		resp, err := rt.RoundTrip(req)
		r.end = time.Now()
		k.mu.Lock()
		k.reqs = append(k.reqs, r)
		k.mu.Unlock()
		return resp, err
	})
}

// take returns the requests recorded so far and forgets them.
func (k *kubeRecorder) take() []kubeRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.reqs
	k.reqs = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// requestCounts sums requests up by kind.
type requestCounts struct {
	total, gets, dryRuns, writes int
	byMethod                     map[string]int
	// busy is the wall time with at least one request in flight.
	busy time.Duration
}

func countRequests(reqs []kubeRequest) requestCounts {
	c := requestCounts{total: len(reqs), byMethod: map[string]int{}}
	for _, r := range reqs {
		switch {
		case r.write():
			c.writes++
			c.byMethod[r.method]++
		case r.dryRun:
			c.dryRuns++
		default:
			c.gets++
		}
	}
	c.busy = busyTime(reqs)
	return c
}

// busyTime is the length of the union of the requests' intervals.
func busyTime(reqs []kubeRequest) time.Duration {
	sorted := slices.Clone(reqs)
	slices.SortFunc(sorted, func(a, b kubeRequest) int { return a.start.Compare(b.start) })
	var total time.Duration
	var cur kubeRequest
	for i, r := range sorted {
		switch {
		case i == 0:
			cur = r
		case r.start.After(cur.end):
			total += cur.end.Sub(cur.start)
			cur = r
		case r.end.After(cur.end):
			cur.end = r.end
		}
	}
	if len(sorted) > 0 {
		total += cur.end.Sub(cur.start)
	}
	return total
}

func (c requestCounts) writesString() string {
	if c.writes == 0 {
		return "0"
	}
	var parts []string
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if n := c.byMethod[m]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", m, n))
		}
	}
	return fmt.Sprintf("%d (%s)", c.writes, strings.Join(parts, ", "))
}

// applyFact is a promobot.apply.completed or .failed fact as a subscriber
// on the bus sees it.
type applyFact struct {
	verb    string
	app     string
	commit  string
	state   string
	errMsg  string
	actions map[string]int
	at      time.Time
}

// factWatch collects apply facts from the bus and hands each to whoever
// waits for its app and commit. Safe for concurrent use.
type factWatch struct {
	sub *nats.Subscription

	mu    sync.Mutex
	slots map[string]chan applyFact
}

func watchFacts(nc *nats.Conn) (*factWatch, error) {
	w := &factWatch{slots: map[string]chan applyFact{}}
	sub, err := nc.Subscribe(events.FactPrefix+".apply.>", func(m *nats.Msg) {
		at := time.Now()
		ev, err := events.Decode(m.Header, m.Data)
		if err != nil {
			return
		}
		verb := strings.TrimPrefix(ev.Type(), events.FactType("apply", ""))
		if verb != "completed" && verb != "failed" {
			return
		}
		var data struct {
			App     string `json:"app"`
			Commit  string `json:"commit"`
			State   string `json:"state"`
			Error   string `json:"error"`
			Changes struct {
				Changes []struct {
					Action string `json:"action"`
				} `json:"changes"`
			} `json:"changes"`
		}
		if err := json.Unmarshal(ev.Data(), &data); err != nil {
			return
		}
		f := applyFact{verb: verb, app: data.App, commit: data.Commit, state: data.State, errMsg: data.Error, actions: map[string]int{}, at: at}
		for _, c := range data.Changes.Changes {
			f.actions[c.Action]++
		}
		select {
		case w.slot(f.app, f.commit) <- f:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("apply facts subscribe: %w", err)
	}
	w.sub = sub
	return w, nil
}

func (w *factWatch) slot(app, commit string) chan applyFact {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := app + "@" + commit
	if c, ok := w.slots[k]; ok {
		return c
	}
	c := make(chan applyFact, 1)
	w.slots[k] = c
	return c
}

// wait returns the first completed or failed fact of app at commit.
func (w *factWatch) wait(ctx context.Context, app, commit string, timeout time.Duration) (applyFact, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-w.slot(app, commit):
		return f, nil
	case <-t.C:
		return applyFact{}, fmt.Errorf("no apply fact for %s at %.7s within %s", app, commit, timeout)
	case <-ctx.Done():
		return applyFact{}, ctx.Err()
	}
}

func (w *factWatch) close() { _ = w.sub.Unsubscribe() }

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
