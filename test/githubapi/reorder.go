package githubapi

import (
	"math/rand/v2"
	"time"
)

// ReorderOptions makes the Server deliver webhooks as GitHub may: each
// delivery waits a random delay, and several are sent at once, so the
// deliveries of quick successive events arrive in any order and overlap
// ("Webhook deliveries are not guaranteed to arrive in the order the
// events occurred", GitHub's "Best practices for using webhooks").
type ReorderOptions struct {
	// MaxDelay bounds each delivery's random delay (uniform in
	// [0, MaxDelay)); default 50ms.
	MaxDelay time.Duration
	// Concurrency is how many deliveries are in flight at once; default 4.
	Concurrency int
	// Seed seeds the delays, so a run's delays are reproducible.
	Seed uint64
	// Delay, when set, chooses each delivery's delay instead of the random
	// source (a test that needs one given order forces it here). It sees
	// the delivery before it is attempted; StatusCode and the timing fields
	// are zero. It must not call back into the Server.
	Delay func(Delivery) time.Duration
}

func (o ReorderOptions) withDefaults() ReorderOptions {
	if o.MaxDelay <= 0 {
		o.MaxDelay = 50 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	return o
}

// reorderer sends deliveries concurrently after their delays.
type reorderer struct {
	opts ReorderOptions
	rnd  *rand.Rand // guarded by hookState.mu
	sem  chan struct{}
}

func newReorderer(o *ReorderOptions) *reorderer {
	if o == nil {
		return nil
	}
	opts := o.withDefaults()
	return &reorderer{
		opts: opts,
		rnd:  rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		sem:  make(chan struct{}, opts.Concurrency),
	}
}

// SetReorder switches the delivery mode: non-nil reorders and overlaps the
// deliveries sent from now on, nil returns to sending them in order.
// Deliveries already queued or in flight keep their mode.
func (s *Server) SetReorder(o *ReorderOptions) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.reorder = newReorderer(o)
}

// sendReordered starts one goroutine per delivery; each waits for its
// delay, then for a free slot, then attempts it. Called with h.mu held;
// every delivery counts as busy until attempted, so WaitDeliveries waits
// for them.
func (h *hookState) sendReordered(r *reorderer, ds []*delivery) {
	for _, d := range ds {
		var delay time.Duration
		if r.opts.Delay != nil {
			delay = r.opts.Delay(Delivery{ID: d.id, GUID: d.guid, Event: d.event, Action: d.action, Redelivery: d.redelivery, Payload: d.payload})
		} else {
			delay = time.Duration(r.rnd.Int64N(int64(r.opts.MaxDelay)))
		}
		h.busy++
		go func() {
			if delay > 0 {
				t := time.NewTimer(delay)
				<-t.C
			}
			r.sem <- struct{}{}
			h.attempt(d)
			<-r.sem
			h.mu.Lock()
			h.busy--
			h.mu.Unlock()
		}()
	}
}
