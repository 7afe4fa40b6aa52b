package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

// cmpSorted compares string slices as sets.
var cmpSorted = cmp.Options{cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()}

// fakeSignature is well formed but made with no configured secret.
var fakeSignature = "sha256=" + strings.Repeat("ab", 32)

// heldRequest is a POST whose body arrives only in part until it is
// released.
type heldRequest struct {
	pw   *io.PipeWriter
	code chan int
}

// holdBody starts a POST of a body of length size of which only sent bytes
// arrive, signed with signature.
func holdBody(t *testing.T, url string, size, sent int64, signature string) *heldRequest {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.ContentLength = size
	req.Header.Set(webhook.HeaderEvent, "push")
	req.Header.Set(webhook.HeaderDelivery, fmt.Sprintf("held-%p", pw))
	if signature != "" {
		req.Header.Set(webhook.HeaderSignature, signature)
	}
	h := &heldRequest{pw: pw, code: make(chan int, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.code <- 0 // the connection was cut: nothing was stored either
			return
		}
		resp.Body.Close()
		h.code <- resp.StatusCode
	}()
	go func() { _, _ = pw.Write(make([]byte, sent)) }()
	return h
}

// TestUnverifiedBodiesShareABudget: bodies whose signature is not verified
// yet hold at most Options.UnverifiedBytes together; a delivery that finds
// no room within Options.UnverifiedWait is answered 503 with Retry-After
// (GitHub sends it again) and gets through once the budget is free.
func TestUnverifiedBodiesShareABudget(t *testing.T) {
	const (
		held    = 4
		sent    = 256 << 10
		size    = sent + 1 // the last byte never arrives
		wantCap = held * size
	)
	e := newEnvWith(t, webhook.Options{UnverifiedBytes: wantCap, UnverifiedWait: 300 * time.Millisecond}, events.Options{})

	// Four bodies with a forged signature fill the budget exactly and stall.
	var stalled []*heldRequest
	for range held {
		stalled = append(stalled, holdBody(t, e.http.URL, size, sent, fakeSignature))
	}
	kit.EventuallyTrue(t, 10*time.Second, "the stalled bodies to fill the budget", func() bool { return e.receiver.UnverifiedInUse() == wantCap })

	// A genuine delivery finds no room: 503, Retry-After, nothing stored.
	start := time.Now()
	resp := e.post(t, "push", "genuine", []byte(pushBody), secret)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with the budget full: status %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("503 after %s; GitHub gives up after 10s", took)
	}
	// So do more stalled bodies, which never get to hold anything.
	for range 3 {
		h := holdBody(t, e.http.URL, size, sent, fakeSignature)
		if code := <-h.code; code != http.StatusServiceUnavailable {
			t.Errorf("extra body with the budget full: status %d, want 503", code)
		}
		h.pw.Close()
	}

	// The stalled senders give up; their reservations are returned.
	for _, h := range stalled {
		h.pw.CloseWithError(errors.New("sender gave up"))
		if code := <-h.code; code == http.StatusAccepted || code == http.StatusOK {
			t.Errorf("a body with a forged signature was answered %d", code)
		}
	}
	kit.EventuallyTrue(t, 10*time.Second, "the budget to be free", func() bool { return e.receiver.UnverifiedInUse() == 0 })

	// GitHub's redelivery of the genuine delivery is stored.
	if resp := e.post(t, "push", "genuine", []byte(pushBody), secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("redelivery with the budget free: status %d, want 202", resp.StatusCode)
	}
	var ids []string
	for _, s := range e.stored(t) {
		ids = append(ids, s.Event.ID())
	}
	if diff := cmp.Diff([]string{"genuine"}, ids); diff != "" {
		t.Errorf("stored deliveries (-want +got):\n%s", diff)
	}
	if peak := e.receiver.UnverifiedPeak(); peak != wantCap {
		t.Errorf("peak of unverified bytes %d, want exactly the budget %d", peak, wantCap)
	}
}

// TestUnverifiedBudgetUnderLoad: many concurrent large bodies with forged
// signatures never hold more than the budget, each gets an answer, and
// genuine deliveries sent among them are either stored (202) or answered
// 503 for GitHub to send again: none is lost.
func TestUnverifiedBudgetUnderLoad(t *testing.T) {
	const budgetBytes = 1 << 20
	e := newEnvWith(t, webhook.Options{UnverifiedBytes: budgetBytes, UnverifiedWait: 200 * time.Millisecond}, events.Options{})
	big := bytes.Repeat([]byte("x"), 700<<10)

	var mu sync.Mutex
	codes := map[string]int{}
	accepted := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			id := fmt.Sprintf("d-%d", i)
			body, sig := big, fakeSignature
			if i%4 == 0 {
				body = []byte(pushBody)
				sig = webhook.Sign(secret, body)
			}
			req, _ := http.NewRequest(http.MethodPost, e.http.URL, bytes.NewReader(body))
			req.Header.Set(webhook.HeaderEvent, "push")
			req.Header.Set(webhook.HeaderDelivery, id)
			req.Header.Set(webhook.HeaderSignature, sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			kind := "forged"
			if i%4 == 0 {
				kind = "genuine"
				accepted[id] = resp.StatusCode == http.StatusAccepted
			}
			codes[fmt.Sprintf("%s %d", kind, resp.StatusCode)]++
		})
	}
	wg.Wait()
	for k := range codes {
		switch k {
		case "forged 401", "forged 503", "genuine 202", "genuine 503":
		default:
			t.Errorf("unexpected answer %q (all answers: %v)", k, codes)
		}
	}
	if peak := e.receiver.UnverifiedPeak(); peak > budgetBytes || peak == 0 {
		t.Errorf("peak of unverified bytes %d, want (0, %d]", peak, budgetBytes)
	}
	kit.EventuallyTrue(t, 10*time.Second, "the budget to be free", func() bool { return e.receiver.UnverifiedInUse() == 0 })
	var want, got []string
	for id, ok := range accepted {
		if ok {
			want = append(want, id)
		}
	}
	for _, s := range e.stored(t) {
		got = append(got, s.Event.ID())
	}
	if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
		t.Errorf("stored deliveries differ from those answered 202 (-want +got):\n%s", diff)
	}
	t.Logf("answers: %v; peak %d of %d bytes", codes, e.receiver.UnverifiedPeak(), budgetBytes)
}

// TestUnsignedBodiesAreNeverRead: without a well-formed signature header
// the body is not read at all, so a sender that never sends it gets 401 at
// once and holds nothing.
func TestUnsignedBodiesAreNeverRead(t *testing.T) {
	e := newEnvWith(t, webhook.Options{UnverifiedBytes: 1 << 20}, events.Options{})
	for _, sig := range []string{"", "sha256=nothex", "sha1=" + strings.Repeat("ab", 20)} {
		h := holdBody(t, e.http.URL, webhook.MaxBodyBytes, 0, sig)
		select {
		case code := <-h.code:
			if code != http.StatusUnauthorized {
				t.Errorf("signature %q: status %d, want 401", sig, code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("signature %q: no answer while the body was withheld", sig)
		}
		h.pw.Close()
	}
	if peak := e.receiver.UnverifiedPeak(); peak != 0 {
		t.Errorf("%d bytes of unsigned bodies were read", peak)
	}
}

// TestSlowBodiesLoseTheirShare: a body that does not arrive within
// Options.BodyTimeout is cut off and its reservation returned, so slow
// senders cannot keep the budget.
func TestSlowBodiesLoseTheirShare(t *testing.T) {
	const size = 2 << 20
	e := newEnvWith(t, webhook.Options{UnverifiedBytes: size, BodyTimeout: 300 * time.Millisecond}, events.Options{})
	h := holdBody(t, e.http.URL, size, 1<<20, fakeSignature)
	defer h.pw.Close()
	select {
	case code := <-h.code:
		if code == http.StatusAccepted || code == http.StatusOK {
			t.Errorf("a stalled body was answered %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled body was still being read after 10s")
	}
	kit.EventuallyTrue(t, 10*time.Second, "the budget to be free", func() bool { return e.receiver.UnverifiedInUse() == 0 })
	if resp := e.post(t, "push", "after-slow", []byte(pushBody), secret); resp.StatusCode != http.StatusAccepted {
		t.Errorf("after the slow body: status %d, want 202", resp.StatusCode)
	}
}
