package redelivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const (
	owner  = "acme"
	name   = "gitops"
	secret = "s3cret"
)

// fixture is the local GitHub API with the App installed on acme/gitops
// (whose installation delivery succeeded), its webhooks going to rc, and
// Hooks authenticated as the App.
type fixture struct {
	ctx   context.Context
	srv   *githubapi.Server
	rc    *kit.Receiver
	hooks *github.App
	// clock is the App's: its rate-limit pauses pass when the test
	// advances it.
	clock *githubapi.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	rc := kit.NewReceiver(t)
	srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookURL: rc.URL, WebhookSecret: secret, SyncWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.CreateRepo(ctx, owner, name, "testdata/repo"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(ctx, owner, name); err != nil {
		t.Fatal(err)
	}
	clock := githubapi.NewClock(time.Now(), true)
	app, err := github.NewApp(github.Options{AppID: srv.AppID(), PrivateKey: srv.AppPrivateKeyPEM(), BaseURL: srv.URL(),
		Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, srv: srv, rc: rc, hooks: app, clock: clock}
}

// push commits n times to main while the receiver answers status, and
// returns the GUIDs of the push deliveries, oldest first.
func (f *fixture) push(t *testing.T, status, n int) []string {
	t.Helper()
	f.rc.SetStatus(status)
	defer f.rc.SetStatus(http.StatusOK)
	before := len(f.srv.Deliveries())
	for i := 0; i < n; i++ {
		content := fmt.Sprintf("%d %s", i, time.Now().Format(time.RFC3339Nano))
		if _, err := f.srv.Push(f.ctx, owner, name, "main", githubapi.Commit{Files: map[string]string{"n.txt": content}}); err != nil {
			t.Fatal(err)
		}
	}
	var guids []string
	for _, d := range f.srv.Deliveries()[before:] {
		guids = append(guids, d.GUID)
	}
	if len(guids) != n {
		t.Fatalf("%d pushes made %d deliveries", n, len(guids))
	}
	return guids
}

// redeliveries returns, per GUID, the statuses of its redelivery attempts.
func (f *fixture) redeliveries() map[string][]string {
	out := map[string][]string{}
	for _, d := range f.srv.Deliveries() {
		if d.Redelivery {
			out[d.GUID] = append(out[d.GUID], d.Status)
		}
	}
	return out
}

// later is a clock past the default grace period.
func later() time.Time { return time.Now().Add(2 * time.Minute) }

// fast are options for tests: no real pacing, past the grace period.
func fast() Options {
	return Options{Pace: time.Millisecond, Now: later, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestFailed(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	bad := func(id int64, guid string) github.Delivery {
		return github.Delivery{ID: id, GUID: guid, Status: "Invalid HTTP Response: 503", StatusCode: 503, DeliveredAt: t0.Add(time.Duration(id) * time.Second)}
	}
	good := func(id int64, guid string) github.Delivery {
		return github.Delivery{ID: id, GUID: guid, Status: "OK", StatusCode: 202, DeliveredAt: t0.Add(time.Duration(id) * time.Second)}
	}
	type want struct {
		GUID          string
		First, Latest int64
		Attempts      int
	}
	tests := []struct {
		name string
		in   []github.Delivery
		want []want
	}{
		{name: "none", in: nil, want: nil},
		{name: "all OK", in: []github.Delivery{good(1, "a"), good(2, "b")}, want: nil},
		{name: "2xx other than OK status text", in: []github.Delivery{{ID: 1, GUID: "a", StatusCode: 204}}, want: nil},
		{name: "unreachable receiver", in: []github.Delivery{{ID: 1, GUID: "a", Status: "failed to connect to host"}},
			want: []want{{GUID: "a", First: 1, Latest: 1, Attempts: 1}}},
		{name: "later attempt succeeded", in: []github.Delivery{good(3, "a"), bad(1, "a")}, want: nil},
		{name: "failed twice: the latest attempt, oldest GUID first",
			in:   []github.Delivery{bad(5, "b"), bad(4, "a"), good(3, "c"), bad(2, "b"), bad(1, "a")},
			want: []want{{GUID: "a", First: 1, Latest: 4, Attempts: 2}, {GUID: "b", First: 2, Latest: 5, Attempts: 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []want
			for _, g := range failed(tc.in) {
				got = append(got, want{GUID: g.latest.GUID, First: g.first.ID, Latest: g.latest.ID, Attempts: g.attempts})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("failed GUIDs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSweepRedeliversFailedOnce: the deliveries the receiver refused are
// redelivered once each, with their GUIDs, and now succeed; the ones it
// accepted are left alone; a second sweep does nothing.
func TestSweepRedeliversFailedOnce(t *testing.T) {
	f := newFixture(t)
	failedGUIDs := f.push(t, http.StatusServiceUnavailable, 3)
	okGUIDs := f.push(t, http.StatusAccepted, 1)
	sent := len(f.rc.GUIDs())

	res, err := Sweep(f.ctx, f.hooks, fast())
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Scanned: 5, Failed: 3, Redelivered: 3, GUIDs: failedGUIDs}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("first sweep (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(failedGUIDs, f.rc.GUIDs()[sent:]); diff != "" {
		t.Errorf("GUIDs the receiver got again (-want +got):\n%s", diff)
	}
	wantRe := map[string][]string{}
	for _, g := range failedGUIDs {
		wantRe[g] = []string{"OK"}
	}
	if diff := cmp.Diff(wantRe, f.redeliveries()); diff != "" {
		t.Errorf("redelivery attempts by GUID (-want +got):\n%s", diff)
	}
	if re := f.redeliveries()[okGUIDs[0]]; re != nil {
		t.Errorf("the accepted delivery was redelivered: %v", re)
	}

	res, err = Sweep(f.ctx, f.hooks, fast())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 8}, res); diff != "" {
		t.Errorf("second sweep (-want +got):\n%s", diff)
	}
	if n := len(f.rc.GUIDs()); n != sent+3 {
		t.Errorf("receiver got %d deliveries after the second sweep, want %d", n, sent+3)
	}
}

// TestSweepGrace: a failure younger than the grace period is left for a
// later sweep.
func TestSweepGrace(t *testing.T) {
	f := newFixture(t)
	failedGUIDs := f.push(t, http.StatusServiceUnavailable, 2)
	opts := fast()
	opts.Now = time.Now
	opts.Grace = time.Minute
	res, err := Sweep(f.ctx, f.hooks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 3, Failed: 2, Deferred: 2}, res); diff != "" {
		t.Errorf("sweep within the grace period (-want +got):\n%s", diff)
	}
	if re := f.redeliveries(); len(re) != 0 {
		t.Errorf("redelivered within the grace period: %v", re)
	}
	opts.Now = func() time.Time { return time.Now().Add(61 * time.Second) }
	res, err = Sweep(f.ctx, f.hooks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 3, Failed: 2, Redelivered: 2, GUIDs: failedGUIDs}, res); diff != "" {
		t.Errorf("sweep after the grace period (-want +got):\n%s", diff)
	}
}

// TestSweepWindow: deliveries older than the window are neither
// redelivered nor paged through.
func TestSweepWindow(t *testing.T) {
	f := newFixture(t)
	old := f.push(t, http.StatusServiceUnavailable, 2)
	recent := f.push(t, http.StatusServiceUnavailable, 2)
	// The old deliveries were made an hour before the recent ones, as
	// GitHub reports them (its times are whole seconds).
	aged := agedHooks{App: f.hooks, by: time.Hour, guids: map[string]bool{old[0]: true, old[1]: true}}
	for _, d := range f.srv.Deliveries() {
		if d.GUID == recent[0] {
			aged.edge = d.DeliveredAt
		}
	}
	edge := aged.edge

	now := time.Now().Add(2 * time.Minute)
	opts := fast()
	opts.Now = func() time.Time { return now }
	opts.Window = now.Sub(edge)
	opts.PerPage = 1
	f.srv.ResetCalls()
	res, err := Sweep(f.ctx, aged, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 2, Failed: 2, Redelivered: 2, GUIDs: recent}, res); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	for _, g := range old {
		if re := f.redeliveries()[g]; re != nil {
			t.Errorf("delivery %s older than the window was redelivered", g)
		}
	}
	// Two pages inside the window and the page that crossed its edge.
	if n := f.srv.Calls().ByRoute["GET /app/hook/deliveries"]; n != 3 {
		t.Errorf("listed %d pages, want 3 (the listing must stop at the window's edge)", n)
	}

	// A window that ended before every delivery: nothing to do.
	opts.Now = func() time.Time { return time.Now().Add(4 * 24 * time.Hour) }
	opts.Window = 0 // default 3 days
	res, err = Sweep(f.ctx, aged, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{}, res); diff != "" {
		t.Errorf("sweep four days later (-want +got):\n%s", diff)
	}
}

// agedHooks reports the attempts of guids as delivered by earlier than
// GitHub recorded them, and only those.
type agedHooks struct {
	*github.App
	by    time.Duration
	guids map[string]bool
	edge  time.Time // when the first delivery not aged was made
}

func (h agedHooks) ListDeliveries(ctx context.Context, cursor string, perPage int) ([]github.Delivery, string, error) {
	ds, next, err := h.App.ListDeliveries(ctx, cursor, perPage)
	for i := range ds {
		if h.guids[ds[i].GUID] {
			ds[i].DeliveredAt = ds[i].DeliveredAt.Add(-h.by)
		}
	}
	return ds, next, err
}

// TestSweepPages: failures spread over several pages are all found.
func TestSweepPages(t *testing.T) {
	f := newFixture(t)
	failedGUIDs := f.push(t, http.StatusServiceUnavailable, 5)
	opts := fast()
	opts.PerPage = 2
	f.srv.ResetCalls()
	res, err := Sweep(f.ctx, f.hooks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 6, Failed: 5, Redelivered: 5, GUIDs: failedGUIDs}, res); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	if n := f.srv.Calls().ByRoute["GET /app/hook/deliveries"]; n != 3 {
		t.Errorf("listed %d pages of 2, want 3 for 6 deliveries", n)
	}
}

// TestSweepSkipsLaterSuccess: a GUID whose redelivery already succeeded
// (someone clicked "Redeliver" in GitHub) is not redelivered again.
func TestSweepSkipsLaterSuccess(t *testing.T) {
	f := newFixture(t)
	guids := f.push(t, http.StatusServiceUnavailable, 2)
	first := f.srv.Deliveries()[1] // after the installation delivery
	if first.GUID != guids[0] {
		t.Fatalf("delivery order: %s, want %s", first.GUID, guids[0])
	}
	if err := f.hooks.Redeliver(f.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(f.ctx, f.hooks, fast())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 4, Failed: 1, Redelivered: 1, GUIDs: guids[1:]}, res); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
	want := map[string][]string{guids[0]: {"OK"}, guids[1]: {"OK"}}
	if diff := cmp.Diff(want, f.redeliveries()); diff != "" {
		t.Errorf("redelivery attempts by GUID (-want +got):\n%s", diff)
	}
}

// TestSweepCapAndPace: one sweep asks for at most MaxPerSweep
// redeliveries, Pace apart; the next sweep takes the rest.
func TestSweepCapAndPace(t *testing.T) {
	f := newFixture(t)
	guids := f.push(t, http.StatusServiceUnavailable, 4)
	opts := fast()
	opts.MaxPerSweep = 3
	opts.Pace = 150 * time.Millisecond
	start := time.Now()
	res, err := Sweep(f.ctx, f.hooks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("3 redeliveries 150ms apart took %s", took)
	}
	if diff := cmp.Diff(Result{Scanned: 5, Failed: 4, Redelivered: 3, Deferred: 1, GUIDs: guids[:3]}, res); diff != "" {
		t.Errorf("first sweep (-want +got):\n%s", diff)
	}
	res, err = Sweep(f.ctx, f.hooks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 8, Failed: 1, Redelivered: 1, GUIDs: guids[3:]}, res); diff != "" {
		t.Errorf("second sweep (-want +got):\n%s", diff)
	}
}

// TestSweepGivesUp: a delivery the receiver keeps refusing is dropped
// after MaxAttempts attempts.
func TestSweepGivesUp(t *testing.T) {
	f := newFixture(t)
	guids := f.push(t, http.StatusBadRequest, 1)
	f.rc.SetStatus(http.StatusBadRequest)
	opts := fast()
	opts.MaxAttempts = 3
	for i, want := range []Result{
		{Scanned: 2, Failed: 1, Redelivered: 1, GUIDs: guids},
		{Scanned: 3, Failed: 1, Redelivered: 1, GUIDs: guids},
		{Scanned: 4, Failed: 1, GaveUp: 1},
	} {
		res, err := Sweep(f.ctx, f.hooks, opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("sweep %d (-want +got):\n%s", i+1, diff)
		}
	}
}

// rateLimitedAfterList lists for real, then makes GitHub answer the next
// request with its secondary rate limit.
type rateLimitedAfterList struct {
	*github.App
	srv *githubapi.Server
}

func (r rateLimitedAfterList) ListDeliveries(ctx context.Context, cursor string, perPage int) ([]github.Delivery, string, error) {
	ds, next, err := r.App.ListDeliveries(ctx, cursor, perPage)
	r.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, RetryAfter: time.Second})
	return ds, next, err
}

// TestSweepStopsWhenRateLimited: GitHub's secondary limit stops the sweep
// at once; the next sweep does the work.
func TestSweepStopsWhenRateLimited(t *testing.T) {
	f := newFixture(t)
	guids := f.push(t, http.StatusServiceUnavailable, 3)
	res, err := Sweep(f.ctx, rateLimitedAfterList{App: f.hooks, srv: f.srv}, fast())
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("sweep error = %v, want one wrapping ErrRateLimited", err)
	}
	if diff := cmp.Diff(Result{Scanned: 4, Failed: 3}, res); diff != "" {
		t.Errorf("rate-limited sweep (-want +got):\n%s", diff)
	}
	if re := f.redeliveries(); len(re) != 0 {
		t.Errorf("redelivered while rate limited: %v", re)
	}
	f.clock.Advance(time.Second) // GitHub's Retry-After
	res, err = Sweep(f.ctx, f.hooks, fast())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(guids, res.GUIDs); diff != "" {
		t.Errorf("GUIDs redelivered by the next sweep (-want +got):\n%s", diff)
	}
}

// bus starts an in-process NATS server with JetStream and returns a
// function connecting a new Bus to it, as another replica would.
func bus(t *testing.T) func() *events.Bus {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	return func() *events.Bus {
		nc, err := emb.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		b, err := events.New(context.Background(), nc, events.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// replica is one promobot replica's sweep options on the shared bus.
func replica(t *testing.T, b *events.Bus) Options {
	t.Helper()
	ctx := context.Background()
	locks, err := b.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := BusLedger(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	opts := fast()
	opts.Locker, opts.Ledger, opts.Publisher = locks, ledger, b
	opts.LeaseWait = 300 * time.Millisecond
	return opts
}

// facts returns the data of the redelivery facts on the bus.
func facts(t *testing.T, b *events.Bus) []requestedFact {
	t.Helper()
	var out []requestedFact
	for _, fc := range kit.Facts(t, b.JetStream(), events.FactPrefix+"."+FactKind+"."+FactVerb+".>") {
		if fc.Type != "dev.promobot.redelivery.requested" || fc.Subject == "" {
			t.Errorf("fact type %q subject %q", fc.Type, fc.Subject)
		}
		var f requestedFact
		fc.Decode(t, &f)
		out = append(out, f)
	}
	return out
}

// TestSweepAcrossReplicas: one replica sweeps at a time (the lease), and a
// GUID one replica redelivered is left alone by the others for Remember
// (the ledger on the bus), even when the redelivery failed again.
func TestSweepAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	connect := bus(t)
	busA, busB := connect(), connect()
	a, b := replica(t, busA), replica(t, busB)
	guids := f.push(t, http.StatusServiceUnavailable, 2)
	f.rc.SetStatus(http.StatusServiceUnavailable) // promobot's bus is still down

	// Replica B holds the lease: A does nothing.
	held, err := b.Locker.Acquire(f.ctx, LeaseName, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(f.ctx, f.hooks, a)
	if !errors.Is(err, ErrSweepInProgress) {
		t.Fatalf("sweep while another replica holds the lease: %+v, %v; want ErrSweepInProgress", res, err)
	}
	if re := f.redeliveries(); len(re) != 0 {
		t.Errorf("redelivered without the lease: %v", re)
	}
	if err := held.Release(f.ctx); err != nil {
		t.Fatal(err)
	}

	res, err = Sweep(f.ctx, f.hooks, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 3, Failed: 2, Redelivered: 2, GUIDs: guids}, res); diff != "" {
		t.Errorf("replica A's sweep (-want +got):\n%s", diff)
	}
	// The redeliveries failed too; replica B, three minutes later, leaves
	// them alone: A asked for them recently.
	b.Now = func() time.Time { return time.Now().Add(3 * time.Minute) }
	res, err = Sweep(f.ctx, f.hooks, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 5, Failed: 2, Deferred: 2}, res); diff != "" {
		t.Errorf("replica B's sweep (-want +got):\n%s", diff)
	}
	// Past Remember, the receiver is back: B redelivers them.
	f.rc.SetStatus(http.StatusAccepted)
	b.Now = func() time.Time { return time.Now().Add(40 * time.Minute) }
	res, err = Sweep(f.ctx, f.hooks, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Scanned: 5, Failed: 2, Redelivered: 2, GUIDs: guids}, res); diff != "" {
		t.Errorf("replica B's sweep past Remember (-want +got):\n%s", diff)
	}
	want := map[string][]string{}
	for _, g := range guids {
		want[g] = []string{"Invalid HTTP Response: 503", "OK"}
	}
	if diff := cmp.Diff(want, f.redeliveries()); diff != "" {
		t.Errorf("redelivery attempts by GUID (-want +got):\n%s", diff)
	}

	// Every redelivery is on the audit log.
	var got []string
	for _, fc := range facts(t, busA) {
		if fc.Event != "push" || fc.AttemptID == 0 || fc.FirstAttemptAt.IsZero() || !strings.HasPrefix(fc.LastStatus, "Invalid HTTP Response: 503") {
			t.Errorf("fact %+v", fc)
		}
		got = append(got, fmt.Sprintf("%s attempts=%d", fc.GUID, fc.Attempts))
	}
	wantFacts := []string{guids[0] + " attempts=1", guids[1] + " attempts=1", guids[0] + " attempts=2", guids[1] + " attempts=2"}
	if diff := cmp.Diff(wantFacts, got); diff != "" {
		t.Errorf("redelivery facts (-want +got):\n%s", diff)
	}
}

func counter(result string) float64 {
	var m dto.Metric
	_ = redeliveriesTotal.WithLabelValues(result).Write(&m)
	return m.GetCounter().GetValue()
}

// TestRun: Run sweeps at start and on every tick, logs a line per sweep,
// counts redeliveries and records a fact for each.
func TestRun(t *testing.T) {
	f := newFixture(t)
	b := bus(t)()
	guids := f.push(t, http.StatusServiceUnavailable, 2)
	sent := len(f.rc.GUIDs())
	logs := &kit.Buffer{}
	opts := Options{Pace: time.Millisecond, Now: later, Publisher: b, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	before := counter("requested")

	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, f.hooks, opts, 100*time.Millisecond) }()
	kit.Eventually(t, 10*time.Second, "three sweeps", func() (bool, string) {
		return strings.Count(logs.String(), `msg="redelivery sweep"`) >= 3, logs.String()
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v when its context ended", err)
	}

	if diff := cmp.Diff(guids, f.rc.GUIDs()[sent:]); diff != "" {
		t.Errorf("GUIDs the receiver got again (-want +got):\n%s", diff)
	}
	var sweeps []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="redelivery sweep"`) {
			i := strings.Index(line, "scanned=")
			j := strings.Index(line, " duration=")
			sweeps = append(sweeps, line[i:j])
		}
	}
	if len(sweeps) < 3 {
		t.Fatalf("%d sweep log lines in 10s, want at least 3:\n%s", len(sweeps), logs.String())
	}
	wantSweeps := []string{
		"scanned=3 failed=2 redelivered=2 deferred=0 gave_up=0 errors=0",
		"scanned=5 failed=0 redelivered=0 deferred=0 gave_up=0 errors=0",
		"scanned=5 failed=0 redelivered=0 deferred=0 gave_up=0 errors=0",
	}
	if diff := cmp.Diff(wantSweeps, sweeps[:3]); diff != "" {
		t.Errorf("sweep log lines (-want +got):\n%s", diff)
	}
	if got := counter("requested") - before; got != 2 {
		t.Errorf("promobot_redeliveries_total{result=requested} grew by %v, want 2", got)
	}
	var factGUIDs []string
	for _, fc := range facts(t, b) {
		factGUIDs = append(factGUIDs, fc.GUID)
	}
	if diff := cmp.Diff(guids, factGUIDs); diff != "" {
		t.Errorf("redelivery facts (-want +got):\n%s", diff)
	}
}

// TestRunSweepsAgainAfterTheGrace: a failure too recent to redeliver at one
// sweep is redelivered as soon as its grace has passed, not an interval
// later (a delivery missed just before promobot started must not wait).
func TestRunSweepsAgainAfterTheGrace(t *testing.T) {
	f := newFixture(t)
	guids := f.push(t, http.StatusServiceUnavailable, 2)
	sent := len(f.rc.GUIDs())
	opts := Options{Pace: time.Millisecond, Now: time.Now, Grace: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, f.hooks, opts, time.Hour) }()
	kit.Eventually(t, 15*time.Second, "the redeliveries after the grace", func() (bool, string) {
		got := f.rc.GUIDs()
		return len(got) >= sent+len(guids), fmt.Sprintf("received %v", got)
	})
	cancel()
	<-done
	if diff := cmp.Diff(guids, f.rc.GUIDs()[sent:]); diff != "" {
		t.Errorf("GUIDs redelivered after the grace, with an hour's interval (-want +got):\n%s", diff)
	}
}
