package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// TestAppSlug: the promoter reads the App's slug through promobot's one
// GitHub client, which retries a server error of GitHub's within the call:
// the role neither logs a failure nor waits its own retry pause. --app-slug
// skips the call.
func TestAppSlug(t *testing.T) {
	tests := []struct {
		name      string
		flag      string
		fault     bool
		wantCalls int
	}{
		{name: "read from GitHub", wantCalls: 1},
		{name: "a server error is retried by the client", fault: true, wantCalls: 2},
		{name: "--app-slug", flag: "promobot-flag", wantCalls: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rc := kit.NewReceiver(t)
			srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookURL: rc.URL, WebhookSecret: "s", SyncWebhooks: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			logs := &kit.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			app, err := newGitHubApp(&appCredentials{id: srv.AppID(), key: srv.AppPrivateKeyPEM(), baseURL: srv.URL(), slug: tc.flag}, log)
			if err != nil {
				t.Fatal(err)
			}
			if tc.fault {
				srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultServerError, Status: http.StatusBadGateway, Count: 1})
			}
			srv.ResetCalls()
			slug, ok := appSlug(ctx, app, log)
			want := srv.AppSlug()
			if tc.flag != "" {
				want = tc.flag
			}
			if !ok || slug != want {
				t.Errorf("slug %q, %v; want %q", slug, ok, want)
			}
			if n := srv.Calls().Total; n != tc.wantCalls {
				t.Errorf("%d API calls, want %d", n, tc.wantCalls)
			}
			if strings.Contains(logs.String(), "cannot read the App") {
				t.Errorf("the role logged a failure:\n%s", logs.String())
			}
		})
	}
}
