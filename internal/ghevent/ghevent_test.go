package ghevent_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
)

func TestParse(t *testing.T) {
	repo := `"repository":{"name":"cluster.config","full_name":"my-org/cluster.config","html_url":"https://github.com/my-org/cluster.config","owner":{"login":"my-org"}}`
	tests := []struct {
		name, body                     string
		wantOwner, wantSource, wantSub string
		want                           func(p *ghevent.Payload)
	}{
		{"push", `{"ref":"refs/heads/main",` + repo + `,"installation":{"id":77},"sender":{"login":"alice","id":5}}`,
			"my-org", "https://github.com/my-org/cluster.config", "refs/heads/main", func(p *ghevent.Payload) {
				p.Ref, p.InstallationID, p.Sender = "refs/heads/main", 77, ghevent.Sender{Login: "alice", ID: 5}
			}},
		{"pull request", `{"action":"opened","number":12,"pull_request":{"number":12},` + repo + `}`,
			"my-org", "https://github.com/my-org/cluster.config", "12", func(p *ghevent.Payload) { p.Action, p.Number, p.PRNumber = "opened", 12, 12 }},
		{"comment", `{"action":"created","issue":{"number":9},` + repo + `}`,
			"my-org", "https://github.com/my-org/cluster.config", "9", func(p *ghevent.Payload) { p.Action, p.IssueNumber = "created", 9 }},
		{"installation", `{"action":"created","installation":{"id":77,"account":{"login":"my-org","html_url":"https://github.com/my-org"}},"repositories":[{"full_name":"my-org/a"},{"full_name":"my-org/b"}]}`,
			"my-org", "https://github.com/my-org", "", func(p *ghevent.Payload) {
				p.Action, p.InstallationID, p.AccountLogin, p.AccountURL = "created", 77, "my-org", "https://github.com/my-org"
				p.Repositories = []string{"my-org/a", "my-org/b"}
			}},
		{"organization only", `{"organization":{"login":"acme"}}`, "acme", "https://github.com", "", func(p *ghevent.Payload) { p.OrgLogin = "acme" }},
		{"number not a number", `{"number":"12"}`, "", "https://github.com", "", func(p *ghevent.Payload) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ghevent.Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want := ghevent.Payload{Number: -1, PRNumber: -1, IssueNumber: -1}
			if strings.Contains(tt.body, repo) {
				want.Repository = ghevent.Repository{Name: "cluster.config", FullName: "my-org/cluster.config", Owner: "my-org", URL: "https://github.com/my-org/cluster.config"}
			}
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tt.wantOwner, tt.wantSource, tt.wantSub}, []string{got.Owner(), got.Source(), got.Subject()}); diff != "" {
				t.Errorf("owner, source, subject (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, ` {"a":1} x`} {
		if _, err := ghevent.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
}

func delivery(id, name, body string) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType(ghevent.Type(name, ""))
	ev.SetSource("https://github.com")
	if name != "" {
		ev.SetExtension(ghevent.ExtensionEvent, name)
	}
	_ = ev.SetData("application/json", []byte(body))
	return ev
}

// TestMiddleware checks the envelope is decoded once for the handler, and
// that the handler's logger carries the documented keys.
func TestMiddleware(t *testing.T) {
	var logs bytes.Buffer
	ctx := events.WithLogger(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)).With(events.KeyDeliveryID, "d-1"))
	body := `{"action":"synchronize","ref":"refs/heads/x","repository":{"name":"cfg","full_name":"acme/cfg","owner":{"login":"acme"}},"installation":{"id":42},"sender":{"login":"bob","id":3}}`
	var got ghevent.Envelope
	h := ghevent.Middleware(func(ctx context.Context, d events.Delivery) error {
		got, _ = ghevent.FromContext(ctx)
		events.Logger(ctx).Info("handled")
		return nil
	})
	if err := h(ctx, events.Delivery{Event: delivery("d-1", "pull_request", body)}); err != nil {
		t.Fatal(err)
	}
	p, _ := ghevent.Parse([]byte(body))
	want := ghevent.Envelope{DeliveryID: "d-1", Event: "pull_request", Action: "synchronize", Installation: 42,
		Repository: ghevent.Repository{Name: "cfg", FullName: "acme/cfg", Owner: "acme"}, Ref: "refs/heads/x",
		Sender: ghevent.Sender{Login: "bob", ID: 3}, Payload: p, Raw: []byte(body)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	if line := `msg=handled delivery_id=d-1 event=pull_request action=synchronize installation_id=42 repo=acme/cfg ref=refs/heads/x sender=bob`; !strings.Contains(logs.String(), line) {
		t.Errorf("log lacks %q:\n%s", line, logs.String())
	}
	for _, ev := range []event.Event{delivery("f-1", "", `{}`), delivery("d-2", "push", `not json`)} {
		if err := h(ctx, events.Delivery{Event: ev}); !events.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", ev.ID(), err)
		}
	}
	if _, ok := ghevent.FromContext(context.Background()); ok {
		t.Error("an envelope outside the middleware")
	}
}

func TestNames(t *testing.T) {
	p, _ := ghevent.Parse([]byte(`{"repository":{"name":"web.site","owner":{"login":"acme"}}}`))
	got := []string{ghevent.Type("push", ""), ghevent.Type("pull_request", "opened"), ghevent.Subject("push", p), ghevent.Filter("push"),
		ghevent.Subject("ping", ghevent.Payload{})}
	want := []string{"com.github.push", "com.github.pull_request.opened", "github.push.acme.web%2Esite", "github.push.>", "github.ping._._"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !events.SubjectMatches(ghevent.Filter("push"), ghevent.Subject("push", p)) {
		t.Error("a push's filter does not match its subject")
	}
}
