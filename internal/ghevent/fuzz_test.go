package ghevent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
)

// FuzzDecode hands arbitrary event names and payloads to Middleware: it
// never panics; a payload that is no JSON object is refused as permanent
// and never reaches the handler; any other reaches it with an envelope
// whose raw bytes are the payload's, and the subject it would be stored on
// matches its event's filter.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ name, body string }{
		{"push", `{"ref":"refs/heads/main","repository":{"name":"cfg","full_name":"acme/cfg","owner":{"login":"acme"}},"installation":{"id":7},"sender":{"login":"a","id":1}}`},
		{"installation", `{"action":"created","installation":{"id":77,"account":{"login":"my-org"}},"repositories":[{"full_name":"my-org/a.b"}]}`},
		{"a.b*c>d e", `{"repository":{"name":"r.e p*o>","owner":{"login":"o.w n>e*r"}}}`},
		{">", `{"number":"7","pull_request":{"number":1.5},"issue":[],"sender":"x"}`},
		{"push", `[1]`},
		{"push", `{"ref":`},
		{"", `{}`},
		{"push", "\xff{}"},
	} {
		f.Add(s.name, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		var logs bytes.Buffer
		ctx := events.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
		reached := false
		h := ghevent.Middleware(func(ctx context.Context, d events.Delivery) error {
			reached = true
			env, ok := ghevent.FromContext(ctx)
			if !ok || !bytes.Equal(env.Raw, body) || env.Event != name {
				t.Fatalf("envelope %+v for %q %q", env, name, body)
			}
			if !events.SubjectMatches(ghevent.Filter(name), ghevent.Subject(name, env.Payload)) {
				t.Fatalf("subject %q does not match filter %q", ghevent.Subject(name, env.Payload), ghevent.Filter(name))
			}
			events.Logger(ctx).Info("handled")
			return nil
		})
		err := h(ctx, events.Delivery{Event: delivery("d", name, string(body))})
		_, perr := ghevent.Parse(body)
		switch {
		case name == "" || perr != nil:
			if !events.IsPermanent(err) || reached {
				t.Fatalf("name %q body %q: err %v, reached %v; want refused", name, body, err, reached)
			}
		case err != nil || !reached:
			t.Fatalf("name %q body %q: err %v, reached %v", name, body, err, reached)
		default:
			if !json.Valid(bytes.TrimSpace(logs.Bytes())) {
				t.Fatalf("log line is not JSON: %q", logs.String())
			}
		}
	})
}
