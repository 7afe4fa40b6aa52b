package kit

import (
	"testing"
	"time"
)

// Eventually checks its condition at once, then after firstPoll, and
// doubles the pause up to maxPoll, so a quick state is seen quickly and a
// slow one is not polled in a busy loop.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 200 * time.Millisecond
)

// Eventually checks cond until it reports true, and fails the test with
// cond's last description of what it saw when timeout passes first. cond
// returns whether the awaited state holds and, when it does not, what the
// state is instead.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := firstPoll
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		<-time.After(pause)
		pause = min(2*pause, maxPoll)
	}
}

// EventuallyTrue is Eventually for a condition that has no state worth
// describing.
func EventuallyTrue(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, what, func() (bool, string) { return cond(), "not yet" })
}
