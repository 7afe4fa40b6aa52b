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

// retryPolicy is shared by every transport of an App.
type retryPolicy struct {
	maxAttempts int
	maxWait     time.Duration
	backoff     time.Duration
	log         *slog.Logger
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

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if isWrite(req.Method) && !isTokenRequest(req) {
		select {
		case t.writes <- struct{}{}:
			defer func() { <-t.writes }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p := t.policy
	method, path := req.Method, req.URL.Path
	// Asking for another installation token is harmless, so token requests
	// are retried like reads.
	retryable := idempotent(method) || isTokenRequest(req)
	for attempt := 1; ; attempt++ {
		if until, secondary := t.pausedUntil(); time.Now().Before(until) {
			wait := time.Until(until)
			if wait > p.maxWait {
				return nil, &RateLimitError{Secondary: secondary, Method: method, Path: path, Attempts: attempt - 1, Reset: until}
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		r, err := rewind(req, attempt)
		if err != nil {
			return nil, err
		}
		key, cached := t.cache.lookup(r)
		if cached != nil {
			r = r.Clone(ctx)
			r.Header.Set("If-None-Match", cached.etag)
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			requestsTotal.WithLabelValues(method, "error").Inc()
			if ctx.Err() != nil || !retryable {
				return nil, err
			}
			if attempt >= p.maxAttempts {
				return nil, &UnavailableError{Method: method, Path: path, Attempts: attempt, Err: err}
			}
			retriesTotal.WithLabelValues("network").Inc()
			p.log.Debug("github retry", "method", method, "path", path, "attempt", attempt, "reason", "network", "err", err)
			if err := sleep(ctx, backoff(p.backoff, attempt)); err != nil {
				return nil, err
			}
			continue
		}
		requestsTotal.WithLabelValues(method, strconv.Itoa(resp.StatusCode)).Inc()

		if secondary, until, limited := rateLimited(resp); limited {
			t.pause(until, secondary)
			reason := "primary_rate_limit"
			if secondary {
				reason = "secondary_rate_limit"
			}
			if attempt >= p.maxAttempts || time.Until(until) > p.maxWait {
				drain(resp)
				return nil, &RateLimitError{Secondary: secondary, Method: method, Path: path, Attempts: attempt, Reset: until}
			}
			drain(resp)
			retriesTotal.WithLabelValues(reason).Inc()
			p.log.Info("github rate limited, waiting", "method", method, "path", path, "attempt", attempt,
				"reason", reason, "wait", time.Until(until).Round(time.Millisecond).String())
			continue // the pause at the top of the loop waits
		}

		if resp.StatusCode >= 500 && retryable {
			if attempt >= p.maxAttempts {
				drain(resp)
				return nil, &UnavailableError{Method: method, Path: path, Status: resp.StatusCode, Attempts: attempt}
			}
			drain(resp)
			retriesTotal.WithLabelValues("server_error").Inc()
			p.log.Debug("github retry", "method", method, "path", path, "attempt", attempt, "reason", "server_error", "status", resp.StatusCode)
			if err := sleep(ctx, backoff(p.backoff, attempt)); err != nil {
				return nil, err
			}
			continue
		}

		// The primary budget is spent: later calls wait for the reset
		// instead of being refused.
		if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			if reset := unixHeader(resp.Header, "X-Ratelimit-Reset"); !reset.IsZero() {
				t.pause(reset, false)
			}
		}
		if cached != nil && resp.StatusCode == http.StatusNotModified {
			return cached.response(resp), nil
		}
		return t.cache.store(key, resp), nil
	}
}

// rateLimited classifies a response as GitHub's rate limiting: a secondary
// limit (403/429 with Retry-After or GitHub's secondary-limit message) or the
// primary budget (403/429 with x-ratelimit-remaining: 0). until is when to
// try again.
func rateLimited(resp *http.Response) (secondary bool, until time.Time, limited bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return false, time.Time{}, false
	}
	h := resp.Header
	if ra := h.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil {
			return true, time.Now().Add(time.Duration(secs) * time.Second), true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return true, t, true
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		reset := unixHeader(h, "X-Ratelimit-Reset")
		if reset.IsZero() {
			reset = time.Now().Add(time.Minute)
		}
		return false, reset.Add(time.Second), true
	}
	if resp.StatusCode == http.StatusTooManyRequests || secondaryMessage(resp) {
		// GitHub's advice without Retry-After: wait at least a minute.
		return true, time.Now().Add(time.Minute), true
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
