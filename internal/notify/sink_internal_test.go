package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

// TestUnreachableSinkErrorHidesURL checks that the error of a POST that
// never reached the sink, which the consume loop logs and dead-letters,
// does not show the sink's URL.
func TestUnreachableSinkErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL + "/hooks/T0SECRET/B0SECRET"
	srv.Close()
	ce, err := newCloudEventsSender(target, EncodingStructured, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.SetID("1")
	ev.SetType("dev.promobot.apply.completed")
	ev.SetSource("promobot")
	senders := map[string]sender{"cloudevents": ce, "slack": newSlackSender(target, &http.Client{})}
	for name, send := range senders {
		err := send(context.Background(), ev)
		if err == nil {
			t.Fatalf("%s: sending to a closed server succeeded", name)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error %q shows the sink URL", name, err)
		}
	}
}

// FuzzSlackEscape checks that no text from a repository can put Slack's
// control characters into a message, and that escaping loses nothing.
func FuzzSlackEscape(f *testing.F) {
	for _, s := range []string{"", "api applied abc123", "<!channel>", "<https://evil.example|docs>", "&lt;", "a & b > c < d", "<@U123>"} {
		f.Add(s)
	}
	unescape := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
	f.Fuzz(func(t *testing.T, s string) {
		got := slackEscape(s)
		if strings.ContainsAny(got, "<>") {
			t.Fatalf("slackEscape(%q) = %q keeps a control character", s, got)
		}
		if back := unescape.Replace(got); back != s {
			t.Fatalf("slackEscape(%q) = %q reads back as %q", s, got, back)
		}
	})
}
