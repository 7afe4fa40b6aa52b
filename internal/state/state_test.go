package state_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/state"
)

// startBus starts a real embedded nats-server on a temporary directory and
// returns a provisioned bus.
func startBus(t *testing.T) *events.Bus {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := events.New(context.Background(), nc, events.Options{PublishTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

func TestRecords(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	recs, err := state.OpenRecords(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	repo := github.Repo{Owner: "acme", Name: "cluster.config"}
	if _, ok, err := recs.Get(ctx, repo, "api-staging"); ok || err != nil {
		t.Fatalf("before any put: ok %v, err %v", ok, err)
	}
	at := time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)
	want := []state.AppRecord{
		{Repo: repo.String(), App: "api-production", Commit: "c1", State: state.StateApplied, Healthy: true, AppliedAt: at,
			Inventory: json.RawMessage(`{"objects":[{"version":"v1","kind":"ConfigMap","name":"x"}]}`)},
		{Repo: repo.String(), App: "api-staging", Seen: "c2", State: state.StateFailed, Message: "boom",
			Inventory: json.RawMessage(`{"objects":null}`)},
	}
	for _, rec := range want {
		if err := recs.Put(ctx, repo, rec); err != nil {
			t.Fatal(err)
		}
	}
	// Another repository whose name shares a prefix is not listed.
	if err := recs.Put(ctx, github.Repo{Owner: "acme", Name: "cluster"}, state.AppRecord{App: "config.api-staging"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := recs.Get(ctx, repo, "api-staging")
	if err != nil || !ok {
		t.Fatalf("get: ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(want[1], got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	all, err := recs.List(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

// TestApplyFact checks that an apply fact is published and read by the same
// code: on the subject and type consumers filter on, with its version, and
// that a fact published before facts had a version still reads.
func TestApplyFact(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	repo := github.Repo{Owner: "acme", Name: "cfg"}
	f := state.ApplyFact{App: "api-staging", Environment: "staging", Commit: "abc", State: state.StateApplied, Healthy: true,
		Summary: "api-staging completed abc", Changes: json.RawMessage(`{"changes":null}`)}
	if err := state.PublishApply(ctx, bus, repo, state.ApplyCompleted, "promobot/applier", f); err != nil {
		t.Fatal(err)
	}
	cons, err := bus.JetStream().OrderedConsumer(ctx, events.StreamFacts, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{state.ApplyFilter(state.ApplyCompleted)}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(msg.Headers(), msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject() != "promobot.apply.completed.acme.cfg" || ev.Type() != "dev.promobot.apply.completed" || ev.Subject() != "api-staging" {
		t.Errorf("fact on %s, type %s, subject %s", msg.Subject(), ev.Type(), ev.Subject())
	}
	got, err := state.DecodeApplyFact(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := f
	want.Version, want.Repo = state.FactVersion, "acme/cfg"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}

	// The anonymous struct the applier published before facts were typed.
	old := ev.Clone()
	_ = old.SetData("application/json", []byte(`{"app":"api-staging","environment":"staging","cluster":"https://kubernetes.default.svc",`+
		`"commit":"abc","state":"applied","summary":"api-staging completed abc","changes":{"changes":null},"healthy":true,"repo":"acme/cfg"}`))
	got, err = state.DecodeApplyFact(old)
	if err != nil {
		t.Fatal(err)
	}
	want.Version, want.Cluster = 0, "https://kubernetes.default.svc"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unversioned fact (-want +got):\n%s", diff)
	}
	if _, err := state.DecodeApplyFact(func() event.Event { e := ev.Clone(); _ = e.SetData("application/json", []byte("[")); return e }()); err == nil {
		t.Error("a fact that is not JSON decoded")
	}
}
