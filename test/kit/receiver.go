package kit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Receiver is a webhook endpoint that records the X-GitHub-Delivery GUID of
// every request and answers with a settable status (default 200), as
// promobot's receiver would when up, down or refusing.
type Receiver struct {
	// URL is where to deliver webhooks.
	URL string

	mu     sync.Mutex
	status int
	guids  []string
	change chan struct{} // closed and replaced on every request
}

// NewReceiver starts a Receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	rc := &Receiver{status: http.StatusOK, change: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	rc.guids = append(rc.guids, r.Header.Get("X-GitHub-Delivery"))
	st := rc.status
	close(rc.change)
	rc.change = make(chan struct{})
	rc.mu.Unlock()
	w.WriteHeader(st)
}

// SetStatus makes the Receiver answer status from now on.
func (rc *Receiver) SetStatus(status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = status
}

// GUIDs returns the GUIDs received so far, in arrival order.
func (rc *Receiver) GUIDs() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.guids...)
}

// Received returns the GUIDs received so far and a channel closed at the
// next request, so a test waits for a delivery without polling.
func (rc *Receiver) Received() ([]string, <-chan struct{}) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.guids...), rc.change
}
