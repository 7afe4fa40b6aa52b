package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
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
		{AppStatus: state.AppStatus{Repo: repo.String(), App: "api-production", Commit: "c1", State: state.StateApplied, Healthy: true, AppliedAt: at},
			Inventory: json.RawMessage(`{"objects":[{"version":"v1","kind":"ConfigMap","name":"x"}]}`)},
		{AppStatus: state.AppStatus{Repo: repo.String(), App: "api-staging", Seen: "c2", State: state.StateFailed, Message: "boom"},
			Inventory: json.RawMessage(`{"objects":null}`)},
	}
	for _, rec := range want {
		if err := recs.Put(ctx, repo, rec); err != nil {
			t.Fatal(err)
		}
	}
	// Another repository whose name shares a prefix is not listed.
	if err := recs.Put(ctx, github.Repo{Owner: "acme", Name: "cluster"}, state.AppRecord{AppStatus: state.AppStatus{App: "config.api-staging"}}); err != nil {
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

func TestRegistry(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	r, err := state.OpenRegistry(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Repo(ctx, "acme", "cfg"); !errors.Is(err, state.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if err := r.AddRepo(ctx, state.RepoInstallation{Owner: "acme", Repo: "cfg.io", InstallationID: 7}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Repo(ctx, "acme", "cfg.io")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(state.RepoInstallation{Owner: "acme", Repo: "cfg.io", InstallationID: 7}, got); diff != "" {
		t.Error(diff)
	}
	all, err := r.Repos(ctx)
	if err != nil || len(all) != 1 {
		t.Errorf("Repos = %v, %v", all, err)
	}
	if err := r.RemoveRepo(ctx, "acme", "cfg.io"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Repo(ctx, "acme", "cfg.io"); !errors.Is(err, state.ErrNotInstalled) {
		t.Errorf("after removal err = %v", err)
	}
}

// delivery is the CloudEvent the webhook receiver stores for a GitHub
// delivery of event with body.
func delivery(id, name, body string) event.Event {
	p, _ := ghevent.Parse([]byte(body))
	ev := event.New()
	ev.SetID(id)
	ev.SetType(ghevent.Type(name, p.Action))
	ev.SetSource(p.Source())
	ev.SetExtension(ghevent.ExtensionEvent, name)
	_ = ev.SetData("application/json", []byte(body))
	return ev
}

// TestRegistryRecord checks the registry as consumers keep it from
// installation deliveries, one after the other, through the route a
// consumer declares (ghevent.Route and Recording): what it records, and
// what the handler after it sees.
func TestRegistryRecord(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	r, err := state.OpenRegistry(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	var next []string
	route := ghevent.Route("installation", r.Recording(func(ctx context.Context, d events.Delivery) error {
		env, _ := ghevent.FromContext(ctx)
		next = append(next, env.Event+"."+env.Action)
		return nil
	}))
	repos := ghevent.Route("installation_repositories", r.Recording(nil))
	steps := []struct {
		name, event, body string
		want              []state.RepoInstallation
	}{
		{"created", "installation", `{"action":"created","installation":{"id":77,"account":{"login":"my-org","html_url":"https://github.com/my-org"}},"repositories":[{"full_name":"my-org/cluster.config"}]}`,
			[]state.RepoInstallation{{Owner: "my-org", Repo: "cluster.config", InstallationID: 77}}},
		{"added and removed", "installation_repositories", `{"action":"added","installation":{"id":77},"repositories_added":[{"full_name":"my-org/apps"}],"repositories_removed":[{"full_name":"my-org/cluster.config"}]}`,
			[]state.RepoInstallation{{Owner: "my-org", Repo: "apps", InstallationID: 77}}},
		{"no installation", "installation", `{"action":"created","repositories":[{"full_name":"my-org/other"}]}`,
			[]state.RepoInstallation{{Owner: "my-org", Repo: "apps", InstallationID: 77}}},
		{"deleted", "installation", `{"action":"deleted","installation":{"id":77},"repositories":[{"full_name":"my-org/apps"}]}`, nil},
	}
	for i, s := range steps {
		h := route.Handle
		if s.event == "installation_repositories" {
			h = repos.Handle
		}
		if err := h(ctx, events.Delivery{Event: delivery(fmt.Sprint("d", i), s.event, s.body)}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := r.Repos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: repositories (-want +got):\n%s", s.name, diff)
		}
	}
	if diff := cmp.Diff([]string{"installation.created", "installation.created", "installation.deleted"}, next); diff != "" {
		t.Errorf("handed on (-want +got):\n%s", diff)
	}
	// Recording without the envelope is a route without ghevent.Middleware:
	// a programming error, refused for good.
	if err := r.Recording(nil)(ctx, events.Delivery{Event: delivery("x", "installation", `{}`)}); !events.IsPermanent(err) {
		t.Errorf("recording without an envelope: err = %v, want permanent", err)
	}
}

// TestPromotionPRs checks the promoter's memory round trip, under the keys
// entries written before internal/state kept them have.
func TestPromotionPRs(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	type entry struct {
		PR     int      `json:"pr"`
		Images []string `json:"images,omitempty"`
	}
	m, err := state.OpenPromotionPRs[entry](ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	repo := github.Repo{Owner: "acme", Name: "cfg"}
	branch := "promobot/promote/api/production"
	if _, ok := m.Get(ctx, repo, branch); ok {
		t.Fatal("an entry before any put")
	}
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	// An entry as the promoter wrote it before.
	if _, err := kv.Put(ctx, events.KVKey("promoter-pr", "acme", "cfg", branch), []byte(`{"pr":7,"images":["api"]}`)); err != nil {
		t.Fatal(err)
	}
	got, ok := m.Get(ctx, repo, branch)
	if diff := cmp.Diff(entry{PR: 7, Images: []string{"api"}}, got); !ok || diff != "" {
		t.Errorf("old entry: ok %v (-want +got):\n%s", ok, diff)
	}
	if err := m.Put(ctx, repo, branch, entry{PR: 8}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, repo, branch); got.PR != 8 {
		t.Errorf("after put: %+v", got)
	}
	for range 2 {
		if err := m.Forget(ctx, repo, branch); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := m.Get(ctx, repo, branch); ok {
		t.Error("an entry after forget")
	}
	if _, err := kv.Put(ctx, state.PromotionPRKey(repo, "broken"), []byte(`{`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(ctx, repo, "broken"); ok {
		t.Error("an unreadable entry read")
	}
	if got, want := state.RedeliveryKey("a-b.c"), events.KVKey("redelivery", "a-b.c"); got != want {
		t.Errorf("RedeliveryKey = %q, want the layout of before, %q", got, want)
	}
}

// List returns every remembered promotion pull request, under names with
// dots and underscores too, and leaves out other ledger entries and
// unreadable ones.
func TestPromotionPRsList(t *testing.T) {
	bus := startBus(t)
	ctx := context.Background()
	type entry struct {
		PR int `json:"pr"`
	}
	m, err := state.OpenPromotionPRs[entry](ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty memory: %v, %v", got, err)
	}
	odd := github.Repo{Owner: "a_b", Name: "c.d"}
	plain := github.Repo{Owner: "acme", Name: "cfg"}
	for i, e := range []struct {
		repo   github.Repo
		branch string
	}{{plain, "promobot/promote/api/production"}, {odd, "x_y.z"}} {
		if err := m.Put(ctx, e.repo, e.branch, entry{PR: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string]string{
		state.RedeliveryKey("guid"):             `{}`,
		state.PromotionPRKey(plain, "broken"):   `{`,
		"promoter-pr.acme.cfg.branch_zz":        `{"pr":9}`,
		events.KVKey("promoter-pr", "only-two"): `{"pr":9}`,
	} {
		if _, err := kv.Put(ctx, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b state.PromotionPR[entry]) int { return a.Entry.PR - b.Entry.PR })
	want := []state.PromotionPR[entry]{
		{Repo: plain, Branch: "promobot/promote/api/production", Entry: entry{PR: 1}},
		{Repo: odd, Branch: "x_y.z", Entry: entry{PR: 2}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func FuzzPromotionPRKey(f *testing.F) {
	f.Add("acme", "cluster-config", "promobot/promote/api/production")
	f.Add("a_b", "c.d", "")
	f.Add("_", "%2E", "x_2fy")
	f.Fuzz(func(t *testing.T, owner, name, branch string) {
		r := github.Repo{Owner: owner, Name: name}
		gr, gb, ok := state.ParsePromotionPRKey(state.PromotionPRKey(r, branch))
		if !ok || gr != r || gb != branch {
			t.Fatalf("parse(PromotionPRKey(%q, %q)) = %q %q %v", r, branch, gr, gb, ok)
		}
	})
}
