package githubapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// TestThrottleSecondaryLimits follows "Rate limits for the REST API",
// "About secondary rate limits": no more than 80 content-generating
// requests a minute and 500 an hour per installation (here 3 and 5, so the
// test is short), refused with 403 or 429 and GitHub's secondary-limit
// message; "if the retry-after response header is present" it says how
// long to wait, otherwise x-ratelimit-remaining is not 0 and the client
// waits at least a minute. Reads are not counted, and the budgets renew
// with time (an injected clock).
func TestThrottleSecondaryLimits(t *testing.T) {
	type answer struct {
		Status     int
		RetryAfter string
	}
	tests := []struct {
		name     string
		throttle Throttle
		// want: the 4th POST (minute budget spent), then after a minute
		// the 3rd POST of the new minute (hour budget spent), twice.
		want []answer
	}{
		{
			name:     "403 with Retry-After",
			throttle: Throttle{PerMinute: 3, PerHour: 5, RetryAfter: RetryAfterAlways},
			want:     []answer{{403, "60"}, {403, "3540"}, {403, "3480"}},
		},
		{
			name:     "429 without Retry-After",
			throttle: Throttle{PerMinute: 3, PerHour: 5, Status: http.StatusTooManyRequests, RetryAfter: RetryAfterNever},
			want:     []answer{{429, ""}, {429, ""}, {429, ""}},
		},
		{
			name:     "alternating",
			throttle: Throttle{PerMinute: 3, PerHour: 5, RetryAfter: RetryAfterAlternate},
			want:     []answer{{403, "60"}, {403, ""}, {403, "3480"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
			tc.throttle.Clock = clock
			e := newEnv(t, func(o *Options) { o.Throttle = &tc.throttle })
			n := openTestPR(t, e)
			label := rawCall(t, e, mustToken(t, e), http.MethodPost, fmt.Sprintf("repos/%s/%s/issues/%d/labels", testOwner, testRepo, n), `{"labels":["x"]}`)
			read := rawCall(t, e, mustToken(t, e), http.MethodGet, "repos/acme/gitops", "")
			var got []answer
			refused := func() {
				t.Helper()
				resp, body := label()
				if resp.StatusCode < 400 {
					t.Fatalf("POST over the budget served %d", resp.StatusCode)
				}
				if !strings.Contains(body, "secondary rate limit") {
					t.Errorf("refusal without GitHub's message: %s", body)
				}
				if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
					t.Errorf("a secondary limit left the primary budget at 0")
				}
				got = append(got, answer{resp.StatusCode, resp.Header.Get("Retry-After")})
			}
			served := func(k int) {
				t.Helper()
				for i := 0; i < k; i++ {
					if resp, body := label(); resp.StatusCode != http.StatusOK {
						t.Fatalf("POST %d within the budget: %d %s", i+1, resp.StatusCode, body)
					}
				}
			}
			served(3)
			refused()
			// Reads are not content-creating.
			if resp, body := read(); resp.StatusCode != http.StatusOK {
				t.Fatalf("GET during the limit: %d %s", resp.StatusCode, body)
			}
			clock.Advance(time.Minute)
			served(2)
			refused()
			clock.Advance(time.Minute)
			refused()
			// The hour budget renews an hour after its first request.
			clock.Advance(58 * time.Minute)
			served(3)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
			if got := e.srv.Throttled(); got != 3 {
				t.Errorf("Throttled() = %d, want 3", got)
			}
		})
	}
}

// TestThrottlePerInstallation: each installation has its own budgets;
// token requests (App JWT) and a lifted throttle are not limited.
func TestThrottlePerInstallation(t *testing.T) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
	e := newEnv(t, func(o *Options) { o.Throttle = &Throttle{PerMinute: 1, Clock: clock} })
	n := openTestPR(t, e)
	must(e.inst.Issues.AddLabelsToIssue(e.ctx, testOwner, testRepo, n, []string{"x"})).ok(t)
	if _, _, err := e.inst.Issues.AddLabelsToIssue(e.ctx, testOwner, testRepo, n, []string{"y"}); err == nil {
		t.Fatal("second POST of the minute served")
	}
	var abuse *gh.AbuseRateLimitError
	_, _, err := e.inst.Issues.AddLabelsToIssue(e.ctx, testOwner, testRepo, n, []string{"y"})
	if !errors.As(err, &abuse) {
		t.Errorf("go-github does not see a secondary limit: %T %v", err, err)
	}
	// Token requests are POSTs of the App, not of the installation.
	for i := 0; i < 3; i++ {
		must(e.app.Apps.CreateInstallationToken(e.ctx, e.instID, nil)).ok(t)
	}
	if err := e.srv.CreateRepo(e.ctx, "globex", "deploy", "testdata/repo"); err != nil {
		t.Fatal(err)
	}
	other, err := e.srv.Install(e.ctx, "globex", "deploy")
	if err != nil {
		t.Fatal(err)
	}
	oc := e.instClient(other, nil)
	head := must(oc.Git.GetRef(e.ctx, "globex", "deploy", "heads/main")).ok(t)
	must(oc.Git.CreateRef(e.ctx, "globex", "deploy", &gh.Reference{Ref: gh.String("refs/heads/b"), Object: head.Object})).ok(t)
	// Lifted: a fresh client (go-github remembers the limit) is served.
	e.srv.SetThrottle(Unthrottled())
	must(e.tokenClient(mustToken(t, e)).Issues.AddLabelsToIssue(e.ctx, testOwner, testRepo, n, []string{"z"})).ok(t)
}

// rawCall returns a function making one API call with token, bypassing
// go-github, which remembers a secondary limit and refuses on its own.
func rawCall(t *testing.T, e *env, token, method, path, body string) func() (*http.Response, string) {
	return func() (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
}
