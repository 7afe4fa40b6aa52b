package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/webhook"
)

// Roles a serve process can run.
const (
	roleWebhook  = "webhook"
	roleApplier  = "applier"
	rolePromoter = "promoter"
)

var allRoles = []string{roleWebhook, roleApplier, rolePromoter}

type serveFlags struct {
	listen          string
	dataDir         string
	natsListen      string
	natsURL         string
	nats            natsClientFlags
	natsReplicas    int
	natsSync        events.Sync
	natsSyncAlways  bool // deprecated: --nats-sync always
	roles           []string
	webhookSecrets  []string
	appID           int64
	privateKeyFile  string
	githubURL       string
	appSlug         string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	applier         applierFlags
	// redeliveryInterval is how often missed deliveries are redelivered.
	redeliveryInterval time.Duration
	// notifyConfig is the notification file (--notify-config).
	notifyConfig string
	// uiListen is the status page's address (--ui-listen; "" for none).
	uiListen string
	// Storage and memory bounds: the flags as given, then parsed.
	natsMaxBytesFlag    map[string]string
	unverifiedBytesFlag string
	unverifiedWait      time.Duration
	natsMaxBytes        map[string]int64
	unverifiedBytes     int64
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run promobot: receive GitHub webhooks, apply merges, answer /promote",
		Long: `Run promobot.

By default one process runs everything: an embedded NATS server with JetStream
(the durable event bus, stored under --data-dir, also reachable by other
processes on --nats-listen with the nkey credentials it generates in
--data-dir), the webhook receiver, the applier and the promoter. The
embedded server fsyncs its files every 2 minutes (--nats-sync): a crash of
the process loses nothing acknowledged, a power failure of its host the
deliveries stored since the last fsync; --nats-sync always loses none, at a
cost in throughput.

The read-only status page (apps by environment, open promotion pull
requests, recent facts) listens on --ui-listen, loopback by default: put it
behind your own authenticating proxy to show it elsewhere.

HTTP endpoints on --listen:
  POST /webhook   GitHub App webhook (point the App's webhook URL here)
  GET  /healthz   liveness: the process is up
  GET  /readyz    readiness: the event bus answers
  GET  /metrics   Prometheus metrics

Secrets are read from files or the environment, never from flag values:
  webhook secret   --webhook-secret-file or $PROMOBOT_WEBHOOK_SECRET (one per line;
                   several allow rotation without downtime)
  App private key  --private-key-file or $PROMOBOT_PRIVATE_KEY
  App id           --app-id or $PROMOBOT_APP_ID
A process running only the webhook role needs only the webhook secret.

At scale, run an external NATS cluster (--nats-url) and split roles across
deployments with --roles; replicas of a role share its work.`,
		Example: `  # all in one, embedded NATS in ./promobot-data
  promobot serve --webhook-secret-file secret.txt --app-id 12345 --private-key-file app.pem

  # only the webhook receiver, against an external NATS cluster
  promobot serve --roles webhook --nats-url nats://nats:4222 --webhook-secret-file /secrets/webhook`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":8080", "HTTP address for /webhook, /healthz, /readyz and /metrics")
	fl.StringVar(&f.dataDir, "data-dir", "promobot-data", "directory for the embedded NATS server's JetStream storage and its credentials ("+events.CredentialsFile+")")
	fl.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", `address where the embedded NATS server accepts clients with its credentials ("" for in-process only; not loopback needs --nats-tls-cert)`)
	fl.StringVar(&f.natsURL, "nats-url", "", "external NATS server or cluster URL(s), comma-separated; nothing is embedded when set")
	f.nats.register(fl, false)
	fl.StringVar(&f.nats.tlsCert, "nats-tls-cert", "", "TLS certificate file of the embedded NATS listener; with --nats-url, the client certificate presented to NATS")
	fl.StringVar(&f.nats.tlsKey, "nats-tls-key", "", "key file of --nats-tls-cert")
	fl.IntVar(&f.natsReplicas, "nats-replicas", 0, "replicas of promobot's streams and buckets (default 3 on a NATS cluster, else 1)")
	fl.Var(&f.natsSync, "nats-sync", "when the embedded NATS fsyncs what it stored: always (every write: a power failure loses no acknowledged delivery, at a cost in throughput) or an interval such as 10s (a power failure loses what was written since the last fsync)")
	fl.BoolVar(&f.natsSyncAlways, "nats-sync-always", false, "same as --nats-sync always")
	_ = fl.MarkDeprecated("nats-sync-always", "use --nats-sync always")
	fl.StringToStringVar(&f.natsMaxBytesFlag, "nats-max-bytes", nil, "storage limit per stream or bucket, NAME=SIZE (e.g. GITHUB=4Gi,PROMOBOT=1Gi); defaults GITHUB and PROMOBOT 2Gi, promobot-apps 1Gi, promobot-ledger 256Mi, promobot-installations 64Mi, promobot-locks 16Mi, promobot-reports 16Mi")
	fl.StringVar(&f.unverifiedBytesFlag, "webhook-unverified-bytes", "64Mi", "memory all webhook bodies not yet verified by their signature may hold together; beyond it deliveries get 503 (at least 25Mi)")
	fl.DurationVar(&f.unverifiedWait, "webhook-unverified-wait", webhook.DefaultUnverifiedWait, "how long a delivery may wait for room in --webhook-unverified-bytes before it gets 503")
	fl.StringSliceVar(&f.roles, "roles", allRoles, "roles to run in this process: webhook, applier, promoter")
	fl.StringArrayVar(&f.webhookSecrets, "webhook-secret-file", nil, "file holding the webhook secret(s), one per line (repeatable)")
	fl.Int64Var(&f.appID, "app-id", 0, "GitHub App id (or $PROMOBOT_APP_ID)")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "GitHub App private key PEM file (or $PROMOBOT_PRIVATE_KEY)")
	fl.StringVar(&f.githubURL, "github-url", "https://api.github.com/", "GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3/)")
	fl.StringVar(&f.appSlug, "app-slug", "", "the GitHub App's slug (default: read from GitHub); its bot user is <slug>[bot]")
	fl.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 25*time.Second, "how long in-flight work may finish on SIGTERM")
	f.applier.register(fl)
	registerRedeliveryFlags(fl, &f.redeliveryInterval)
	fl.StringVar(&f.uiListen, "ui-listen", defaultUIListen, `address of the read-only status page (what runs where, open promotions, recent facts), never the webhook's listener; "" for none; served by processes running the applier or promoter role`)
	fl.StringVar(&f.notifyConfig, "notify-config", "", "YAML file of notification sinks (CloudEvents HTTP endpoints, Slack webhooks) that facts are forwarded to; needs the applier or promoter role")
	addRenderFlags(cmd)
	addCheckoutFlags(cmd)
	return cmd
}

func (f *serveFlags) validate() error {
	if len(f.roles) == 0 {
		return errors.New("--roles: name at least one of webhook, applier, promoter")
	}
	for _, r := range f.roles {
		if !slices.Contains(allRoles, r) {
			return fmt.Errorf("--roles: unknown role %q (want webhook, applier or promoter)", r)
		}
	}
	if f.appID == 0 {
		if v := os.Getenv(envAppID); v != "" {
			if _, err := fmt.Sscan(v, &f.appID); err != nil {
				return fmt.Errorf("$%s %q: not a number", envAppID, v)
			}
		}
	}
	if f.notifyConfig != "" && !f.has(roleApplier) && !f.has(rolePromoter) {
		return errors.New("--notify-config: notifications run with the applier or promoter role")
	}
	if f.natsSyncAlways {
		f.natsSync = events.Sync{Always: true}
	}
	var err error
	if f.natsMaxBytes, err = parseMaxBytes(f.natsMaxBytesFlag); err != nil {
		return err
	}
	if f.unverifiedBytes, err = parseUnverifiedBytes(f.unverifiedBytesFlag); err != nil {
		return err
	}
	return nil
}

func (f *serveFlags) has(role string) bool { return slices.Contains(f.roles, role) }

// connectBus starts the embedded NATS server or connects to the external
// one, and provisions promobot's streams and buckets.
func connectBus(ctx context.Context, f *serveFlags, log *slog.Logger) (*events.Bus, func(), error) {
	opts := events.DefaultOptions()
	opts.MaxBytes = f.natsMaxBytes
	var nc *nats.Conn
	var cleanup []func()
	closeAll := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	natsOpts := []nats.Option{
		nats.Name("promobot"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("event bus disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("event bus reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	if f.natsURL != "" {
		auth, err := f.nats.options(f.natsURL, f.dataDir, log)
		if err != nil {
			return nil, nil, err
		}
		c, err := nats.Connect(f.natsURL, append(natsOpts, auth...)...)
		if err != nil {
			return nil, nil, fmt.Errorf("nats %s connect: %w", redactURL(f.natsURL), err)
		}
		nc = c
		cleanup = append(cleanup, func() { _ = nc.Drain() })
		// Three replicas survive the loss of a node; a single server (or
		// another promobot's embedded one) can only hold one.
		opts.Replicas = 1
		if nc.ConnectedClusterName() != "" {
			opts.Replicas = 3
		}
		log.Info("connected to external NATS", "url", nc.ConnectedUrlRedacted(), "cluster", nc.ConnectedClusterName())
	} else {
		if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("data dir %s: %w", f.dataDir, err)
		}
		srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: f.dataDir, Listen: f.natsListen, Sync: f.natsSync,
			TLSCertFile: f.nats.tlsCert, TLSKeyFile: f.nats.tlsKey})
		if errors.Is(err, events.ErrInsecureListen) {
			return nil, nil, fmt.Errorf("--nats-listen: %w: set --nats-tls-cert and --nats-tls-key, or listen on 127.0.0.1", err)
		}
		if err != nil {
			return nil, nil, err
		}
		cleanup = append(cleanup, srv.Shutdown)
		c, err := srv.Connect(natsOpts...)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nc = c
		cleanup = append(cleanup, func() { _ = nc.Drain(); waitClosed(nc, 5*time.Second) })
		log.Info("embedded NATS started", "data_dir", f.dataDir, "client_url", srv.ClientURL(), "credentials_file", srv.CredentialsFile(), "sync", srv.Sync().String())
	}
	if f.natsReplicas > 0 {
		opts.Replicas = f.natsReplicas
	}
	bus, err := events.New(ctx, nc, opts)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return bus, closeAll, nil
}

func waitClosed(nc *nats.Conn, d time.Duration) {
	deadline := time.Now().Add(d)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// redactURL drops credentials from a NATS URL list before it is shown.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "[redacted]" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

func runServe(ctx context.Context, f *serveFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	secrets, app, err := serveCredentials(f, log)
	if err != nil {
		return err
	}
	bus, closeBus, err := connectBus(ctx, f, log)
	if err != nil {
		return err
	}
	defer closeBus()
	mux, err := serveMux(f, bus, secrets, log)
	if err != nil {
		return err
	}

	// Roles run until ctx is cancelled, then get shutdownTimeout to finish.
	roles := newRoleGroup(ctx, len(f.roles)+2)
	defer roles.cancel()
	if err := startRoles(ctx, f, bus, app, roles, log); err != nil {
		return err
	}
	if f.wantsStatusPage() {
		if err := startStatusPage(ctx, f, bus, roles, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.listen, err)
	}
	// The sweep redelivers what GitHub failed to deliver while promobot was
	// away; it starts once this process's own receiver listens.
	if app != nil {
		roles.start("redelivery", startRedelivery(ctx, app, bus, f.redeliveryInterval, log))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			roles.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	log.Info("promobot serving", "listen", ln.Addr().String(), "roles", strings.Join(f.roles, ","), "version", version)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-roles.errc:
		log.Error("stopping after a fatal error", "error", runErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx) // stop taking deliveries first
	if !roles.stop(shutdownCtx) {
		log.Warn("in-flight work did not finish in time; it will be redelivered")
	}
	return runErr
}

// serveCredentials reads every secret the roles need before anything
// starts, so a misconfiguration fails fast with a clear message: the
// webhook secrets for the webhook role, the GitHub App for the others.
func serveCredentials(f *serveFlags, log *slog.Logger) ([][]byte, *githubApp, error) {
	var secrets [][]byte
	var err error
	if f.has(roleWebhook) {
		if secrets, err = loadWebhookSecrets(f.webhookSecrets); err != nil {
			return nil, nil, err
		}
	}
	if !f.has(roleApplier) && !f.has(rolePromoter) {
		return secrets, nil, nil
	}
	key, err := loadPrivateKey(f.privateKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("roles %s need GitHub App credentials: %w", strings.Join(f.roles, ","), err)
	}
	if f.appID == 0 {
		return nil, nil, fmt.Errorf("roles %s need GitHub App credentials: set --app-id or $%s", strings.Join(f.roles, ","), envAppID)
	}
	creds := &appCredentials{id: f.appID, key: key, baseURL: f.githubURL, slug: f.appSlug}
	// One App per process: the roles share its installation tokens and
	// its per-installation queue of writes, as GitHub asks.
	app, err := newGitHubApp(creds, log)
	if err != nil {
		return nil, nil, err
	}
	return secrets, app, nil
}

// webhookPath is where serve answers GitHub's webhooks; doctor checks the
// App's webhook URL ends in it.
const webhookPath = "/webhook"

// serveMux is serve's HTTP API: health, readiness (the bus answers),
// metrics and, for the webhook role, the receiver.
func serveMux(f *serveFlags, bus *events.Bus, secrets [][]byte, log *slog.Logger) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := bus.Ping(r.Context(), 2*time.Second); err != nil {
			http.Error(w, "event bus not answering", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", metricsHandler(bus))
	if f.has(roleWebhook) {
		rc, err := webhook.New(webhook.Options{Secrets: secrets, Logger: log, UnverifiedBytes: f.unverifiedBytes, UnverifiedWait: f.unverifiedWait}, bus)
		if err != nil {
			return nil, err
		}
		mux.Handle(webhookPath, rc)
	}
	return mux, nil
}

// startRoles starts the applier and the promoter when this process runs
// them.
func startRoles(ctx context.Context, f *serveFlags, bus *events.Bus, app *githubApp, roles *roleGroup, log *slog.Logger) error {
	if f.has(roleApplier) {
		run, err := newApplierRole(ctx, bus, app, &f.applier, log)
		if err != nil {
			return err
		}
		roles.start(roleApplier, run)
	}
	if f.has(rolePromoter) {
		run, err := newPromoterRole(ctx, bus, app, log)
		if err != nil {
			return err
		}
		roles.start(rolePromoter, run)
	}
	if f.notifyConfig != "" {
		run, err := newNotifyRole(f.notifyConfig, bus, log)
		if err != nil {
			return err
		}
		roles.start("notify", run)
	}
	return nil
}

// roleGroup runs serve's long-lived parts on a context of their own, which
// outlives serve's so that they finish in-flight work at shutdown.
type roleGroup struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// errc receives the first fatal errors.
	errc chan error
}

func newRoleGroup(ctx context.Context, size int) *roleGroup {
	g := &roleGroup{errc: make(chan error, size)}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return g
}

// start runs run until the group stops; an error other than the group's
// end is fatal to serve.
func (g *roleGroup) start(name string, run func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := run(g.ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// stop ends the group and waits for its parts, or for ctx; it reports
// whether they all finished.
func (g *roleGroup) stop(ctx context.Context) bool {
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
