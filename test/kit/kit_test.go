package kit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
)

// recorder is a testing.TB that records failures; Fatalf ends the
// goroutine as testing's does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

// run runs f with a recorder on its own goroutine and returns what it
// recorded.
func run(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.md")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		got     string
		failure string
	}{
		{name: "same bytes", got: "a\nb\n"},
		{name: "one byte more", got: "a\nb\n\n", failure: "differs from the output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, func(tb testing.TB) { Golden(tb, path, tc.got) })
			got := strings.Join(r.errors, "\n")
			if tc.failure == "" && got != "" || !strings.Contains(got, tc.failure) {
				t.Errorf("failures %q, want one containing %q", got, tc.failure)
			}
		})
	}
	r := run(t, func(tb testing.TB) { Golden(tb, path+".missing", "x") })
	if !r.fatal || !strings.Contains(r.errors[0], "-update") {
		t.Errorf("a missing golden file: %v, want a fatal error naming -update", r.errors)
	}
}

func TestEventually(t *testing.T) {
	calls := 0
	r := run(t, func(tb testing.TB) {
		Eventually(tb, 10*time.Second, "the third call", func() (bool, string) {
			calls++
			return calls == 3, fmt.Sprintf("call %d", calls)
		})
	})
	if r.fatal || calls != 3 {
		t.Errorf("Eventually failed %v after %d calls, want success at the third", r.errors, calls)
	}
	r = run(t, func(tb testing.TB) {
		Eventually(tb, 30*time.Millisecond, "never", func() (bool, string) { return false, "still false" })
	})
	if !r.fatal || !strings.Contains(r.errors[0], "waiting for never; last state: still false") {
		t.Errorf("Eventually on a condition that never holds: %v, want a fatal error with the last state", r.errors)
	}
}

func TestReceiver(t *testing.T) {
	rc := NewReceiver(t)
	rc.SetStatus(http.StatusServiceUnavailable)
	before, next := rc.Received()
	req, _ := http.NewRequest(http.MethodPost, rc.URL, strings.NewReader("{}"))
	req.Header.Set("X-GitHub-Delivery", "guid-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-next
	if resp.StatusCode != http.StatusServiceUnavailable || len(before) != 0 {
		t.Errorf("status %d, received before %v", resp.StatusCode, before)
	}
	if diff := cmp.Diff([]string{"guid-1"}, rc.GUIDs()); diff != "" {
		t.Errorf("GUIDs (-want +got):\n%s", diff)
	}
}

func TestFacts(t *testing.T) {
	ctx := context.Background()
	bus := Bus(t)
	if got := Facts(t, bus.JetStream(), "promobot.test.>"); len(got) != 0 {
		t.Fatalf("facts of an empty stream: %v", got)
	}
	for i, verb := range []string{"one", "two", "one"} {
		f := events.Fact{Kind: "test", Verb: verb, Subject: fmt.Sprint(i), Data: map[string]int{"n": i}}
		if _, err := bus.PublishFact(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, f := range Facts(t, bus.JetStream(), "promobot.test.one.>") {
		var d struct{ N int }
		f.Decode(t, &d)
		got = append(got, fmt.Sprintf("%s %s n=%d", f.Type, f.Subject, d.N))
	}
	want := []string{"dev.promobot.test.one 0 n=0", "dev.promobot.test.one 2 n=2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
}
