package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ui"
)

// defaultUIListen is where the status page listens unless --ui-listen
// says otherwise: loopback, so that only this host sees it until the
// operator puts it behind their own proxy.
const defaultUIListen = "127.0.0.1:8090"

// wantsStatusPage reports whether this process serves the status page: it
// is asked for, and the process runs a role that reads the bus.
func (f *serveFlags) wantsStatusPage() bool {
	return f.uiListen != "" && (f.has(roleApplier) || f.has(rolePromoter))
}

// startStatusPage listens on --ui-listen and serves the status page there
// (never on the webhook's listener) until the roles stop. An address that
// cannot be listened on is logged and costs only the page: deliveries,
// applies and promotions go on.
func startStatusPage(ctx context.Context, f *serveFlags, bus *events.Bus, roles *roleGroup, log *slog.Logger) error {
	page, err := ui.New(ctx, ui.Options{GitHubWebURL: githubWebURL(f.githubURL), Logger: log}, bus)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.uiListen)
	if err != nil {
		log.Error("status page not served", "error", fmt.Errorf("--ui-listen %s: %w", f.uiListen, err))
		return nil
	}
	// No write timeout: the live updates are one long response. The page
	// reads no request body, so reading the header is all that is bounded.
	// The live requests end with the roles' context.
	var h http.Handler = page
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		h = loopbackHostOnly(page)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return roles.ctx }}
	roles.start("ui", func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
		defer stop()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("status page stopped serving", "error", err)
			}
		}()
		return page.Run(ctx)
	})
	log.Info("status page serving", "url", "http://"+ln.Addr().String()+"/")
	return nil
}

// loopbackHostOnly answers 421 to requests whose Host is not localhost or
// a loopback address. On loopback the page is this host's alone; a web
// page on another origin whose DNS name is rebound to 127.0.0.1 reaches
// it with its own name as Host, and must not read it. The port is not
// checked: kubectl port-forward and SSH tunnels may use another one.
func loopbackHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			name = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]")
		}
		ip := net.ParseIP(name)
		if !strings.EqualFold(name, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "the status page answers only at localhost or a loopback address on this host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// githubWebURL is GitHub's web address for its REST API's: github.com for
// api.github.com, the host of a GitHub Enterprise Server (whose API is
// under /api/v3).
func githubWebURL(api string) string {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return "https://github.com"
	}
	if u.Host == "api.github.com" {
		return "https://github.com"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return strings.TrimSuffix(u.String(), "/")
}
