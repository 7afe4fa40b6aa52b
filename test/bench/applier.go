package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kube"
	"github.com/promobot/promobot/webhook"
)

// benchApplier measures the applier end to end on real components: the
// local GitHub API sends signed push webhooks to the webhook receiver on a
// loopback HTTP server, which stores them on an embedded NATS JetStream; the
// applier consumes them and server-side applies to a real kube-apiserver and
// etcd (workload rollouts simulated by kube.RollOut). Each figure stands
// beside `kubectl apply --server-side` of the same objects on the same
// machine in the same run:
//
//  1. push → applied: from githubapi.Push returning to the
//     promobot.apply.completed fact of that commit, for one app of 100
//     objects that every push changes;
//  2. full sync: SyncHead of a repository of many apps (what `promobot sync`
//     and installing the App run) on an empty cluster;
//  3. unchanged re-sync: SyncHead again on the same commit, counting the
//     requests promobot makes to the cluster (expected writes: 0).
func benchApplier(ctx context.Context, cfg config) error {
	pushes, apps := 20, 200
	if cfg.quick {
		pushes, apps = 5, 40
	}
	kubectl, err := kubectlBinary()
	if err != nil {
		return err
	}
	env, err := startApplierEnv(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	// controller-runtime's client (under fluxcd/pkg/ssa) logs through its
	// own global logger and prints a stack trace when none was set.
	ctrllog.SetLogger(logr.FromSlogHandler(env.log.Handler()))
	fmt.Println("real kube-apiserver+etcd, embedded NATS JetStream, local GitHub API sending signed webhooks; rollouts simulated every 100ms; 2 cores shared by everything")
	if err := benchPushToApplied(ctx, env, kubectl, pushes); err != nil {
		return fmt.Errorf("push to applied: %w", err)
	}
	if err := benchFullSync(ctx, env, kubectl, apps); err != nil {
		return fmt.Errorf("full sync: %w", err)
	}
	return nil
}

// applierEnv is everything but the clusters: event bus, webhook receiver,
// local GitHub and the App's installation clients.
type applierEnv struct {
	dir     string
	nats    *events.Embedded
	nc      *nats.Conn
	bus     *events.Bus
	hook    *http.Server
	gh      *githubapi.Server
	ghTimer *githubTimer
	inst    *installations
	facts   *factWatch
	log     *slog.Logger
}

func startApplierEnv(ctx context.Context) (_ *applierEnv, err error) {
	dir, err := os.MkdirTemp("", "promobot-bench-applier-")
	if err != nil {
		return nil, err
	}
	env := &applierEnv{dir: dir, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	if env.nats, err = events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")}); err != nil {
		return nil, err
	}
	if env.nc, err = env.nats.Connect(); err != nil {
		return nil, err
	}
	if env.bus, err = events.New(ctx, env.nc, events.Options{}); err != nil {
		return nil, err
	}
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{benchSecret}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, env.bus)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	env.hook = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = env.hook.Serve(ln) }()
	// Unthrottled: these sections measure promobot's own speed, not
	// GitHub's secondary limits (TestInstallSyncUnderGitHubsThrottle
	// measures those).
	env.gh, err = githubapi.New(githubapi.Options{
		Dir: filepath.Join(dir, "github"), WebhookSecret: string(benchSecret), Throttle: githubapi.Unthrottled(),
		WebhookURL: "http://" + ln.Addr().String() + "/webhook",
	})
	if err != nil {
		return nil, err
	}
	if err := env.gh.Start(); err != nil {
		return nil, err
	}
	env.ghTimer = newGitHubTimer()
	if env.inst, err = newInstallations(env.gh.AppID(), env.gh.AppPrivateKeyPEM(), env.gh.URL(), env.ghTimer); err != nil {
		return nil, err
	}
	if env.facts, err = watchFacts(env.nc); err != nil {
		return nil, err
	}
	return env, nil
}

func (e *applierEnv) close() {
	if e.facts != nil {
		e.facts.close()
	}
	if e.hook != nil {
		_ = e.hook.Close()
	}
	if e.gh != nil {
		_ = e.gh.Close()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	if e.nats != nil {
		e.nats.Shutdown()
	}
	_ = os.RemoveAll(e.dir)
}

// startCluster starts an empty cluster with rollouts simulated; stop calls
// both off.
func startCluster(ctx context.Context) (*kube.Cluster, func(), error) {
	c, err := kube.Start(ctx, kube.Options{})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		kube.RollOut(rctx, c.Client, 100*time.Millisecond)
	}()
	return c, func() {
		cancel()
		<-done
		_ = c.Stop()
	}, nil
}

// benchPushToApplied measures push → applied for one app of 100 objects,
// beside kubectl applying the same changed objects.
func benchPushToApplied(ctx context.Context, env *applierEnv, kubectl string, n int) error {
	const owner, name = "my-org", "cluster-config"
	repo := applier.Repo{Owner: owner, Name: name}
	repoURL := env.gh.WebURL() + "/" + owner + "/" + name + ".git"
	src := filepath.Join(env.dir, "latency-src")
	if err := writeTree(src, latencyRepo(repoURL)); err != nil {
		return err
	}
	kc, stop, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer stop()

	a, err := applier.New(ctx, applier.Options{Logger: env.log, HealthTimeout: time.Minute}, env.bus, env.inst, applier.NewClusters(kc.Config, nil))
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(runCtx) }()
	defer func() {
		cancel()
		<-runDone
	}()

	// Installing the App syncs the repository: the starting point.
	if err := env.gh.CreateRepo(ctx, owner, name, src); err != nil {
		return err
	}
	id, err := env.gh.Install(ctx, owner, name)
	if err != nil {
		return err
	}
	ghc, err := env.inst.GitHub(ctx, id)
	if err != nil {
		return err
	}
	head, err := ghc.BranchHead(ctx, repo, "main")
	if err != nil {
		return err
	}
	if f, err := env.facts.wait(ctx, latencyApp, head, 2*time.Minute); err != nil {
		return fmt.Errorf("initial sync: %w", err)
	} else if f.verb != "completed" || f.actions["created"] != latencyObjects+1 { // and the namespace
		return fmt.Errorf("initial sync: %s %s: %v %s", f.verb, f.state, f.actions, f.errMsg)
	}

	if err := waitSyncReported(ctx, env.gh, owner, name, head); err != nil {
		return err
	}
	env.gh.ResetCalls()
	var lastSHA string
	lat := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		sha, err := env.gh.Push(ctx, owner, name, "main", githubapi.Commit{
			Message: "Roll out web revision " + strconv.Itoa(i),
			Files:   map[string]string{latencyApp + "/kustomization.yaml": latencyKustomization(i)},
		})
		if err != nil {
			return err
		}
		pushed := time.Now()
		f, err := env.facts.wait(ctx, latencyApp, sha, time.Minute)
		if err != nil {
			return fmt.Errorf("push %d: %w", i, err)
		}
		if f.verb != "completed" || f.actions["configured"] != latencyObjects {
			return fmt.Errorf("push %d: want %d objects configured, got %s %v %s", i, latencyObjects, f.verb, f.actions, f.errMsg)
		}
		lat = append(lat, f.at.Sub(pushed))
		lastSHA = sha
	}
	if err := waitSyncReported(ctx, env.gh, owner, name, lastSHA); err != nil {
		return err
	}
	pushWrites := float64(env.gh.Calls().Writes) / float64(n)

	// kubectl applies the same rendered objects, changed the same way, into
	// a namespace of its own (promobot owns the fields in "web").
	const kubectlNS = latencyNamespace + "-kubectl"
	if _, err := kc.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kubectlNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	kk := kubectlRunner{bin: kubectl, kubeconfig: kc.Kubeconfig, cacheDir: filepath.Join(env.dir, "kubectl-cache-latency")}
	files := make([]string, n+1)
	for i := 0; i <= n; i++ {
		if err := os.WriteFile(filepath.Join(src, latencyApp, "kustomization.yaml"), []byte(latencyKustomization(i)), 0o644); err != nil {
			return err
		}
		doc, count, err := renderFor(ctx, src, latencyApp, kubectlNS)
		if err != nil {
			return err
		}
		if count != latencyObjects {
			return fmt.Errorf("render: %d objects, want %d", count, latencyObjects)
		}
		files[i] = filepath.Join(env.dir, "kubectl-web-"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(files[i], doc, 0o644); err != nil {
			return err
		}
	}
	if _, _, err := kk.apply(ctx, files[0]); err != nil { // creates; fills the discovery cache
		return err
	}
	base := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		d, out, err := kk.apply(ctx, files[i])
		if err != nil {
			return err
		}
		if got := strings.Count(out, "serverside-applied"); got != latencyObjects {
			return fmt.Errorf("kubectl run %d applied %d objects, want %d", i, got, latencyObjects)
		}
		base = append(base, d)
	}
	// Both ends must show the last revision.
	for _, ns := range []string{latencyNamespace, kubectlNS} {
		d, err := kc.Client.AppsV1().Deployments(ns).Get(ctx, latencyApp, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := d.Spec.Template.Annotations["bench.promobot.dev/revision"]; got != strconv.Itoa(n) {
			return fmt.Errorf("Deployment/%s/%s at revision %q, want %d", ns, latencyApp, got, n)
		}
	}

	slices.Sort(lat)
	slices.Sort(base)
	fmt.Printf("\npush → applied: one app of %d objects (1 Deployment, 1 Service, 98 ConfigMaps), each push changes all %d; %d pushes, one at a time\n", latencyObjects, latencyObjects, n)
	fmt.Printf("  %-66s %9s %9s %9s\n", "", "p50", "p90", "max")
	fmt.Printf("  %-66s %9s %9s %9s\n", "promobot: Push returns → promobot.apply.completed on the bus", fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 90)), fmtDur(lat[len(lat)-1]))
	fmt.Printf("  %-66s %9s %9s %9s\n", "kubectl apply --server-side -f rendered.yaml (process run)", fmtDur(percentile(base, 50)), fmtDur(percentile(base, 90)), fmtDur(base[len(base)-1]))
	fmt.Printf("  ratio p50 promobot/kubectl %.2f; target promobot p50 < 1s: %s\n", ratio(percentile(lat, 50), percentile(base, 50)), verdict(percentile(lat, 50) < time.Second))
	fmt.Printf("  GitHub writes per push changing one app: %.1f; target ≤ 4: %s (the check run created and completed, the environment's Deployment and its status)\n", pushWrites, verdict(pushWrites <= 4))
	fmt.Println("  promobot's figure includes webhook delivery, bus, tarball, render, GitHub statuses and the health wait; kubectl's neither render nor health")
	return nil
}

// benchFullSync measures a full sync of apps apps on an empty cluster
// beside one kubectl apply of the same objects on another empty cluster,
// then re-syncs the unchanged commit and counts the requests.
func benchFullSync(ctx context.Context, env *applierEnv, kubectl string, apps int) error {
	const owner, name = "fleet-org", "fleet-config"
	repo := applier.Repo{Owner: owner, Name: name}
	repoURL := env.gh.WebURL() + "/" + owner + "/" + name + ".git"
	src := filepath.Join(env.dir, "fleet-src")
	if err := writeTree(src, fleetRepo(repoURL, apps)); err != nil {
		return err
	}
	// SyncHead is called directly: no installation webhook.
	env.gh.SetWebhookURL("")
	if err := env.gh.CreateRepo(ctx, owner, name, src); err != nil {
		return err
	}
	id, err := env.gh.Install(ctx, owner, name)
	if err != nil {
		return err
	}
	ghc, err := env.inst.GitHub(ctx, id)
	if err != nil {
		return err
	}
	objects := apps * fleetObjectsPerApp

	// kubectl: every app rendered into one file, namespaces first.
	var doc bytes.Buffer
	renderStart := time.Now()
	for i := range apps {
		doc.WriteString(namespaceDoc(fleetAppName(i)))
	}
	for i := range apps {
		out, count, err := renderFor(ctx, src, "services/"+fleetAppName(i), fleetAppName(i))
		if err != nil {
			return err
		}
		if count != fleetObjectsPerApp {
			return fmt.Errorf("%s renders %d objects, want %d", fleetAppName(i), count, fleetObjectsPerApp)
		}
		doc.Write(out)
	}
	renderTime := time.Since(renderStart)
	file := filepath.Join(env.dir, "kubectl-fleet.yaml")
	if err := os.WriteFile(file, doc.Bytes(), 0o644); err != nil {
		return err
	}
	kubectlTime, err := func() (time.Duration, error) {
		kc, stop, err := startCluster(ctx)
		if err != nil {
			return 0, err
		}
		defer stop()
		kk := kubectlRunner{bin: kubectl, kubeconfig: kc.Kubeconfig, cacheDir: filepath.Join(env.dir, "kubectl-cache-fleet")}
		d, out, err := kk.apply(ctx, file)
		if err != nil {
			return 0, err
		}
		if got := strings.Count(out, "serverside-applied"); got != objects+apps {
			return 0, fmt.Errorf("kubectl applied %d objects, want %d", got, objects+apps)
		}
		return d, nil
	}()
	if err != nil {
		return err
	}

	// promobot: SyncHead on another empty cluster, every request recorded.
	kc, stop, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer stop()
	rec := &kubeRecorder{}
	cfg := rest.CopyConfig(kc.Config)
	cfg.WrapTransport = rec.wrap
	a, err := applier.New(ctx, applier.Options{Logger: env.log, HealthTimeout: time.Minute}, env.bus, env.inst, applier.NewClusters(cfg, nil))
	if err != nil {
		return err
	}
	env.ghTimer.reset()
	perApp := make([]time.Duration, 0, apps)
	last := time.Now()
	progress := func(done, total int, o applier.Outcome) {
		now := time.Now()
		perApp = append(perApp, now.Sub(last))
		last = now
	}
	env.gh.ResetCalls()
	start := time.Now()
	last = start
	outs, err := a.SyncHead(ctx, ghc, applier.Target{Repo: repo}, progress)
	syncTime := time.Since(start)
	syncWrites := env.gh.Calls().Writes
	if err != nil {
		return err
	}
	if err := checkOutcomes(outs, apps, func(o applier.Outcome) error {
		if got := o.Changes.Count("created"); got < fleetObjectsPerApp {
			return fmt.Errorf("%d objects created, want %d", got, fleetObjectsPerApp)
		}
		return nil
	}); err != nil {
		return err
	}
	syncReqs := countRequests(rec.take())
	ghCalls, ghSpent := env.ghTimer.reset()
	slices.Sort(perApp)

	fmt.Printf("\nfull sync: %d apps × %d objects (Deployment, Service, ServiceAccount, Role, RoleBinding, 5 ConfigMaps), each app its own namespace (CreateNamespace=true), empty cluster\n", apps, fleetObjectsPerApp)
	fmt.Printf("  %-66s %9s\n", "promobot SyncHead (tarball, render, SSA, health, reports)", fmtDur(syncTime))
	fmt.Printf("  %-66s %9s\n", fmt.Sprintf("kubectl apply --server-side -f all.yaml (%d objects + %d ns)", objects, apps), fmtDur(kubectlTime))
	fmt.Printf("  ratio promobot/kubectl %.2f; target ≤ 1.00: %s\n", ratio(syncTime, kubectlTime), verdict(syncTime <= kubectlTime))
	// Apps sync side by side, so these overlap: they are busy times, not
	// shares of the wall time.
	fmt.Printf("  where promobot's time goes: per app p50 %s (max %s), up to %d apps at once;\n", fmtDur(percentile(perApp, 50)), fmtDur(perApp[len(perApp)-1]), applier.Options{}.SyncConcurrencyOrDefault())
	fmt.Printf("    cluster requests in flight %s summed (%d requests: %d GET, %d dry-run apply, %d writes; kubectl: %d);\n",
		fmtDur(syncReqs.busy), syncReqs.total, syncReqs.gets, syncReqs.dryRuns, syncReqs.writes, objects+apps)
	fmt.Printf("    GitHub %s summed (%d calls); render ≈ %s (all apps rendered alone)\n",
		fmtDur(ghSpent), ghCalls, fmtDur(renderTime))
	fmt.Printf("  GitHub writes for the sync of %d apps in 2 environments: %d; target ≤ 16: %s (one check run, one Deployment per environment)\n\n",
		apps, syncWrites, verdict(syncWrites <= 16))

	// Unchanged re-sync on the same commit.
	env.gh.ResetCalls()
	start = time.Now()
	outs, err = a.SyncHead(ctx, ghc, applier.Target{Repo: repo}, nil)
	resyncTime := time.Since(start)
	resyncWrites := env.gh.Calls().Writes
	if err != nil {
		return err
	}
	if err := checkOutcomes(outs, apps, func(o applier.Outcome) error {
		if o.Changes.Changed() {
			return fmt.Errorf("unchanged re-sync changed objects: %s", o.Summary)
		}
		return nil
	}); err != nil {
		return err
	}
	re := countRequests(rec.take())
	ghCalls, _ = env.ghTimer.reset()
	fmt.Printf("\nunchanged re-sync of the same commit (%d apps × %d objects):\n", apps, fleetObjectsPerApp)
	fmt.Printf("  wall time %s; cluster requests %d: %d GET, %d dry-run apply (no write), writes %s; target writes 0: %s\n",
		fmtDur(resyncTime), re.total, re.gets, re.dryRuns, re.writesString(), verdict(re.writes == 0))
	fmt.Printf("  GitHub calls %d, writes %d; target writes ≤ 16: %s (the check run; no Deployment, nothing changed)\n", ghCalls, resyncWrites, verdict(resyncWrites <= 16))
	return benchFullSyncSlowGitHub(ctx, env, apps, kubectlTime)
}

// slowGitHub is what the slow-GitHub full sync adds to every GitHub call.
const slowGitHub = 50 * time.Millisecond

// benchFullSyncSlowGitHub syncs the same fleet, in a repository of its
// own, on another empty cluster with slowGitHub added to every GitHub
// call, beside kubectl's time for the same objects: reports must not
// hold the applies back.
func benchFullSyncSlowGitHub(ctx context.Context, env *applierEnv, apps int, kubectlTime time.Duration) error {
	const owner, name = "slow-org", "fleet-config"
	repoURL := env.gh.WebURL() + "/" + owner + "/" + name + ".git"
	src := filepath.Join(env.dir, "fleet-slow-src")
	if err := writeTree(src, fleetRepo(repoURL, apps)); err != nil {
		return err
	}
	if err := env.gh.CreateRepo(ctx, owner, name, src); err != nil {
		return err
	}
	id, err := env.gh.Install(ctx, owner, name)
	if err != nil {
		return err
	}
	ghc, err := env.inst.GitHub(ctx, id)
	if err != nil {
		return err
	}
	kc, stop, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer stop()
	a, err := applier.New(ctx, applier.Options{Logger: env.log, HealthTimeout: time.Minute}, env.bus, env.inst, applier.NewClusters(kc.Config, nil))
	if err != nil {
		return err
	}
	env.gh.SetLatency(slowGitHub)
	defer env.gh.SetLatency(0)
	env.gh.ResetCalls()
	var applied time.Time // when the last app's apply returned
	start := time.Now()
	outs, err := a.SyncHead(ctx, ghc, applier.Target{Repo: applier.Repo{Owner: owner, Name: name}}, func(int, int, applier.Outcome) { applied = time.Now() })
	syncTime := time.Since(start)
	applyTime := applied.Sub(start)
	calls := env.gh.Calls()
	if err != nil {
		return err
	}
	if err := checkOutcomes(outs, apps, func(applier.Outcome) error { return nil }); err != nil {
		return err
	}
	fmt.Printf("full sync with %s added to every GitHub call (%d apps, another empty cluster):\n", slowGitHub, apps)
	fmt.Printf("  every app applied %s after the start; SyncHead returned after %s, with the reports (%d GitHub calls, %d writes); kubectl (above) %s\n",
		fmtDur(applyTime), fmtDur(syncTime), calls.Total, calls.Writes, fmtDur(kubectlTime))
	fmt.Printf("  ratio applies/kubectl %.2f; target ≤ 1.00: %s (SyncHead/kubectl %.2f)\n", ratio(applyTime, kubectlTime), verdict(applyTime <= kubectlTime), ratio(syncTime, kubectlTime))
	return nil
}

// waitSyncReported waits until the sync check run on sha is completed: a
// sync's reports are sent once its apps are applied.
func waitSyncReported(ctx context.Context, gh *githubapi.Server, owner, name, sha string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		runs, err := gh.CheckRuns(owner, name, sha)
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.Name == applier.SyncCheckName && r.Status == "completed" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no completed %s check run on %s", applier.SyncCheckName, sha)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkOutcomes checks that every one of want apps was applied and passes
// check.
func checkOutcomes(outs []applier.Outcome, want int, check func(applier.Outcome) error) error {
	if len(outs) != want {
		return fmt.Errorf("%d apps synced, want %d", len(outs), want)
	}
	var errs []error
	for _, o := range outs {
		if o.State != "applied" {
			errs = append(errs, fmt.Errorf("%s: %s %s", o.App, o.State, o.Error))
			continue
		}
		if err := check(o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.App, err))
		}
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more", len(errs)-3))
	}
	return errors.Join(errs...)
}

// kubectlRunner runs the harness's kubectl against one cluster.
type kubectlRunner struct {
	bin, kubeconfig, cacheDir string
}

// apply runs `kubectl apply --server-side -f file` and returns how long the
// process took and what it printed.
func (k kubectlRunner) apply(ctx context.Context, file string) (time.Duration, string, error) {
	cmd := exec.CommandContext(ctx, k.bin, "--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir, "apply", "--server-side", "-f", file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, "", fmt.Errorf("kubectl apply --server-side -f %s: %w: %s", filepath.Base(file), err, strings.TrimSpace(stderr.String()))
	}
	return d, stdout.String(), nil
}

// kubectlBinary finds the kubectl the harness builds: $PROMOBOT_BIN_DIR,
// else bin/ at the root of the promobot module.
func kubectlBinary() (string, error) {
	dir := os.Getenv(kube.EnvBinDir)
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for d := wd; ; d = filepath.Dir(d) {
			if raw, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(raw, []byte("module github.com/promobot/promobot\n")) {
				dir = filepath.Join(d, "bin")
				break
			}
			if filepath.Dir(d) == d {
				return "", fmt.Errorf("kubectl: no promobot go.mod above %s; set %s", wd, kube.EnvBinDir)
			}
		}
	}
	bin := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("kubectl not found in %s (run `make tools`): %w", dir, err)
	}
	return bin, nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
