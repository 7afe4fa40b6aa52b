package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/notify"
	"github.com/promobot/promobot/test/kit"
)

// secretPath is the part of every test sink's URL that must never show.
const secretPath = "/hooks/T0SECRET/B0SECRET"

// request is one POST a test sink received.
type request struct {
	ContentType string
	CEID        string
	Body        []byte
	Status      int
}

// testSink is an HTTP sink that can be taken down (503) and brought back.
type testSink struct {
	mu      sync.Mutex
	down    bool
	refuse  func(body []byte) int // a refusal status, or 0
	got     []request
	srv     *httptest.Server
	urlFile string
}

func newTestSink(t *testing.T) *testSink {
	t.Helper()
	s := &testSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != secretPath {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusOK
		if s.refuse != nil && s.refuse(body) != 0 {
			status = s.refuse(body)
		}
		if s.down {
			status = http.StatusServiceUnavailable
		}
		s.got = append(s.got, request{ContentType: r.Header.Get("Content-Type"), CEID: r.Header.Get("Ce-Id"), Body: body, Status: status})
		w.WriteHeader(status)
	}))
	t.Cleanup(s.srv.Close)
	s.urlFile = filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(s.urlFile, []byte(s.srv.URL+secretPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testSink) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// requests returns a copy of what the sink received.
func (s *testSink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

// ids returns the CloudEvent ids the sink received in binary mode with
// the given status, in arrival order.
func (s *testSink) ids(status int) []string {
	var out []string
	for _, r := range s.requests() {
		if r.Status == status {
			out = append(out, r.CEID)
		}
	}
	return out
}

// notifyData is the data of the test's facts.
type notifyData struct {
	App         string `json:"app"`
	Environment string `json:"environment,omitempty"`
	Summary     string `json:"summary"`
}

// publish records one apply fact and returns its event id.
func publish(t *testing.T, bus *events.Bus, verb string, d notifyData) string {
	t.Helper()
	ev, err := events.NewFactEvent(events.Fact{Kind: "apply", Verb: verb, Owner: "acme", Repo: "config", Subject: d.App, Data: d})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), events.FactSubject("apply", verb, "acme", "config"), ev); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ev.ID()
}

// run starts the notifier for cfg on bus with fast retries and returns
// its log; it stops when the test ends.
func run(t *testing.T, bus *events.Bus, cfg notify.Config, maxDeliver int) *kit.Buffer {
	t.Helper()
	sinks, err := notify.NewSinks(cfg, nil)
	if err != nil {
		t.Fatalf("NewSinks: %v", err)
	}
	logs := &kit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- notify.Run(ctx, bus, sinks, events.ConsumerOptions{
			MaxDeliver: maxDeliver,
			Backoff:    []time.Duration{20 * time.Millisecond},
			Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if strings.Contains(logs.String(), "SECRET") {
			t.Errorf("the log shows the sink URL:\n%s", logs)
		}
	})
	// A new sink starts with the facts published after its consumer exists.
	for _, s := range sinks {
		kit.EventuallyTrue(t, 20*time.Second, "consumer "+s.Consumer(), func() bool {
			_, err := bus.JetStream().Consumer(context.Background(), events.StreamFacts, s.Consumer())
			return err == nil
		})
	}
	return logs
}

func TestNewSinkSkipsHistory(t *testing.T) {
	bus := kit.Bus(t)
	sink := newTestSink(t)
	publish(t, bus, "completed", notifyData{App: "old", Summary: "before the sink"})
	run(t, bus, notify.Config{Sinks: []notify.SinkConfig{{Name: "ops", Type: notify.TypeCloudEvents, URLFile: sink.urlFile}}}, 5)
	sentinel := publish(t, bus, "completed", notifyData{App: "sentinel", Summary: "after"})
	kit.EventuallyTrue(t, 20*time.Second, "the sentinel delivered", func() bool { return len(sink.requests()) > 0 })
	if diff := cmp.Diff([]string{sentinel}, sink.ids(http.StatusOK)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestOutageLosesNothing(t *testing.T) {
	bus := kit.Bus(t)
	sink := newTestSink(t)
	sink.setDown(true)
	run(t, bus, notify.Config{Sinks: []notify.SinkConfig{{Name: "ops", Type: notify.TypeCloudEvents, URLFile: sink.urlFile}}}, 1000)

	var want []string
	for i := range 6 {
		want = append(want, publish(t, bus, "completed", notifyData{App: fmt.Sprintf("app%d", i), Summary: "applied"}))
	}
	// Facts are tried, refused and tried again while the sink is down.
	kit.Eventually(t, 20*time.Second, "a fact retried while the sink is down", func() (bool, string) {
		tried := map[string]int{}
		for _, id := range sink.ids(http.StatusServiceUnavailable) {
			tried[id]++
			if tried[id] == 3 {
				return true, ""
			}
		}
		return false, fmt.Sprint(tried)
	})
	if got := sink.ids(http.StatusOK); len(got) != 0 {
		t.Fatalf("accepted while down: %v", got)
	}

	sink.setDown(false)
	kit.Eventually(t, 20*time.Second, "every fact delivered once the sink is back", func() (bool, string) {
		got := sink.ids(http.StatusOK)
		return len(got) >= len(want), fmt.Sprintf("%d of %d delivered", len(got), len(want))
	})
	// A sentinel published after all were delivered arrives last: no
	// fact was delivered twice meanwhile.
	sentinel := publish(t, bus, "completed", notifyData{App: "sentinel", Summary: "applied"})
	kit.EventuallyTrue(t, 20*time.Second, "the sentinel delivered", func() bool {
		got := sink.ids(http.StatusOK)
		return len(got) > 0 && got[len(got)-1] == sentinel
	})
	got := sink.ids(http.StatusOK)
	counts := map[string]int{}
	for _, id := range got {
		counts[id]++
	}
	wantCounts := map[string]int{sentinel: 1}
	for _, id := range want {
		wantCounts[id] = 1
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("deliveries per fact (-want +got):\n%s", diff)
	}
}

func TestRefusedFactDeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		attempts int
	}{
		{"unavailable, after the last attempt", http.StatusServiceUnavailable, 3},
		{"too many requests, after the last attempt", http.StatusTooManyRequests, 3},
		{"bad request, at once", http.StatusBadRequest, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := kit.Bus(t)
			sink := newTestSink(t)
			sink.refuse = func(body []byte) int {
				if strings.Contains(string(body), `"app":"broken"`) {
					return tt.status
				}
				return 0
			}
			run(t, bus, notify.Config{Sinks: []notify.SinkConfig{{Name: "ops", Type: notify.TypeCloudEvents, URLFile: sink.urlFile}}}, 3)

			broken := publish(t, bus, "failed", notifyData{App: "broken", Summary: "failed"})
			kit.EventuallyTrue(t, 20*time.Second, "the dead letter", func() bool {
				return len(kit.Facts(t, bus.JetStream(), "promobot.deadletter.notify-ops.>")) == 1
			})
			dl := kit.Facts(t, bus.JetStream(), "promobot.deadletter.notify-ops.>")[0]
			var d events.DeadLetter
			dl.Decode(t, &d)
			if d.EventID != broken || d.Attempts != tt.attempts || !strings.Contains(d.Reason, fmt.Sprint(tt.status)) || strings.Contains(d.Reason, "SECRET") {
				t.Errorf("dead letter = %+v, want event %s after %d attempts, %d, no URL", d, broken, tt.attempts, tt.status)
			}
			sentinel := publish(t, bus, "completed", notifyData{App: "sentinel", Summary: "applied"})
			kit.EventuallyTrue(t, 20*time.Second, "the sentinel delivered", func() bool {
				got := sink.ids(http.StatusOK)
				return len(got) > 0 && got[len(got)-1] == sentinel
			})
			// The sink's own dead letter is not sent to it.
			if diff := cmp.Diff([]string{sentinel}, sink.ids(http.StatusOK)); diff != "" {
				t.Errorf("accepted (-want +got):\n%s", diff)
			}
			if got := len(sink.ids(tt.status)); got != tt.attempts {
				t.Errorf("refused attempts = %d, want %d", got, tt.attempts)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	type fact struct {
		verb string
		data notifyData
	}
	tests := []struct {
		name string
		sink notify.SinkConfig
		in   []fact
		want []string // summaries delivered, the sentinel last
	}{
		{
			name: "apps",
			sink: notify.SinkConfig{Apps: []string{"api", "sentinel"}},
			in:   []fact{{"completed", notifyData{App: "web", Summary: "web"}}, {"completed", notifyData{App: "api", Summary: "api"}}},
			want: []string{"api", "sentinel"},
		},
		{
			name: "environments",
			sink: notify.SinkConfig{Environments: []string{"production"}},
			in: []fact{
				{"completed", notifyData{App: "api", Environment: "staging", Summary: "staging"}},
				{"completed", notifyData{App: "api", Summary: "no environment"}},
				{"completed", notifyData{App: "api", Environment: "production", Summary: "production"}},
			},
			want: []string{"production", "sentinel"},
		},
		{
			name: "subjects",
			sink: notify.SinkConfig{Subjects: []string{"promobot.apply.failed.>", "promobot.*.sentinel.acme.*"}},
			in:   []fact{{"completed", notifyData{App: "api", Summary: "completed"}}, {"failed", notifyData{App: "api", Summary: "failed"}}},
			want: []string{"failed", "sentinel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := kit.Bus(t)
			sink := newTestSink(t)
			sc := tt.sink
			sc.Name, sc.Type, sc.URLFile, sc.Encoding = "ops", notify.TypeCloudEvents, sink.urlFile, notify.EncodingStructured
			run(t, bus, notify.Config{Sinks: []notify.SinkConfig{sc}}, 5)
			for _, f := range tt.in {
				publish(t, bus, f.verb, f.data)
			}
			publish(t, bus, "sentinel", notifyData{App: "sentinel", Environment: "production", Summary: "sentinel"})
			summaries := func() []string {
				var out []string
				for _, r := range sink.requests() {
					var ev struct{ Data notifyData }
					if err := json.Unmarshal(r.Body, &ev); err != nil {
						t.Fatalf("structured event: %v", err)
					}
					out = append(out, ev.Data.Summary)
				}
				return out
			}
			kit.EventuallyTrue(t, 20*time.Second, "the sentinel delivered", func() bool {
				got := summaries()
				return len(got) > 0 && got[len(got)-1] == "sentinel"
			})
			if diff := cmp.Diff(tt.want, summaries()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodingOnTheWire(t *testing.T) {
	tests := []struct {
		encoding    string
		contentType string
		headerID    bool
	}{
		{"", "application/json", true},
		{notify.EncodingBinary, "application/json", true},
		{notify.EncodingStructured, "application/cloudevents+json", false},
	}
	for _, tt := range tests {
		t.Run("encoding="+tt.encoding, func(t *testing.T) {
			bus := kit.Bus(t)
			sink := newTestSink(t)
			run(t, bus, notify.Config{Sinks: []notify.SinkConfig{{Name: "ops", Type: notify.TypeCloudEvents, URLFile: sink.urlFile, Encoding: tt.encoding}}}, 5)
			id := publish(t, bus, "completed", notifyData{App: "api", Summary: "applied"})
			kit.EventuallyTrue(t, 20*time.Second, "the fact delivered", func() bool { return len(sink.requests()) == 1 })
			r := sink.requests()[0]
			if !strings.HasPrefix(r.ContentType, tt.contentType) {
				t.Errorf("Content-Type = %q, want %s", r.ContentType, tt.contentType)
			}
			if got := r.CEID == id; got != tt.headerID {
				t.Errorf("Ce-Id header %q, fact %s: want in header %v", r.CEID, id, tt.headerID)
			}
			if !tt.headerID {
				var ev struct {
					ID          string `json:"id"`
					Type        string `json:"type"`
					SpecVersion string `json:"specversion"`
				}
				if err := json.Unmarshal(r.Body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.ID != id || ev.Type != "dev.promobot.apply.completed" || ev.SpecVersion != "1.0" {
					t.Errorf("structured event = %+v, want id %s", ev, id)
				}
			}
		})
	}
}

func TestSlackEscapesRepositoryText(t *testing.T) {
	bus := kit.Bus(t)
	sink := newTestSink(t)
	run(t, bus, notify.Config{Sinks: []notify.SinkConfig{{Name: "chat", Type: notify.TypeSlack, URLFile: sink.urlFile}}}, 5)
	publish(t, bus, "completed", notifyData{App: "api", Summary: "api applied <!channel> & <https://evil.example|docs>"})
	kit.EventuallyTrue(t, 20*time.Second, "the message", func() bool { return len(sink.requests()) == 1 })
	r := sink.requests()[0]
	var msg map[string]string
	if err := json.Unmarshal(r.Body, &msg); err != nil {
		t.Fatalf("slack payload %q: %v", r.Body, err)
	}
	want := map[string]string{"text": "api applied &lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt;"}
	if diff := cmp.Diff(want, msg); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if r.ContentType != "application/json" {
		t.Errorf("Content-Type = %q", r.ContentType)
	}
}
