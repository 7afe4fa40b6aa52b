package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/promobot/promobot/test/githubapi"
)

const repoRoute = "GET /repos/{owner}/{repo}"

// warm fetches the installation token so faults hit the call under test.
func warm(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.inst.Repository(f.ctx, repo); err != nil {
		t.Fatal(err)
	}
	f.srv.ResetCalls()
}

func TestRetriesAndRateLimits(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(*Options)
		fault githubapi.Fault
		// call is a read (GET repository) unless write is set (POST comment).
		write     bool
		wantErr   func(error) bool
		wantCalls int
		minTime   time.Duration
		maxTime   time.Duration
	}{
		{
			name:      "secondary rate limit is waited out",
			fault:     githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 2, RetryAfter: time.Second},
			wantCalls: 3, minTime: 1900 * time.Millisecond, maxTime: 10 * time.Second,
		},
		{
			name:      "secondary rate limit on a write is retried too",
			fault:     githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 1, RetryAfter: time.Second},
			write:     true,
			wantCalls: 2, minTime: 900 * time.Millisecond, maxTime: 10 * time.Second,
		},
		{
			name:  "secondary rate limit gives up after MaxAttempts",
			opts:  func(o *Options) { o.MaxAttempts = 2 },
			fault: githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 5, RetryAfter: time.Second},
			wantErr: func(err error) bool {
				var rl *RateLimitError
				return errors.As(err, &rl) && rl.Secondary && rl.Attempts == 2 && Temporary(err)
			},
			wantCalls: 2, maxTime: 10 * time.Second,
		},
		{
			name:  "a wait longer than MaxWait is not waited",
			opts:  func(o *Options) { o.MaxWait = 500 * time.Millisecond },
			fault: githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 1, RetryAfter: time.Minute},
			wantErr: func(err error) bool {
				var rl *RateLimitError
				return errors.As(err, &rl) && time.Until(rl.Reset) > 50*time.Second
			},
			wantCalls: 1, maxTime: 2 * time.Second,
		},
		{
			name:      "primary limit waits for x-ratelimit-reset",
			fault:     githubapi.Fault{Kind: githubapi.FaultPrimaryRateLimit, Count: 1, RetryAfter: time.Second},
			wantCalls: 2, minTime: 500 * time.Millisecond, maxTime: 10 * time.Second,
		},
		{
			name:      "server errors on reads are retried",
			fault:     githubapi.Fault{Kind: githubapi.FaultServerError, Count: 2},
			wantCalls: 3, maxTime: 5 * time.Second,
		},
		{
			name:  "server errors on reads give up after MaxAttempts",
			opts:  func(o *Options) { o.MaxAttempts = 3 },
			fault: githubapi.Fault{Kind: githubapi.FaultServerError, Count: 10, Status: http.StatusServiceUnavailable},
			wantErr: func(err error) bool {
				var un *UnavailableError
				return errors.As(err, &un) && un.Status == 503 && un.Attempts == 3 && Temporary(err)
			},
			wantCalls: 3, maxTime: 5 * time.Second,
		},
		{
			name:  "server errors on writes are not retried",
			fault: githubapi.Fault{Kind: githubapi.FaultServerError, Count: 1},
			write: true,
			wantErr: func(err error) bool {
				var api *APIError
				return errors.As(err, &api) && api.Status == 502 && Temporary(err)
			},
			wantCalls: 1, maxTime: 5 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mods []func(*Options)
			if tc.opts != nil {
				mods = append(mods, tc.opts)
			}
			f := newFixture(t, mods...)
			route := repoRoute
			if tc.write {
				if _, err := f.srv.Push(f.ctx, owner, name, "b", githubapi.Commit{Files: map[string]string{"x": "y"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := f.srv.OpenPR(f.ctx, owner, name, githubapi.NewPR{Title: "t", Head: "b"}); err != nil {
					t.Fatal(err)
				}
				route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
			}
			warm(t, f)
			f.srv.InjectFault(tc.fault)
			start := time.Now()
			var err error
			if tc.write {
				_, err = f.inst.CreateComment(f.ctx, repo, 1, "hello")
			} else {
				_, err = f.inst.Repository(f.ctx, repo)
			}
			took := time.Since(start)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("error %T %v does not match", err, err)
			}
			if diff := cmp.Diff(tc.wantCalls, f.srv.Calls().ByRoute[route]); diff != "" {
				t.Errorf("calls served (-want +got):\n%s", diff)
			}
			if took < tc.minTime || took > tc.maxTime {
				t.Errorf("took %v, want between %v and %v", took, tc.minTime, tc.maxTime)
			}
		})
	}
}

func TestPauseAppliesToLaterCalls(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxWait = 300 * time.Millisecond })
	warm(t, f)
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 1, RetryAfter: 30 * time.Second})
	if _, err := f.inst.Repository(f.ctx, repo); err == nil {
		t.Fatal("rate-limited call succeeded")
	}
	// The next call is refused without reaching GitHub: the installation
	// is paused until Retry-After has passed.
	_, err := f.inst.BranchHead(f.ctx, repo, "main")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Attempts != 0 {
		t.Errorf("call during the pause: %v", err)
	}
	if got := f.srv.Calls().Total; got != 1 {
		t.Errorf("calls reaching GitHub: %d, want 1", got)
	}
	// Other installations are not paused.
	if err := f.srv.CreateRepo(f.ctx, "globex", "deploy", ""); err != nil {
		t.Fatal(err)
	}
	other, err := f.srv.Install(f.ctx, "globex", "deploy")
	if err != nil {
		t.Fatal(err)
	}
	oc, err := f.app.Installation(f.ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Repository(f.ctx, Repo{Owner: "globex", Name: "deploy"}); err != nil {
		t.Errorf("another installation: %v", err)
	}
}

// TestWritesSerializedPerInstallation: with 100 ms per call, five
// concurrent comments take five round trips; five concurrent reads take
// about one.
func TestWritesSerializedPerInstallation(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	if _, err := f.srv.Push(ctx, owner, name, "b", githubapi.Commit{Files: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.OpenPR(ctx, owner, name, githubapi.NewPR{Title: "t", Head: "b"}); err != nil {
		t.Fatal(err)
	}
	warm(t, f)
	f.srv.SetLatency(100 * time.Millisecond)
	concurrently := func(do func() error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- do()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	writes := concurrently(func() error { _, err := f.inst.CreateComment(ctx, repo, 1, "hi"); return err })
	reads := concurrently(func() error { _, err := f.inst.Repository(ctx, repo); return err })
	if writes < 500*time.Millisecond {
		t.Errorf("5 concurrent writes took %v: not serialized", writes)
	}
	if reads > 400*time.Millisecond {
		t.Errorf("5 concurrent reads took %v: serialized", reads)
	}
}

func TestRequestMetrics(t *testing.T) {
	f := newFixture(t)
	warm(t, f)
	ok := requestsTotal.WithLabelValues("GET", "200")
	bad := requestsTotal.WithLabelValues("GET", "502")
	retried := retriesTotal.WithLabelValues("server_error")
	ok0, bad0, retried0 := counterValue(ok), counterValue(bad), counterValue(retried)
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultServerError, Count: 2})
	if _, err := f.inst.BranchHead(f.ctx, repo, "main"); err != nil {
		t.Fatal(err)
	}
	got := []float64{counterValue(ok) - ok0, counterValue(bad) - bad0, counterValue(retried) - retried0}
	if diff := cmp.Diff([]float64{1, 2, 2}, got); diff != "" {
		t.Errorf("requests 200, 502, retries (-want +got):\n%s", diff)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	f := newFixture(t)
	warm(t, f)
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultServerError, Count: 1})
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, Count: 1, RetryAfter: time.Second})
	if _, err := f.inst.Repository(f.ctx, repo); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "github retry") || !strings.Contains(logs, "github rate limited") {
		t.Fatalf("expected retry logs, got:\n%s", logs)
	}
	for _, secret := range []string{"PRIVATE KEY", "ghs_", "Bearer", "Authorization", "token="} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestNewAppRefusesBadConfig(t *testing.T) {
	key := []byte("-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	tests := []struct {
		name string
		opts Options
	}{
		{"no app id", Options{PrivateKey: key}},
		{"bad key", Options{AppID: 1, PrivateKey: key}},
		{"bad base URL", Options{AppID: 1, PrivateKey: good, BaseURL: "::"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewApp(tc.opts)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "not a key") {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestConditionalReads: a repeated read is sent with If-None-Match; GitHub's
// 304 costs no rate limit and the caller still gets the full answer.
func TestConditionalReads(t *testing.T) {
	f := newFixture(t)
	warm(t, f)
	notModified := requestsTotal.WithLabelValues("GET", "304")
	before := counterValue(notModified)
	first, err := f.inst.File(f.ctx, repo, "main", prodKustomization)
	if err != nil {
		t.Fatal(err)
	}
	pr1, err := f.inst.Repository(f.ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.inst.File(f.ctx, repo, "main", prodKustomization)
	if err != nil {
		t.Fatal(err)
	}
	pr2, err := f.inst.Repository(f.ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(first), string(second)); diff != "" || !cmp.Equal(pr1, pr2) {
		t.Errorf("cached answers differ (-first +second):\n%s", diff)
	}
	// warm read the repository already: both repository reads and the
	// second file read are 304s.
	if got := counterValue(notModified) - before; got != 3 {
		t.Errorf("304 answers: %v, want 3", got)
	}
	// A change is seen at once.
	if _, err := f.srv.Push(f.ctx, owner, name, "main", githubapi.Commit{Files: map[string]string{prodKustomization: "changed\n"}}); err != nil {
		t.Fatal(err)
	}
	third, err := f.inst.File(f.ctx, repo, "main", prodKustomization)
	if err != nil || string(third) != "changed\n" {
		t.Errorf("after a push: %q %v", third, err)
	}
}

func TestTokenRequestRetried(t *testing.T) {
	f := newFixture(t)
	// The installation has no token yet: the first call asks for one, and
	// that request meets the server errors.
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultServerError, Count: 2})
	if _, err := f.inst.Repository(f.ctx, repo); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.Calls().ByRoute["POST /app/installations/{installation_id}/access_tokens"]; got != 3 {
		t.Errorf("token requests: %d, want 3", got)
	}
}

// TestSecondaryLimitWaits: against the local GitHub's throttle (GitHub's
// secondary limits on content-creating requests, here 3 a minute and 5 an
// hour so the test is short), every comment is created in the end, and the
// transport waits as GitHub's "Rate limits for the REST API" says: the
// Retry-After seconds when present; otherwise at least a minute, doubling
// while GitHub keeps refusing. The clock is shared with the throttle, so
// the waits pass at once.
func TestSecondaryLimitWaits(t *testing.T) {
	tests := []struct {
		name      string
		mode      githubapi.RetryAfterMode
		status    int
		wantWaits []time.Duration
	}{
		{
			name: "with Retry-After", mode: githubapi.RetryAfterAlways,
			wantWaits: []time.Duration{time.Minute, 59 * time.Minute},
		},
		{
			name: "without Retry-After", mode: githubapi.RetryAfterNever, status: http.StatusTooManyRequests,
			wantWaits: []time.Duration{time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute},
		},
		{
			name: "alternating", mode: githubapi.RetryAfterAlternate,
			// Retry-After 60; none (a minute); Retry-After 58 minutes.
			wantWaits: []time.Duration{time.Minute, time.Minute, 58 * time.Minute},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true)
			throttle := &githubapi.Throttle{PerMinute: 3, PerHour: 5, Status: tc.status, RetryAfter: tc.mode, Clock: clock}
			f := newFixtureOn(t, githubapi.Options{Throttle: throttle}, func(o *Options) {
				o.Clock = clock
				o.MaxAttempts = 10
			})
			n := openPR(t, f)
			warm(t, f)
			for i := 0; i < 8; i++ {
				if _, err := f.inst.CreateComment(f.ctx, repo, n, fmt.Sprintf("comment %d", i)); err != nil {
					t.Fatalf("comment %d: %v", i, err)
				}
			}
			if got := len(comments(t, f, n)); got != 8 {
				t.Errorf("comments created: %d, want 8", got)
			}
			if diff := cmp.Diff(tc.wantWaits, clock.Sleeps()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if f.srv.Throttled() != len(tc.wantWaits) {
				t.Errorf("refusals: %d, want %d", f.srv.Throttled(), len(tc.wantWaits))
			}
		})
	}
}

// TestMaxWaitPerCall: a call that must not wait (the applier's reports)
// fails at once with a RateLimitError saying when GitHub takes requests
// again, even while another write of the installation is waiting out the
// limit, and without reaching GitHub.
func TestMaxWaitPerCall(t *testing.T) {
	clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
	throttle := &githubapi.Throttle{PerMinute: 1, RetryAfter: githubapi.RetryAfterNever, Clock: clock}
	f := newFixtureOn(t, githubapi.Options{Throttle: throttle}, func(o *Options) { o.Clock = clock })
	n := openPR(t, f)
	warm(t, f)
	if _, err := f.inst.CreateComment(f.ctx, repo, n, "first"); err != nil {
		t.Fatal(err)
	}
	// The second write is refused and waits a minute of the clock.
	waited := make(chan error, 1)
	go func() {
		_, err := f.inst.CreateComment(f.ctx, repo, n, "second")
		waited <- err
	}()
	if err := clock.WaitSleeping(f.ctx, 1); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.Calls().Total
	_, err := f.inst.CreateComment(WithMaxWait(f.ctx, 0), repo, n, "report")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Secondary || rl.Attempts != 0 || !rl.Reset.Equal(clock.Now().Add(time.Minute)) {
		t.Errorf("call that must not wait: %v", err)
	}
	if got := f.srv.Calls().Total; got != calls {
		t.Errorf("calls reaching GitHub during the pause: %d", got-calls)
	}
	clock.Advance(time.Minute)
	if err := <-waited; err != nil {
		t.Errorf("the waiting write: %v", err)
	}
	var got []string
	for _, c := range comments(t, f, n) {
		got = append(got, c.Body)
	}
	if diff := cmp.Diff([]string{"first", "second"}, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}

func openPR(t *testing.T, f *fixture) int {
	t.Helper()
	if _, err := f.srv.Push(f.ctx, owner, name, "b", githubapi.Commit{Files: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	n, err := f.srv.OpenPR(f.ctx, owner, name, githubapi.NewPR{Title: "t", Head: "b"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func comments(t *testing.T, f *fixture, n int) []githubapi.IssueComment {
	t.Helper()
	cs, err := f.srv.Comments(owner, name, n)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// FuzzRateLimited: whatever GitHub's rate-limit headers and body say, a
// rate-limited answer never asks to retry before now, a secondary limit
// without a usable Retry-After waits at least a minute (GitHub's "wait at
// least one minute"), and a wait is never longer than a day.
func FuzzRateLimited(f *testing.F) {
	f.Add(403, "60", "4999", "", "You have exceeded a secondary rate limit.")
	f.Add(429, "", "10", "", "")
	f.Add(403, "", "0", "1767225660", "API rate limit exceeded")
	f.Add(403, "Thu, 01 Jan 2026 00:00:30 GMT", "", "", "")
	f.Add(403, "-5", "", "", "secondary rate limit")
	f.Add(403, "99999999999", "", "", "")
	f.Add(200, "60", "0", "1767225660", "")
	f.Fuzz(func(t *testing.T, status int, retryAfter, remaining, reset, body string) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tr := newTransport(http.DefaultTransport, &retryPolicy{clock: githubapi.NewClock(now, true)})
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, "X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		resp := &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
		secondary, until, limited := tr.rateLimited(resp)
		if !limited {
			if status != 403 && status != 429 {
				return
			}
			if secondary || !until.IsZero() {
				t.Fatalf("not limited but secondary=%v until=%v", secondary, until)
			}
			return
		}
		if status != 403 && status != 429 {
			t.Fatalf("status %d taken for a rate limit", status)
		}
		if until.Before(now) {
			t.Fatalf("retry at %v, before now %v (Retry-After %q, remaining %q, reset %q)", until, now, retryAfter, remaining, reset)
		}
		if until.After(now.Add(24 * time.Hour)) {
			t.Fatalf("wait until %v: longer than a day (Retry-After %q, reset %q)", until, retryAfter, reset)
		}
		if secondary && h.Get("Retry-After") == "" && until.Before(now.Add(time.Minute)) {
			t.Fatalf("secondary limit without Retry-After waits %v", until.Sub(now))
		}
		if rest, _ := io.ReadAll(resp.Body); string(rest) != body {
			t.Fatalf("body not left readable: %q", rest)
		}
	})
}
