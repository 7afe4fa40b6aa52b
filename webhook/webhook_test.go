package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

var secret = []byte("s3cret-current")

type env struct {
	srv      *events.Embedded
	bus      *events.Bus
	receiver *webhook.Receiver
	http     *httptest.Server
	dir      string
}

// newEnv starts a real nats-server (listening on loopback so it can be
// restarted under the client) and a receiver in front of it.
func newEnv(t *testing.T, secrets ...[]byte) *env {
	t.Helper()
	return newEnvWith(t, webhook.Options{Secrets: secrets}, events.Options{})
}

// newEnvWith is newEnv with the receiver's options (Secrets default to
// secret) and the bus's (PublishTimeout defaults to a second).
func newEnvWith(t *testing.T, opts webhook.Options, busOpts events.Options) *env {
	t.Helper()
	dir := t.TempDir()
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := nats.NkeyOptionFromSeed(srv.CredentialsFile())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), auth, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if busOpts.PublishTimeout == 0 {
		busOpts.PublishTimeout = time.Second
	}
	bus, err := events.New(context.Background(), nc, busOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Secrets) == 0 {
		opts.Secrets = [][]byte{secret}
	}
	rc, err := webhook.New(opts, bus)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(rc)
	e := &env{srv: srv, bus: bus, receiver: rc, http: hs}
	t.Cleanup(func() {
		hs.Close()
		nc.Close()
		e.srv.Shutdown()
	})
	e.dir = dir
	return e
}

func (e *env) post(t *testing.T, event, delivery string, body []byte, sign []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL, bytes.NewReader(body))
	if event != "" {
		req.Header.Set(webhook.HeaderEvent, event)
	}
	if delivery != "" {
		req.Header.Set(webhook.HeaderDelivery, delivery)
	}
	if sign != nil {
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(sign, body))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// stored returns every event in the github stream.
func (e *env) stored(t *testing.T) []storedEvent {
	t.Helper()
	ctx := context.Background()
	cons, err := e.bus.JetStream().OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []storedEvent
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(300 * time.Millisecond))
		if err != nil {
			return out
		}
		ev, err := events.Decode(msg.Headers(), msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, storedEvent{Subject: msg.Subject(), Event: ev})
	}
}

type storedEvent struct {
	Subject string
	Event   event.Event
}

const pushBody = `{"ref":"refs/heads/main","before":"a1","after":"b2",
  "repository":{"name":"cluster-config","full_name":"my-org/cluster-config","html_url":"https://github.com/my-org/cluster-config","owner":{"login":"my-org"}},
  "installation":{"id":77},  "commits":[{"id":"b2","modified":["kustomize/overlays/staging/kustomization.yaml"]}]}`

func TestGitHubSignatureVector(t *testing.T) {
	// GitHub's documented example ("Validating webhook deliveries").
	got := webhook.Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	// The receiver accepts that signature: the body is refused only for
	// not being JSON (400), not for its signature (401).
	e := newEnv(t, []byte("It's a Secret to Everybody"))
	req, _ := http.NewRequest(http.MethodPost, e.http.URL, strings.NewReader("Hello, World!"))
	req.Header.Set(webhook.HeaderEvent, "push")
	req.Header.Set(webhook.HeaderDelivery, "vector")
	req.Header.Set(webhook.HeaderSignature, want)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400 (signature valid, body not JSON)", resp.StatusCode)
	}
}

func TestSignatures(t *testing.T) {
	old := []byte("s3cret-old")
	e := newEnv(t, secret, old)
	tests := []struct {
		name   string
		header func(body []byte) string
		want   int
	}{
		{"signed with the current secret", func(b []byte) string { return webhook.Sign(secret, b) }, http.StatusAccepted},
		{"signed with the old secret during rotation", func(b []byte) string { return webhook.Sign(old, b) }, http.StatusAccepted},
		{"unsigned", func([]byte) string { return "" }, http.StatusUnauthorized},
		{"wrong secret", func(b []byte) string { return webhook.Sign([]byte("guess"), b) }, http.StatusUnauthorized},
		{"sha1 prefix", func(b []byte) string { return strings.Replace(webhook.Sign(secret, b), "sha256=", "sha1=", 1) }, http.StatusUnauthorized},
		{"not hex", func([]byte) string { return "sha256=zz" }, http.StatusUnauthorized},
		{"signature of another body", func([]byte) string { return webhook.Sign(secret, []byte(`{}`)) }, http.StatusUnauthorized},
	}
	accepted := 0
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(pushBody)
			req, _ := http.NewRequest(http.MethodPost, e.http.URL, bytes.NewReader(body))
			req.Header.Set(webhook.HeaderEvent, "push")
			req.Header.Set(webhook.HeaderDelivery, fmt.Sprintf("sig-%d", i))
			if h := tt.header(body); h != "" {
				req.Header.Set(webhook.HeaderSignature, h)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusAccepted {
				accepted++
			}
		})
	}
	if got := len(e.stored(t)); got != accepted {
		t.Errorf("%d events stored, want %d: nothing unauthenticated may be published", got, accepted)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	big := bytes.Repeat([]byte(" "), webhook.MaxBodyBytes+1)
	big[0] = '{'
	tests := []struct {
		name     string
		method   string
		event    string
		delivery string
		body     []byte
		want     int
	}{
		{"GET", http.MethodGet, "push", "r1", []byte(pushBody), http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "push", "r2", []byte(pushBody), http.StatusMethodNotAllowed},
		{"over 25 MiB", http.MethodPost, "push", "r3", big, http.StatusRequestEntityTooLarge},
		{"missing event header", http.MethodPost, "", "r4", []byte(pushBody), http.StatusBadRequest},
		{"missing delivery header", http.MethodPost, "push", "", []byte(pushBody), http.StatusBadRequest},
		{"not JSON", http.MethodPost, "push", "r6", []byte("payload=%7B%7D"), http.StatusBadRequest},
		{"JSON but not an object", http.MethodPost, "push", "r7", []byte(`[1,2]`), http.StatusBadRequest},
		{"truncated JSON", http.MethodPost, "push", "r8", []byte(`{"ref":`), http.StatusBadRequest},
		{"empty body", http.MethodPost, "push", "r9", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.http.URL, bytes.NewReader(tt.body))
			if tt.event != "" {
				req.Header.Set(webhook.HeaderEvent, tt.event)
			}
			if tt.delivery != "" {
				req.Header.Set(webhook.HeaderDelivery, tt.delivery)
			}
			req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if got := e.stored(t); len(got) != 0 {
		t.Errorf("%d events stored from refused deliveries", len(got))
	}
}

func TestEveryEventTypeIsPublished(t *testing.T) {
	e := newEnv(t)
	repo := `"repository":{"name":"cluster.config","full_name":"my-org/cluster.config","html_url":"https://github.com/my-org/cluster.config","owner":{"login":"my-org"}},"installation":{"id":77}`
	tests := []struct {
		event, body                     string
		wantType, wantSubject, wantNATS string
		wantStatus                      int
	}{
		{"push", `{"ref":"refs/heads/main",` + repo + `}`, "com.github.push", "refs/heads/main", "github.push.my-org.cluster%2Econfig", 202},
		{"pull_request", `{"action":"opened","number":12,"pull_request":{"number":12},` + repo + `}`, "com.github.pull_request.opened", "12", "github.pull_request.my-org.cluster%2Econfig", 202},
		{"issue_comment", `{"action":"created","issue":{"number":12},"comment":{"body":"/promote"},` + repo + `}`, "com.github.issue_comment.created", "12", "github.issue_comment.my-org.cluster%2Econfig", 202},
		{"check_suite", `{"action":"requested",` + repo + `}`, "com.github.check_suite.requested", "", "github.check_suite.my-org.cluster%2Econfig", 202},
		{"installation", `{"action":"created","installation":{"id":77,"account":{"login":"my-org","html_url":"https://github.com/my-org"}},"repositories":[{"full_name":"my-org/cluster.config"}]}`, "com.github.installation.created", "", "github.installation.my-org._", 202},
		{"ping", `{"zen":"Keep it logically awesome.","hook_id":1}`, "com.github.ping", "", "github.ping._._", 200},
	}
	for i, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			id := fmt.Sprintf("delivery-%d", i)
			resp := e.post(t, tt.event, id, []byte(tt.body), secret)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	got := e.stored(t)
	if len(got) != len(tests) {
		t.Fatalf("%d events stored, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		ev := got[i].Event
		type attrs struct{ ID, Type, Subject, NATS, Data, CT, Event string }
		want := attrs{fmt.Sprintf("delivery-%d", i), tt.wantType, tt.wantSubject, tt.wantNATS, tt.body, "application/json", tt.event}
		have := attrs{ev.ID(), ev.Type(), ev.Subject(), got[i].Subject, string(ev.Data()), ev.DataContentType(), ghevent.EventName(ev)}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.event, diff)
		}
	}
	if src := got[0].Event.Source(); src != "https://github.com/my-org/cluster.config" {
		t.Errorf("push source = %q", src)
	}
	if src := got[4].Event.Source(); src != "https://github.com/my-org" {
		t.Errorf("installation source = %q", src)
	}
	if inst, _ := got[0].Event.Extensions()["installation"].(string); inst != "77" {
		t.Errorf("installation extension = %v", got[0].Event.Extensions()["installation"])
	}
	// The receiver only stores: the installation delivery is recorded in
	// the registry by its consumers (state.TestRegistryRecord), not here.
	kv, err := e.bus.KeyValue(context.Background(), events.BucketInstallations)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(context.Background()); err != nil || st.Values() != 0 {
		t.Errorf("the receiver wrote to the installations bucket: %v values, %v", st.Values(), err)
	}
}

func TestRawBytesUnchanged(t *testing.T) {
	e := newEnv(t)
	body := []byte("{\n  \"ref\" : \"refs/heads/main\",\t\"unicode\":\"caf\\u00e9 ☕\", \"n\": 1.50e2 ,\"repository\":{\"name\":\"r\",\"owner\":{\"login\":\"o\"}}}\n")
	if resp := e.post(t, "push", "raw", body, secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := e.stored(t)
	if len(got) != 1 || !bytes.Equal(got[0].Event.Data(), body) {
		t.Fatalf("stored data differs from the delivery:\n%q", got[0].Event.Data())
	}
}

func TestSameDeliveryStoredOnce(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		if resp := e.post(t, "push", "same-guid", []byte(pushBody), secret); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
		}
	}
	if got := e.stored(t); len(got) != 1 {
		t.Errorf("%d events stored, want 1", len(got))
	}
}

func TestBusDownAnswers503ThenRecovers(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.srv.ClientURL(), "nats://")
	if resp := e.post(t, "push", "before", []byte(pushBody), secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("before: status %d", resp.StatusCode)
	}
	e.srv.Shutdown()
	start := time.Now()
	resp := e.post(t, "push", "during", []byte(pushBody), secret)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("bus down: status %d, want 503", resp.StatusCode)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("503 took %s; GitHub gives up after 10s", took)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	// Restart on the same data directory and port: the client reconnects.
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: e.dir, Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	kit.Eventually(t, 15*time.Second, "202 after the restart", func() (bool, string) {
		resp := e.post(t, "push", "during", []byte(pushBody), secret) // GitHub's redelivery
		return resp.StatusCode == http.StatusAccepted, fmt.Sprintf("status %d", resp.StatusCode)
	})
	var ids []string
	for _, s := range e.stored(t) {
		ids = append(ids, s.Event.ID())
	}
	if diff := cmp.Diff([]string{"before", "during"}, ids); diff != "" {
		t.Errorf("stored events after restart (-want +got):\n%s", diff)
	}
}

func TestNewRequiresASecret(t *testing.T) {
	if _, err := webhook.New(webhook.Options{}, nil); err == nil {
		t.Error("New without secrets succeeded")
	}
	if _, err := webhook.New(webhook.Options{Secrets: [][]byte{{}}}, nil); err == nil {
		t.Error("New with an empty secret succeeded")
	}
}

// TestFullStreamAnswers503: when the GitHub stream is full of deliveries
// no consumer has handled yet, a new delivery is answered 503 and nothing
// stored is dropped; once the consumers handled some, GitHub's redelivery
// is stored.
func TestFullStreamAnswers503(t *testing.T) {
	e := newEnvWith(t, webhook.Options{}, events.Options{MaxBytes: map[string]int64{events.StreamGitHub: 8 << 10}})
	ctx := context.Background()
	cons, err := e.bus.JetStream().CreateOrUpdateConsumer(ctx, events.StreamGitHub, jetstream.ConsumerConfig{Durable: "applier", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	refused := ""
	for i := 0; refused == ""; i++ {
		if i > 100 {
			t.Fatal("an 8 KiB stream took 100 deliveries")
		}
		id := fmt.Sprintf("d-%02d", i)
		switch resp := e.post(t, "push", id, []byte(pushBody), secret); resp.StatusCode {
		case http.StatusAccepted:
			accepted = append(accepted, id)
		case http.StatusServiceUnavailable:
			refused = id
			if resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		default:
			t.Fatalf("%s: status %d", id, resp.StatusCode)
		}
	}
	ids := func() []string {
		var out []string
		for _, s := range e.stored(t) {
			out = append(out, s.Event.ID())
		}
		return out
	}
	if diff := cmp.Diff(accepted, ids()); diff != "" {
		t.Fatalf("stored deliveries after the 503 (-accepted +stored):\n%s", diff)
	}

	// The consumer handles every delivery; GitHub redelivers the refused one.
	batch, err := cons.Fetch(len(accepted), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if resp := e.post(t, "push", refused, []byte(pushBody), secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("redelivery of %s after the consumer caught up: status %d, want 202", refused, resp.StatusCode)
	}
	if got := ids(); len(got) == 0 || got[len(got)-1] != refused {
		t.Errorf("stored after the redelivery: %v, want %s last", got, refused)
	}
}
