package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/webhook"
)

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu        sync.Mutex
	subjects  []string
	published []event.Event
}

func (r *recorder) Publish(_ context.Context, subject string, ev event.Event) (events.PubAck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subjects = append(r.subjects, subject)
	r.published = append(r.published, ev)
	return events.PubAck{Stream: events.StreamGitHub, Sequence: uint64(len(r.subjects))}, nil
}

// Signature modes of a fuzzed request.
const (
	sigNone = iota
	sigValid
	sigOtherSecret
	sigRaw // the raw header string as given
)

// FuzzWebhook sends arbitrary methods, headers, event names and bodies
// through the receiver: it never panics, answers only with the documented
// codes, publishes only deliveries signed with the configured secret and
// only on a subject of four valid NATS tokens that the event's consumers'
// filter matches, with the body unchanged.
func FuzzWebhook(f *testing.F) {
	repo := `"repository":{"name":"cluster-config","full_name":"my-org/cluster-config","html_url":"https://github.com/my-org/cluster-config","owner":{"login":"my-org"}}`
	seeds := []struct {
		post            bool
		event, delivery string
		body            string
		sigMode         uint8
		rawSig          string
	}{
		{true, "push", "d1", pushBody, sigValid, ""},
		{true, "push", "d2", pushBody, sigNone, ""},
		{true, "push", "d3", pushBody, sigOtherSecret, ""},
		{true, "push", "d4", pushBody, sigRaw, "sha256=" + strings.Repeat("0", 64)},
		{true, "ping", "d5", `{"zen":"Keep it logically awesome.","hook_id":1}`, sigValid, ""},
		{true, "installation", "d6", `{"action":"created","installation":{"id":77,"account":{"login":"my-org","html_url":"https://github.com/my-org"}},"repositories":[{"full_name":"my-org/a.b"}]}`, sigValid, ""},
		{true, "issue_comment", "d7", `{"action":"created","issue":{"number":12},"comment":{"body":"/promote"},` + repo + `}`, sigValid, ""},
		{true, "a.b*c>d e", "d8", `{"repository":{"name":"r.e p*o>","owner":{"login":"o.w n>e*r"}}}`, sigValid, ""},
		{true, "*", "d9", `{"repository":{"name":">","owner":{"login":"*"}}}`, sigValid, ""},
		{true, ">", "d10", `{"repository":{"name":"","owner":{"login":""}}}`, sigValid, ""},
		{true, "push\r\n", "d11", `{"repository":{"name":"\u0000\t","owner":{"login":"\u00e9\u2603"}}}`, sigValid, ""},
		{true, "", "d12", `{}`, sigValid, ""},
		{true, "push", "", `{}`, sigValid, ""},
		{true, "push", "d14", `[1,2]`, sigValid, ""},
		{true, "push", "d15", `{"ref":`, sigValid, ""},
		{true, "push", "d16", "payload=%7B%7D", sigValid, ""},
		{true, "push", "d17", `{"repository":{"name":1,"owner":[]},"installation":{"id":"x"},"number":"7"}`, sigValid, ""},
		{true, "push", "d18", "\xff\xfe{}", sigValid, ""},
		{false, "push", "d19", pushBody, sigValid, ""},
		{true, "push", "d20", pushBody, sigRaw, "sha1=abc"},
		{true, "push", "d21", pushBody, sigRaw, "sha256=zz"},
		{true, strings.Repeat("e", 300), "d22", `{"repository":{"name":"` + strings.Repeat("r", 300) + `"}}`, sigValid, ""},
	}
	for _, s := range seeds {
		f.Add(s.post, s.event, s.delivery, []byte(s.body), s.sigMode, s.rawSig)
	}
	pub := &recorder{}
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{secret}, Logger: slog.New(slog.DiscardHandler)}, pub)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, post bool, name, delivery string, body []byte, sigMode uint8, rawSig string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "/webhook", bytes.NewReader(body))
		req.Header = http.Header{}
		req.Header[webhook.HeaderEvent] = []string{name}
		req.Header[webhook.HeaderDelivery] = []string{delivery}
		signed := false
		switch sigMode % 4 {
		case sigValid:
			req.Header[webhook.HeaderSignature] = []string{webhook.Sign(secret, body)}
			signed = true
		case sigOtherSecret:
			req.Header[webhook.HeaderSignature] = []string{webhook.Sign([]byte("not the secret"), body)}
		case sigRaw:
			req.Header[webhook.HeaderSignature] = []string{rawSig}
			signed = rawSig == webhook.Sign(secret, body)
		}

		pub.mu.Lock()
		before := len(pub.subjects)
		pub.mu.Unlock()
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)
		pub.mu.Lock()
		newSubjects, newEvents := pub.subjects[before:], pub.published[before:]
		pub.mu.Unlock()

		switch w.Code {
		case http.StatusOK, http.StatusAccepted:
			if len(newSubjects) != 1 {
				t.Fatalf("answered %d after %d publishes, want 1", w.Code, len(newSubjects))
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			if len(newSubjects) != 0 {
				t.Fatalf("answered %d but published %v", w.Code, newSubjects)
			}
		default:
			t.Fatalf("answered %d, not a documented code", w.Code)
		}
		if len(newSubjects) == 0 {
			return
		}
		if !signed || !post {
			t.Fatalf("published a %s request without a valid signature (mode %d)", method, sigMode%4)
		}
		subject, ev := newSubjects[0], newEvents[0]
		tokens := strings.Split(subject, ".")
		if !server.IsValidPublishSubject(subject) || len(tokens) != 4 || tokens[0] != events.GitHubPrefix {
			t.Fatalf("subject %q is not github.<event>.<owner>.<repo> of valid tokens", subject)
		}
		for _, tok := range tokens {
			for i := 0; i < len(tok); i++ {
				if c := tok[i]; c <= ' ' || c >= 0x7f || c == '*' || c == '>' {
					t.Fatalf("subject %q: token %q holds %q", subject, tok, c)
				}
			}
		}
		if filter := events.GitHubFilter(name); !strings.HasPrefix(subject, strings.TrimSuffix(filter, ">")) {
			t.Fatalf("subject %q is not matched by its event's filter %q", subject, filter)
		}
		if ev.ID() != delivery || !bytes.Equal(ev.Data(), body) || ghevent.EventName(ev) != name {
			t.Fatalf("event %s / %q / data changed: %v", ev.ID(), ghevent.EventName(ev), ev)
		}
	})
}
