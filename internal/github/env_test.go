package github

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const (
	owner  = "acme"
	name   = "gitops"
	secret = "s3cret"
)

var repo = Repo{Owner: owner, Name: name}

// fixture is the local GitHub API with the App installed on acme/gitops and
// an App client pointed at it.
type fixture struct {
	ctx    context.Context
	srv    *githubapi.Server
	hooks  *kit.Receiver
	app    *App
	inst   *InstallationClient
	logs   *kit.Buffer
	instID int64
}

func newFixture(t *testing.T, mod ...func(*Options)) *fixture {
	t.Helper()
	return newFixtureOn(t, githubapi.Options{}, mod...)
}

// newFixtureOn is newFixture with the local API's permissions and throttle
// set from api.Permissions (nil: its defaults) and api.Throttle.
func newFixtureOn(t *testing.T, api githubapi.Options, mod ...func(*Options)) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	hooks := kit.NewReceiver(t)
	srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookURL: hooks.URL, WebhookSecret: secret, AppID: 7, SyncWebhooks: true,
		Permissions: api.Permissions, Throttle: api.Throttle})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.CreateRepo(ctx, owner, name, "testdata/repo"); err != nil {
		t.Fatal(err)
	}
	instID, err := srv.Install(ctx, owner, name)
	if err != nil {
		t.Fatal(err)
	}
	logs := &kit.Buffer{}
	opts := Options{AppID: srv.AppID(), PrivateKey: srv.AppPrivateKeyPEM(), BaseURL: srv.URL(), Backoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range mod {
		m(&opts)
	}
	app, err := NewApp(opts)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := app.Installation(ctx, instID)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, srv: srv, hooks: hooks, app: app, inst: inst, logs: logs, instID: instID}
}
