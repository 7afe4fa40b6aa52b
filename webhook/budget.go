package webhook

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/semaphore"
)

// Defaults of the unverified-body budget (Options.UnverifiedBytes and
// Options.UnverifiedWait).
const (
	// DefaultUnverifiedBytes lets two deliveries of GitHub's largest size
	// and many ordinary ones be read at once.
	DefaultUnverifiedBytes = 64 << 20
	// DefaultUnverifiedWait leaves most of GitHub's 10-second delivery
	// timeout for storing the delivery once it is read.
	DefaultUnverifiedWait = 2 * time.Second
	// DefaultBodyTimeout is GitHub's own delivery timeout: a body that
	// takes longer to arrive is not GitHub's.
	DefaultBodyTimeout = 10 * time.Second
)

// errBudget is returned when a body could not be given room in the budget
// within the wait: the delivery is answered 503 and GitHub sends it again.
var errBudget = errors.New("too many unverified bytes in flight")

var unverifiedBytes = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "promobot_webhook_unverified_bytes",
	Help: "Bytes of request bodies read but not yet verified by their signature, held in memory.",
})

// budget bounds the memory held by request bodies whose signature has not
// been verified yet: anyone who can reach /webhook can send them. Every
// byte is reserved before it is read and released once the signature was
// checked, so all unverified bodies together never hold more than size.
// It is safe for concurrent use.
type budget struct {
	size  int64
	sem   *semaphore.Weighted
	inUse atomic.Int64
	peak  atomic.Int64
}

func newBudget(size int64) *budget {
	return &budget{size: size, sem: semaphore.NewWeighted(size)}
}

// reserve takes n bytes of the budget, waiting at most *wait for them and
// deducting the time it waited from *wait. It returns errBudget when the
// wait ran out (or n can never fit), and ctx's error when ctx ended first.
func (b *budget) reserve(ctx context.Context, n int64, wait *time.Duration) error {
	if n > b.size {
		return errBudget
	}
	if !b.sem.TryAcquire(n) {
		if *wait <= 0 {
			return errBudget
		}
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, *wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		*wait -= time.Since(start)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errBudget
		}
	}
	now := b.inUse.Add(n)
	unverifiedBytes.Add(float64(n))
	for {
		p := b.peak.Load()
		if now <= p || b.peak.CompareAndSwap(p, now) {
			break
		}
	}
	return nil
}

// release returns n reserved bytes.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.inUse.Add(-n)
	unverifiedBytes.Sub(float64(n))
	b.sem.Release(n)
}
