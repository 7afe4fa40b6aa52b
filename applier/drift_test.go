package applier

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// applierEnv is one bus, the local GitHub API serving the fixture
// repository my-org/cluster-config with the App installed, and a real
// kube-apiserver: what appliers sharing the bus work against.
type applierEnv struct {
	bus    *events.Bus
	srv    *githubapi.Server
	app    *github.App
	inst   int64
	home   *kube.Cluster
	repo   Repo
	logger *slog.Logger
}

func startApplierEnv(t *testing.T, ctx context.Context, srvOpts githubapi.Options, appOpts github.Options) *applierEnv {
	t.Helper()
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
	env := &applierEnv{repo: Repo{Owner: "my-org", Name: "cluster-config"}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if env.bus, err = events.New(ctx, nc, events.Options{}); err != nil {
		t.Fatal(err)
	}
	srvOpts.Dir, srvOpts.AppSlug = filepath.Join(dir, "github"), "promobot"
	if env.srv, err = githubapi.New(srvOpts); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.srv.Close() })
	fixture := filepath.Join(dir, "fixture")
	if err := os.CopyFS(fixture, os.DirFS(filepath.Join("..", "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	owner, name := env.repo.Owner, env.repo.Name
	apps, _ := filepath.Glob(filepath.Join(fixture, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+owner+"/"+name+".git"), []byte(env.srv.WebURL()+"/"+owner+"/"+name+".git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.srv.CreateRepo(ctx, owner, name, fixture); err != nil {
		t.Fatal(err)
	}
	if env.inst, err = env.srv.Install(ctx, owner, name); err != nil {
		t.Fatal(err)
	}
	appOpts.AppID, appOpts.PrivateKey, appOpts.BaseURL, appOpts.Logger = env.srv.AppID(), env.srv.AppPrivateKeyPEM(), env.srv.URL(), env.logger
	if env.app, err = github.NewApp(appOpts); err != nil {
		t.Fatal(err)
	}
	env.home = kube.StartForTest(t)
	return env
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

// TestDriftTickRunsOnOneReplica: two appliers share one bus and tick the
// drift check at the same moment; one of them checks, the other does
// nothing, so a hand edit is reported once (one promobot.drift.found
// fact), not once per replica.
func TestDriftTickRunsOnOneReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, githubapi.Options{}, github.Options{})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	opts := Options{HealthTimeout: 30 * time.Second, DriftInterval: time.Hour}
	a, b := env.newApplier(t, ctx, opts), env.newApplier(t, ctx, opts)

	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.registry.AddRepo(ctx, state.RepoInstallation{Owner: env.repo.Owner, Repo: env.repo.Name, InstallationID: env.inst}); err != nil {
		t.Fatal(err)
	}
	// A hand edit of guestbook (selfHeal off: reported, not reverted).
	if _, err := env.home.Client.AppsV1().Deployments("guestbook").Patch(ctx, "guestbook", types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	ran := make([]bool, 2)
	for i, r := range []*Applier{a, b} {
		wg.Go(func() { ran[i] = r.driftTick(ctx) })
	}
	wg.Wait()
	if ran[0] == ran[1] {
		t.Errorf("drift tick ran on replica a: %v, b: %v; want exactly one", ran[0], ran[1])
	}
	var apps []string
	for _, f := range kit.Facts(t, env.bus.JetStream(), events.FactPrefix+".drift.found.>") {
		var rep DriftReport
		f.Decode(t, &rep)
		apps = append(apps, rep.App)
	}
	if diff := cmp.Diff([]string{"guestbook-staging"}, apps); diff != "" {
		t.Errorf("drift found (-want +got):\n%s", diff)
	}
}
