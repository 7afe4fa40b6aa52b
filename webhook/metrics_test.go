package webhook_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/promobot/promobot/webhook"
)

var deliverySeries = regexp.MustCompile(`(?m)^promobot_webhook_deliveries_total\{code="(\d+)",event="([^"]*)"\} (\d+)`)

// scrapeDeliveries reads /metrics as Prometheus does and returns the
// promobot_webhook_deliveries_total series as "event code" → count.
func scrapeDeliveries(t *testing.T) map[string]string {
	t.Helper()
	srv := httptest.NewServer(promhttp.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range deliverySeries.FindAllStringSubmatch(string(b), -1) {
		out[m[2]+" "+m[1]] = m[3]
	}
	return out
}

// oversized announces a body over 25 MiB and sends none of it: the
// receiver must refuse it from the headers alone.
func oversized(t *testing.T, url, event string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: promobot\r\n%s: %s\r\nContent-Length: %d\r\n\r\n", webhook.HeaderEvent, event, webhook.MaxBodyBytes+1)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", resp.StatusCode)
	}
}

// TestMetricLabelsFromStrangers: random X-GitHub-Event names, unsigned,
// forged, oversized, with the wrong method or even correctly signed,
// create no metric series; a verified delivery of an event GitHub sends
// is counted under its name.
func TestMetricLabelsFromStrangers(t *testing.T) {
	e := newEnv(t)
	before := scrapeDeliveries(t)
	rnd := rand.New(rand.NewPCG(9, 4))
	name := func() string {
		const alphabet = "abcdefghijklmnopqrstuvwxyz_-.0123456789"
		b := make([]byte, 1+rnd.IntN(40))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return "x" + string(b)
	}
	const perKind = 60
	body := []byte(pushBody)
	for i := range perKind {
		send := func(method, sig string) {
			req, _ := http.NewRequest(method, e.http.URL, bytes.NewReader(body))
			req.Header.Set(webhook.HeaderEvent, name())
			req.Header.Set(webhook.HeaderDelivery, fmt.Sprintf("random-%d-%s", i, sig))
			if sig != "" {
				req.Header.Set(webhook.HeaderSignature, sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		send(http.MethodPost, "")                                 // unsigned: 401
		send(http.MethodPost, fakeSignature)                      // forged: 401
		send(http.MethodGet, "")                                  // wrong method: 405
		send(http.MethodPost, webhook.Sign(secret, body))         // signed, unknown name: 202
		oversized(t, e.http.URL, name())                          // oversized: 413
		send(http.MethodPost, webhook.Sign(secret, []byte("{}"))) // signature of another body: 401
		send(http.MethodPut, webhook.Sign(secret, body))          // signed, wrong method: 405
	}
	if resp := e.post(t, "push", "known-name", body, secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("push: status %d", resp.StatusCode)
	}

	after := scrapeDeliveries(t)
	grew := map[string]string{}
	for series, n := range after {
		if before[series] != n {
			grew[series] = n
		}
	}
	want := map[string]string{
		"unverified 401": fmt.Sprint(3 * perKind),
		"unverified 405": fmt.Sprint(2 * perKind),
		"unverified 413": fmt.Sprint(perKind),
		"other 202":      fmt.Sprint(perKind),
		"push 202":       "1",
	}
	// Other tests of the package count deliveries too: compare increases.
	for series := range grew {
		var b, a int
		fmt.Sscan(before[series], &b)
		fmt.Sscan(after[series], &a)
		grew[series] = fmt.Sprint(a - b)
	}
	if diff := cmp.Diff(want, grew); diff != "" {
		t.Errorf("delivery series that changed (-want +got):\n%s", diff)
	}
	for series := range after {
		ev, _, _ := strings.Cut(series, " ")
		if strings.HasPrefix(ev, "x") {
			t.Errorf("series %q is labelled with a stranger's event name", series)
		}
	}
}
