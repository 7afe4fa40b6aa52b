package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kube"
	"github.com/promobot/promobot/webhook"
)

// benchScale measures how promobot grows from one repository of a hundred
// apps to ten repositories (ten installations) of a thousand apps in all,
// each app of fleetObjectsPerApp objects, on one applier and one
// kube-apiserver. For each size it reports:
//
//  1. full sync: SyncHead of every repository, side by side (one goroutine
//     per repository, as ten installations' syncs would run), beside one
//     `kubectl apply --server-side` of the same objects into namespaces of
//     its own on the same cluster, run first;
//  2. push → applied: a push changing one app's kustomization in the first
//     repository, measured to that app's promobot.apply.completed fact, with
//     every other app of every repository applied and loaded;
//  3. peak RSS of this process (VmHWM, reset before each size where Linux
//     allows): promobot's applier, webhook receiver, embedded NATS and the
//     local GitHub API all run in it; kube-apiserver, etcd and kubectl do
//     not;
//  4. GitHub calls and writes, as the local GitHub API counts them.
func benchScale(ctx context.Context, cfg config) error {
	small, large, pushes := 100, 1000, 20
	if cfg.quick {
		small, large, pushes = 20, 200, 5
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
	ctrllog.SetLogger(logr.FromSlogHandler(env.log.Handler()))
	// Repositories are created and installed without webhooks (the full
	// sync is SyncHead, called here); pushes are delivered to a receiver
	// of this section's own on the same bus.
	env.gh.SetWebhookURL("")
	hookURL, closeHook, err := startScaleReceiver(env)
	if err != nil {
		return err
	}
	defer closeHook()
	kc, stop, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer stop()
	a, err := applier.New(ctx, applier.Options{Logger: env.log, HealthTimeout: 2 * time.Minute}, env.bus, env.inst, applier.NewClusters(kc.Config, nil))
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
	fmt.Println("one promobot applier in this process (webhook receiver, embedded NATS JetStream and the local GitHub API in it too), one real kube-apiserver+etcd for every size; rollouts simulated every 100ms; 2 cores shared by everything")
	sizes := []scaleSize{{prefix: "s", apps: small, repos: 1}, {prefix: "l", apps: large, repos: 10}}
	figs := make([]scaleFigures, 0, len(sizes))
	for _, sz := range sizes {
		env.gh.SetWebhookURL("")
		f, err := scaleRun(ctx, env, a, kc, kubectl, hookURL, sz, pushes)
		if err != nil {
			return fmt.Errorf("%d apps in %d repositories: %w", sz.apps, sz.repos, err)
		}
		f.print()
		figs = append(figs, f)
	}
	printScaleGrowth(figs[0], figs[1])
	return nil
}

// startScaleReceiver serves promobot's webhook receiver on env's bus on a
// loopback port of its own and returns its URL.
func startScaleReceiver(env *applierEnv) (string, func(), error) {
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{benchSecret}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, env.bus)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/webhook", func() { _ = srv.Close() }, nil
}

// scaleSize is one size of the scale section: apps apps spread evenly over
// repos repositories, each in an installation of its own; prefix keeps its
// owners, apps and namespaces apart from the other size's.
type scaleSize struct {
	prefix      string
	apps, repos int
}

// scaleRepo is one repository of a size, installed.
type scaleRepo struct {
	repo  applier.Repo
	gh    applier.GitHub
	head  string
	files map[string]string
	apps  []string
}

// scaleFigures are one size's measurements.
type scaleFigures struct {
	size                  scaleSize
	syncTime, kubectlTime time.Duration
	pushes                []time.Duration // sorted
	rssKB                 int64
	rssReset              bool
	syncCalls, syncWrites int
	pushCalls, pushWrites float64
}

func scaleRun(ctx context.Context, env *applierEnv, a *applier.Applier, kc *kube.Cluster, kubectl, hookURL string, sz scaleSize, pushes int) (scaleFigures, error) {
	f := scaleFigures{size: sz}
	repos, err := scaleRepos(ctx, env, sz)
	if err != nil {
		return f, err
	}
	if f.kubectlTime, err = scaleKubectl(ctx, env, kc, kubectl, sz, repos); err != nil {
		return f, fmt.Errorf("kubectl: %w", err)
	}
	f.rssReset = resetPeakRSS()
	env.gh.ResetCalls()
	if f.syncTime, err = scaleSync(ctx, a, repos, sz.apps/sz.repos); err != nil {
		return f, err
	}
	for _, r := range repos {
		if err := waitSyncReported(ctx, env.gh, r.repo.Owner, r.repo.Name, r.head); err != nil {
			return f, err
		}
	}
	calls := env.gh.Calls()
	f.syncCalls, f.syncWrites = calls.Total, calls.Writes

	env.gh.SetWebhookURL(hookURL)
	env.gh.ResetCalls()
	if f.pushes, err = scalePushes(ctx, env, repos[0], pushes); err != nil {
		return f, fmt.Errorf("push to applied: %w", err)
	}
	calls = env.gh.Calls()
	f.pushCalls, f.pushWrites = float64(calls.Total)/float64(pushes), float64(calls.Writes)/float64(pushes)
	if f.rssKB, err = peakRSS(); err != nil {
		return f, err
	}
	return f, nil
}

// scaleRepos creates and installs sz's repositories: fleetRepo's apps with
// the repository's prefix in every name.
func scaleRepos(ctx context.Context, env *applierEnv, sz scaleSize) ([]scaleRepo, error) {
	per := sz.apps / sz.repos
	repos := make([]scaleRepo, 0, sz.repos)
	for r := range sz.repos {
		owner, name := "scale-"+sz.prefix+strconv.Itoa(r), "fleet-config"
		repoURL := env.gh.WebURL() + "/" + owner + "/" + name + ".git"
		prefix := sz.prefix + strconv.Itoa(r) + "-svc-"
		files := map[string]string{}
		for p, content := range fleetRepo(repoURL, per) {
			files[strings.ReplaceAll(p, "svc-", prefix)] = strings.ReplaceAll(content, "svc-", prefix)
		}
		src := filepath.Join(env.dir, "scale-src", owner)
		if err := writeTree(src, files); err != nil {
			return nil, err
		}
		if err := env.gh.CreateRepo(ctx, owner, name, src); err != nil {
			return nil, err
		}
		id, err := env.gh.Install(ctx, owner, name)
		if err != nil {
			return nil, err
		}
		ghc, err := env.inst.GitHub(ctx, id)
		if err != nil {
			return nil, err
		}
		repo := applier.Repo{Owner: owner, Name: name}
		head, err := ghc.BranchHead(ctx, repo, "main")
		if err != nil {
			return nil, err
		}
		sr := scaleRepo{repo: repo, gh: ghc, head: head, files: files}
		for i := range per {
			sr.apps = append(sr.apps, strings.ReplaceAll(fleetAppName(i), "svc-", prefix))
		}
		repos = append(repos, sr)
	}
	return repos, nil
}

// scaleKubectl renders every app of repos into a namespace of its own
// ("k-" and the app's) and times one kubectl apply --server-side of them
// all.
func scaleKubectl(ctx context.Context, env *applierEnv, kc *kube.Cluster, kubectl string, sz scaleSize, repos []scaleRepo) (time.Duration, error) {
	var doc bytes.Buffer
	for _, r := range repos {
		for _, app := range r.apps {
			doc.WriteString(namespaceDoc("k-" + app))
		}
	}
	for _, r := range repos {
		src := filepath.Join(env.dir, "scale-src", r.repo.Owner)
		for _, app := range r.apps {
			out, count, err := renderFor(ctx, src, "services/"+app, "k-"+app)
			if err != nil {
				return 0, err
			}
			if count != fleetObjectsPerApp {
				return 0, fmt.Errorf("%s renders %d objects, want %d", app, count, fleetObjectsPerApp)
			}
			doc.Write(out)
		}
	}
	file := filepath.Join(env.dir, "kubectl-scale-"+sz.prefix+".yaml")
	if err := os.WriteFile(file, doc.Bytes(), 0o644); err != nil {
		return 0, err
	}
	kk := kubectlRunner{bin: kubectl, kubeconfig: kc.Kubeconfig, cacheDir: filepath.Join(env.dir, "kubectl-cache-scale")}
	d, out, err := kk.apply(ctx, file)
	if err != nil {
		return 0, err
	}
	if got, want := strings.Count(out, "serverside-applied"), sz.apps*(fleetObjectsPerApp+1); got != want {
		return 0, fmt.Errorf("kubectl applied %d objects, want %d", got, want)
	}
	return d, nil
}

// scaleSync runs SyncHead of every repository side by side and returns the
// wall time until the last one returned.
func scaleSync(ctx context.Context, a *applier.Applier, repos []scaleRepo, perRepo int) (time.Duration, error) {
	errs := make([]error, len(repos))
	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range repos {
		wg.Go(func() {
			outs, err := a.SyncHead(ctx, r.gh, applier.Target{Repo: r.repo}, nil)
			if err == nil {
				err = checkOutcomes(outs, perRepo, func(o applier.Outcome) error {
					if got := o.Changes.Count("created"); got < fleetObjectsPerApp {
						return fmt.Errorf("%d objects created, want %d", got, fleetObjectsPerApp)
					}
					return nil
				})
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s/%s sync: %w", r.repo.Owner, r.repo.Name, err)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return d, err
		}
	}
	return d, nil
}

// scalePushes pushes n commits to r, each changing its first app's image
// tag, one at a time, and returns push → applied of each, sorted.
func scalePushes(ctx context.Context, env *applierEnv, r scaleRepo, n int) ([]time.Duration, error) {
	app := r.apps[0]
	path := "services/" + app + "/kustomization.yaml"
	base := r.files[path]
	if !strings.Contains(base, "newTag: 1.4.2") {
		return nil, fmt.Errorf("%s: no newTag to change", path)
	}
	lat := make([]time.Duration, 0, n)
	var sha string
	for i := 1; i <= n; i++ {
		var err error
		sha, err = env.gh.Push(ctx, r.repo.Owner, r.repo.Name, "main", githubapi.Commit{
			Message: "Roll out " + app + " 1.5." + strconv.Itoa(i),
			Files:   map[string]string{path: strings.Replace(base, "newTag: 1.4.2", "newTag: 1.5."+strconv.Itoa(i), 1)},
		})
		if err != nil {
			return nil, err
		}
		pushed := time.Now()
		f, err := env.facts.wait(ctx, app, sha, 2*time.Minute)
		if err != nil {
			return nil, fmt.Errorf("push %d: %w", i, err)
		}
		if f.verb != "completed" || f.actions["configured"] < 1 {
			return nil, fmt.Errorf("push %d: want the Deployment configured, got %s %v %s", i, f.verb, f.actions, f.errMsg)
		}
		lat = append(lat, f.at.Sub(pushed))
	}
	if err := waitSyncReported(ctx, env.gh, r.repo.Owner, r.repo.Name, sha); err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux ≥ 4.0)
// and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns this process's VmHWM in kB.
func peakRSS() (int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS read: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS parse %q: %w", line, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("peak RSS read: no VmHWM in /proc/self/status")
}

func (f scaleFigures) print() {
	sz := f.size
	fmt.Printf("\nscale: %d apps × %d objects in %s (an installation each), SyncHead of every repository side by side\n", sz.apps, fleetObjectsPerApp, repositories(sz.repos))
	fmt.Printf("  %-66s %9s\n", "promobot full sync (tarball, render, SSA, health; until the last returns)", fmtDur(f.syncTime))
	fmt.Printf("  %-66s %9s\n", fmt.Sprintf("kubectl apply --server-side -f all.yaml (%d objects + %d ns)", sz.apps*fleetObjectsPerApp, sz.apps), fmtDur(f.kubectlTime))
	fmt.Printf("  ratio promobot/kubectl %.2f\n", ratio(f.syncTime, f.kubectlTime))
	fmt.Printf("  push → applied, one app changed while the other %d are loaded (%d pushes, one at a time): p50 %s, p99 %s\n", sz.apps-1, len(f.pushes), fmtDur(percentile(f.pushes, 50)), fmtDur(percentile(f.pushes, 99)))
	reset := "since the size began"
	if !f.rssReset {
		reset = "since the process began (VmHWM could not be reset)"
	}
	fmt.Printf("  peak RSS of the bench process %s: %.0f MB; target ≤ 500 MB: %s\n", reset, float64(f.rssKB)/1024, verdict(f.rssKB <= 500*1024))
	fmt.Printf("  GitHub: full sync %d calls, %d writes; per push %.1f calls, %.1f writes\n", f.syncCalls, f.syncWrites, f.pushCalls, f.pushWrites)
}

// printScaleGrowth prints how each figure grows from the small size to the
// large one.
func printScaleGrowth(s, l scaleFigures) {
	fmt.Printf("\nscale: growth from %d apps in %s to %d apps in %s (×%.0f apps)\n", s.size.apps, repositories(s.size.repos), l.size.apps, repositories(l.size.repos), float64(l.size.apps)/float64(s.size.apps))
	fmt.Printf("  %-40s %12s %12s %8s\n", "", strconv.Itoa(s.size.apps)+" apps", strconv.Itoa(l.size.apps)+" apps", "growth")
	row := func(name, a, b string, fa, fb float64) {
		g := "-"
		if fa > 0 {
			g = fmt.Sprintf("×%.2f", fb/fa)
		}
		fmt.Printf("  %-40s %12s %12s %8s\n", name, a, b, g)
	}
	dur := func(name string, a, b time.Duration) { row(name, fmtDur(a), fmtDur(b), float64(a), float64(b)) }
	num := func(name string, a, b float64) {
		row(name, strconv.FormatFloat(a, 'f', -1, 64), strconv.FormatFloat(b, 'f', -1, 64), a, b)
	}
	dur("full sync, promobot", s.syncTime, l.syncTime)
	dur("full sync, kubectl", s.kubectlTime, l.kubectlTime)
	dur("push → applied p50", percentile(s.pushes, 50), percentile(l.pushes, 50))
	dur("push → applied p99", percentile(s.pushes, 99), percentile(l.pushes, 99))
	num("peak RSS (MB)", float64(s.rssKB/1024), float64(l.rssKB/1024))
	num("GitHub calls, full sync", float64(s.syncCalls), float64(l.syncCalls))
	num("GitHub writes, full sync", float64(s.syncWrites), float64(l.syncWrites))
	num("GitHub calls per push", s.pushCalls, l.pushCalls)
	num("GitHub writes per push", s.pushWrites, l.pushWrites)
}

// repositories is "1 repository" or "n repositories".
func repositories(n int) string {
	if n == 1 {
		return "1 repository"
	}
	return strconv.Itoa(n) + " repositories"
}
