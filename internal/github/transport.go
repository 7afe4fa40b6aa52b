package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	requestsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "promobot_github_requests_total",
		Help: "GitHub API requests sent (every attempt, token requests included), by HTTP method and response status (\"error\" when no response).",
	}, []string{"method", "status"})
	retriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "promobot_github_retries_total",
		Help: "GitHub API requests retried, by reason (secondary_rate_limit, primary_rate_limit, server_error, network).",
	}, []string{"reason"})
)

// RateLimitError is returned when GitHub refused a request for a rate limit
// and promobot did not wait it out: the wait was longer than
// Options.MaxWait, or the request was refused Options.MaxAttempts times.
// The work can be retried after Reset.
type RateLimitError struct {
	// Secondary is true for GitHub's secondary (abuse) limits, false for
	// the primary hourly budget.
	Secondary bool
	Method    string
	Path      string // the URL path, never the query
	Attempts  int
	// Reset is when GitHub said requests may resume.
	Reset time.Time
}

// ErrRateLimited matches every *RateLimitError (errors.Is), for callers
// that only need to know a rate limit stopped the call.
var ErrRateLimited = errors.New("rate limited")

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	return fmt.Sprintf("github %s %s: %s rate limit, retry after %s (%d attempts)",
		e.Method, e.Path, kind, e.Reset.Format(time.RFC3339), e.Attempts)
}

// UnavailableError is returned when an idempotent request kept failing
// with a server error (5xx) or a network error for Options.MaxAttempts
// attempts.
type UnavailableError struct {
	Method   string
	Path     string
	Status   int // last status; 0 for a network error
	Attempts int
	Err      error // last network error, if any
}

func (e *UnavailableError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("github %s %s: unavailable after %d attempts: %v", e.Method, e.Path, e.Attempts, e.Err)
	}
	return fmt.Sprintf("github %s %s: status %d after %d attempts", e.Method, e.Path, e.Status, e.Attempts)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Temporary reports whether err is worth retrying later (rate limits,
// server errors, network failures), as opposed to a refusal that will not
// change (validation, permission, not found).
func Temporary(err error) bool {
	var rl *RateLimitError
	var un *UnavailableError
	var ne net.Error
	switch {
	case errors.As(err, &rl), errors.As(err, &un):
		return true
	case errors.As(err, &ne):
		return true
	}
	var api *APIError
	if errors.As(err, &api) {
		return api.Status >= 500
	}
	return false
}

// maxRateLimitWait bounds one rate-limit wait whatever the headers say.
const maxRateLimitWait = 24 * time.Hour

// Clock is the time the transport's rate-limit waits follow. Tests inject
// one whose minutes pass at once; promobot uses the real time.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (returning its error).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock returns the real time as a Clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

type maxWaitKey struct{}

// WithMaxWait bounds the rate-limit waits of the calls made with the
// returned context to d (0: none), overriding Options.MaxWait. A call that
// would wait longer fails at once with a RateLimitError saying when GitHub
// takes requests again, without reaching GitHub while the installation is
// paused. The applier reports this way so that an apply never waits on
// GitHub's pacing: what cannot be sent now is queued.
func WithMaxWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, maxWaitKey{}, d)
}

func maxWaitOf(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(maxWaitKey{}).(time.Duration); ok {
		return d
	}
	return def
}

// retryPolicy is shared by every transport of an App.
type retryPolicy struct {
	maxAttempts int
	maxWait     time.Duration
	backoff     time.Duration
	// timeout bounds each attempt (not the waits between attempts).
	timeout time.Duration
	clock   Clock
	log     *slog.Logger
}

// transport makes GitHub API calls resilient. One transport serves one
// installation (or the App itself): it serializes that installation's
// mutating calls, as GitHub asks of integrations, and remembers a rate-limit
// pause so later calls wait instead of being refused again. It sits below
// ghinstallation, so it also carries token requests.
type transport struct {
	next   http.RoundTripper
	policy *retryPolicy
	writes chan struct{} // a one-slot semaphore for mutating calls

	mu         sync.Mutex
	pauseUntil time.Time // no calls before this (a rate limit)
	pauseSec   bool      // the pause is for a secondary limit
	// blind counts the secondary limits in a row answered without
	// Retry-After: each waits twice as long as the one before.
	blind int

	cache *etagCache
}

func newTransport(next http.RoundTripper, p *retryPolicy) *transport {
	return &transport{next: next, policy: p, writes: make(chan struct{}, 1), cache: newETagCache(512, 1<<20)}
}

func (t *transport) pausedUntil() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pauseUntil, t.pauseSec
}

func (t *transport) pause(until time.Time, secondary bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.pauseUntil) {
		t.pauseUntil, t.pauseSec = until, secondary
	}
}

// blindWait is the wait after a secondary limit without Retry-After:
// "at least one minute", doubling while GitHub keeps refusing, up to an
// hour.
func (t *transport) blindWait() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := time.Minute << min(t.blind, 6)
	if d > time.Hour {
		d = time.Hour
	}
	t.blind++
	return d
}

func (t *transport) served() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.blind = 0
}

func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// idempotent methods may be sent again after a server or network error.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func isTokenRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/access_tokens")
}

// RoundTrip implements http.RoundTripper. Rate limits are waited out as
// GitHub documents ("Rate limits for the REST API"): Retry-After when
// present; else, with x-ratelimit-remaining 0, until x-ratelimit-reset;
// else at least a minute, growing. Waits happen outside the installation's
// write slot, so a call that must not wait is never stuck behind one that
// does.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := newCall(req, t.policy.maxWait)
	for attempt := 1; ; attempt++ {
		if err := t.waitPause(req.Context(), c.method, c.path, attempt-1, c.maxWait); err != nil {
			return nil, err
		}
		resp, requeue, err := t.send(c, attempt)
		switch {
		case requeue:
			attempt--
			continue
		case err != nil:
			if err := t.retryError(c, attempt, err); err != nil {
				return nil, err
			}
			continue
		}
		retry, err := t.retryRateLimit(c, attempt, resp)
		if err == nil && !retry {
			retry, err = t.retryServerError(c, attempt, resp)
		}
		if err != nil {
			return nil, err
		}
		if retry {
			continue
		}
		t.served()
		// The primary budget is spent: later calls wait for the reset
		// instead of being refused.
		if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			if reset := unixHeader(resp.Header, "X-Ratelimit-Reset"); !reset.IsZero() {
				t.pause(reset, false)
			}
		}
		return resp, nil
	}
}

// call is one RoundTrip: its request and how it may be retried.
type call struct {
	req          *http.Request
	method, path string
	maxWait      time.Duration
	// serialize: a mutating call takes the installation's write slot.
	serialize bool
	// retryable: the call may be sent again after a server or network
	// error. Asking for another installation token is harmless, so token
	// requests are retried like reads.
	retryable bool
}

func newCall(req *http.Request, maxWait time.Duration) call {
	return call{
		req: req, method: req.Method, path: req.URL.Path,
		maxWait:   maxWaitOf(req.Context(), maxWait),
		serialize: isWrite(req.Method) && !isTokenRequest(req),
		retryable: idempotent(req.Method) || isTokenRequest(req),
	}
}

// send takes the write slot if c needs it and sends attempt. requeue is
// true when a pause began while c waited for the slot: the attempt was not
// sent.
func (t *transport) send(c call, attempt int) (resp *http.Response, requeue bool, err error) {
	ctx := c.req.Context()
	if c.serialize {
		select {
		case t.writes <- struct{}{}:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		defer func() { <-t.writes }()
		if until, _ := t.pausedUntil(); t.policy.clock.Now().Before(until) {
			return nil, true, nil
		}
	}
	resp, err = t.attempt(c.req, attempt)
	return resp, false, err
}

// retryError decides on an attempt that got no response: nil to send it
// again after a backoff, else the error to return.
func (t *transport) retryError(c call, attempt int, err error) error {
	ctx, p := c.req.Context(), t.policy
	if ctx.Err() != nil || !c.retryable {
		return err
	}
	if attempt >= p.maxAttempts {
		return &UnavailableError{Method: c.method, Path: c.path, Attempts: attempt, Err: err}
	}
	retriesTotal.WithLabelValues("network").Inc()
	p.log.Debug("github retry", "method", c.method, "path", c.path, "attempt", attempt, "reason", "network", "err", err)
	return p.clock.Sleep(ctx, backoff(p.backoff, attempt))
}

// retryRateLimit pauses the installation when resp is a rate limit, and
// reports whether to send the call again (after the pause) or the
// RateLimitError to return.
func (t *transport) retryRateLimit(c call, attempt int, resp *http.Response) (bool, error) {
	secondary, until, limited := t.rateLimited(resp)
	if !limited {
		return false, nil
	}
	t.pause(until, secondary)
	reason := "primary_rate_limit"
	if secondary {
		reason = "secondary_rate_limit"
	}
	drain(resp)
	wait := until.Sub(t.policy.clock.Now())
	if attempt >= t.policy.maxAttempts || wait > c.maxWait {
		return false, &RateLimitError{Secondary: secondary, Method: c.method, Path: c.path, Attempts: attempt, Reset: until}
	}
	retriesTotal.WithLabelValues(reason).Inc()
	t.policy.log.Info("github rate limited, waiting", "method", c.method, "path", c.path, "attempt", attempt,
		"reason", reason, "wait", wait.Round(time.Millisecond).String())
	return true, nil // the pause before the next attempt waits
}

// retryServerError reports whether resp is a server error to send c again
// for (after a backoff), or the UnavailableError to return.
func (t *transport) retryServerError(c call, attempt int, resp *http.Response) (bool, error) {
	if resp.StatusCode < 500 || !c.retryable {
		return false, nil
	}
	p := t.policy
	drain(resp)
	if attempt >= p.maxAttempts {
		return false, &UnavailableError{Method: c.method, Path: c.path, Status: resp.StatusCode, Attempts: attempt}
	}
	retriesTotal.WithLabelValues("server_error").Inc()
	p.log.Debug("github retry", "method", c.method, "path", c.path, "attempt", attempt, "reason", "server_error", "status", resp.StatusCode)
	if err := p.clock.Sleep(c.req.Context(), backoff(p.backoff, attempt)); err != nil {
		return false, err
	}
	return true, nil
}

// waitPause waits out the installation's rate-limit pause, or fails with a
// RateLimitError when it is longer than maxWait.
func (t *transport) waitPause(ctx context.Context, method, path string, attempts int, maxWait time.Duration) error {
	until, secondary := t.pausedUntil()
	wait := until.Sub(t.policy.clock.Now())
	if wait <= 0 {
		return nil
	}
	if wait > maxWait {
		return &RateLimitError{Secondary: secondary, Method: method, Path: path, Attempts: attempts, Reset: until}
	}
	return t.policy.clock.Sleep(ctx, wait)
}

// attempt sends one attempt of req, conditional when a cached answer
// exists, bounded by the policy's timeout until its body is closed, and
// counts it by the status GitHub answered.
func (t *transport) attempt(req *http.Request, attempt int) (*http.Response, error) {
	r, err := rewind(req, attempt)
	if err != nil {
		return nil, err
	}
	key, cached := t.cache.lookup(r)
	var cancel context.CancelFunc = func() {}
	if t.policy.timeout > 0 {
		ctx, c := context.WithTimeout(req.Context(), t.policy.timeout)
		r, cancel = r.WithContext(ctx), c
	}
	if cached != nil {
		r = r.Clone(r.Context())
		r.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		cancel()
		requestsTotal.WithLabelValues(req.Method, "error").Inc()
		return nil, err
	}
	requestsTotal.WithLabelValues(req.Method, strconv.Itoa(resp.StatusCode)).Inc()
	observeRateLimit(resp.Header)
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	if cached != nil && resp.StatusCode == http.StatusNotModified {
		return cached.response(resp), nil
	}
	return t.cache.store(key, resp), nil
}

// cancelOnClose ends an attempt's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// rateLimited classifies a response as GitHub's rate limiting: a secondary
// limit (403/429 with Retry-After or GitHub's secondary-limit message) or the
// primary budget (403/429 with x-ratelimit-remaining: 0). until is when to
// try again, as GitHub's docs say: Retry-After; else x-ratelimit-reset
// when remaining is 0; else at least a minute, longer each time in a row.
func (t *transport) rateLimited(resp *http.Response) (secondary bool, until time.Time, limited bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return false, time.Time{}, false
	}
	now := t.policy.clock.Now()
	// A wait is never in the past (a clock apart from GitHub's) nor longer
	// than a day (a header out of its range); a Retry-After that is
	// neither seconds nor a date is ignored.
	within := func(until time.Time) time.Time {
		if until.Before(now) {
			return now
		}
		if limit := now.Add(maxRateLimitWait); until.After(limit) {
			return limit
		}
		return until
	}
	h := resp.Header
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs >= 0 {
			return true, now.Add(time.Duration(min(secs, int64(maxRateLimitWait/time.Second))) * time.Second), true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return true, within(t), true
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		reset := unixHeader(h, "X-Ratelimit-Reset")
		if reset.IsZero() {
			reset = now.Add(time.Minute)
		}
		return false, within(reset.Add(time.Second)), true
	}
	if resp.StatusCode == http.StatusTooManyRequests || secondaryMessage(resp) {
		return true, now.Add(t.blindWait()), true
	}
	return false, time.Time{}, false
}

// secondaryMessage peeks at a 403 body for GitHub's secondary-limit text,
// leaving the body readable.
func secondaryMessage(resp *http.Response) bool {
	const limit = 4096
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader(string(body)), rest), rest}
	if err != nil {
		return false
	}
	s := strings.ToLower(string(body))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse detection")
}

func unixHeader(h http.Header, key string) time.Time {
	n, err := strconv.ParseInt(h.Get(key), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// rewind returns the request to send for attempt: the original first, then
// a copy with a fresh body.
func rewind(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 1 || req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, fmt.Errorf("github %s %s: cannot resend a request body", req.Method, req.URL.Path)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// backoff is exponential from base with ±25% jitter.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// etagCache makes repeated reads conditional: GitHub answers 304 for an
// unchanged resource, which does not count against the rate limit. It
// keeps the newest entries up to a count and skips large bodies.
type etagCache struct {
	mu      sync.Mutex
	max     int
	maxBody int
	entries map[string]*cachedResponse
	order   []string
}

type cachedResponse struct {
	etag   string
	header http.Header
	body   []byte
}

func newETagCache(max, maxBody int) *etagCache {
	return &etagCache{max: max, maxBody: maxBody, entries: map[string]*cachedResponse{}}
}

// lookup returns the cache key of a cacheable request and its entry, if any.
func (c *etagCache) lookup(r *http.Request) (string, *cachedResponse) {
	if r.Method != http.MethodGet || r.Header.Get("Range") != "" || r.Header.Get("If-None-Match") != "" {
		return "", nil
	}
	key := r.URL.String() + "\x00" + r.Header.Get("Accept")
	c.mu.Lock()
	defer c.mu.Unlock()
	return key, c.entries[key]
}

// store remembers a 200 response with an ETag and returns a response whose
// body is still readable.
func (c *etagCache) store(key string, resp *http.Response) *http.Response {
	etag := resp.Header.Get("ETag")
	if key == "" || resp.StatusCode != http.StatusOK || etag == "" || resp.ContentLength > int64(c.maxBody) {
		return resp
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.maxBody)+1))
	rest := resp.Body
	if err != nil || len(body) > c.maxBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), rest), rest}
		return resp
	}
	rest.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		c.order = append(c.order, key)
		if len(c.order) > c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.entries[key] = &cachedResponse{etag: etag, header: resp.Header.Clone(), body: body}
	return resp
}

// response turns a 304 into the cached 200, with the 304's fresh rate-limit
// headers.
func (e *cachedResponse) response(notModified *http.Response) *http.Response {
	drain(notModified)
	h := e.header.Clone()
	for k, v := range notModified.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit-") {
			h[k] = v
		}
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: notModified.Proto, ProtoMajor: notModified.ProtoMajor,
		ProtoMinor: notModified.ProtoMinor, Header: h, Body: io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)), Request: notModified.Request,
	}
}
