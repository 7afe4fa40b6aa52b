package events_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
)

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		name, filter, subject string
		want                  bool
	}{
		{"exact", "github.push.acme.cfg", "github.push.acme.cfg", true},
		{"tail", "github.push.>", "github.push.acme.cfg", true},
		{"tail needs a token", "github.push.>", "github.push", false},
		{"other event", "github.push.>", "github.pull_request.acme.cfg", false},
		{"prefix of a token", "github.push.>", "github.push_x.acme.cfg", false},
		{"star", "promobot.*.completed.>", "promobot.apply.completed.acme.cfg", true},
		{"star is one token", "github.*", "github.push.acme", false},
		{"shorter subject", "github.push.acme.cfg", "github.push.acme", false},
		{"longer subject", "github.push.acme", "github.push.acme.cfg", false},
		{"escaped dot stays in its token", events.GitHubFilter("push"), events.GitHubSubject("push", "acme", "web.site"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.SubjectMatches(tt.filter, tt.subject); got != tt.want {
				t.Errorf("SubjectMatches(%q, %q) = %v, want %v", tt.filter, tt.subject, got, tt.want)
			}
		})
	}
}

// TestConsumeRoutes checks that a consumer's routes are both its filter
// and its dispatch: each event reaches the handler of its route, and an
// event of no route is not even delivered (the sentinel published after
// it is the last event the consumer sees).
func TestConsumeRoutes(t *testing.T) {
	_, bus := startBus(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	route := func(name string) events.Handler {
		return func(ctx context.Context, d events.Delivery) error {
			events.Logger(ctx).Info("handled by " + name)
			got <- name + " " + d.Event.ID()
			return nil
		}
	}
	routes := []events.Route{
		{Filter: events.GitHubFilter("push"), Handle: route("push")},
		{Filter: events.GitHubFilter("issue_comment"), Handle: route("comment")},
		{Filter: events.GitHubFilter("sentinel"), Handle: route("sentinel")},
	}
	if diff := cmp.Diff([]string{"github.push.>", "github.issue_comment.>", "github.sentinel.>"}, events.Filters(routes)); diff != "" {
		t.Errorf("filters: %s", diff)
	}
	var logs kit.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- bus.ConsumeRoutes(ctx, events.ConsumerOptions{Name: "routes", Stream: events.StreamGitHub, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, routes)
	}()
	for _, p := range []struct{ id, event string }{
		{"p1", "push"}, {"c1", "issue_comment"}, {"x1", "pull_request"}, {"p2", "push"}, {"s1", "sentinel"},
	} {
		if _, err := bus.Publish(ctx, events.GitHubSubject(p.event, "acme", "cfg"), newEvent(p.id, "com.github."+p.event, []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "sentinel s1" {
		select {
		case s := <-got:
			seen = append(seen, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("the sentinel never arrived; saw %v", seen)
		}
	}
	if diff := cmp.Diff([]string{"push p1", "comment c1", "push p2", "sentinel s1"}, seen); diff != "" {
		t.Errorf("dispatch (-want +got):\n%s", diff)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The loop's logger, with the event's keys, reaches the handler.
	if want := `msg="handled by comment" consumer=routes delivery_id=c1 event_type=com.github.issue_comment attempt=1`; !strings.Contains(logs.String(), want) {
		t.Errorf("handler's log lines lack %q:\n%s", want, logs.String())
	}
	if err := bus.ConsumeRoutes(context.Background(), events.ConsumerOptions{Name: "x", Stream: events.StreamGitHub, FilterSubjects: []string{"github.>"}}, routes); err == nil {
		t.Error("ConsumeRoutes took FilterSubjects beside routes")
	}
}

// TestOnceHandler checks idempotency as middleware: a completed event is
// handled once however often it comes, an event the handler left alone
// (empty note) or failed is looked at again, and the note is what the
// ledger records.
func TestOnceHandler(t *testing.T) {
	_, bus := startBus(t, "")
	l, err := bus.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx := events.WithLogger(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	runs := map[string]int{}
	h := l.OnceHandler("applier", func(_ context.Context, d events.Delivery) (string, error) {
		runs[d.Event.ID()]++
		switch d.Event.ID() {
		case "ignored":
			return "", nil
		case "failing":
			return "", errors.New("cluster unreachable")
		}
		return "sha-" + d.Event.ID(), nil
	})
	for range 3 {
		for _, id := range []string{"applied", "ignored", "failing"} {
			err := h(ctx, events.Delivery{Event: newEvent(id, "com.github.push", []byte(`{}`))})
			if (err != nil) != (id == "failing") {
				t.Errorf("%s: err = %v", id, err)
			}
		}
	}
	if diff := cmp.Diff(map[string]int{"applied": 1, "ignored": 3, "failing": 3}, runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	for id, want := range map[string]bool{"applied": true, "ignored": false, "failing": false} {
		if done, err := l.Done(ctx, "applier", id); err != nil || done != want {
			t.Errorf("%s: done = %v, %v; want %v", id, done, err, want)
		}
	}
	if done, _ := l.Done(ctx, "promoter", "applied"); done {
		t.Error("another handler name shares the record")
	}
	if got := strings.Count(logs.String(), "event already handled, ignoring the redelivery"); got != 2 {
		t.Errorf("logged %d redeliveries through the context's logger, want 2:\n%s", got, logs.String())
	}
}
