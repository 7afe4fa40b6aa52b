// Package github is promobot's one GitHub client. Every call goes through
// one transport that waits out rate limits, retries server errors,
// serializes writes and never logs a token: the App's own endpoints (JWT:
// its webhook deliveries for the redelivery sweep, its slug, its
// installations), the manifest flow that registers it
// (RegisterFromManifest), and each installation's endpoints (tokens cached
// and refreshed) for the operations promobot's roles need, in promobot's
// own value types.
//
// go-github is an implementation detail (imported as gh); its types do not
// leave this package except through InstallationClient.GitHub, kept for
// tests that make calls InstallationClient does not.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
)

// Options configures an App.
type Options struct {
	// AppID is the GitHub App's id.
	AppID int64
	// PrivateKey is the App's PEM-encoded private key. It is never logged.
	PrivateKey []byte
	// BaseURL is the REST API root: empty for GitHub.com,
	// https://HOST/api/v3/ for GitHub Enterprise Server (or the tests'
	// local API).
	BaseURL string
	// HTTPClient supplies the underlying transport and timeout; default
	// http.DefaultTransport, 30 s.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one request (rate-limited or, for
	// idempotent methods, failing with 5xx or a network error); default 4.
	MaxAttempts int
	// MaxWait is the longest rate-limit pause waited out before giving up
	// with a RateLimitError; default 1 hour, the longest GitHub asks for
	// (WithMaxWait sets it per call).
	MaxWait time.Duration
	// Backoff is the first wait before retrying a server error, doubled
	// each attempt; default 500 ms.
	Backoff time.Duration
	// Logger receives retries and rate-limit waits; default slog.Default().
	Logger *slog.Logger
	// Clock is the time rate-limit waits and retries follow; default the
	// real time (tests inject one).
	Clock Clock
}

// App is a GitHub App: it talks to App endpoints with a JWT and hands out
// InstallationClients. It is safe for concurrent use.
type App struct {
	opts    Options
	policy  *retryPolicy
	base    http.RoundTripper
	apiBase string // scheme://host/path/ of the REST API, with trailing slash
	app     *gh.Client
	timeout time.Duration // of each API call

	mu       sync.Mutex
	installs map[int64]*InstallationClient
}

// NewApp validates the options and the key and returns an App. It makes no
// network calls.
func NewApp(opts Options) (*App, error) {
	if opts.AppID <= 0 {
		return nil, fmt.Errorf("github app: AppID is required")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Hour
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	base := http.DefaultTransport
	timeout := 30 * time.Second
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			base = opts.HTTPClient.Transport
		}
		if opts.HTTPClient.Timeout != 0 {
			timeout = opts.HTTPClient.Timeout
		}
	}
	a := &App{
		opts: opts,
		policy: &retryPolicy{maxAttempts: opts.MaxAttempts, maxWait: opts.MaxWait, backoff: opts.Backoff, timeout: timeout,
			clock: opts.Clock, log: opts.Logger},
		base:     base,
		timeout:  timeout,
		installs: map[int64]*InstallationClient{},
	}
	atr, err := ghinstallation.NewAppsTransport(newTransport(base, a.policy), opts.AppID, opts.PrivateKey)
	if err != nil {
		// ghinstallation's message names the key problem, never the key.
		return nil, fmt.Errorf("github app %d: private key: %w", opts.AppID, err)
	}
	a.app, err = a.client(atr)
	if err != nil {
		return nil, err
	}
	a.apiBase = a.app.BaseURL.String()
	atr.BaseURL = strings.TrimSuffix(a.apiBase, "/")
	return a, nil
}

// client builds a go-github client for the configured API over rt. Each
// attempt is bounded by timeout in the transport, not by the client, so
// rate-limit waits between attempts are not cut short.
func (a *App) client(rt http.RoundTripper) (*gh.Client, error) {
	return apiClient(a.opts.BaseURL, rt)
}

// apiClient builds a go-github client for the API at baseURL (empty:
// GitHub.com) over rt.
func apiClient(baseURL string, rt http.RoundTripper) (*gh.Client, error) {
	c := gh.NewClient(&http.Client{Transport: rt})
	if baseURL == "" {
		return c, nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("github app: base URL %q is not a URL", baseURL)
	}
	if u.Host == "api.github.com" {
		return c, nil
	}
	c, err = c.WithEnterpriseURLs(baseURL, baseURL)
	if err != nil {
		return nil, fmt.Errorf("github app: base URL: %w", err)
	}
	return c, nil
}

// ID returns the App's id.
func (a *App) ID() int64 { return a.opts.AppID }

// Installation returns the client of an installation, created on first use
// and cached: its token is fetched when first needed and refreshed before
// it expires.
func (a *App) Installation(ctx context.Context, installationID int64) (*InstallationClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ic := a.installs[installationID]; ic != nil {
		return ic, nil
	}
	tr := newTransport(a.base, a.policy)
	itr, err := ghinstallation.New(tr, a.opts.AppID, installationID, a.opts.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github installation %d: %w", installationID, err)
	}
	itr.BaseURL = strings.TrimSuffix(a.apiBase, "/")
	c, err := a.client(itr)
	if err != nil {
		return nil, err
	}
	// Tarball downloads can outlast the API timeout; the context bounds them.
	ic := &InstallationClient{id: installationID, c: c, app: a, download: &http.Client{Transport: a.base}}
	a.installs[installationID] = ic
	return ic, nil
}

// Installations lists the App's installations.
func (a *App) Installations(ctx context.Context) ([]Installation, error) {
	var out []Installation
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := a.app.Apps.ListInstallations(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list installations: %w", apiErr(err))
		}
		for _, in := range page {
			out = append(out, Installation{ID: in.GetID(), Account: in.GetAccount().GetLogin()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// RepoInstallation returns the id of the installation that covers repo.
func (a *App) RepoInstallation(ctx context.Context, repo Repo) (int64, error) {
	in, _, err := a.app.Apps.FindRepositoryInstallation(ctx, repo.Owner, repo.Name)
	if err != nil {
		return 0, fmt.Errorf("%s: find installation: %w", repo, apiErr(err))
	}
	return in.GetID(), nil
}

// ListDeliveries returns one page of the App's webhook deliveries, newest
// first, and GitHub's cursor of the next page ("" after the last); an
// empty cursor asks for the first page (GET /app/hook/deliveries, 1 call).
// Read-only and safe for concurrent use. A rate limit not waited out is a
// *RateLimitError, which matches ErrRateLimited.
func (a *App) ListDeliveries(ctx context.Context, cursor string, perPage int) ([]Delivery, string, error) {
	page, resp, err := a.app.Apps.ListHookDeliveries(ctx, &gh.ListCursorOptions{PerPage: perPage, Cursor: cursor})
	if err != nil {
		return nil, "", fmt.Errorf("hook deliveries list: %w", apiErr(err))
	}
	out := make([]Delivery, 0, len(page))
	for _, d := range page {
		out = append(out, Delivery{
			ID: d.GetID(), GUID: d.GetGUID(), Event: d.GetEvent(), Action: d.GetAction(), Status: d.GetStatus(),
			StatusCode: d.GetStatusCode(), Redelivery: d.GetRedelivery(), DeliveredAt: d.GetDeliveredAt().Time,
			InstallationID: d.GetInstallationID(), RepositoryID: d.GetRepositoryID(),
		})
	}
	next := ""
	if resp != nil {
		next = resp.Cursor
	}
	return out, next, nil
}

// Redeliver asks GitHub to deliver a delivery again (POST
// /app/hook/deliveries/{id}/attempts, 1 call); the new attempt has the same
// GUID (X-GitHub-Delivery). Not idempotent: each call is one more delivery
// and one content-creating request against GitHub's secondary limits. A
// rate limit not waited out is a *RateLimitError, which matches
// ErrRateLimited.
func (a *App) Redeliver(ctx context.Context, deliveryID int64) error {
	_, _, err := a.app.Apps.RedeliverHookDelivery(ctx, deliveryID)
	var accepted *gh.AcceptedError
	// GitHub answers 202 Accepted, which go-github reports as an error.
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	return fmt.Errorf("hook delivery %d redeliver: %w", deliveryID, apiErr(err))
}

// Slug returns the App's slug, which names its bot user (<slug>[bot])
// (GET /app, 1 call).
func (a *App) Slug(ctx context.Context) (string, error) {
	app, _, err := a.app.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("github app %d: read: %w", a.opts.AppID, apiErr(err))
	}
	return app.GetSlug(), nil
}
