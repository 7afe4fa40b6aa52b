package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// The fixture repository every story starts from.
const (
	owner    = "my-org"
	repoName = "cluster-config"
)

var (
	// promobotBin is the promobot binary built once for the package.
	promobotBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "promobot-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	promobotBin = filepath.Join(dir, "promobot")
	if err := kit.BuildPromobot(promobotBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// stack is one running promobot with its own local GitHub, event bus and
// home cluster (the cluster the in-cluster address means). Each test gets a
// fresh cluster: without controllers a deleted namespace never goes away,
// so clusters cannot be shared between stories.
type stack struct {
	t       *testing.T
	home    *kube.Cluster
	gh      *githubapi.Server
	url     string // promobot's HTTP base
	natsURL string
	nc      *nats.Conn
	js      jetstream.JetStream
	dir     string
	cmd     *exec.Cmd
	logs    *kit.Buffer
	args    []string
	secret  string
	stopped chan struct{}
}

type stackOptions struct {
	// fixture is the repository content (default test/fixtures/gitops).
	fixture string
	// files overwrite or add fixture files before the repository is created.
	files map[string]string
	// args are extra promobot serve flags.
	args []string
	// noInstall leaves the App uninstalled.
	noInstall bool
	// fixtureURL is the URL the fixture's Applications name the repository
	// by (default https://github.com/<owner>/<repoName>.git), rewritten to
	// the local GitHub's in every YAML file.
	fixtureURL string
}

func fixtureDir(t *testing.T) string {
	abs, err := filepath.Abs(filepath.Join("..", "fixtures", "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// startStack starts the local GitHub with the fixture repository, then
// promobot serve, then installs the App (which syncs every app).
func startStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	home := startCluster(t)
	secret := randomHex(16)
	// The App subscribes to the events promobot's manifest and README ask for.
	gh, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookSecret: secret, AppSlug: "promobot",
		Events: []string{"push", "pull_request", "issue_comment", "status", "check_run"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })

	fixture := opts.fixture
	if fixture == "" {
		fixture = fixtureDir(t)
	}
	// The repository's Applications name it by its URL, which on the local
	// GitHub is the local web URL.
	cp := filepath.Join(dir, "fixture")
	if err := os.CopyFS(cp, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, cp, opts.files)
	fixtureURL := cmp.Or(opts.fixtureURL, "https://github.com/"+owner+"/"+repoName+".git")
	err = filepath.WalkDir(cp, func(f string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || (filepath.Ext(f) != ".yaml" && filepath.Ext(f) != ".yml") {
			return err
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		return os.WriteFile(f, bytes.ReplaceAll(raw, []byte(fixtureURL), []byte(gh.WebURL()+"/"+owner+"/"+repoName+".git")), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	fixture = cp
	if err := gh.CreateRepo(ctx, owner, repoName, fixture); err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(dir, "app.pem")
	secretFile := filepath.Join(dir, "webhook-secret")
	if err := os.WriteFile(keyFile, gh.AppPrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, home: home, gh: gh, dir: dir, secret: secret, logs: &kit.Buffer{}}
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	s.url, s.natsURL = "http://"+httpAddr, "nats://"+natsAddr
	s.args = append([]string{"serve",
		"--listen", httpAddr, "--nats-listen", natsAddr, "--data-dir", s.dataDir(),
		"--github-url", gh.URL(), "--app-id", fmt.Sprint(gh.AppID()), "--private-key-file", keyFile,
		"--webhook-secret-file", secretFile, "--kubeconfig", home.Kubeconfig,
		"--health-timeout", "20s", "--log-format", "text", "--log-level", "debug",
	}, opts.args...)
	s.start()
	gh.SetWebhookURL(s.url + "/webhook")

	// The embedded bus admits only clients with the credentials serve
	// generated in its data directory.
	nc := eventstest.Connect(t, s.natsURL, events.CredentialsPath(s.dataDir()), nats.MaxReconnects(-1))
	s.nc = nc
	s.js, _ = jetstream.New(nc)

	if !opts.noInstall {
		if _, err := gh.Install(ctx, owner, repoName); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// dataDir is serve's --data-dir: the embedded bus and its credentials.
func (s *stack) dataDir() string { return filepath.Join(s.dir, "data") }

// startCluster starts a cluster for the test with workload rollouts
// simulated, as a healthy cluster would roll them out.
func startCluster(t *testing.T) *kube.Cluster {
	t.Helper()
	c := kube.StartForTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go kube.RollOut(ctx, c.Client, 100*time.Millisecond)
	return c
}

// start runs promobot serve and waits until it is ready.
func (s *stack) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(promobotBin, s.args...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.stopped = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.stopped) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("promobot logs:\n%s", s.logs.String())
		}
	})
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.stopped:
			t.Fatalf("promobot exited:\n%s", s.logs.String())
		case <-deadline.C:
			t.Fatalf("promobot not ready:\n%s", s.logs.String())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for promobot to exit.
func (s *stack) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.stopped:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.stopped:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.stopped
	}
}

// facts returns the data of every promobot fact on subjects matching filter.
func (s *stack) facts(filter string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	for _, f := range kit.Facts(s.t, s.js, filter) {
		var m map[string]any
		_ = json.Unmarshal(f.Data, &m)
		m["_subject"] = f.NATSSubject
		m["_type"] = f.Type
		out = append(out, m)
	}
	return out
}

// waitSettled waits until the durable consumer has handled every delivery
// stored so far: none pending, none delivered and not yet acknowledged.
// It is how a test shows that a delivery led to nothing more, without a
// pause that passes whenever it is too short.
func (s *stack) waitSettled(consumer string) {
	s.t.Helper()
	kit.Eventually(s.t, time.Minute, "consumer "+consumer+" to handle every delivery", func() (bool, string) {
		// GitHub's deliveries are sent late and out of order: every one
		// sent, then every one handled, and none sent since.
		if err := s.gh.WaitDeliveries(context.Background()); err != nil {
			return false, err.Error()
		}
		ok, left, err := kit.ConsumerCaughtUp(context.Background(), s.js, events.StreamGitHub, consumer)
		if err != nil {
			return false, err.Error()
		}
		return ok && s.gh.DeliveriesIdle(), left
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
