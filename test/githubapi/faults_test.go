package githubapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"
)

func TestFaultSwitches(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	must(e.inst.Repositories.Get(ctx, testOwner, testRepo)).ok(t) // fetch the token first
	second, third := e.tokenClient(mustToken(t, e)), e.tokenClient(mustToken(t, e))

	e.srv.InjectFault(Fault{Kind: FaultSecondaryRateLimit, Count: 2, RetryAfter: 3 * time.Second})
	_, resp, err := e.inst.Repositories.Get(ctx, testOwner, testRepo)
	var abuse *gh.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 3*time.Second || resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(abuse.Message, "secondary rate limit") {
		t.Fatalf("secondary rate limit: %T %v", err, err)
	}
	// The second faulted call, made through a fresh go-github client (the
	// first one now refuses on its own until Retry-After passes).
	_, resp, _ = second.Repositories.Get(ctx, testOwner, testRepo)
	if resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("second secondary-limit answer: %v", resp)
	}
	e.srv.InjectFault(Fault{Kind: FaultServerError, Count: 2, Status: http.StatusServiceUnavailable})
	c := third
	for i := 0; i < 2; i++ {
		if _, _, err := c.Repositories.Get(ctx, testOwner, testRepo); statusOf(err) != http.StatusServiceUnavailable {
			t.Errorf("server error %d: %v", i, err)
		}
	}
	must(c.Repositories.Get(ctx, testOwner, testRepo)).ok(t)

	e.srv.InjectFault(Fault{Kind: FaultPrimaryRateLimit, RetryAfter: time.Minute})
	_, _, err = c.Repositories.Get(ctx, testOwner, testRepo)
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || time.Until(rl.Rate.Reset.Time) < 50*time.Second {
		t.Errorf("primary rate limit: %T %v", err, err)
	}

	// Latency is added to every call; calls are counted by route.
	e.srv.SetLatency(50 * time.Millisecond)
	e.srv.ResetCalls()
	c2 := e.tokenClient(mustToken(t, e))
	start := time.Now()
	must(c2.Repositories.Get(ctx, testOwner, testRepo)).ok(t)
	must(c2.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, openTestPR(t, e), []string{"x"})).ok(t)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("two calls with 50ms latency took %v", d)
	}
	e.srv.SetLatency(0)
	calls := e.srv.Calls()
	if calls.Total != 3 || calls.Writes != 2 || calls.ByRoute["GET /repos/{owner}/{repo}"] != 1 ||
		calls.ByRoute["POST /repos/{owner}/{repo}/issues/{issue_number}/labels"] != 1 ||
		calls.ByRoute["POST /app/installations/{installation_id}/access_tokens"] != 1 {
		t.Errorf("calls: %+v", calls)
	}
}

func mustToken(t *testing.T, e *env) string {
	t.Helper()
	return must(e.app.Apps.CreateInstallationToken(e.ctx, e.instID, nil)).ok(t).GetToken()
}

func TestConditionalRequestsCostNothing(t *testing.T) {
	e := newEnv(t)
	tok := mustToken(t, e)
	get := func(etag string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+"repos/acme/gitops", nil)
		req.Header.Set("Authorization", "token "+tok)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get("")
	second := get(first.Header.Get("ETag"))
	if first.StatusCode != 200 || first.Header.Get("ETag") == "" || second.StatusCode != http.StatusNotModified {
		t.Fatalf("statuses %d then %d (etag %q)", first.StatusCode, second.StatusCode, first.Header.Get("ETag"))
	}
	if a, b := first.Header.Get("X-Ratelimit-Remaining"), second.Header.Get("X-Ratelimit-Remaining"); a != b {
		t.Errorf("304 used the rate limit: remaining %s then %s", a, b)
	}
}
