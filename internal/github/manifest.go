package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Registration is a GitHub App that GitHub registered from a manifest, with
// its credentials. PEM and WebhookSecret are secrets: never log them.
type Registration struct {
	ID            int64
	Slug          string
	Name          string
	HTMLURL       string
	PEM           string
	WebhookSecret string
}

// RegisterFromManifest completes GitHub's App manifest flow: it trades the
// code GitHub redirected with for the registered App and its credentials
// (POST /app-manifests/{code}/conversions, 1 call, unauthenticated). A code
// converts once, within an hour. baseURL is the REST API root, as in
// Options (empty: GitHub.com). The call goes through the transport every
// App call takes (rate limits waited out, every attempt counted), which
// never resends it.
func RegisterFromManifest(ctx context.Context, baseURL, code string) (Registration, error) {
	p := &retryPolicy{maxAttempts: 4, maxWait: time.Hour, backoff: 500 * time.Millisecond, timeout: 30 * time.Second,
		clock: realClock{}, log: slog.Default()}
	c, err := apiClient(baseURL, newTransport(http.DefaultTransport, p))
	if err != nil {
		return Registration{}, err
	}
	cfg, _, err := c.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return Registration{}, fmt.Errorf("app manifest conversion: %w", apiErr(err))
	}
	return Registration{
		ID: cfg.GetID(), Slug: cfg.GetSlug(), Name: cfg.GetName(), HTMLURL: cfg.GetHTMLURL(),
		PEM: cfg.GetPEM(), WebhookSecret: cfg.GetWebhookSecret(),
	}, nil
}
