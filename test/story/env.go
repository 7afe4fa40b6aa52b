// Package story plays the seed document's story against a running promobot:
// the App is installed, a developer changes staging, the merge deploys it, a
// maintainer promotes it, and merging the promotion deploys production. Each
// step checks its outcome and prints what a user would see. `make demo` and
// the end-to-end story test both run it.
package story

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kube"
)

// The fixture repository and its people.
const (
	Owner      = "my-org"
	Repo       = "cluster-config"
	Developer  = "dev"
	Maintainer = "maintainer"
	Reader     = "reader"
)

// Options say where things are and how to run them.
type Options struct {
	// Promobot is the promobot binary.
	Promobot string
	// Fixture is the GitOps repository to seed (test/fixtures/gitops).
	Fixture string
	// Dir holds everything the environment creates; it is removed by Close
	// unless Keep is set.
	Dir  string
	Keep bool
	// Log receives promobot's own log lines (default: Dir/promobot.log).
	Log io.Writer
	// Progress receives setup progress lines (default: discarded).
	Progress io.Writer
	// Screenshot, when set, is where the story writes a PNG of promobot's
	// status page once production runs the promotion (it needs Chromium,
	// see test/browser).
	Screenshot string
}

// Env is a running local GitHub, kube-apiserver and promobot serve.
type Env struct {
	opts    Options
	GitHub  *githubapi.Server
	Cluster *kube.Cluster
	// URL is promobot's HTTP base; NATSURL its embedded NATS; UIURL its
	// status page.
	URL, NATSURL, UIURL string
	// KeyFile is the App's private key, for promobot commands.
	KeyFile string
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
	cancel  context.CancelFunc
}

// Start brings the environment up: the local GitHub seeded with the fixture
// (its Applications pointed at the local repository URL) and three users,
// a kube-apiserver with rollouts simulated, and promobot serve with its
// embedded NATS receiving the local GitHub's webhooks. The App is not
// installed yet: that is the story's first step.
func Start(ctx context.Context, opts Options) (*Env, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	e := &Env{opts: opts}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	secret := randomHex(20)
	step := func(format string, args ...any) { fmt.Fprintf(opts.Progress, "   "+format+"\n", args...) }

	step("starting the local GitHub API")
	gh, err := githubapi.New(githubapi.Options{Dir: filepath.Join(opts.Dir, "github"), WebhookSecret: secret, AppSlug: "promobot"})
	if err != nil {
		return nil, err
	}
	if err := gh.Start(); err != nil {
		return nil, err
	}
	e.GitHub = gh
	fixture, err := seedFixture(opts.Fixture, filepath.Join(opts.Dir, "fixture"), gh.WebURL())
	if err != nil {
		return nil, err
	}
	if err := gh.CreateRepo(ctx, Owner, Repo, fixture); err != nil {
		return nil, err
	}
	for login, p := range map[string]githubapi.Permission{Developer: githubapi.PermissionWrite, Maintainer: githubapi.PermissionMaintain, Reader: githubapi.PermissionRead} {
		if err := gh.AddCollaborator(Owner, Repo, login, p); err != nil {
			return nil, err
		}
	}

	step("starting kube-apiserver and etcd")
	cl, err := kube.Start(ctx, kube.Options{})
	if err != nil {
		return nil, err
	}
	e.Cluster = cl
	rctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go kube.RollOut(rctx, cl.Client, 100*time.Millisecond)

	step("starting promobot serve (embedded NATS)")
	e.KeyFile = filepath.Join(opts.Dir, "app.pem")
	secretFile := filepath.Join(opts.Dir, "webhook-secret")
	if err := os.WriteFile(e.KeyFile, gh.AppPrivateKeyPEM(), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	uiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e.URL, e.NATSURL, e.UIURL = "http://"+httpAddr, "nats://"+natsAddr, "http://"+uiAddr+"/"
	log := opts.Log
	if log == nil {
		f, err := os.Create(filepath.Join(opts.Dir, "promobot.log"))
		if err != nil {
			return nil, err
		}
		e.logFile, log = f, f
	}
	cmd := exec.Command(opts.Promobot, "serve",
		"--listen", httpAddr, "--nats-listen", natsAddr, "--ui-listen", uiAddr, "--data-dir", filepath.Join(opts.Dir, "data"),
		"--github-url", gh.URL(), "--app-id", fmt.Sprint(gh.AppID()), "--private-key-file", e.KeyFile,
		"--webhook-secret-file", secretFile, "--kubeconfig", cl.Kubeconfig, "--health-timeout", "30s",
		"--log-format", "text")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start promobot: %w", err)
	}
	e.cmd = cmd
	e.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(e.exited) }()
	if err := e.waitReady(30 * time.Second); err != nil {
		return nil, err
	}
	gh.SetWebhookURL(e.URL + "/webhook")
	ok = true
	return e, nil
}

func (e *Env) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(e.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-e.exited:
			return errors.New("promobot serve exited; see its log")
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("promobot serve not ready in time; see its log")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops promobot (SIGTERM, then SIGKILL after 30 s), the cluster and
// the local GitHub, and removes Dir unless Keep is set.
func (e *Env) Close() {
	if e.cmd != nil && e.cmd.Process != nil {
		select {
		case <-e.exited:
		default:
			_ = e.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.exited:
			case <-time.After(30 * time.Second):
				_ = e.cmd.Process.Kill()
				<-e.exited
			}
		}
	}
	if e.cancel != nil {
		e.cancel()
	}
	if e.Cluster != nil {
		_ = e.Cluster.Stop()
	}
	if e.GitHub != nil {
		_ = e.GitHub.Close()
	}
	if e.logFile != nil {
		_ = e.logFile.Close()
	}
	if !e.opts.Keep && e.opts.Dir != "" {
		_ = os.RemoveAll(e.opts.Dir)
	}
}

// seedFixture copies the fixture to dst with its Applications pointing at
// the repository's local URL, as a real repository's point at themselves.
func seedFixture(src, dst, webURL string) (string, error) {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return "", fmt.Errorf("copy fixture: %w", err)
	}
	apps, _ := filepath.Glob(filepath.Join(dst, "apps", "*.yaml"))
	for _, f := range apps {
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+Owner+"/"+Repo+".git"), []byte(webURL+"/"+Owner+"/"+Repo+".git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
