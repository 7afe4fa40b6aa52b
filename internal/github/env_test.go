package github

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/promobot/promobot/test/githubapi"
)

const (
	owner  = "acme"
	name   = "gitops"
	secret = "s3cret"
)

var repo = Repo{Owner: owner, Name: name}

// receiver answers webhooks with a settable status.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	guids  []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.guids = append(rc.guids, r.Header.Get("X-GitHub-Delivery"))
		st := rc.status
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) set(status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = status
}

func (rc *receiver) received() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.guids...)
}

// fixture is the local GitHub API with the App installed on acme/gitops and
// an App client pointed at it.
type fixture struct {
	ctx    context.Context
	srv    *githubapi.Server
	hooks  *receiver
	app    *App
	inst   *InstallationClient
	logs   *syncBuffer
	instID int64
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	hooks := newReceiver(t)
	srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookURL: hooks.srv.URL, WebhookSecret: secret, AppID: 7, SyncWebhooks: true,
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
	logs := &syncBuffer{}
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
