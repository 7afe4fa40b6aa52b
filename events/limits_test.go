package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
)

// startBusWith starts a real embedded nats-server on a temp dir and
// provisions a bus with opts.
func startBusWith(t *testing.T, opts events.Options) *events.Bus {
	t.Helper()
	_, nc := startServer(t, events.EmbeddedOptions{})
	return provision(t, nc, opts)
}

// storedIDs returns the ids of the events in stream, oldest first.
func storedIDs(t *testing.T, bus *events.Bus, stream string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := bus.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Header.Get("ce-id"))
	}
	return ids
}

func delivery(id string) (string, []byte) {
	return "github.push.acme.cluster-config", []byte(`{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 900) + `","id":"` + id + `"}`)
}

// TestGitHubStreamNeverDropsUnhandledDeliveries: a full GitHub stream
// makes room only from deliveries every durable consumer acknowledged;
// when there are none it refuses the new delivery with ErrUnavailable
// (the webhook's 503) and keeps every unhandled one.
func TestGitHubStreamNeverDropsUnhandledDeliveries(t *testing.T) {
	ctx := context.Background()
	bus := startBusWith(t, events.Options{PublishTimeout: 2 * time.Second, MaxBytes: map[string]int64{events.StreamGitHub: 16 << 10}})
	js := bus.JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamGitHub, jetstream.ConsumerConfig{Durable: "applier", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{"github.push.>"}})
	if err != nil {
		t.Fatal(err)
	}
	// The promoter's filter matches none of these deliveries: it has
	// nothing to handle, and must not keep the stream full.
	if _, err := js.CreateOrUpdateConsumer(ctx, events.StreamGitHub, jetstream.ConsumerConfig{Durable: "promoter", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{"github.issue_comment.>"}}); err != nil {
		t.Fatal(err)
	}
	// A tail reads everything and acknowledges nothing: it does not count.
	if _, err := js.OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatal(err)
	}
	// fill publishes deliveries of 1 KiB with ids prefix-00, prefix-01, ...
	// until the stream refuses one, and returns those it stored.
	fill := func(prefix string) (stored []string, refusal error) {
		t.Helper()
		for i := 0; ; i++ {
			if i > 100 {
				t.Fatalf("a 16 KiB stream took 100 deliveries of 1 KiB (%s)", prefix)
			}
			id := fmt.Sprintf("%s-%02d", prefix, i)
			subject, body := delivery(id)
			if _, err := bus.Publish(ctx, subject, newEvent(id, "com.github.push", body)); err != nil {
				return stored, err
			}
			stored = append(stored, id)
		}
	}

	// Fill the stream with unhandled deliveries until it refuses one.
	published, refusal := fill("d")
	if !errors.Is(refusal, events.ErrUnavailable) {
		t.Errorf("full stream: err = %v, want ErrUnavailable", refusal)
	}
	if diff := cmp.Diff(published, storedIDs(t, bus, events.StreamGitHub)); diff != "" {
		t.Fatalf("a refused delivery dropped others (-published +stored):\n%s", diff)
	}

	// The applier handles the first half.
	handled := len(published) / 2
	batch, err := cons.Fetch(handled, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != handled {
		t.Fatalf("fetched %d deliveries, want %d", n, handled)
	}

	// Now new deliveries are stored, dropping only handled ones, until no
	// handled one is left.
	unhandled := published[handled:]
	later, refusal := fill("later")
	if len(later) == 0 {
		t.Fatal("no room was made from handled deliveries")
	}
	if !errors.Is(refusal, events.ErrUnavailable) {
		t.Errorf("full again: err = %v, want ErrUnavailable", refusal)
	}
	if diff := cmp.Diff(append(append([]string(nil), unhandled...), later...), storedIDs(t, bus, events.StreamGitHub)); diff != "" {
		t.Errorf("stored deliveries (-want +got):\n%s", diff)
	}
	t.Logf("%d deliveries filled the stream; after %d were handled, %d more were stored", len(published), handled, len(later))
}

// TestFactsStreamDropsOldest: the facts stream never refuses a fact; at
// its limit the oldest facts go.
func TestFactsStreamDropsOldest(t *testing.T) {
	ctx := context.Background()
	bus := startBusWith(t, events.Options{PublishTimeout: 2 * time.Second, MaxBytes: map[string]int64{events.StreamFacts: 16 << 10}})
	var ids []string
	for i := range 60 {
		ack, err := bus.PublishFact(ctx, events.Fact{Kind: "apply", Verb: "completed", Owner: "acme", Repo: "cfg", Subject: fmt.Sprint(i), Data: map[string]string{"pad": strings.Repeat("y", 900)}})
		if err != nil {
			t.Fatalf("fact %d: %v", i, err)
		}
		m, err := bus.JetStream().Stream(ctx, events.StreamFacts)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := m.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.Header.Get("ce-id"))
	}
	stored := storedIDs(t, bus, events.StreamFacts)
	if len(stored) == 0 || len(stored) == len(ids) {
		t.Fatalf("%d of %d facts stored, want the newest part", len(stored), len(ids))
	}
	if diff := cmp.Diff(ids[len(ids)-len(stored):], stored); diff != "" {
		t.Errorf("stored facts are not the newest (-want +got):\n%s", diff)
	}
	s, _ := bus.JetStream().Stream(ctx, events.StreamFacts)
	if info, _ := s.Info(ctx); info.State.Bytes > 16<<10 {
		t.Errorf("facts stream holds %d bytes, over its 16 KiB limit", info.State.Bytes)
	}
}

// TestEveryStreamAndBucketIsBounded: every stream and bucket gets its byte
// limit (the default or the one configured) and its discard policy, also
// when it existed before without them.
func TestEveryStreamAndBucketIsBounded(t *testing.T) {
	ctx := context.Background()
	_, nc := startServer(t, events.EmbeddedOptions{})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier promobot left it: no byte limit, oldest dropped.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamGitHub, Subjects: []string{"github.>"}, Discard: jetstream.DiscardOld}); err != nil {
		t.Fatal(err)
	}
	bus := provision(t, nc, events.Options{MaxBytes: map[string]int64{events.BucketApps: 3 << 20}})
	type limit struct {
		MaxBytes int64
		Discard  string
	}
	got := map[string]limit{}
	for _, name := range []string{events.StreamGitHub, events.StreamFacts} {
		s, err := bus.JetStream().Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		got[name] = limit{cfg.MaxBytes, cfg.Discard.String()}
	}
	for _, name := range []string{events.BucketInstallations, events.BucketLedger, events.BucketApps, events.BucketLocks, events.BucketReports} {
		kv, err := bus.KeyValue(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
		got[name] = limit{cfg.MaxBytes, cfg.Discard.String()}
	}
	d := events.DefaultMaxBytes()
	want := map[string]limit{
		events.StreamGitHub:        {d[events.StreamGitHub], "DiscardNew"},
		events.StreamFacts:         {d[events.StreamFacts], "DiscardOld"},
		events.BucketInstallations: {d[events.BucketInstallations], "DiscardNew"},
		events.BucketLedger:        {d[events.BucketLedger], "DiscardNew"},
		events.BucketApps:          {3 << 20, "DiscardNew"},
		events.BucketLocks:         {d[events.BucketLocks], "DiscardNew"},
		events.BucketReports:       {d[events.BucketReports], "DiscardNew"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
}
