package promoter

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
)

// Replies to commands that do not promote: each quotes the command and
// says why, nothing else happens.
func TestCommandReplies(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	merged, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	open := h.openChange("not-merged", map[string]string{stagingFile: withTag(t, h.file("main", stagingFile), "1.2.0")})
	docs := h.openChange("docs", map[string]string{"README.md": "# Docs\n"})
	if _, err := h.gh.MergePR(h.ctx, owner, repoName, docs, maintainer, "merge"); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.warmToken()

	tests := []struct {
		name      string
		pr        int
		login     string
		body      string
		golden    string // the reply; "" for none
		reactions []string
		facts     []string
	}{
		{name: "read-only user is refused", pr: merged, login: reader, body: "/promote",
			golden: "reply-refused.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "not merged", pr: open, login: maintainer, body: "/promote",
			golden: "reply-not-merged.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "misspelt command", pr: merged, login: maintainer, body: "/promte",
			golden: "reply-did-you-mean.md", reactions: []string{}, facts: []string{}},
		{name: "misspelt environment", pr: merged, login: maintainer, body: "/promote to prod",
			golden: "reply-did-you-mean-env.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "unknown app", pr: merged, login: maintainer, body: "/promote my-api",
			golden: "reply-unknown-app.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "an unknown app named to break the reply", pr: merged, login: maintainer, body: "/promote `x`<!--\n\n# Approved @octocat",
			golden: "reply-hostile-app.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "a change no app is promoted from", pr: docs, login: maintainer, body: "/promote",
			golden: "reply-nothing-to-promote.md", reactions: []string{"eyes", "confused"}, facts: []string{"requested", "refused"}},
		{name: "help", pr: merged, login: reader, body: "What can I do here?\n/promote help",
			golden: "reply-help.md", reactions: []string{"eyes"}, facts: []string{}},
		{name: "quoted command", pr: merged, login: maintainer, body: "> /promote\n\nDid you mean this?",
			reactions: []string{}, facts: []string{}},
		{name: "command in a code block", pr: merged, login: maintainer, body: "Run:\n```\n/promote\n```\n",
			reactions: []string{}, facts: []string{}},
		{name: "another bot", pr: merged, login: "renovate[bot]", body: "/promote",
			reactions: []string{}, facts: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.facts())
			repliesBefore := len(h.replies(tt.pr))
			h.gh.ResetCalls()
			id := h.comment(tt.pr, tt.login, tt.body)
			calls := h.gh.Calls()

			if diff := cmp.Diff(tt.reactions, h.reactions(id)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			replies := h.replies(tt.pr)[repliesBefore:]
			switch {
			case tt.golden == "" && len(replies) > 0:
				t.Errorf("unexpected replies: %+v", replies)
			case tt.golden != "" && len(replies) != 1:
				t.Fatalf("replies = %+v, want one", replies)
			case tt.golden != "":
				kit.Golden(t, filepath.Join("testdata", tt.golden), replies[0].Body)
			}
			if tt.golden == "" && calls.Total != 0 {
				t.Errorf("ignored comment made API calls: %s", callsString(calls))
			}
			if got := h.promotionPRs(); len(got) != 0 {
				t.Errorf("promotion pull requests opened: %+v", got)
			}
			branches, err := h.gh.Branches(h.ctx, owner, repoName)
			if err != nil {
				t.Fatal(err)
			}
			for b := range branches {
				if strings.HasPrefix(b, BranchPrefix) {
					t.Errorf("promotion branch %s created", b)
				}
			}
			if diff := cmp.Diff(tt.facts, verbs(h.facts()[before:])); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

// A comment delivered again (GitHub redelivers with the same delivery id)
// changes nothing the second time: the bus stores it once within its
// duplicate window, and the promoter's ledger skips it after that.
func TestRedeliveredCommentDoesNothingTwice(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()
	cmd := h.comment(n, maintainer, "/promote")
	if got := h.promotionPRs(); len(got) != 1 {
		t.Fatalf("promotion pull requests = %+v, want 1", got)
	}
	var guid string
	var hookID int64
	for _, d := range h.gh.Deliveries() {
		if d.Event == "issue_comment" {
			guid, hookID = d.GUID, d.ID
		}
	}

	// GitHub's redelivery, through the webhook receiver and the bus.
	h.warmToken()
	if err := h.app.Redeliver(h.ctx, hookID); err != nil {
		t.Fatal(err)
	}
	if err := h.gh.WaitDeliveries(h.ctx); err != nil {
		t.Fatal(err)
	}
	redelivered := false
	for _, d := range h.gh.Deliveries() {
		redelivered = redelivered || (d.Redelivery && d.GUID == guid && d.Status == "OK")
	}
	if !redelivered {
		t.Fatal("GitHub's redelivery did not reach the webhook receiver")
	}
	h.gh.ResetCalls()
	h.settle()

	// The same event handed to the promoter again, as after the duplicate
	// window: the ledger remembers it.
	ev := storedEvent(t, h, guid)
	if err := h.p.HandleGitHub(h.ctx, events.Delivery{Event: ev, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if got := h.gh.Calls(); got.Total != 0 {
		t.Errorf("the redelivered comment made API calls: %s", callsString(got))
	}
	if got := h.promotionPRs(); len(got) != 1 {
		t.Errorf("promotion pull requests after the redelivery = %+v, want 1", got)
	}
	if diff := cmp.Diff([]string{"eyes", "rocket"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"requested", "opened"}, verbs(h.facts())); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
}

// storedEvent reads the delivery with id guid back from the bus.
func storedEvent(t *testing.T, h *harness, guid string) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	cons, err := h.bus.JetStream().OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatalf("delivery %s not on the bus: %v", guid, err)
		}
		ev, err := events.Decode(msg.Headers(), msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID() == guid {
			return ev
		}
	}
}
