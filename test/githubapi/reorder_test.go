package githubapi

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// pushAfters returns the "after" sha of each push the sink received, in
// arrival order.
func pushAfters(t *testing.T, k *sink) []string {
	t.Helper()
	var afters []string
	for _, r := range k.all() {
		if r.Event == "push" {
			afters = append(afters, parse(t, r).(*gh.PushEvent).GetAfter())
		}
	}
	return afters
}

// GitHub's "Best practices for using webhooks": deliveries are not
// guaranteed to arrive in the order the events occurred. In the reordering
// mode a later event's delivery can arrive first.
func TestReorderDeliversANewerEventFirst(t *testing.T) {
	var (
		mu    sync.Mutex
		first string // GUID of the first push delivery sent
	)
	e := newEnv(t, func(o *Options) {
		o.SyncWebhooks = false
		o.Reorder = &ReorderOptions{Concurrency: 2, Seed: 1, Delay: func(d Delivery) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			if d.Event != "push" || (first != "" && first != d.GUID) {
				return 0
			}
			first = d.GUID
			// Longer than the second push takes to be made and delivered.
			return 2 * time.Second
		}}
	})
	shas := pushAndDeliver(t, e, 2)
	if diff := cmp.Diff([]string{shas[1], shas[0]}, pushAfters(t, e.sink)); diff != "" {
		t.Errorf("push arrival order (-want +got):\n%s", diff)
	}
	// The deliveries API lists both, each once, as GitHub records them.
	var recorded []string
	for _, d := range e.srv.Deliveries() {
		if d.Event == "push" && d.Status == "OK" {
			for _, sha := range shas {
				if bytes.Contains(d.Payload, []byte(`"after":"`+sha)) {
					recorded = append(recorded, sha)
				}
			}
		}
	}
	sort.Strings(recorded)
	want := append([]string(nil), shas...)
	sort.Strings(want)
	if diff := cmp.Diff(want, recorded); diff != "" {
		t.Errorf("recorded push deliveries (-want +got):\n%s", diff)
	}
}

// With random delays and several deliveries in flight, every delivery
// still arrives exactly once.
func TestReorderDeliversEachOnce(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.SyncWebhooks = false
		o.Reorder = &ReorderOptions{MaxDelay: 30 * time.Millisecond, Concurrency: 4, Seed: 15}
	})
	shas := pushAndDeliver(t, e, 12)
	got := pushAfters(t, e.sink)
	sort.Strings(got)
	sort.Strings(shas)
	if diff := cmp.Diff(shas, got); diff != "" {
		t.Errorf("pushes received (-want +got):\n%s", diff)
	}
	guids := map[string]int{}
	for _, r := range e.sink.all() {
		guids[r.GUID]++
		if !r.SignedOK {
			t.Errorf("%s %s: bad signature", r.Event, r.GUID)
		}
	}
	for g, n := range guids {
		if n != 1 {
			t.Errorf("delivery %s arrived %d times", g, n)
		}
	}
}

// pushAndDeliver pushes n commits to main, one after another, waits until
// every delivery they caused was sent, and returns the commits in push
// order.
func pushAndDeliver(t *testing.T, e *env, n int) []string {
	t.Helper()
	e.sink.reset()
	var shas []string
	for i := 0; i < n; i++ {
		sha, err := e.srv.Push(e.ctx, testOwner, testRepo, "main", Commit{Files: map[string]string{"n.txt": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
	}
	wctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.srv.WaitDeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	return shas
}
