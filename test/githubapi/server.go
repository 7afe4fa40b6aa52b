// Package githubapi is a GitHub-compatible REST API for promobot's tests and
// local demo. It serves the part of GitHub's API promobot uses under
// /api/v3/ (as GitHub Enterprise Server does), so go-github and
// ghinstallation work against it unchanged; it keeps repositories as real
// bare git repositories on disk (every SHA is git's) and sends signed
// webhooks like GitHub.
//
// Typical use in a test:
//
//	srv, _ := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookURL: receiverURL, WebhookSecret: secret})
//	srv.Start()
//	defer srv.Close()
//	srv.CreateRepo(ctx, "acme", "gitops", "testdata/repo") // one commit on main
//	instID, _ := srv.Install(ctx, "acme", "gitops")       // installation.created webhook
//	srv.AddCollaborator("acme", "gitops", "alice", githubapi.PermissionWrite)
//	srv.Push(ctx, "acme", "gitops", "bump", githubapi.Commit{Author: "alice", Files: files}) // push webhook
//	n, _ := srv.OpenPR(ctx, "acme", "gitops", githubapi.NewPR{Title: "Bump", Head: "bump", Author: "alice"})
//	srv.Comment(ctx, "acme", "gitops", n, "alice", "/promote") // issue_comment webhook
//	srv.AddTeamMember("acme", "release-managers", "bob", githubapi.TeamMember)
//	// promobot, configured with srv.URL(), srv.AppID() and srv.AppPrivateKeyPEM(), reacts;
//	// then read back srv.PRs, srv.Comments, srv.File, srv.Calls() ...
//
// Branch protection (Protect: required status checks, up-to-date heads,
// approving reviews given with Review) and the repository's merge methods
// (SetMergeMethods) hold for every merge, through the API or MergePR,
// refused with GitHub's 405 messages, and for the App's direct writes to
// a protected branch; SetStatus and CompleteCheckRun report on a commit
// as a person or a CI App does, sending status and check_run webhooks
// when Options.Events subscribes the App to them.
//
// The App's credentials work with ghinstallation (BaseURL: srv.URL()
// without the trailing slash). Faults (InjectFault), added latency
// (SetLatency) and call counting (Calls, ResetCalls) serve fault tests and
// benchmarks. Every route exists in GitHub's published OpenAPI description
// and its responses validate against it (contract_test.go).
//
// By default it holds promobot to GitHub's limits: content-creating
// requests meet GitHub's secondary rate limits (80 a minute, 500 an hour
// per installation, throttle.go), webhooks arrive out of order and
// overlapping (reorder.go), compares list at most 300 files and commits at
// most 3,000. Tests that measure promobot's own speed opt out with
// Options.Throttle = Unthrottled(); tests of the in-order mode set InOrder.
package githubapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. Zero values get the documented defaults.
type Options struct {
	// Dir holds the bare repositories (Dir/<owner>/<repo>.git). Required.
	Dir string
	// Addr is the listen address for Start; default "127.0.0.1:0".
	Addr string
	// WebhookURL receives the App's webhooks; empty sends none until
	// SetWebhookURL is called.
	WebhookURL string
	// WebhookSecret signs webhooks (X-Hub-Signature-256).
	WebhookSecret string
	// AppID is the GitHub App's id; default 1.
	AppID int64
	// AppSlug is the App's slug; default "promobot". Its bot user is
	// "<slug>[bot]".
	AppSlug string
	// PrivateKey is the App's key; generated when nil.
	PrivateKey *rsa.PrivateKey
	// Permissions the App is granted on installation; default contents,
	// pull_requests, issues, statuses, checks and deployments write,
	// metadata read. Team membership reads need the organization
	// permission "members": "read", which is not in the default, as an
	// App that does not ask for it lacks it on GitHub.
	Permissions map[string]string
	// Events the App subscribes to; default push, pull_request,
	// issue_comment. Installation events are always sent.
	Events []string
	// SyncWebhooks delivers each webhook before the API call (or scripted
	// action) that caused it returns. Otherwise deliveries are queued and sent
	// in order by one goroutine; WaitDeliveries waits for the queue.
	SyncWebhooks bool
	// Reorder says how webhooks are sent out of order, as GitHub may send
	// them: each after a random delay and several at once (reorder.go).
	// nil means the defaults (up to 50ms each, 4 in flight), unless
	// SyncWebhooks or InOrder is set.
	Reorder *ReorderOptions
	// InOrder sends queued webhooks one at a time in the order of their
	// events, for the few tests about that mode itself.
	InOrder bool
	// TokenTTL is the lifetime of installation tokens; default 1 hour.
	TokenTTL time.Duration
	// Observe, when set, is called after every API response with what was
	// served (the contract test validates them against GitHub's OpenAPI
	// description). It must not call back into the Server.
	Observe func(Exchange)
	// Logger logs served calls at debug level; default discards.
	Logger *slog.Logger
	// Throttle refuses content-creating requests over GitHub's secondary
	// rate limits (throttle.go); nil means GitHub's own (DefaultThrottle).
	// Tests that measure promobot's speed pass Unthrottled and say so.
	Throttle *Throttle
}

// Exchange is one API call as served.
type Exchange struct {
	Method string
	// Route is the route's OpenAPI path template, e.g.
	// "/repos/{owner}/{repo}/pulls/{pull_number}"; "" when no route matched.
	Route          string
	Path           string // the request path without /api/v3
	Query          string
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
}

// Server is the local GitHub. All methods are safe for concurrent use.
type Server struct {
	opts    Options
	key     *rsa.PrivateKey
	tmpDir  string
	log     *slog.Logger
	routes  []*route
	handler http.Handler

	mu            sync.Mutex // guards everything below and all git writes
	base          string     // http://host:port
	nextID        int64
	accounts      map[string]*account // lower-cased login
	repos         map[string]*repo    // lower-cased owner/name
	installations map[int64]*installation
	tokens        map[string]*token
	comments      map[int64]*comment
	archives      map[string]*archiveLink
	manifests     map[string]*manifestCode
	teams         map[string]*team  // lower-cased org/slug
	ciApps        map[string]*ciApp // CI Apps reporting check runs, by slug
	bot           *account
	appCreated    time.Time
	rate          map[string]*rateWindow
	faults        []*Fault
	latency       time.Duration
	throttled     map[int64]*throttleWindows // by installation id
	calls         map[string]int
	total, writes int

	hooks      hookState
	hookConfig hookConfig // hookconfig.go

	srv      *http.Server
	listener net.Listener
	closed   chan struct{}
}

type rateWindow struct {
	used  int
	reset time.Time
}

// DefaultPermissions returns a new map of the permissions an installation
// gets when Options.Permissions is nil.
func DefaultPermissions() map[string]string {
	return map[string]string{
		"contents": "write", "pull_requests": "write", "issues": "write", "statuses": "write",
		"checks": "write", "deployments": "write", "metadata": "read",
	}
}

// New creates a Server; call Start to listen, or use it as an http.Handler
// after SetBaseURL.
func New(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("githubapi: Options.Dir is required")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.AppID == 0 {
		opts.AppID = 1
	}
	if opts.AppSlug == "" {
		opts.AppSlug = "promobot"
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Permissions == nil {
		opts.Permissions = DefaultPermissions()
	}
	if opts.Events == nil {
		opts.Events = []string{"push", "pull_request", "issue_comment"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Throttle == nil {
		opts.Throttle = DefaultThrottle()
	}
	if opts.Reorder == nil && !opts.SyncWebhooks && !opts.InOrder {
		opts.Reorder = &ReorderOptions{}
	}
	key := opts.PrivateKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("githubapi: generate app key: %w", err)
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("githubapi: %w", err)
	}
	tmp, err := os.MkdirTemp(opts.Dir, ".tmp-")
	if err != nil {
		return nil, fmt.Errorf("githubapi: %w", err)
	}
	s := &Server{
		opts:          opts,
		key:           key,
		tmpDir:        tmp,
		log:           opts.Logger,
		nextID:        1000,
		accounts:      map[string]*account{},
		repos:         map[string]*repo{},
		installations: map[int64]*installation{},
		tokens:        map[string]*token{},
		comments:      map[int64]*comment{},
		archives:      map[string]*archiveLink{},
		manifests:     map[string]*manifestCode{},
		teams:         map[string]*team{},
		appCreated:    now(),
		rate:          map[string]*rateWindow{},
		calls:         map[string]int{},
		closed:        make(chan struct{}),
		base:          "http://localhost",
	}
	s.bot = s.ensureAccount(opts.AppSlug+"[bot]", "Bot")
	s.hooks.init(s)
	s.routes = s.buildRoutes()
	s.handler = http.HandlerFunc(s.serve)
	return s, nil
}

// Start listens on Options.Addr and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("githubapi: listen %s: %w", s.opts.Addr, err)
	}
	s.listener = ln
	s.SetBaseURL("http://" + ln.Addr().String())
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// Run starts the server and blocks until ctx is done, then closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	s.log.Info("local GitHub API listening", "url", s.URL())
	<-ctx.Done()
	return s.Close()
}

// SetBaseURL sets the scheme and host the API writes into URLs it returns
// (Start sets it); for use as a plain http.Handler.
func (s *Server) SetBaseURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimRight(base, "/")
}

// URL is the API base URL, http://127.0.0.1:port/api/v3/, for go-github's
// WithEnterpriseURLs and ghinstallation's BaseURL.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + "/api/v3/"
}

// WebURL is the web root (html_url, clone URLs), http://127.0.0.1:port.
func (s *Server) WebURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// AppID returns the App's id.
func (s *Server) AppID() int64 { return s.opts.AppID }

// AppSlug returns the App's slug.
func (s *Server) AppSlug() string { return s.opts.AppSlug }

// BotLogin is the login of the App's bot user, "<slug>[bot]".
func (s *Server) BotLogin() string { return s.bot.login }

// AppPrivateKeyPEM returns the App's private key, PEM encoded (PKCS#1), as
// GitHub hands it out.
func (s *Server) AppPrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.key)})
}

// Close stops the server, waits for queued webhooks to be attempted and
// removes scratch files (repositories stay in Options.Dir).
func (s *Server) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
	}
	s.hooks.stop()
	os.RemoveAll(s.tmpDir)
	return err
}

// ServeHTTP serves the API under /api/v3/ and tarball downloads.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetLatency adds d to every API call (benchmarks model GitHub's latency).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// FaultKind names a failure the server can be told to answer with.
type FaultKind int

const (
	// FaultSecondaryRateLimit answers 403 (or Status) with Retry-After and
	// GitHub's secondary rate limit message.
	FaultSecondaryRateLimit FaultKind = iota + 1
	// FaultPrimaryRateLimit answers 403 with x-ratelimit-remaining: 0 and
	// x-ratelimit-reset RetryAfter from now.
	FaultPrimaryRateLimit
	// FaultServerError answers Status (default 502).
	FaultServerError
)

// Fault makes the next Count API calls fail.
type Fault struct {
	Kind       FaultKind
	Count      int
	Status     int           // response status; defaults per kind
	RetryAfter time.Duration // secondary: Retry-After; primary: time to reset. Default 1s.
}

// InjectFault queues f; faults apply in order to the next API calls (any
// route, including token requests).
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	if f.Status == 0 {
		f.Status = http.StatusForbidden
		if f.Kind == FaultServerError {
			f.Status = http.StatusBadGateway
		}
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// CallStats counts API calls served since the last ResetCalls.
type CallStats struct {
	// Total API calls (under /api/v3), including refused and faulted ones.
	Total int
	// Writes are the calls with a method other than GET and HEAD.
	Writes int
	// ByRoute counts calls by "METHOD /openapi/path/template"; tarball
	// downloads appear as "GET /_codeload/{owner}/{repo}/legacy.tar.gz/{ref}"
	// and are not part of Total.
	ByRoute map[string]int
}

// Calls returns the API calls served since the last ResetCalls.
func (s *Server) Calls() CallStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		by[k] = v
	}
	return CallStats{Total: s.total, Writes: s.writes, ByRoute: by}
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.total, s.writes = 0, 0
}

// ---- routing ----

type authKind int

const (
	authNone  authKind = iota
	authApp            // App JWT
	authToken          // installation token with access to {owner}/{repo}
	authAny            // installation token, no repository in the path
	authOrg            // installation token of the installation on {org}
)

// perm is a permission a route needs; any one of alts satisfies it.
type perm struct {
	alts  []string
	level string
}

func need(level string, resources ...string) perm { return perm{alts: resources, level: level} }

type route struct {
	method  string
	path    string // OpenAPI template
	segs    []string
	greedy  bool // the last parameter takes the rest of the path
	auth    authKind
	perm    perm
	handler func(*call) (int, any)
}

func (s *Server) handle(method, path string, auth authKind, p perm, h func(*call) (int, any)) {
	rt := &route{method: method, path: path, auth: auth, perm: p, handler: h}
	rt.segs = strings.Split(strings.Trim(path, "/"), "/")
	last := rt.segs[len(rt.segs)-1]
	rt.greedy = last == "{ref}" || last == "{path}" || last == "{basehead}" || last == "{branch}"
	s.routes = append(s.routes, rt)
}

// match finds the route for method and the escaped path segments, preferring
// literal segments over parameters position by position, as GitHub's router
// does ("/issues/comments/1" is a comment, not issue "comments").
func (s *Server) match(method string, segs []string) (*route, map[string]string, bool) {
	var best *route
	var bestVals map[string]string
	var bestScore []bool
	pathMatched := false
	for _, rt := range s.routes {
		vals, score, ok := rt.matches(segs)
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method != method {
			continue
		}
		if best == nil || better(score, bestScore) {
			best, bestVals, bestScore = rt, vals, score
		}
	}
	return best, bestVals, pathMatched
}

func better(a, b []bool) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return len(a) > len(b)
}

func (rt *route) matches(segs []string) (map[string]string, []bool, bool) {
	if len(segs) < len(rt.segs) || (!rt.greedy && len(segs) != len(rt.segs)) {
		return nil, nil, false
	}
	vals := map[string]string{}
	score := make([]bool, len(rt.segs))
	for i, p := range rt.segs {
		if strings.HasPrefix(p, "{") {
			name := strings.Trim(p, "{}")
			raw := segs[i]
			if rt.greedy && i == len(rt.segs)-1 {
				raw = strings.Join(segs[i:], "/")
			}
			v, err := unescape(raw)
			if err != nil {
				return nil, nil, false
			}
			if v == "" && !(rt.greedy && i == len(rt.segs)-1 && name == "path") {
				return nil, nil, false
			}
			vals[name] = v
			continue
		}
		if p != segs[i] {
			return nil, nil, false
		}
		score[i] = true
	}
	return vals, score, true
}

func unescape(s string) (string, error) {
	// PathUnescape keeps "+" as is, as GitHub does for refs like "a+b".
	return urlPathUnescape(s)
}

// call is one API request being served.
type call struct {
	s       *Server
	r       *http.Request
	w       http.ResponseWriter
	route   *route
	vals    map[string]string
	body    []byte
	tok     *token
	app     bool
	authErr *authFailure
	// principal keys the rate limit window ("" for anonymous).
	principal string
	repo      *repo
	actor     *account // who the request acts as
	out       []*delivery
}

func (c *call) ctx() context.Context { return c.r.Context() }

// param returns a path parameter.
func (c *call) param(name string) string { return c.vals[name] }

func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// decode parses the JSON request body into v.
func (c *call) decode(v any) error {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errBody
	}
	return nil
}

var errBody = errors.New("Problems parsing JSON")

// apiError is GitHub's error body.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

const docsURL = "https://docs.github.com/rest"

func fail(status int, msg string) (int, any) {
	return status, &apiError{Message: msg, DocumentationURL: docsURL, Status: strconv.Itoa(status)}
}

func notFound() (int, any) { return fail(http.StatusNotFound, "Not Found") }

func invalid(msg string, errs ...fieldError) (int, any) {
	if msg == "" {
		msg = "Validation Failed"
	}
	return http.StatusUnprocessableEntity, &apiError{Message: msg, Errors: errs, DocumentationURL: docsURL, Status: "422"}
}

func badJSON() (int, any) { return fail(http.StatusBadRequest, errBody.Error()) }

// noBody marks a response without a body (204).
type noBody struct{}

// rawBody is a non-JSON response.
type rawBody struct {
	contentType string
	data        []byte
}

type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
	keep   bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.keep {
		r.body = append(r.body, b...)
	}
	return r.ResponseWriter.Write(b)
}

// serve is the top-level handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	const prefix = "/api/v3"
	esc := r.URL.EscapedPath()
	if esc != prefix && !strings.HasPrefix(esc, prefix+"/") {
		if !s.serveWeb(w, r) {
			http.NotFound(w, r)
		}
		return
	}
	apiPath := strings.TrimPrefix(esc, prefix)
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	rec := &recorder{ResponseWriter: w, keep: s.opts.Observe != nil}
	// Keep a trailing empty segment: "contents/" is the repository root.
	segs := strings.Split(strings.TrimPrefix(apiPath, "/"), "/")
	rt, vals, _ := s.match(r.Method, segs)
	routeName := ""
	if rt != nil {
		routeName = rt.path
	}

	c := &call{s: s, r: r, w: rec, route: rt, vals: vals, body: body}
	status, resp := s.dispatch(c)
	s.write(c, status, resp)

	s.hooks.send(c.out)

	if s.opts.Observe != nil {
		p, _ := urlPathUnescape(apiPath)
		s.opts.Observe(Exchange{
			Method: r.Method, Route: routeName, Path: p, Query: r.URL.RawQuery,
			RequestHeader: r.Header.Clone(), RequestBody: body,
			Status: rec.status, ResponseHeader: rec.Header().Clone(), ResponseBody: rec.body,
		})
	}
	s.log.Debug("github api call", "method", r.Method, "route", routeName, "status", rec.status)
}

// dispatch authenticates, applies faults and runs the route's handler, all
// under the server lock.
func (s *Server) dispatch(c *call) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := c.r
	key := r.Method + " " + "(unmatched)"
	if c.route != nil {
		key = r.Method + " " + c.route.path
	}
	s.calls[key]++
	s.total++
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writes++
	}

	principal := s.authenticate(c)
	c.principal = principal
	if status, resp, faulted := s.fault(c, principal); faulted {
		return status, resp
	}
	if c.route != nil {
		if status, resp, limited := s.throttle(c); limited {
			return status, resp
		}
	}
	s.rateHeaders(c.w.Header(), principal, 1)

	if c.route == nil {
		return notFound()
	}
	if status, resp, ok := s.authorize(c); !ok {
		return status, resp
	}
	return c.route.handler(c)
}

// write renders a handler's result.
func (s *Server) write(c *call, status int, resp any) {
	h := c.w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", newRequestID())
	var data []byte
	switch v := resp.(type) {
	case noBody, nil:
		c.w.WriteHeader(status)
		return
	case rawBody:
		h.Set("Content-Type", v.contentType)
		data = v.data
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			status = http.StatusInternalServerError
			data = []byte(`{"message":"Server Error","documentation_url":"` + docsURL + `"}`)
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if c.r.Method == http.MethodGet && status == http.StatusOK {
		// Conditional requests, as GitHub: an unchanged resource is a 304
		// that does not count against the rate limit.
		sum := sha256.Sum256(data)
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		if etagMatch(c.r.Header.Get("If-None-Match"), etag) {
			s.mu.Lock()
			s.rateHeaders(h, c.principal, -1)
			s.mu.Unlock()
			h.Del("Content-Type")
			c.w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	c.w.WriteHeader(status)
	c.w.Write(data)
}

func etagMatch(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == want || v == "*" {
			return true
		}
	}
	return false
}

// rateHeaders writes x-ratelimit-* for the principal and counts the call.
func (s *Server) rateHeaders(h http.Header, principal string, cost int) {
	limit := 5000
	if principal == "" {
		limit = 60
		principal = "anonymous"
	}
	w := s.rate[principal]
	n := now()
	if w == nil || n.After(w.reset) {
		w = &rateWindow{reset: n.Add(time.Hour)}
		s.rate[principal] = w
	}
	w.used += cost
	remaining := limit - w.used
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Used", strconv.Itoa(w.used))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(w.reset.Unix(), 10))
	h.Set("X-Ratelimit-Resource", "core")
}

// fault answers with the next queued fault, if any.
func (s *Server) fault(c *call, principal string) (int, any, bool) {
	if len(s.faults) == 0 {
		return 0, nil, false
	}
	f := s.faults[0]
	f.Count--
	if f.Count <= 0 {
		s.faults = s.faults[1:]
	}
	h := c.w.Header()
	switch f.Kind {
	case FaultSecondaryRateLimit:
		s.rateHeaders(h, principal, 1)
		h.Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		return f.Status, secondaryLimit(f.Status), true
	case FaultPrimaryRateLimit:
		s.rateHeaders(h, principal, 1)
		reset := now().Add(f.RetryAfter)
		h.Set("X-Ratelimit-Remaining", "0")
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		return f.Status, &apiError{
			Message:          "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID " + newRequestID() + ".",
			DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
			Status:           strconv.Itoa(f.Status),
		}, true
	default:
		s.rateHeaders(h, principal, 1)
		return f.Status, &apiError{Message: "Server Error", DocumentationURL: docsURL, Status: strconv.Itoa(f.Status)}, true
	}
}

// ---- ids, time, urls ----

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func (s *Server) api(format string, args ...any) string {
	return s.base + "/api/v3" + fmt.Sprintf(format, args...)
}

func (s *Server) web(format string, args ...any) string {
	return s.base + fmt.Sprintf(format, args...)
}

func (s *Server) ensureAccount(login, kind string) *account {
	if a, ok := s.accounts[strings.ToLower(login)]; ok {
		return a
	}
	a := &account{login: login, id: s.id(), kind: kind}
	a.email = fmt.Sprintf("%d+%s@users.noreply.localhost", a.id, login)
	s.accounts[strings.ToLower(login)] = a
	return a
}

func (s *Server) repoByName(owner, name string) *repo {
	return s.repos[strings.ToLower(owner+"/"+name)]
}

func (s *Server) repoPath(owner, name string) string {
	return filepath.Join(s.opts.Dir, owner, name+".git")
}

// paginate applies page/per_page to n items, sets the Link header and
// returns the slice bounds.
func (c *call) paginate(n int) (int, int) {
	return c.paginateWith(n, 30, 100)
}

// paginateWith is paginate for a route whose pages hold defaultPer items
// and at most maxPer (get-commit pages its files 300 at a time).
func (c *call) paginateWith(n, defaultPer, maxPer int) (int, int) {
	perPage, _ := strconv.Atoi(c.query("per_page"))
	if perPage <= 0 {
		perPage = defaultPer
	}
	if perPage > maxPer {
		perPage = maxPer
	}
	page, _ := strconv.Atoi(c.query("page"))
	if page <= 0 {
		page = 1
	}
	lo := (page - 1) * perPage
	if lo > n {
		lo = n
	}
	hi := lo + perPage
	if hi > n {
		hi = n
	}
	last := (n + perPage - 1) / perPage
	if last < 1 {
		last = 1
	}
	var links []string
	link := func(p int, rel string) {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u := c.s.base + c.r.URL.EscapedPath() + "?" + q.Encode()
		links = append(links, fmt.Sprintf("<%s>; rel=%q", u, rel))
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
		link(page-1, "prev")
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	return lo, hi
}

func page[T any](c *call, items []T) []T {
	lo, hi := c.paginate(len(items))
	out := items[lo:hi]
	if out == nil {
		out = []T{}
	}
	return out
}
