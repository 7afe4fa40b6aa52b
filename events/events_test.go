package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
)

// startServer starts a real embedded nats-server with opts (on a temp
// directory when opts names none) and connects to it in-process; both are
// closed when the test ends.
func startServer(t *testing.T, opts events.EmbeddedOptions) (*events.Embedded, *nats.Conn) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	srv, err := events.StartEmbedded(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}

// provision provisions promobot's streams and buckets on nc with opts.
func provision(t *testing.T, nc *nats.Conn, opts events.Options) *events.Bus {
	t.Helper()
	bus, err := events.New(context.Background(), nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

// startBus starts a real embedded nats-server on dir (a temp directory if
// "") and returns a provisioned bus.
func startBus(t *testing.T, dir string) (*events.Embedded, *events.Bus) {
	t.Helper()
	srv, nc := startServer(t, events.EmbeddedOptions{DataDir: dir})
	return srv, provision(t, nc, events.Options{PublishTimeout: 2 * time.Second})
}

func newEvent(id, typ string, data []byte) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType(typ)
	ev.SetSource("https://github.com/acme/cluster-config")
	ev.SetSubject("refs/heads/main")
	ev.SetTime(time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC))
	ev.SetExtension("installation", "42")
	_ = ev.SetData("application/json", data)
	return ev
}

func TestEscapeToken(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "cluster-config", "cluster-config"},
		{"dots", "my.repo", "my%2Erepo"},
		{"wildcards", "a*b>c", "a%2Ab%3Ec"},
		{"percent stays distinct", "my%2Erepo", "my%252Erepo"},
		{"space", "a b", "a%20b"},
		{"empty", "", "_"},
		{"underscore", "my_repo", "my_repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, events.EscapeToken(tt.in)); diff != "" {
				t.Error(diff)
			}
		})
	}
	if got, want := events.GitHubSubject("push", "acme", "web.site"), "github.push.acme.web%2Esite"; got != want {
		t.Errorf("GitHubSubject = %q, want %q", got, want)
	}
	if got, want := events.FactSubject("apply", "completed", "acme", "cfg"), "promobot.apply.completed.acme.cfg"; got != want {
		t.Errorf("FactSubject = %q, want %q", got, want)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	raw := []byte(`{"ref":"refs/heads/main",  "spacing":"kept"}`)
	ev := newEvent("d-1", "com.github.push", raw)
	msg, err := events.Encode("github.push.acme.cfg", ev)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"ce-id": "d-1", "ce-type": "com.github.push", "ce-specversion": "1.0",
		"ce-source": "https://github.com/acme/cluster-config", "ce-subject": "refs/heads/main",
		"ce-installation": "42", "content-type": "application/json", "Nats-Msg-Id": "d-1",
	} {
		if got := msg.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	got, err := events.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data()) != string(raw) {
		t.Errorf("data changed: %q", got.Data())
	}
	if got.ID() != "d-1" || got.Type() != "com.github.push" || got.Subject() != "refs/heads/main" || !got.Time().Equal(ev.Time()) {
		t.Errorf("attributes changed: %v", got)
	}
	if _, err := events.Decode(nil, []byte("x")); !errors.Is(err, events.ErrNotCloudEvent) {
		t.Errorf("decode of a bare message: err = %v, want ErrNotCloudEvent", err)
	}
}

func TestPublishDeduplicatesByEventID(t *testing.T) {
	_, bus := startBus(t, "")
	ctx := context.Background()
	ev := newEvent("same-delivery", "com.github.push", []byte(`{}`))
	first, err := bus.Publish(ctx, "github.push.acme.cfg", ev)
	if err != nil {
		t.Fatal(err)
	}
	second, err := bus.Publish(ctx, "github.push.acme.cfg", ev)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || first.Sequence != second.Sequence {
		t.Errorf("first %+v second %+v: want the second acknowledged as a duplicate of the first", first, second)
	}
	info, err := bus.JetStream().Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

func TestEventsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, nc := startServer(t, events.EmbeddedOptions{DataDir: dir})
	bus := provision(t, nc, events.Options{})
	if _, err := bus.Publish(ctx, "github.push.acme.cfg", newEvent("kept", "com.github.push", []byte(`{"a":1}`))); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()

	_, bus2 := startBus(t, dir)
	stream, err := bus2.JetStream().Stream(ctx, events.StreamGitHub)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID() != "kept" || string(ev.Data()) != `{"a":1}` {
		t.Errorf("after restart got %s %q", ev.ID(), ev.Data())
	}
}

// consumeUntil runs a consume loop in the background and returns a stop func
// that cancels it and waits for it to return.
func consumeUntil(t *testing.T, bus *events.Bus, opts events.ConsumerOptions, h events.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, opts, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("consume returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("consume loop did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// deadLetters reads every dead-letter fact recorded so far.
func deadLetters(t *testing.T, bus *events.Bus) []events.DeadLetter {
	t.Helper()
	var out []events.DeadLetter
	for _, f := range kit.Facts(t, bus.JetStream(), "promobot.deadletter.>") {
		var dl events.DeadLetter
		f.Decode(t, &dl)
		out = append(out, dl)
	}
	return out
}

func TestConsumeLoop(t *testing.T) {
	fast := []time.Duration{50 * time.Millisecond}
	tests := []struct {
		name string
		// fail says what the handler returns on the given attempt.
		fail         func(attempt int) error
		maxDeliver   int
		wantAttempts int
		wantDead     string // reason substring; empty for none
	}{
		{name: "success acks once", fail: func(int) error { return nil }, maxDeliver: 3, wantAttempts: 1},
		{name: "transient error is retried then acked", fail: func(a int) error {
			if a < 3 {
				return errors.New("github 502")
			}
			return nil
		}, maxDeliver: 5, wantAttempts: 3},
		{name: "permanent error terminates with a dead letter", fail: func(int) error {
			return events.Permanent(errors.New("payload is not a push"))
		}, maxDeliver: 5, wantAttempts: 1, wantDead: "payload is not a push"},
		{name: "exhausted retries are dead-lettered", fail: func(int) error { return errors.New("cluster unreachable") },
			maxDeliver: 3, wantAttempts: 3, wantDead: "cluster unreachable"},
		{name: "panic is contained and dead-lettered", fail: func(int) error { panic("boom") },
			maxDeliver: 3, wantAttempts: 1, wantDead: "handler panic: boom"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, bus := startBus(t, "")
			var attempts atomic.Int32
			var lastAttempt atomic.Int32
			consumeUntil(t, bus, events.ConsumerOptions{
				Name: fmt.Sprintf("c%d", i), Stream: events.StreamGitHub, MaxDeliver: tt.maxDeliver, Backoff: fast,
			}, func(ctx context.Context, d events.Delivery) error {
				attempts.Add(1)
				lastAttempt.Store(int32(d.Attempt))
				return tt.fail(d.Attempt)
			})
			if _, err := bus.Publish(context.Background(), "github.push.acme.cfg", newEvent("ev", "com.github.push", []byte(`{}`))); err != nil {
				t.Fatal(err)
			}
			kit.EventuallyTrue(t, 15*time.Second, "attempts", func() bool { return int(attempts.Load()) >= tt.wantAttempts })
			// Settled (acked or terminated): no redelivery can follow.
			settled(t, bus, fmt.Sprintf("c%d", i))
			if got := int(attempts.Load()); got != tt.wantAttempts {
				t.Errorf("handler ran %d times, want %d", got, tt.wantAttempts)
			}
			if got := int(lastAttempt.Load()); got != tt.wantAttempts {
				t.Errorf("last Delivery.Attempt = %d, want %d", got, tt.wantAttempts)
			}
			dls := deadLetters(t, bus)
			if tt.wantDead == "" {
				if len(dls) != 0 {
					t.Errorf("unexpected dead letters: %+v", dls)
				}
				return
			}
			if len(dls) != 1 {
				t.Fatalf("dead letters = %+v, want one", dls)
			}
			dl := dls[0]
			if dl.EventID != "ev" || dl.Attempts != tt.wantAttempts || dl.Subject != "github.push.acme.cfg" || dl.StreamSequence != 1 || !strings.Contains(dl.Reason, tt.wantDead) {
				t.Errorf("dead letter = %+v", dl)
			}
		})
	}
}

func TestHeartbeatKeepsLongWorkFromRedelivery(t *testing.T) {
	_, bus := startBus(t, "")
	var runs atomic.Int32
	var finished atomic.Bool
	consumeUntil(t, bus, events.ConsumerOptions{Name: "slow", Stream: events.StreamGitHub, AckWait: 600 * time.Millisecond, Concurrency: 2},
		func(ctx context.Context, d events.Delivery) error {
			runs.Add(1)
			// The work under test: it outlasts AckWait four times over,
			// which only heartbeats make safe. Nothing waits on this
			// sleep; settled below shows no redelivery followed.
			time.Sleep(2500 * time.Millisecond)
			finished.Store(true)
			return nil
		})
	if _, err := bus.Publish(context.Background(), "github.push.acme.cfg", newEvent("long", "com.github.push", []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	kit.EventuallyTrue(t, 15*time.Second, "the long handler", finished.Load)
	// A redelivery during the work would still be running or unacked.
	settled(t, bus, "slow")
	if n := runs.Load(); n != 1 {
		t.Errorf("long handler ran %d times; heartbeats should have prevented redelivery", n)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Run("in-flight work finishes and is acked", func(t *testing.T) {
		_, bus := startBus(t, "")
		started := make(chan struct{})
		var acked atomic.Bool
		// The handler is still working when shutdown begins: it finishes
		// only once the loop's context is cancelled.
		loopCtx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- bus.Consume(loopCtx, events.ConsumerOptions{Name: "g1", Stream: events.StreamGitHub, ShutdownGrace: 5 * time.Second},
				func(ctx context.Context, d events.Delivery) error {
					close(started)
					<-loopCtx.Done()
					acked.Store(true)
					return nil
				})
		}()
		if _, err := bus.Publish(context.Background(), "github.push.acme.cfg", newEvent("x", "com.github.push", []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
		<-started
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("consume returned %v", err)
		}
		if !acked.Load() {
			t.Fatal("shutdown returned before the in-flight handler finished")
		}
		info, err := bus.JetStream().Consumer(context.Background(), events.StreamGitHub, "g1")
		if err != nil {
			t.Fatal(err)
		}
		ci, _ := info.Info(context.Background())
		if ci.NumAckPending != 0 || ci.AckFloor.Stream != 1 {
			t.Errorf("after shutdown: ack pending %d, ack floor %d; want the event acked", ci.NumAckPending, ci.AckFloor.Stream)
		}
	})
	t.Run("work past the grace is cancelled and redelivered", func(t *testing.T) {
		_, bus := startBus(t, "")
		started := make(chan struct{})
		stop := consumeUntil(t, bus, events.ConsumerOptions{Name: "g2", Stream: events.StreamGitHub, ShutdownGrace: 200 * time.Millisecond, AckWait: 30 * time.Second},
			func(ctx context.Context, d events.Delivery) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			})
		if _, err := bus.Publish(context.Background(), "github.push.acme.cfg", newEvent("y", "com.github.push", []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
		<-started
		stop()
		// A new replica picks the event up at once (nak, not AckWait).
		got := make(chan events.Delivery, 1)
		consumeUntil(t, bus, events.ConsumerOptions{Name: "g2", Stream: events.StreamGitHub}, func(ctx context.Context, d events.Delivery) error {
			got <- d
			return nil
		})
		select {
		case d := <-got:
			if d.Event.ID() != "y" || d.Attempt != 2 {
				t.Errorf("redelivered %s attempt %d, want y attempt 2", d.Event.ID(), d.Attempt)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the cancelled event was not redelivered promptly")
		}
	})
}

func TestLedgerOnce(t *testing.T) {
	_, bus := startBus(t, "")
	ctx := context.Background()
	l, err := bus.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var runs int
	fn := func(context.Context) (string, error) { runs++; return "applied", nil }
	for i := 0; i < 3; i++ {
		if _, err := l.Once(ctx, "applier", "delivery.with/odd chars", fn); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("ran %d times, want 1", runs)
	}
	failing := func(context.Context) (string, error) { return "", errors.New("no") }
	if _, err := l.Once(ctx, "applier", "other", failing); err == nil {
		t.Fatal("want the error")
	}
	if done, _ := l.Done(ctx, "applier", "other"); done {
		t.Error("a failed run was recorded as done")
	}
}

func TestLocker(t *testing.T) {
	_, bus := startBus(t, "")
	ctx := context.Background()
	a, err := bus.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bus.Locks(ctx) // another replica
	lease, err := a.Acquire(ctx, "acme/cfg/api-staging", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(short, "acme/cfg/api-staging", time.Minute); err == nil {
		t.Fatal("a second replica acquired a held lease")
	}
	if _, err := b.Acquire(ctx, "acme/cfg/api-production", time.Minute); err != nil {
		t.Fatalf("another name is independent: %v", err)
	}
	got := make(chan error, 1)
	trying := make(chan struct{})
	go func() {
		close(trying)
		l, err := b.Acquire(ctx, "acme/cfg/api-staging", time.Minute)
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	// Whether its first try comes before the release or after, the other
	// replica gets the lease once it is released.
	<-trying
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting replica did not get the released lease")
	}

	// A crashed holder's lease expires and is taken over; the old holder
	// then learns it lost it.
	dead, err := a.Acquire(ctx, "crash", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "crash", time.Minute); err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	if err := dead.Refresh(ctx); !errors.Is(err, events.ErrLeaseLost) {
		t.Errorf("refresh of a lost lease: %v, want ErrLeaseLost", err)
	}
}

// settled waits until the durable consumer name of the GitHub stream has
// nothing left to deliver and nothing delivered unacknowledged: every event
// is acked or terminated, so none can be delivered again.
func settled(t *testing.T, bus *events.Bus, name string) {
	t.Helper()
	kit.Eventually(t, 15*time.Second, "consumer "+name+" settled", func() (bool, string) {
		cons, err := bus.JetStream().Consumer(context.Background(), events.StreamGitHub, name)
		if err != nil {
			return false, err.Error()
		}
		ci, err := cons.Info(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return ci.NumPending == 0 && ci.NumAckPending == 0,
			fmt.Sprintf("pending %d, ack pending %d", ci.NumPending, ci.NumAckPending)
	})
}
