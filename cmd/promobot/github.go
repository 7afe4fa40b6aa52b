package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/promobot/promobot/internal/github"
)

// githubApp is the GitHub App promobot acts as. internal/github is its only
// client, for the App's own endpoints (JWT: the redelivery sweep, the slug)
// as for installations (tokens cached and refreshed): rate limits honoured,
// transient failures retried, writes serialised, tokens never logged.
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
