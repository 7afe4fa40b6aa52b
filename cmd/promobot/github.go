package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/internal/github"
)

// githubApp is the GitHub App promobot acts as: installation clients come
// from internal/github (tokens cached and refreshed, rate limits honoured,
// transient failures retried, writes serialised per installation).
type githubApp struct {
	creds *appCredentials
	app   *github.App
	log   *slog.Logger
}

func newGitHubApp(creds *appCredentials, log *slog.Logger) (*githubApp, error) {
	base := creds.baseURL
	if strings.TrimSuffix(base, "/") == "https://api.github.com" {
		base = ""
	}
	app, err := github.NewApp(github.Options{AppID: creds.id, PrivateKey: creds.key, BaseURL: base, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("github app %d: %w", creds.id, err)
	}
	return &githubApp{creds: creds, app: app, log: log}, nil
}

// appClient is a go-github client authenticated as the App itself (JWT),
// for the App endpoints.
func (a *githubApp) appClient() (*gh.Client, error) {
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, a.creds.id, a.creds.key)
	if err != nil {
		return nil, fmt.Errorf("github app %d: private key: %w", a.creds.id, err)
	}
	c := gh.NewClient(&http.Client{Transport: tr})
	if strings.TrimSuffix(a.creds.baseURL, "/") == "https://api.github.com" {
		return c, nil
	}
	tr.BaseURL = strings.TrimSuffix(a.creds.baseURL, "/")
	return c.WithEnterpriseURLs(a.creds.baseURL, a.creds.baseURL)
}
