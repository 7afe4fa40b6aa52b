package redelivery

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v60/github"
)

// GitHub is Hooks over go-github v60. Its client must be authenticated as
// the App itself (a JWT, e.g. ghinstallation's AppsTransport), not as an
// installation: the deliveries API belongs to the App. It is safe for
// concurrent use.
type GitHub struct {
	c *gh.Client
}

// NewGitHub returns Hooks that call GitHub through c.
func NewGitHub(c *gh.Client) *GitHub { return &GitHub{c: c} }

// ListDeliveries implements Hooks: GET /app/hook/deliveries.
func (g *GitHub) ListDeliveries(ctx context.Context, cursor string, perPage int) ([]Delivery, string, error) {
	page, resp, err := g.c.Apps.ListHookDeliveries(ctx, &gh.ListCursorOptions{PerPage: perPage, Cursor: cursor})
	if err != nil {
		return nil, "", fmt.Errorf("GET /app/hook/deliveries: %w", apiErr(err))
	}
	out := make([]Delivery, 0, len(page))
	for _, d := range page {
		out = append(out, Delivery{
			ID: d.GetID(), GUID: d.GetGUID(), Event: d.GetEvent(), Action: d.GetAction(),
			Status: d.GetStatus(), StatusCode: d.GetStatusCode(), Redelivery: d.GetRedelivery(),
			DeliveredAt: d.GetDeliveredAt().Time, InstallationID: d.GetInstallationID(), RepositoryID: d.GetRepositoryID(),
		})
	}
	next := ""
	if resp != nil {
		next = resp.Cursor
	}
	return out, next, nil
}

// Redeliver implements Hooks: POST /app/hook/deliveries/{id}/attempts.
// GitHub answers 202 Accepted, which go-github reports as an error; it is
// success here.
func (g *GitHub) Redeliver(ctx context.Context, id int64) error {
	_, _, err := g.c.Apps.RedeliverHookDelivery(ctx, id)
	var accepted *gh.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	return fmt.Errorf("POST /app/hook/deliveries/%d/attempts: %w", id, apiErr(err))
}

// apiErr marks rate-limit errors with ErrRateLimited.
func apiErr(err error) error {
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return fmt.Errorf("%w: %w", ErrRateLimited, err)
	}
	return err
}
