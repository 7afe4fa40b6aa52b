package githubapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Throttle is GitHub's secondary rate limit on content-creating requests
// ("Rate limits for the REST API", "About secondary rate limits": "no more
// than 80 content-generating requests per minute and no more than 500
// content-generating requests per hour"). Each installation has its own
// budgets; a POST, PATCH, PUT or DELETE made with an installation token
// over either budget is refused with GitHub's secondary-limit message, 403
// or 429, with Retry-After or without it (GitHub's docs: "if the
// retry-after response header is present, wait that long; otherwise ... wait
// at least one minute"). Refused requests create nothing and do not count.
// Token requests (App JWT) are not throttled.
type Throttle struct {
	// PerMinute and PerHour are the budgets; 0 means GitHub's 80 and 500.
	// Tests that need speed raise them and say so.
	PerMinute, PerHour int
	// Status of a refusal: 403 or 429 (default 403, GitHub's usual answer).
	Status int
	// RetryAfter says which refusals carry a Retry-After header.
	RetryAfter RetryAfterMode
	// Clock is the throttle's time; default the real time. Tests share a
	// Clock with promobot's transport so that minutes pass at once.
	Clock *Clock
}

// RetryAfterMode chooses which throttled answers carry Retry-After.
type RetryAfterMode int

const (
	// RetryAfterAlways sends Retry-After with every refusal: the seconds
	// until the exhausted budget renews.
	RetryAfterAlways RetryAfterMode = iota
	// RetryAfterNever sends none; x-ratelimit-remaining is not 0 either,
	// so a client must wait at least a minute.
	RetryAfterNever
	// RetryAfterAlternate sends it with every other refusal of an
	// installation, starting with the first.
	RetryAfterAlternate
)

// DefaultThrottle returns GitHub's budgets (80 a minute, 500 an hour), 403,
// Retry-After on every other refusal, real time.
func DefaultThrottle() *Throttle {
	return &Throttle{PerMinute: 80, PerHour: 500, Status: http.StatusForbidden, RetryAfter: RetryAfterAlternate}
}

// Unthrottled returns budgets no test reaches (a million requests a
// minute and an hour), for tests that measure promobot's own speed.
func Unthrottled() *Throttle {
	return &Throttle{PerMinute: 1 << 20, PerHour: 1 << 20}
}

func (t Throttle) withDefaults() Throttle {
	if t.PerMinute <= 0 {
		t.PerMinute = 80
	}
	if t.PerHour <= 0 {
		t.PerHour = 500
	}
	if t.Status == 0 {
		t.Status = http.StatusForbidden
	}
	return t
}

// throttleWindows is one installation's use of its budgets: fixed windows
// starting at the first counted request.
type throttleWindows struct {
	minuteStart, hourStart time.Time
	minute, hour           int
	refusals               int
}

// SetThrottle replaces the throttle (nil turns it off; Unthrottled lifts
// the budgets as far). Budgets already used stay counted.
func (s *Server) SetThrottle(t *Throttle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Throttle = t
}

// Throttled returns how many requests the throttle refused.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range s.throttled {
		n += w.refusals
	}
	return n
}

// throttle counts a content-creating request of an installation against
// its budgets, or refuses it. Called under s.mu.
func (s *Server) throttle(c *call) (int, any, bool) {
	if s.opts.Throttle == nil || c.tok == nil || !contentCreating(c.r.Method) {
		return 0, nil, false
	}
	t := s.opts.Throttle.withDefaults()
	n := t.Clock.Now()
	if s.throttled == nil {
		s.throttled = map[int64]*throttleWindows{}
	}
	w := s.throttled[c.tok.inst.id]
	if w == nil {
		w = &throttleWindows{minuteStart: n, hourStart: n}
		s.throttled[c.tok.inst.id] = w
	}
	if !n.Before(w.minuteStart.Add(time.Minute)) {
		w.minuteStart, w.minute = n, 0
	}
	if !n.Before(w.hourStart.Add(time.Hour)) {
		w.hourStart, w.hour = n, 0
	}
	var renew time.Time
	switch {
	case w.hour >= t.PerHour:
		renew = w.hourStart.Add(time.Hour)
	case w.minute >= t.PerMinute:
		renew = w.minuteStart.Add(time.Minute)
	default:
		w.minute++
		w.hour++
		return 0, nil, false
	}
	w.refusals++
	h := c.w.Header()
	s.rateHeaders(h, c.principal, 1)
	if t.RetryAfter == RetryAfterAlways || (t.RetryAfter == RetryAfterAlternate && w.refusals%2 == 1) {
		secs := int(renew.Sub(n).Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	return t.Status, secondaryLimit(t.Status), true
}

// secondaryLimit is GitHub's body for a secondary rate limit.
func secondaryLimit(status int) *apiError {
	return &apiError{
		Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + newRequestID() + ".",
		DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		Status:           strconv.Itoa(status),
	}
}

// contentCreating reports whether GitHub counts method against the
// content-creating budgets.
func contentCreating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// Clock is a time source tests control. The zero of *Clock (nil) is the
// real time. A Clock made by NewClock starts at a given time and moves only
// when Advance is called or, if it was made with autoAdvance, when Sleep
// is called: a sleeper then passes its time at once.
type Clock struct {
	mu          sync.Mutex
	now         time.Time
	auto        bool
	waiters     []*clockWaiter
	sleeps      []time.Duration
	sleepSignal chan struct{}
}

type clockWaiter struct {
	until time.Time
	done  chan struct{}
}

// NewClock returns a Clock at start. With autoAdvance, Sleep moves the
// clock forward by its duration and returns at once; without, Sleep blocks
// until Advance has moved the clock past its end.
func NewClock(start time.Time, autoAdvance bool) *Clock {
	return &Clock{now: start, auto: autoAdvance, sleepSignal: make(chan struct{}, 1)}
}

// Now returns the clock's time.
func (k *Clock) Now() time.Time {
	if k == nil {
		return time.Now()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

// Sleep waits d of the clock's time, or until ctx is done.
func (k *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if k == nil {
		if d <= 0 {
			return ctx.Err()
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
	k.mu.Lock()
	k.sleeps = append(k.sleeps, d)
	if d <= 0 {
		k.mu.Unlock()
		return ctx.Err()
	}
	if k.auto {
		k.now = k.now.Add(d)
		k.mu.Unlock()
		return ctx.Err()
	}
	w := &clockWaiter{until: k.now.Add(d), done: make(chan struct{})}
	k.waiters = append(k.waiters, w)
	k.mu.Unlock()
	select {
	case k.sleepSignal <- struct{}{}:
	default:
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		k.mu.Lock()
		defer k.mu.Unlock()
		k.waiters = slices.DeleteFunc(k.waiters, func(o *clockWaiter) bool { return o == w })
		return ctx.Err()
	}
}

// Advance moves the clock forward by d and wakes the sleepers whose time
// has come.
func (k *Clock) Advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = k.now.Add(d)
	kept := k.waiters[:0]
	for _, w := range k.waiters {
		if k.now.Before(w.until) {
			kept = append(kept, w)
			continue
		}
		close(w.done)
	}
	k.waiters = kept
}

// Sleeping returns how many Sleep calls are blocked now.
func (k *Clock) Sleeping() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.waiters)
}

// WaitSleeping blocks until at least n Sleep calls are blocked, or ctx is
// done: the observable event a test waits for before it advances the clock.
func (k *Clock) WaitSleeping(ctx context.Context, n int) error {
	for {
		if k.Sleeping() >= n {
			return nil
		}
		select {
		case <-k.sleepSignal:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sleeps returns the durations Sleep was called with, in order.
func (k *Clock) Sleeps() []time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Duration(nil), k.sleeps...)
}
