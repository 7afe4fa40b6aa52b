// Package readme_test holds promobot's README to what it says: every command
// of its ```sh blocks is run as written by these tests (or is exempted here,
// with the reason), and adding a command without a test fails `make test`.
//
// The commands run through `bash -c` from the repository root, or from a
// directory standing in for it where they write, with only their
// surroundings prepared as a new user would have them: the files they name,
// a $HOME holding ~/.kube/config for a real kube-apiserver, the GitHub App
// installed on a repository. The README's commands name no --github-url, so
// they talk to api.github.com; here that name reaches the local GitHub API
// (see githubDotCom), so the commands need no change to run offline.
//
// The README's other promises about the binary are checked too: every
// `promobot <subcommand>` and --flag it mentions exists in the binary's
// --help, the .promobot.yaml example parses, and the metrics it lists are
// served.
package readme_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// The repository the README's user installs the App on, and the App id its
// serve command names.
const (
	owner    = "my-org"
	repoName = "cluster-config"
	appID    = 123456
)

// The addresses the README's serve command listens on by default.
const (
	httpAddr = ":8080"
	natsAddr = "127.0.0.1:4222"
	baseURL  = "http://127.0.0.1:8080"
)

var (
	// repoRoot is the promobot checkout; the README's commands run here.
	repoRoot string
	// toolsDir holds kustomize and the kube binaries ($PROMOBOT_BIN_DIR,
	// default <repo>/bin).
	toolsDir string
	// readme is the parsed README.md.
	readme doc
)

func TestMain(m *testing.M) {
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	toolsDir = os.Getenv(kube.EnvBinDir)
	if toolsDir == "" {
		toolsDir = filepath.Join(repoRoot, "bin")
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	readme = parseMarkdown(string(raw))
	// The README's serve command takes fixed ports and make build writes
	// bin/promobot: two runs of this package on one machine (two checkouts
	// under test at once) take turns instead of failing each other.
	unlock, err := lockMachine(filepath.Join(os.TempDir(), "promobot-readme-test.lock"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	unlock()
	os.Exit(code)
}

// lockMachine takes an exclusive lock on file, waiting for it.
func lockMachine(file string) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// scenario runs some of the README's commands, as written, in order, and
// checks what a user would see.
type scenario struct {
	name string
	// commands are README commands, exactly as the README has them.
	commands []string
	run      func(t *testing.T, s *session, commands []string)
}

// The README's commands, each run by one scenario. TestREADMECommandsCovered
// fails when the README has a command that is neither here nor exempted, or
// when a command here left the README.
var (
	cmdBuild     = "make build"
	cmdDemo      = "make demo"
	cmdServe     = "bin/promobot serve --webhook-secret-file webhook-secret.txt --app-id 123456 --private-key-file app.private-key.pem --kubeconfig ~/.kube/config"
	cmdTailAll   = "bin/promobot events tail --all --limit 5"
	cmdTailApply = "bin/promobot events tail --subject 'promobot.apply.>' --json --all --limit 1"
	cmdRenderApp = "bin/promobot render --repo test/fixtures/gitops --app my-api-service-staging"
	cmdRenderDir = "bin/promobot render --repo test/fixtures/gitops kustomize/overlays/production"
	cmdDiff      = "bin/promobot diff --repo ~/cluster-config --base main"
	cmdPromote   = "bin/promobot promote --repo ~/cluster-config --from staging --to production"
)

// scenarios run in this order: the binary first, then the App installed
// before promobot runs (as the README orders it), the demo, promobot itself,
// and the local previews.
var scenarios = []scenario{
	{name: "build", commands: []string{cmdBuild}, run: runBuild},
	{name: "install the App", run: runInstall},
	{name: "demo", commands: []string{cmdDemo}, run: runDemo},
	{name: "serve", commands: []string{cmdServe, cmdTailAll, cmdTailApply}, run: runServe},
	{name: "render", commands: []string{cmdRenderApp, cmdRenderDir}, run: runRender},
	{name: "preview", commands: []string{cmdDiff, cmdPromote}, run: runPreview},
}

// exempt are README commands no test here runs, and why.
var exempt = map[string]string{
	"make test": "it runs this test (go test ./...), so it cannot run here; CI runs it on every change (.ci/run)",
}

func TestREADMECommandsCovered(t *testing.T) {
	covered := map[string]string{}
	for _, s := range scenarios {
		for _, c := range s.commands {
			covered[c] = "scenario " + s.name
		}
	}
	for c, why := range exempt {
		covered[c] = "exempt: " + why
	}
	var missing []string
	for _, c := range readme.commands {
		if _, ok := covered[c]; !ok {
			missing = append(missing, c)
		}
	}
	var stale []string
	for c := range covered {
		if !slices.Contains(readme.commands, c) {
			stale = append(stale, c)
		}
	}
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("README commands no test runs (add each to a scenario in readme_test.go):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("commands the tests run that the README no longer has (update the scenarios):\n  %s", strings.Join(stale, "\n  "))
	}
}

// session is what the scenarios share: the local GitHub the README's user
// installed the App on, and when.
type session struct {
	// cleanup registers a function to run when TestREADME ends: what a
	// scenario sets up for later ones must outlive its subtest.
	cleanup   func(func())
	gh        *githubapi.Server
	dotcom    *githubDotCom
	secret    string
	installed time.Time
}

// TestREADME runs the README's commands, scenario by scenario.
func TestREADME(t *testing.T) {
	s := &session{cleanup: t.Cleanup}
	for _, sc := range scenarios {
		for _, c := range sc.commands {
			if !slices.Contains(readme.commands, c) {
				t.Fatalf("scenario %s runs %q, which the README does not have (see TestREADMECommandsCovered)", sc.name, c)
			}
		}
		if !t.Run(sc.name, func(t *testing.T) { sc.run(t, s, sc.commands) }) {
			t.Fatalf("scenario %s failed; the later ones depend on it", sc.name)
		}
	}
}

var buildOnce struct {
	sync.Once
	out string
	err error
}

// build runs the README's `make build` once for the package.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		stdout, stderr, err := runCommand(ctx, repoRoot, makeEnv(), cmdBuild)
		buildOnce.out, buildOnce.err = stdout+stderr, err
	})
	if buildOnce.err != nil {
		t.Fatalf("%s: %v\n%s", cmdBuild, buildOnce.err, buildOnce.out)
	}
}

// runBuild: `make build` leaves a bin/promobot that runs.
func runBuild(t *testing.T, _ *session, _ []string) {
	build(t)
	out, _, err := runCommand(context.Background(), repoRoot, userEnv(t.TempDir()), "bin/promobot --version")
	if err != nil {
		t.Fatalf("bin/promobot --version after make build: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "promobot version ") {
		t.Errorf("bin/promobot --version printed %q, want \"promobot version …\"", out)
	}
}

// runInstall does what the README's "Install the GitHub App" section asks
// before promobot runs: the App (id 123456, with a webhook secret) is
// installed on the repository. Nothing listens yet, so GitHub's
// installation delivery fails, as it does for a user who installs first;
// the serve scenario checks that promobot recovers it.
func runInstall(t *testing.T, s *session, _ []string) {
	checkPortsFree(t)
	dir, err := os.MkdirTemp("", "promobot-readme-")
	if err != nil {
		t.Fatal(err)
	}
	s.cleanup(func() { os.RemoveAll(dir) })
	s.secret = randomHex(32)
	gh, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookSecret: s.secret, AppID: appID,
		WebhookURL: baseURL + "/webhook"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	s.cleanup(func() { _ = gh.Close() })
	fixture := filepath.Join(dir, "fixture")
	seedFixture(t, fixture, gh.WebURL())
	ctx := context.Background()
	if err := gh.CreateRepo(ctx, owner, repoName, fixture); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Install(ctx, owner, repoName); err != nil {
		t.Fatal(err)
	}
	if err := gh.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	ds := gh.Deliveries()
	if len(ds) != 1 || ds[0].Event != "installation" || ds[0].Status == "OK" {
		t.Fatalf("deliveries after installing with nothing listening: %+v, want one failed installation delivery", ds)
	}
	s.gh, s.installed = gh, ds[0].DeliveredAt
	s.dotcom = startGitHubDotCom(t, s.cleanup, gh, dir)
}

// runDemo: `make demo`, as written, plays the story, says every step held
// and keeps running until Ctrl-C, then stops everything it started; with the
// README's DEMO_ARGS=--once it plays the story and exits 0.
func runDemo(t *testing.T, _ *session, cmds []string) {
	demo := startBackground(t, repoRoot, makeEnv(), cmds[0])
	const idle = "Press Ctrl-C to stop everything."
	if !demo.waitOutput(idle, 20*time.Minute) {
		t.Fatalf("%s did not reach %q:\n%s", cmds[0], idle, demo.logs())
	}
	out := demo.logs()
	if !strings.Contains(out, "\nEvery step held.\n") {
		t.Errorf("%s did not say \"Every step held.\":\n%s", cmds[0], out)
	}
	// What it printed to explore is there until Ctrl-C, and gone after.
	addrs := demoAddresses(t, out)
	for _, a := range addrs {
		if !listening(a) {
			t.Errorf("%s: nothing answers on %s, which it printed to explore", cmds[0], a)
		}
	}
	// make reports the interrupt with a non-zero status, as in a terminal;
	// what matters is that everything stops.
	if err := demo.stop(); errors.Is(err, errStillRunning) {
		t.Errorf("%s: %v", cmds[0], err)
	}
	if out := demo.logs(); !strings.Contains(out, "stopping promobot, the cluster and the local GitHub") {
		t.Errorf("%s said nothing on Ctrl-C:\n%s", cmds[0], out)
	}
	for _, a := range addrs {
		if listening(a) {
			t.Errorf("%s left something listening on %s after Ctrl-C", cmds[0], a)
		}
	}

	const args = " DEMO_ARGS=--once"
	if !strings.Contains(readme.prose, "`"+cmds[0]+args+"`") {
		t.Fatalf("the README does not document `%s%s`, which this test runs", cmds[0], args)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out, stderr, err := runCommand(ctx, repoRoot, makeEnv(), cmds[0]+args)
	if err != nil {
		t.Fatalf("%s%s: %v\n%s%s", cmds[0], args, err, out, stderr)
	}
	if !strings.Contains(out, "\nEvery step held.\n") {
		t.Errorf("%s%s exited 0 without \"Every step held.\":\n%s", cmds[0], args, out)
	}
}

var (
	demoNATSRE       = regexp.MustCompile(`--nats-url nats://(\S+)`)
	demoGitHubRE     = regexp.MustCompile(`the local GitHub:\s+http://([^/\s]+)/`)
	demoKubeconfigRE = regexp.MustCompile(`--kubeconfig (\S+) get deployments`)
	kubeServerRE     = regexp.MustCompile(`server: https://(\S+)`)
)

// demoAddresses returns the addresses of the event bus, the local GitHub
// and the kube-apiserver the demo printed.
func demoAddresses(t *testing.T, out string) []string {
	t.Helper()
	var addrs []string
	for _, re := range []*regexp.Regexp{demoNATSRE, demoGitHubRE} {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo printed no %s:\n%s", re, out)
		}
		addrs = append(addrs, m[1])
	}
	m := demoKubeconfigRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo printed no kubeconfig:\n%s", out)
	}
	raw, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatalf("the demo's kubeconfig: %v", err)
	}
	sm := kubeServerRE.FindSubmatch(raw)
	if sm == nil {
		t.Fatalf("the demo's kubeconfig names no server:\n%s", raw)
	}
	return append(addrs, string(sm[1]))
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// runServe runs the README's serve command as written, from a directory
// holding the files it names, with ~/.kube/config for a real cluster, and
// checks what the README promises: the endpoints answer, the missed
// installation delivery is redelivered and syncs every app, deliveries are
// answered as documented, the listed metrics are served, and the events
// tail commands print the audit trail.
func runServe(t *testing.T, s *session, cmds []string) {
	if s.gh == nil {
		t.Fatal("the App was not installed (scenario \"install the App\")")
	}
	checkPortsFree(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	home, work := tempDir(t), tempDir(t)
	cl := kube.StartForTest(t)
	rctx, stopRollOut := context.WithCancel(ctx)
	defer stopRollOut()
	go kube.RollOut(rctx, cl.Client, 100*time.Millisecond)
	kubeconfig, err := os.ReadFile(cl.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".kube", "config"), kubeconfig)
	// The working directory stands in for the checkout: bin/ is its bin/;
	// the command writes promobot-data/ here.
	if err := os.Symlink(filepath.Join(repoRoot, "bin"), filepath.Join(work, "bin")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "webhook-secret.txt"), []byte(s.secret+"\n"))
	writeFile(t, filepath.Join(work, "app.private-key.pem"), s.gh.AppPrivateKeyPEM())
	env := append(userEnv(home), s.dotcom.env()...)

	// The redelivery sweep runs when promobot starts and then every 10
	// minutes; it redelivers a failure once it is a minute old. A user who
	// installed the App a minute before starting promobot gets the sync at
	// once. The demo plays faster: the local GitHub's deliveries are aged
	// to that minute instead of waiting for it.
	if wait := time.Until(s.installed.Add(65 * time.Second)); wait > 0 {
		s.gh.AgeDeliveries(wait)
	}
	serve := startBackground(t, work, env, cmds[0])
	waitReady(t, serve)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, baseURL+p); code != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200", p, code, body)
		}
	}

	// The sweep asks GitHub to redeliver the installation; promobot then
	// syncs every app: a success status per app and the apps in the cluster.
	apps := []string{"guestbook-staging", "my-api-service-production", "my-api-service-staging"}
	waitStatuses(ctx, t, s.gh, apps, serve)
	ds := s.gh.Deliveries()
	if len(ds) != 2 || !ds[1].Redelivery || ds[1].GUID != ds[0].GUID || ds[1].StatusCode != http.StatusAccepted {
		t.Errorf("deliveries: %+v, want the failed installation redelivered and answered 202", ds)
	}
	for ns, want := range map[string]int32{"staging": 1, "production": 10} {
		d, err := cl.Client.AppsV1().Deployments(ns).Get(ctx, "my-api-service", metav1.GetOptions{})
		if err != nil {
			t.Errorf("Deployment %s/my-api-service after the sync: %v", ns, err)
			continue
		}
		if got := *d.Spec.Replicas; got != want {
			t.Errorf("Deployment %s/my-api-service has %d replicas, want %d", ns, got, want)
		}
	}

	// Deliveries are answered as the README says.
	type delivery struct {
		id, event string
		stored    bool
	}
	var sent []delivery
	const star = `{"action":"created","repository":{"name":"cluster-config","full_name":"my-org/cluster-config","owner":{"login":"my-org"}}}`
	for _, tc := range []struct {
		name   string
		event  string
		secret string
		body   string
		want   int
	}{
		{name: "signed", event: "star", secret: s.secret, body: star, want: http.StatusAccepted},
		{name: "signed", event: "ping", secret: s.secret, body: `{"zen":"Keep it logically awesome.","hook_id":1}`, want: http.StatusOK},
		{name: "wrongly signed", event: "star", secret: "not-the-secret", body: star, want: http.StatusUnauthorized},
		{name: "not JSON", event: "star", secret: s.secret, body: `action=created`, want: http.StatusBadRequest},
	} {
		got, id := deliver(t, tc.secret, tc.event, tc.body)
		if got != tc.want {
			t.Errorf("%s %s delivery answered %d, want %d", tc.name, tc.event, got, tc.want)
		}
		sent = append(sent, delivery{id: id, event: tc.event, stored: got < 300})
	}

	// The metrics the README lists are served.
	_, metrics := get(t, baseURL+"/metrics")
	for _, name := range readmeMetrics(t) {
		if !strings.Contains(metrics, "\n# TYPE "+name+" ") {
			t.Errorf("/metrics has no %s, which the README lists", name)
		}
	}
	if tunnels, refused := s.dotcom.used(); tunnels == 0 || len(refused) > 0 {
		t.Errorf("promobot reached api.github.com %d times and asked for %v; want GitHub only", tunnels, refused)
	}

	stored := storedEvents(ctx, t, work)
	for _, d := range sent {
		found := slices.ContainsFunc(stored, func(e storedEvent) bool { return e.id == d.id })
		if found != d.stored {
			t.Errorf("%s delivery %s on the event bus: %v, want %v", d.event, d.id, found, d.stored)
		}
	}
	checkTailAll(ctx, t, work, env, cmds[1], stored)
	checkTailApply(ctx, t, work, env, cmds[2], stored, apps)

	if err := serve.stop(); err != nil {
		t.Errorf("promobot serve did not stop cleanly on Ctrl-C: %v\n%s", err, serve.logs())
	}
}

// waitStatuses waits until the sync check runs on main's head report
// every app applied.
func waitStatuses(ctx context.Context, t *testing.T, gh *githubapi.Server, apps []string, serve *background) {
	t.Helper()
	branches, err := gh.Branches(ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	sha := branches["main"]
	var got []string
	for {
		runs, err := gh.CheckRuns(owner, repoName, sha)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, a := range apps {
			if st, ok := kit.SyncStatus(runs, a); ok {
				got = append(got, a+" "+st.State)
			}
		}
		var want []string
		for _, a := range apps {
			want = append(want, a+" success")
		}
		if slices.Equal(want, got) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sync check runs on main: %v, want %v\npromobot's log:\n%s", got, want, serve.logs())
		case <-serve.exited:
			t.Fatalf("promobot serve exited:\n%s", serve.logs())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deliver posts a webhook delivery signed with secret and returns the
// status code and the delivery id.
func deliver(t *testing.T, secret, event, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhook", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	id := randomHex(16)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, id
}

// readmeMetrics returns the metric names the README lists.
func readmeMetrics(t *testing.T) []string {
	t.Helper()
	const lead = "Prometheus metrics on `/metrics` include"
	for _, para := range strings.Split(readme.prose, "\n\n") {
		if !strings.HasPrefix(strings.TrimSpace(para), lead) {
			continue
		}
		var names []string
		for _, m := range spanRE.FindAllStringSubmatch(para, -1) {
			if name, _, _ := strings.Cut(m[1], "{"); strings.HasPrefix(name, "promobot_") {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			t.Fatalf("the README's metrics paragraph names no metric")
		}
		return names
	}
	t.Fatalf("the README has no paragraph starting %q", lead)
	return nil
}

// storedEvent is an event on the bus, as events tail prints it.
type storedEvent struct{ subject, id, typ string }

// storedEvents reads every event on the bus of the running serve, with
// the credentials it generated in its default data directory under dir.
func storedEvents(ctx context.Context, t *testing.T, dir string) []storedEvent {
	t.Helper()
	auth, err := nats.NkeyOptionFromSeed(events.CredentialsPath(filepath.Join(dir, "promobot-data")))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+natsAddr, auth)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var out []storedEvent
	for _, name := range []string{events.StreamGitHub, events.StreamFacts} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		n := st.CachedInfo().State.Msgs
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.Fetch(int(n), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			ev, err := events.Decode(m.Headers(), m.Data())
			if err != nil {
				t.Fatalf("%s: %v", m.Subject(), err)
			}
			out = append(out, storedEvent{subject: m.Subject(), id: ev.ID(), typ: ev.Type()})
		}
	}
	return out
}

// checkTailAll: `events tail --all --limit 5` prints five stored events, one
// line each (time, subject, type, subject, id), and exits.
func checkTailAll(ctx context.Context, t *testing.T, dir string, env []string, cmd string, stored []storedEvent) {
	t.Helper()
	if len(stored) < 5 {
		t.Fatalf("only %d events on the bus, %q waits for 5", len(stored), cmd)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, stderr, err := runCommand(tctx, dir, env, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", cmd, err, out, stderr)
	}
	t.Logf("%s:\n%s", cmd, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%s printed %d lines, want 5:\n%s", cmd, len(lines), out)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 5 {
			t.Errorf("%s printed %q, want time, subject, type, subject and id", cmd, l)
			continue
		}
		if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
			t.Errorf("%s printed %q: the time: %v", cmd, l, err)
		}
		if !slices.Contains(stored, storedEvent{subject: f[1], id: f[4], typ: f[2]}) {
			t.Errorf("%s printed %q, which is no event on the bus", cmd, l)
		}
	}
}

// checkTailApply: `events tail --subject 'promobot.apply.>' --json --all
// --limit 1` prints the first apply fact as one CloudEvent in JSON.
func checkTailApply(ctx context.Context, t *testing.T, dir string, env []string, cmd string, stored []storedEvent, apps []string) {
	t.Helper()
	var first storedEvent
	for _, e := range stored {
		if strings.HasPrefix(e.subject, "promobot.apply.") {
			first = e
			break
		}
	}
	if first.id == "" {
		t.Fatalf("no apply fact on the bus for %q", cmd)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, stderr, err := runCommand(tctx, dir, env, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", cmd, err, out, stderr)
	}
	t.Logf("%s:\n%s", cmd, out)
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("%s printed %q, want one line", cmd, out)
	}
	var ev struct {
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
		Type        string `json:"type"`
		Subject     string `json:"subject"`
		Data        struct {
			App  string `json:"app"`
			Repo string `json:"repo"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("%s printed %q: %v", cmd, out, err)
	}
	got := []string{ev.SpecVersion, ev.ID, ev.Type, ev.Data.Repo}
	want := []string{"1.0", first.id, first.typ, owner + "/" + repoName}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s printed %s; specversion, id, type, data.repo (-want +got):\n%s", cmd, out, diff)
	}
	if !slices.Contains(apps, ev.Subject) || ev.Data.App != ev.Subject {
		t.Errorf("%s printed subject %q, data.app %q; want one of the apps %v", cmd, ev.Subject, ev.Data.App, apps)
	}
}

// runRender: `promobot render` prints what `kustomize build` of the overlay
// prints.
func runRender(t *testing.T, _ *session, cmds []string) {
	build(t)
	for _, c := range cmds {
		repo, app, overlay := renderTarget(t, c)
		if app != "" {
			r, err := gitops.LoadDir(filepath.Join(repoRoot, repo), nil)
			if err != nil {
				t.Fatal(err)
			}
			a, ok := r.App(app)
			if !ok {
				t.Fatalf("%s: no app %s in %s", c, app, repo)
			}
			overlay = a.Path
		}
		got, stderr, err := runCommand(context.Background(), repoRoot, userEnv(tempDir(t)), c)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c, err, stderr)
		}
		want, kerr, err := runCommand(context.Background(), repoRoot, userEnv(tempDir(t)),
			filepath.Join(toolsDir, "kustomize")+" build "+filepath.Join(repo, overlay))
		if err != nil {
			t.Fatalf("kustomize build %s: %v\n%s", overlay, err, kerr)
		}
		if !strings.Contains(want, "kind: Deployment") {
			t.Fatalf("kustomize build %s printed no Deployment:\n%s", overlay, want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s differs from kustomize build %s (-kustomize +promobot):\n%s", c, overlay, diff)
		}
	}
}

// renderTarget reads --repo, --app and the overlay PATH of a render command.
func renderTarget(t *testing.T, cmd string) (repo, app, overlay string) {
	t.Helper()
	f := strings.Fields(cmd)
	for i := 2; i < len(f); i++ {
		switch {
		case f[i] == "--repo" && i+1 < len(f):
			repo, i = f[i+1], i+1
		case f[i] == "--app" && i+1 < len(f):
			app, i = f[i+1], i+1
		case !strings.HasPrefix(f[i], "-"):
			overlay = f[i]
		}
	}
	if repo == "" || (app == "") == (overlay == "") {
		t.Fatalf("%s: want --repo and one of --app or PATH", cmd)
	}
	return repo, app, overlay
}

// runPreview: in a clone of the GitOps repository (~/cluster-config) with
// staging's image bumped in the work tree, `promobot diff` prints the diff
// comment a PR of that change would get and `promobot promote` plans the
// promotion, changing no file.
func runPreview(t *testing.T, _ *session, cmds []string) {
	build(t)
	home := tempDir(t)
	clone := filepath.Join(home, "cluster-config")
	if err := os.CopyFS(clone, os.DirFS(filepath.Join(repoRoot, "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", clone}, args...)...)
		cmd.Env = append(userEnv(home), "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_AUTHOR_DATE=2025-06-01T12:00:00Z",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_COMMITTER_DATE=2025-06-01T12:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "cluster config")
	base := git("rev-parse", "--short=7", "HEAD")

	staging := filepath.Join(clone, "kustomize", "overlays", "staging", "kustomization.yaml")
	production := filepath.Join(clone, "kustomize", "overlays", "production", "kustomization.yaml")
	raw, err := os.ReadFile(staging)
	if err != nil {
		t.Fatal(err)
	}
	bumped := bytes.Replace(raw, []byte("newTag: 1.0.0"), []byte("newTag: 1.1.0"), 1)
	if bytes.Equal(raw, bumped) {
		t.Fatal("the fixture's staging overlay has no newTag: 1.0.0 to bump")
	}
	writeFile(t, staging, bumped)
	prodBefore, err := os.ReadFile(production)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range cmds {
		out, stderr, err := runCommand(context.Background(), repoRoot, userEnv(home), c)
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", c, err, out, stderr)
		}
		name := strings.Fields(c)[1]
		kit.Golden(t, filepath.Join("testdata", name+".golden"), strings.ReplaceAll(out, base, "<base>"))
	}
	if got, _ := os.ReadFile(production); !bytes.Equal(prodBefore, got) {
		t.Errorf("%s changed %s without --write", cmdPromote, production)
	}
	if got, _ := os.ReadFile(staging); !bytes.Equal(bumped, got) {
		t.Errorf("the preview commands changed %s", staging)
	}
}

// checkPortsFree fails the test when the README's serve command could not
// listen on its default ports.
func checkPortsFree(t *testing.T) {
	t.Helper()
	for _, addr := range []string{httpAddr, natsAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the README's serve command listens on %s by default, and something else does (%v): stop it and run the test again", addr, err)
		}
		ln.Close()
	}
}

// userEnv is the environment of a user's shell with HOME at home: the
// test's own environment without make's variables, promobot's settings or
// proxies.
func userEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "KUBECONFIG", strings.HasPrefix(k, "PROMOBOT_"), isMakeVar(k),
			strings.HasSuffix(strings.ToUpper(k), "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

// makeEnv is the environment for the README's make commands: the user's own
// HOME (Go's caches live there) and network settings, without the variables
// of the make that runs this test.
func makeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if isMakeVar(k) || strings.HasPrefix(k, "PROMOBOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func isMakeVar(k string) bool {
	switch k {
	case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR":
		return true
	}
	return false
}

// runCommand runs command with bash -c in dir and returns its stdout and
// stderr. On ctx's end the command's whole process group is killed.
func runCommand(ctx context.Context, dir string, env []string, command string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return stdout.String(), stderr.String(), err
}

// background is a command running in its own process group.
type background struct {
	cmd    *exec.Cmd
	out    *kit.Buffer
	exited chan struct{}
	err    error
}

// startBackground starts command with bash -c in dir; it is killed when
// the test ends if it still runs.
func startBackground(t *testing.T, dir string, env []string, command string) *background {
	t.Helper()
	b := &background{out: &kit.Buffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command("bash", "-c", command)
	b.cmd.Dir, b.cmd.Env = dir, env
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.exited
		}
		if t.Failed() {
			t.Logf("%s:\n%s", command, b.logs())
		}
	})
	return b
}

var errStillRunning = errors.New("still running 40s after Ctrl-C")

// stop sends SIGINT (Ctrl-C) to the process group and waits for the exit.
func (b *background) stop() error {
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-b.exited:
		return b.err
	case <-time.After(40 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
		return errStillRunning
	}
}

func (b *background) logs() string { return b.out.String() }

// waitOutput waits until the output holds s, the command exits or d passes.
func (b *background) waitOutput(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(b.logs(), s) {
		select {
		case <-b.exited:
			return strings.Contains(b.logs(), s)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// waitReady waits until the serve command's /readyz answers 200.
func waitReady(t *testing.T, b *background) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(baseURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-b.exited:
			t.Fatalf("promobot serve exited: %v\n%s", b.err, b.logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("promobot serve not ready after 60s:\n%s", b.logs())
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// seedFixture copies the fixture GitOps repository to dst with its
// Applications naming the repository by its URL on the local GitHub.
func seedFixture(t *testing.T, dst, webURL string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(repoRoot, "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	apps, err := filepath.Glob(filepath.Join(dst, "apps", "*.yaml"))
	if err != nil || len(apps) == 0 {
		t.Fatalf("no Applications in the fixture: %v", err)
	}
	for _, f := range apps {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+owner+"/"+repoName+".git"), []byte(webURL+"/"+owner+"/"+repoName+".git"))
		writeFile(t, f, raw)
	}
}

func writeFile(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tempDir is t.TempDir, for directories whose contents the test's own
// processes may still write while they stop.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "promobot-readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
