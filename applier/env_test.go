package applier

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// appInstallations hands out the App's installation clients.
type appInstallations struct{ app *github.App }

func (i appInstallations) GitHub(ctx context.Context, id int64) (GitHub, error) {
	c, err := i.app.Installation(ctx, id)
	if err != nil {
		return GitHub{}, err
	}
	return GitHub{RepoReader: c, Reporter: c}, nil
}

// envOptions shape an applierEnv.
type envOptions struct {
	// Throttle is the local GitHub's throttle (nil: none).
	Throttle *githubapi.Throttle
	// Clock is GitHub's time for promobot's client (nil: the real time);
	// give the throttle the same.
	Clock github.Clock
	// Repo is the repository served (default my-org/cluster-config), and
	// Write writes its files into dir, given its clone URL (default: the
	// gitops fixture, its Applications pointing at that URL).
	Repo  Repo
	Write func(t *testing.T, dir, repoURL string)
}

// applierEnv is one bus, the local GitHub API serving one repository with
// the App installed, and a real kube-apiserver: what appliers sharing the
// bus work against.
type applierEnv struct {
	bus    *events.Bus
	srv    *githubapi.Server
	app    *github.App
	inst   int64
	home   *kube.Cluster
	repo   Repo
	logger *slog.Logger
}

func startApplierEnv(t *testing.T, ctx context.Context, opts envOptions) *applierEnv {
	t.Helper()
	if opts.Repo == (Repo{}) {
		opts.Repo = Repo{Owner: "my-org", Name: "cluster-config"}
	}
	if opts.Write == nil {
		opts.Write = writeFixture
	}
	dir := t.TempDir()
	nats, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect()
	if err != nil {
		nats.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); nats.Shutdown() })
	env := &applierEnv{repo: opts.Repo, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if env.bus, err = events.New(ctx, nc, events.Options{}); err != nil {
		t.Fatal(err)
	}
	if env.srv, err = githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), AppSlug: "promobot", Throttle: opts.Throttle}); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.srv.Close() })
	owner, name := env.repo.Owner, env.repo.Name
	src := filepath.Join(dir, "src")
	opts.Write(t, src, env.srv.WebURL()+"/"+owner+"/"+name+".git")
	if err := env.srv.CreateRepo(ctx, owner, name, src); err != nil {
		t.Fatal(err)
	}
	if env.inst, err = env.srv.Install(ctx, owner, name); err != nil {
		t.Fatal(err)
	}
	if env.app, err = github.NewApp(github.Options{AppID: env.srv.AppID(), PrivateKey: env.srv.AppPrivateKeyPEM(), BaseURL: env.srv.URL(),
		Clock: opts.Clock, Logger: env.logger}); err != nil {
		t.Fatal(err)
	}
	env.home = kube.StartForTest(t)
	return env
}

// writeFixture writes the gitops fixture (my-org/cluster-config) into dir,
// its Applications pointing at repoURL.
func writeFixture(t *testing.T, dir, repoURL string) {
	t.Helper()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	apps, _ := filepath.Glob(filepath.Join(dir, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/my-org/cluster-config.git"), []byte(repoURL))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newApplier is one replica of the applier on env's bus.
func (env *applierEnv) newApplier(t *testing.T, ctx context.Context, opts Options) *Applier {
	t.Helper()
	opts.Logger = env.logger
	a, err := New(ctx, opts, env.bus, appInstallations{env.app}, NewClusters(env.home.Config, nil))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runReports runs a's report queue until the test ends.
func runReports(t *testing.T, ctx context.Context, a *Applier) {
	done := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	go func() { defer close(done); a.runReports(wctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// drainReports waits until a's report queue is empty, moving GitHub's
// clock by step whenever the queue waits on it, at most max times, and
// returns how many times it moved the clock.
func drainReports(t *testing.T, ctx context.Context, a *Applier, clock *githubapi.Clock, step time.Duration, max int) int {
	t.Helper()
	moved := 0
	for {
		var n int
		kit.EventuallyTrue(t, time.Minute, "the report queue empty or waiting on GitHub's clock", func() bool {
			n, _ = a.QueuedReports(ctx)
			return n == 0 || clock.Sleeping() > 0
		})
		if n == 0 {
			return moved
		}
		if moved++; moved > max {
			t.Fatalf("reports still queued after moving GitHub's clock %d times by %v: %d", max, step, n)
		}
		clock.Advance(step)
	}
}
