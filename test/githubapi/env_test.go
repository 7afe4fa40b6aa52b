package githubapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
)

const (
	testOwner  = "acme"
	testRepo   = "gitops"
	testSecret = "webhook-secret"
)

// received is one webhook as the receiver saw it.
type received struct {
	Event     string
	GUID      string
	Header    http.Header
	Body      []byte
	SignedOK  bool
	Timestamp time.Time
}

// sink is a webhook receiver that verifies signatures like promobot does.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

func newSink(t *testing.T) *sink {
	k := &sink{status: http.StatusOK}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		ok := hmac.Equal([]byte(want), []byte(r.Header.Get("X-Hub-Signature-256")))
		k.mu.Lock()
		got := received{Event: r.Header.Get("X-GitHub-Event"), GUID: r.Header.Get("X-GitHub-Delivery"),
			Header: r.Header.Clone(), Body: body, SignedOK: ok, Timestamp: time.Now()}
		k.got = append(k.got, got)
		observeHook(got)
		status := k.status
		k.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *sink) all() []received {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]received(nil), k.got...)
}

func (k *sink) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.got = nil
}

func (k *sink) setStatus(code int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.status = code
}

// events returns "event.action" for each received delivery.
func (k *sink) events() []string {
	var out []string
	for _, r := range k.all() {
		var p struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(r.Body, &p)
		name := r.Event
		if p.Action != "" {
			name += "." + p.Action
		}
		out = append(out, name)
	}
	return out
}

// env is a running server with the fixture repository installed, a webhook
// sink and go-github clients authenticated as the App and the installation.
type env struct {
	t      *testing.T
	ctx    context.Context
	srv    *Server
	sink   *sink
	app    *gh.Client
	inst   *gh.Client
	instID int64
}

var observed struct {
	sync.Mutex
	all []Exchange
}

func observe(e Exchange) {
	observed.Lock()
	defer observed.Unlock()
	observed.all = append(observed.all, e)
}

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	k := newSink(t)
	opts := Options{Dir: t.TempDir(), WebhookURL: k.srv.URL, WebhookSecret: testSecret, AppID: 42, AppSlug: "promobot",
		SyncWebhooks: true, Observe: observe}
	for _, m := range mod {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.CreateRepo(ctx, testOwner, testRepo, "testdata/repo"); err != nil {
		t.Fatal(err)
	}
	instID, err := srv.Install(ctx, testOwner, testRepo)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, srv: srv, sink: k, instID: instID}
	e.app = e.appClient(srv.AppPrivateKeyPEM())
	e.inst = e.instClient(instID, nil)
	return e
}

func (e *env) baseURL() string { return strings.TrimSuffix(e.srv.URL(), "/") }

func (e *env) appClient(pem []byte) *gh.Client {
	e.t.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, e.srv.AppID(), pem)
	if err != nil {
		e.t.Fatal(err)
	}
	atr.BaseURL = e.baseURL()
	c, err := gh.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(e.srv.URL(), e.srv.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) instClient(instID int64, opts *ghinstallation.Transport) *gh.Client {
	e.t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, e.srv.AppID(), instID, e.srv.AppPrivateKeyPEM())
	if err != nil {
		e.t.Fatal(err)
	}
	itr.BaseURL = e.baseURL()
	if opts != nil {
		itr.InstallationTokenOptions = opts.InstallationTokenOptions
	}
	c, err := gh.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(e.srv.URL(), e.srv.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// tokenClient is a go-github client sending a fixed token.
func (e *env) tokenClient(token string) *gh.Client {
	e.t.Helper()
	c, err := gh.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(e.srv.URL(), e.srv.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// result carries a go-github call's value and error: must(call()).ok(t).
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, _ *gh.Response, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func statusOf(err error) int {
	if er, ok := err.(*gh.ErrorResponse); ok {
		return er.Response.StatusCode
	}
	if er, ok := err.(*gh.AcceptedError); ok {
		_ = er
		return http.StatusAccepted
	}
	return 0
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = validateObserved()
	}
	if code == 0 {
		code = validateObservedHooks()
	}
	os.Exit(code)
}
