package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/kit"
)

func TestGitHubWebURL(t *testing.T) {
	tests := []struct{ api, want string }{
		{"https://api.github.com/", "https://github.com"},
		{"https://ghe.example.com/api/v3/", "https://ghe.example.com"},
		{"http://127.0.0.1:4567/api/v3", "http://127.0.0.1:4567"},
		{"https://user:pw@ghe.example.com/api/v3/?x=1", "https://ghe.example.com"},
		{"::", "https://github.com"},
	}
	for _, tt := range tests {
		if got := githubWebURL(tt.api); got != tt.want {
			t.Errorf("githubWebURL(%q) = %q, want %q", tt.api, got, tt.want)
		}
	}
}

func TestWantsStatusPage(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		roles  []string
		want   bool
	}{
		{"every role", defaultUIListen, allRoles, true},
		{"applier", defaultUIListen, []string{roleApplier}, true},
		{"promoter", defaultUIListen, []string{rolePromoter}, true},
		{"the webhook alone reads nothing", defaultUIListen, []string{roleWebhook}, false},
		{"turned off", "", allRoles, false},
	}
	for _, tt := range tests {
		f := &serveFlags{uiListen: tt.listen, roles: tt.roles}
		if got := f.wantsStatusPage(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestStatusPageOnItsOwnListener: the page answers on --ui-listen, linking
// GitHub's web address, and the webhook's listener does not serve it.
func TestStatusPageOnItsOwnListener(t *testing.T) {
	bus := kit.Bus(t)
	ctx := context.Background()
	roles := newRoleGroup(ctx, 2)
	defer roles.stop(ctx)
	addr := freePort(t)
	f := &serveFlags{uiListen: addr, roles: allRoles, githubURL: "https://ghe.example.com/api/v3/"}
	if err := startStatusPage(ctx, f, bus, roles, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, "http://"+addr+"/")
	if code != http.StatusOK || !strings.Contains(body, "<h1>What runs where</h1>") {
		t.Fatalf("GET / on --ui-listen: %d\n%s", code, body)
	}
	mux, err := serveMux(&serveFlags{roles: allRoles}, bus, [][]byte{[]byte("s")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/events", "/static/live.js"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("the webhook's listener answers GET %s with %d, want 404", path, rec.Code)
		}
	}
}

// TestStatusPageBusyAddress: an address already taken costs the page, not
// serve.
func TestStatusPageBusyAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bus := kit.Bus(t)
	ctx := context.Background()
	roles := newRoleGroup(ctx, 2)
	defer roles.stop(ctx)
	var logs bytes.Buffer
	f := &serveFlags{uiListen: taken.Addr().String(), roles: allRoles}
	if err := startStatusPage(ctx, f, bus, roles, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("startStatusPage: %v, want nil: serve goes on", err)
	}
	got := strings.Contains(logs.String(), "status page not served") && strings.Contains(logs.String(), "--ui-listen "+taken.Addr().String())
	if diff := cmp.Diff(true, got); diff != "" {
		t.Errorf("log does not say the page is not served:\n%s", logs.String())
	}
}

// TestStatusPageOnLoopbackAnswersOnlyLoopbackNames: on loopback the page
// refuses a Host that is not localhost or a loopback address (a rebound
// DNS name), whatever the port; on another address, the proxy's names are
// its business.
func TestStatusPageOnLoopbackAnswersOnlyLoopbackNames(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("page")) })
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:8090", http.StatusOK},
		{"localhost:9000", http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:8090", http.StatusOK},
		{"127.0.0.2", http.StatusOK},
		{"rebound.example.com:8090", http.StatusMisdirectedRequest},
		{"localhost.example.com", http.StatusMisdirectedRequest},
		{"10.0.0.1:8090", http.StatusMisdirectedRequest},
		{"", http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tt.host
		loopbackHostOnly(page).ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Host %q: %d, want %d", tt.host, rec.Code, tt.want)
		}
	}
	// Served on loopback, the page is wrapped.
	bus := kit.Bus(t)
	ctx := context.Background()
	roles := newRoleGroup(ctx, 2)
	defer roles.stop(ctx)
	addr := freePort(t)
	if err := startStatusPage(ctx, &serveFlags{uiListen: addr, roles: allRoles}, bus, roles, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = "rebound.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a rebound name on --ui-listen %s: %s, want 421", addr, resp.Status)
	}
}
