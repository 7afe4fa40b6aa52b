package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
)

// GitHubOptions name the App to check and what promobot needs of it.
type GitHubOptions struct {
	// BaseURL is the REST API's base ("" for GitHub.com).
	BaseURL    string
	AppID      int64
	PrivateKey []byte
	// Permissions are the permissions promobot needs, name → level.
	Permissions map[string]string
	// Features says, per permission, which feature needs it.
	Features map[string]string
	// Events are the webhook events promobot needs.
	Events []string
	// WebhookSecrets are the secrets promobot serve verifies with (nil
	// when none could be read; SecretErr then says why).
	WebhookSecrets [][]byte
	SecretErr      error
	// Redeliver asks GitHub to deliver the latest delivery again and
	// judges the secret by that attempt's answer, not an older one's.
	Redeliver bool
	// WebhookPath is the path promobot serve answers webhooks on; the
	// App's webhook URL must end in it.
	WebhookPath string
	// WebhookURL, when set, is the webhook URL the operator expects the
	// App to have.
	WebhookURL string
	// Apps, when set, renders each repository's apps (AppsOptions).
	Apps *AppsOptions
}

// redeliveryWait bounds how long doctor waits for a redelivery's attempt
// to be recorded, and redeliveryPoll how often it looks.
const (
	redeliveryWait = 30 * time.Second
	redeliveryPoll = 500 * time.Millisecond
)

var permRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// CheckGitHub checks the App's permissions, webhook configuration and
// events (GET /app, GET /app/hook/config), the webhook secret and the
// latest delivery, and each installation's repositories and their
// .promobot.yaml on the default branch. With o.Apps it renders each
// repository's apps and returns what they write to each cluster (nil
// without o.Apps or when the App could not be read).
func CheckGitHub(ctx context.Context, o GitHubOptions) ([]Check, Writes) {
	app, err := github.NewApp(github.Options{AppID: o.AppID, PrivateKey: o.PrivateKey, BaseURL: o.BaseURL, MaxAttempts: 1})
	if err != nil {
		return []Check{fail("github app", err.Error(), "check --app-id and --private-key-file: they are on the App's settings page")}, nil
	}
	c, err := appInfo(o)
	if err != nil {
		return []Check{fail("github app", err.Error(), "check --app-id and --private-key-file: they are on the App's settings page")}, nil
	}
	a, err := getApp(ctx, c)
	if err != nil {
		return []Check{fail("github app", err.Error(), "check --github-url, --app-id and --private-key-file (a key of this App)")}, nil
	}
	out := []Check{ok("github app", fmt.Sprintf("%s (id %d)", a.Slug, a.ID))}
	out = append(out, permissionsCheck(o, a.Permissions), hookConfigCheck(ctx, c, o), eventsCheck(o.Events, a.Events))
	out = append(out, secretCheck(ctx, o, app))
	run := newAppsRun(o.Apps)
	out = append(out, installationChecks(ctx, app, run)...)
	if run == nil {
		return out, nil
	}
	return out, run.writes
}

// appJSON is what doctor reads of GET /app. Permissions are read as a
// map: go-github's struct lacks some (merge_queues).
type appJSON struct {
	ID          int64             `json:"id"`
	Slug        string            `json:"slug"`
	Permissions map[string]string `json:"permissions"`
	Events      []string          `json:"events"`
}

// getApp reads GET /app as the App.
func getApp(ctx context.Context, c *gh.Client) (*appJSON, error) {
	req, err := c.NewRequest(http.MethodGet, "app", nil)
	if err != nil {
		return nil, fmt.Errorf("github app GET /app: %w", err)
	}
	var a appJSON
	if _, err := c.Do(ctx, req, &a); err != nil {
		return nil, fmt.Errorf("github app GET /app: %w", err)
	}
	return &a, nil
}

// appInfo is a go-github client authenticated as the App (JWT).
func appInfo(o GitHubOptions) (*gh.Client, error) {
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, o.AppID, o.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app %d: private key: %w", o.AppID, err)
	}
	c := gh.NewClient(&http.Client{Transport: tr})
	if o.BaseURL == "" || strings.Contains(o.BaseURL, "//api.github.com") {
		return c, nil
	}
	if c, err = c.WithEnterpriseURLs(o.BaseURL, o.BaseURL); err != nil {
		return nil, fmt.Errorf("github app base URL: %w", err)
	}
	tr.BaseURL = strings.TrimSuffix(c.BaseURL.String(), "/")
	return c, nil
}

// permissionsCheck compares the App's granted permissions with o's.
func permissionsCheck(o GitHubOptions, granted map[string]string) Check {
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(o.Permissions)) {
		want := o.Permissions[name]
		if permRank[granted[name]] < permRank[want] {
			have := granted[name]
			if have == "" {
				have = "none"
			}
			missing = append(missing, fmt.Sprintf("%s: %s (has %s; needed for %s)", name, want, have, o.Features[name]))
		}
	}
	if len(missing) > 0 {
		return fail("github app permissions", "missing "+strings.Join(missing, "; "),
			"grant them on the App's settings page (Permissions & events), then accept the new permissions on each installation")
	}
	return ok("github app permissions", fmt.Sprintf("all %d granted", len(o.Permissions)))
}

// eventsCheck compares the App's webhook events with want.
func eventsCheck(want, have []string) Check {
	var missing []string
	for _, e := range want {
		if !slices.Contains(have, e) {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return fail("github app events", "not subscribed to "+strings.Join(missing, ", "),
			"subscribe to them on the App's settings page (Permissions & events → Subscribe to events)")
	}
	return ok("github app events", "subscribed to "+strings.Join(want, ", "))
}

// secretCheck: a secret must be configured, and the latest delivery must
// not have been refused for its signature (promobot serve answers 401 when
// no configured secret matches the one GitHub signs with).
func secretCheck(ctx context.Context, o GitHubOptions, app *github.App) Check {
	const name = "webhook secret"
	if o.SecretErr != nil || len(o.WebhookSecrets) == 0 {
		found := "no webhook secret"
		if o.SecretErr != nil {
			found = o.SecretErr.Error()
		}
		return fail(name, found, "pass --webhook-secret-file with the secret set on the App's settings page (Webhook secret)")
	}
	ds, _, err := app.ListDeliveries(ctx, "", 1)
	if err != nil {
		return warn(name, fmt.Sprintf("secret read; deliveries not readable: %v", err), "check the App's credentials")
	}
	if len(ds) == 0 {
		return ok(name, "secret read; no delivery yet to compare with")
	}
	d := ds[0]
	if o.Redeliver {
		if d, err = redeliver(ctx, app, d); err != nil {
			return fail(name, err.Error(), "check the App's credentials and that GitHub records deliveries")
		}
	}
	switch {
	case d.StatusCode == http.StatusUnauthorized:
		return fail(name, fmt.Sprintf("latest delivery %s (%s) was refused: 401, its signature matches no configured secret", d.GUID, d.Event),
			"set the same secret on the App's settings page and in promobot serve's --webhook-secret-file, then redeliver")
	case d.StatusCode == 0:
		return fail(name, fmt.Sprintf("latest delivery %s (%s) did not reach the webhook URL", d.GUID, d.Event),
			"make the App's webhook URL reach promobot serve's webhook listener")
	case d.StatusCode >= 300:
		return warn(name, fmt.Sprintf("latest delivery %s (%s) answered %d", d.GUID, d.Event, d.StatusCode),
			"look at promobot serve's log for that delivery")
	}
	return ok(name, fmt.Sprintf("secret read; latest delivery %s (%s) accepted with %d", d.GUID, d.Event, d.StatusCode))
}

// redeliver sends d again and returns the new attempt once GitHub records
// it (GitHub redelivers asynchronously; its deliveries list is the only
// way to see the attempt).
func redeliver(ctx context.Context, app *github.App, d github.Delivery) (github.Delivery, error) {
	if err := app.Redeliver(ctx, d.ID); err != nil {
		return d, err
	}
	deadline := time.Now().Add(redeliveryWait)
	for {
		ds, _, err := app.ListDeliveries(ctx, "", 20)
		if err != nil {
			return d, err
		}
		for _, again := range ds {
			if again.GUID == d.GUID && again.ID > d.ID {
				return again, nil
			}
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("hook delivery %d: redelivery not recorded after %s", d.ID, redeliveryWait)
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("hook delivery %d redeliver: %w", d.ID, ctx.Err())
		case <-time.After(redeliveryPoll):
		}
	}
}

// installationChecks lists the installations and checks each repository's
// .promobot.yaml.
func installationChecks(ctx context.Context, app *github.App, run *appsRun) []Check {
	ins, err := app.Installations(ctx)
	if err != nil {
		return []Check{fail("installations", err.Error(), "check the App's credentials")}
	}
	if len(ins) == 0 {
		return []Check{fail("installations", "the App is not installed anywhere", "install the App on the GitOps repositories (the App's page → Install)")}
	}
	var out []Check
	for _, in := range ins {
		out = append(out, installationCheck(ctx, app, in, run)...)
	}
	return out
}

// installationCheck lists the installation's repositories and checks each
// one's .promobot.yaml and, with run, its apps.
func installationCheck(ctx context.Context, app *github.App, in github.Installation, run *appsRun) []Check {
	name := "installation on " + in.Account
	ic, err := app.Installation(ctx, in.ID)
	if err != nil {
		return []Check{fail(name, err.Error(), "reinstall the App on "+in.Account)}
	}
	var repos []*gh.Repository
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := ic.GitHub().Apps.ListRepos(ctx, opts)
		if err != nil {
			return []Check{fail(name, fmt.Sprintf("list repositories: %v", err), "check the installation on "+in.Account)}
		}
		repos = append(repos, page.Repositories...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(repos) == 0 {
		return []Check{warn(name, "no repositories", "select the GitOps repositories in the installation's settings")}
	}
	out := []Check{ok(name, fmt.Sprintf("id %d, %d repositories", in.ID, len(repos)))}
	for _, r := range repos {
		cfg := configCheck(ctx, ic, r)
		out = append(out, cfg)
		if run != nil && cfg.Status == OK {
			out = append(out, run.check(ctx, ic, r))
		}
	}
	return out
}

// configCheck parses the repository's .promobot.yaml at its default branch.
func configCheck(ctx context.Context, ic *github.InstallationClient, r *gh.Repository) Check {
	repo := github.Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName()}
	name := fmt.Sprintf("%s %s", repo, gitops.ConfigFile)
	data, err := ic.File(ctx, repo, r.GetDefaultBranch(), gitops.ConfigFile)
	if errors.Is(err, github.ErrNotFound) {
		return ok(name, "absent on "+r.GetDefaultBranch()+": defaults apply")
	}
	if err != nil {
		return fail(name, err.Error(), "check the installation can read contents of "+repo.String())
	}
	if _, err := gitops.ParseConfig(data); err != nil {
		return fail(name, fmt.Sprintf("invalid on %s: %v", r.GetDefaultBranch(), err), "fix "+gitops.ConfigFile+" on "+r.GetDefaultBranch()+" (see the README's .promobot.yaml reference)")
	}
	return ok(name, "valid on "+r.GetDefaultBranch())
}
