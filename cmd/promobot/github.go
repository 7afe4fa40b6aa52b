package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
)

// githubApp hands out go-github clients authenticated as installations of
// the App, caching one per installation (ghinstallation refreshes tokens).
type githubApp struct {
	creds *appCredentials
	apps  *ghinstallation.AppsTransport
	log   *slog.Logger

	mu      sync.Mutex
	clients map[int64]*gh.Client
}

func newGitHubApp(creds *appCredentials, log *slog.Logger) (*githubApp, error) {
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, creds.id, creds.key)
	if err != nil {
		return nil, fmt.Errorf("github app %d: private key: %w", creds.id, err)
	}
	tr.BaseURL = strings.TrimSuffix(creds.baseURL, "/")
	return &githubApp{creds: creds, apps: tr, log: log, clients: map[int64]*gh.Client{}}, nil
}

func (a *githubApp) client(rt http.RoundTripper) (*gh.Client, error) {
	c := gh.NewClient(&http.Client{Transport: rt})
	if strings.TrimSuffix(a.creds.baseURL, "/") == "https://api.github.com" {
		return c, nil
	}
	return c.WithEnterpriseURLs(a.creds.baseURL, a.creds.baseURL)
}

// appClient is authenticated as the App itself (JWT).
func (a *githubApp) appClient() (*gh.Client, error) { return a.client(a.apps) }

// installation returns the client of installation id.
func (a *githubApp) installation(_ context.Context, id int64) (*gh.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c, nil
	}
	tr := ghinstallation.NewFromAppsTransport(a.apps, id)
	c, err := a.client(tr)
	if err != nil {
		return nil, err
	}
	a.clients[id] = c
	return c, nil
}
