package ui

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// hub tells the open pages that the bus brought something new. A page
// slow to take its news misses none: its signal is buffered once, and
// signals that arrive meanwhile merge into it.
type hub struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{subs: map[chan struct{}]struct{}{}} }

func (h *hub) subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *hub) changed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// keepAlive is how often an idle event stream sends a comment, so proxies
// keep it open.
const keepAlive = 25 * time.Second

// serveEvents is the page's live part: a Server-Sent Events stream that
// sends the page's fragments, rendered as the page renders them: each one
// at once (what changed between the page's load and the stream's start),
// then, after each change on the bus, those whose HTML changed. Each event
// is named for the id of the element whose content it replaces.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		http.Error(w, "too many live update streams open; the page works without one (reload it)", http.StatusServiceUnavailable)
		return
	}
	news, stop := s.hub.subscribe()
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx-style proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	sent := map[string]string{}
	for send := true; ; {
		if send {
			if err := s.sendFragments(w, r, sent); err != nil {
				return
			}
		} else if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-news:
			send = true
		case <-tick.C:
			send = false
		}
	}
}

// sendFragments renders each live fragment of the page and writes, as
// one event each, those that differ from what this stream sent last
// (sent, updated).
func (s *Server) sendFragments(w http.ResponseWriter, r *http.Request, sent map[string]string) error {
	v := s.view(r.Context())
	for _, id := range fragments {
		var buf bytes.Buffer
		if err := pageTemplates.ExecuteTemplate(&buf, id, v); err != nil {
			s.log.Error("status page: render", "fragment", id, "error", err)
			continue
		}
		html := buf.String()
		if last, ok := sent[id]; ok && last == html {
			continue
		}
		if err := writeEvent(w, id, html); err != nil {
			return err
		}
		sent[id] = html
	}
	return nil
}

// writeEvent writes one Server-Sent Event: its name, then its data one
// line per "data:" field (the browser joins them with newlines).
func writeEvent(w http.ResponseWriter, name, data string) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	_, err := fmt.Fprint(w, b.String())
	return err
}
