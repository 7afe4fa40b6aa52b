package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

// promoterLatency is what every API call of the promoter bench costs, as
// a stand-in for GitHub's network and processing time.
const promoterLatency = 50 * time.Millisecond

// benchPromoter measures /promote end to end against the local GitHub API
// (real git repositories, signed webhooks to the real receiver, the real
// bus and consume loop): the API calls a first promotion (branch, commit,
// pull request, labels, diff comment, reactions) and an update of the open
// promotion pull request make, counted by the local API, and the time from
// posting /promote to the promotion pull request being up with 50 ms added
// to every API call, beside the floor those calls cost made back to back.
func benchPromoter(ctx context.Context, cfg config) error {
	rounds := 5
	if cfg.quick {
		rounds = 2
	}
	b, err := newPromoterBench(ctx)
	if err != nil {
		return err
	}
	defer b.close()

	type sample struct {
		calls       githubapi.CallStats
		up, settled time.Duration
	}
	var first, upd []sample
	tag := 1
	for r := 0; r < rounds; r++ {
		for _, kind := range []string{"first", "update"} {
			tag++
			n, _, err := b.bumpStaging(ctx, fmt.Sprintf("1.%d.0", tag))
			if err != nil {
				return err
			}
			b.gh.SetLatency(promoterLatency)
			b.gh.ResetCalls()
			up, settled, err := b.promote(ctx, n, fmt.Sprintf("1.%d.0", tag))
			if err != nil {
				return fmt.Errorf("%s promotion: %w", kind, err)
			}
			s := sample{calls: b.gh.Calls(), up: up, settled: settled}
			b.gh.SetLatency(0)
			if kind == "first" {
				first = append(first, s)
			} else {
				upd = append(upd, s)
			}
		}
		if err := b.mergePromotion(ctx); err != nil {
			return err
		}
	}

	// The floor: the same number of API calls, one after the other.
	floor := func(n int) (time.Duration, error) {
		b.gh.SetLatency(promoterLatency)
		defer b.gh.SetLatency(0)
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := b.client.Repository(ctx, github.Repo{Owner: "my-org", Name: "cluster-config"}); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	report := func(name string, ss []sample, maxCalls, maxWrites int) error {
		c := ss[len(ss)-1].calls
		target := fmt.Sprintf("target: at most %d calls: %s", maxCalls, verdict(c.Total <= maxCalls))
		if maxWrites > 0 {
			target += fmt.Sprintf(", at most %d writes: %s", maxWrites, verdict(c.Writes <= maxWrites))
		}
		fmt.Printf("%s: %d API calls, %d writes (%s)\n", name, c.Total, c.Writes, target)
		var routes []string
		for r, n := range c.ByRoute {
			if !strings.Contains(r, "_codeload") {
				routes = append(routes, fmt.Sprintf("    %d × %s", n, r))
			}
		}
		sort.Strings(routes)
		fmt.Println(strings.Join(routes, "\n"))
		var up, settled []time.Duration
		for _, s := range ss {
			up = append(up, s.up)
			settled = append(settled, s.settled)
			if s.calls.Total != c.Total {
				fmt.Printf("    (a round made %d calls)\n", s.calls.Total)
			}
		}
		fl, err := floor(c.Total)
		if err != nil {
			return err
		}
		fmt.Printf("  /promote → PR up:   p50 %s  max %s   (%d rounds, %s added per API call)\n", fmtDur(pct(up, 50)), fmtDur(pct(up, 100)), len(ss), promoterLatency)
		fmt.Printf("  /promote → 🚀:      p50 %s  max %s\n", fmtDur(pct(settled, 50)), fmtDur(pct(settled, 100)))
		fmt.Printf("  floor, %d calls back to back: %s   ratio %.2f\n", c.Total, fmtDur(fl), float64(pct(settled, 50))/float64(fl))
		return nil
	}
	fmt.Println("counted by the local GitHub API (installation token already cached; the tarball download it redirects to not counted)")
	if err := report("first promotion incl. diff comment and check run", first, 10, 7); err != nil {
		return err
	}
	if err := report("update of the open promotion PR", upd, 7, 0); err != nil {
		return err
	}

	// The same with production pinned: revision promotions.
	revFirst, revUpd, err := revisionRounds(b, ctx, rounds, &tag, func(n int, suffix string) (sample, error) {
		b.gh.SetLatency(promoterLatency)
		defer b.gh.SetLatency(0)
		b.gh.ResetCalls()
		up, settled, err := b.promote(ctx, n, suffix)
		return sample{calls: b.gh.Calls(), up: up, settled: settled}, err
	})
	if err != nil {
		return err
	}
	if err := report("first revision promotion (production pinned) incl. diff comment and check run", revFirst, 10, 7); err != nil {
		return err
	}
	return report("update of the open revision promotion PR", revUpd, 7, 0)
}

// revisionRounds pins production to main's head, then runs rounds of a
// first and an updated revision promotion, each measured by promote.
func revisionRounds[S any](b *promoterBench, ctx context.Context, rounds int, tag *int, promote func(n int, suffix string) (S, error)) (first, upd []S, err error) {
	if err := b.pinProduction(ctx); err != nil {
		return nil, nil, err
	}
	for r := 0; r < rounds; r++ {
		for _, kind := range []string{"first", "update"} {
			*tag++
			n, sha, err := b.bumpStaging(ctx, fmt.Sprintf("1.%d.0", *tag))
			if err != nil {
				return nil, nil, err
			}
			s, err := promote(n, sha[:7])
			if err != nil {
				return nil, nil, fmt.Errorf("%s revision promotion: %w", kind, err)
			}
			if kind == "first" {
				first = append(first, s)
			} else {
				upd = append(upd, s)
			}
		}
		if err := b.mergePromotion(ctx); err != nil {
			return nil, nil, err
		}
	}
	return first, upd, nil
}

// pinProduction pins production's Application to the head of main.
func (b *promoterBench) pinProduction(ctx context.Context) error {
	const file = "apps/my-api-service-production.yaml"
	branches, err := b.gh.Branches(ctx, "my-org", "cluster-config")
	if err != nil {
		return err
	}
	raw, err := b.gh.File(ctx, "my-org", "cluster-config", "main", file)
	if err != nil {
		return err
	}
	pinned, _, err := kustomize.SetTargetRevision(raw, "my-api-service-production", branches["main"])
	if err != nil {
		return err
	}
	if _, err := b.gh.Push(ctx, "my-org", "cluster-config", "main", githubapi.Commit{Author: "maintainer", Message: "pin production",
		Files: map[string]string{file: string(pinned)}}); err != nil {
		return err
	}
	return b.settle(ctx)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) - 1) * p / 100
	return s[i]
}

// promoterBench is a promoter wired to the local GitHub as in production.
type promoterBench struct {
	gh      *githubapi.Server
	bus     *events.Bus
	records *applier.Records
	// client is promobot's client of the installation, the one the
	// promoter uses.
	client  *github.InstallationClient
	cleanup []func()
}

func (b *promoterBench) close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
}

func fixturePath() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "fixtures", "gitops")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("test", "fixtures", "gitops")
}

func newPromoterBench(ctx context.Context) (b *promoterBench, err error) {
	b = &promoterBench{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	dir, err := os.MkdirTemp("", "promobot-bench-promoter-")
	if err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() { os.RemoveAll(dir) })
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, nc.Close)
	if b.bus, err = events.New(ctx, nc, events.Options{}); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{benchSecret}, Logger: quiet}, b.bus)
	if err != nil {
		return nil, err
	}
	hook := httptest.NewServer(rc)
	b.cleanup = append(b.cleanup, hook.Close)
	// Unthrottled: this measures promobot's own calls and speed.
	b.gh, err = githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: hook.URL, Throttle: githubapi.Unthrottled(),
		WebhookSecret: string(benchSecret), AppSlug: "promobot", SyncWebhooks: true})
	if err != nil {
		return nil, err
	}
	if err := b.gh.Start(); err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() { b.gh.Close() })

	fixture := filepath.Join(dir, "fixture")
	if err := os.CopyFS(fixture, os.DirFS(fixturePath())); err != nil {
		return nil, err
	}
	apps, _ := filepath.Glob(filepath.Join(fixture, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/my-org/cluster-config.git"), []byte(b.gh.WebURL()+"/my-org/cluster-config.git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			return nil, err
		}
	}
	if err := b.gh.CreateRepo(ctx, "my-org", "cluster-config", fixture); err != nil {
		return nil, err
	}
	if err := b.gh.AddCollaborator("my-org", "cluster-config", "maintainer", githubapi.PermissionMaintain); err != nil {
		return nil, err
	}
	id, err := b.gh.Install(ctx, "my-org", "cluster-config")
	if err != nil {
		return nil, err
	}
	app, err := github.NewApp(github.Options{AppID: b.gh.AppID(), PrivateKey: b.gh.AppPrivateKeyPEM(), BaseURL: b.gh.URL(), Logger: quiet})
	if err != nil {
		return nil, err
	}
	if b.client, err = app.Installation(ctx, id); err != nil {
		return nil, err
	}
	// Fetch the installation token now: a running promobot has it cached.
	if _, err := b.client.Repository(ctx, github.Repo{Owner: "my-org", Name: "cluster-config"}); err != nil {
		return nil, err
	}
	if b.records, err = applier.OpenRecords(ctx, b.bus); err != nil {
		return nil, err
	}
	p, err := promoter.New(ctx, promoter.Options{AppSlug: "promobot", Logger: quiet}, b.bus,
		promoter.InstallationsFunc(func(context.Context, int64) (promoter.GitHub, error) { return b.client, nil }))
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(runCtx); close(done) }()
	b.cleanup = append(b.cleanup, func() { stop(); <-done })
	return b, b.settle(ctx)
}

// settle waits until the promoter handled every stored event.
func (b *promoterBench) settle(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ok, _, err := kit.ConsumerCaughtUp(ctx, b.bus.JetStream(), events.StreamGitHub, "promoter"); err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("promoter did not settle")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var newTagRe = regexp.MustCompile(`(newTag: )[^ \n]+`)

// bumpStaging merges a pull request setting the staging tag, records that
// staging applied it healthy (as the applier would) and waits until the
// promoter commented the pull request's diff. It returns the number.
func (b *promoterBench) bumpStaging(ctx context.Context, tag string) (int, string, error) {
	const file = "kustomize/overlays/staging/kustomization.yaml"
	cur, err := b.gh.File(ctx, "my-org", "cluster-config", "main", file)
	if err != nil {
		return 0, "", err
	}
	branch := "bump-" + tag
	if _, err := b.gh.Push(ctx, "my-org", "cluster-config", branch, githubapi.Commit{
		Author: "maintainer", Files: map[string]string{file: newTagRe.ReplaceAllString(string(cur), "${1}"+tag)}}); err != nil {
		return 0, "", err
	}
	n, err := b.gh.OpenPR(ctx, "my-org", "cluster-config", githubapi.NewPR{Title: "Bump staging to " + tag, Head: branch, Author: "maintainer"})
	if err != nil {
		return 0, "", err
	}
	sha, err := b.gh.MergePR(ctx, "my-org", "cluster-config", n, "maintainer", "merge")
	if err != nil {
		return 0, "", err
	}
	if err := b.records.Put(ctx, applier.Repo{Owner: "my-org", Name: "cluster-config"}, applier.Record{AppStatus: state.AppStatus{
		App: "my-api-service-staging", Environment: "staging", Commit: sha, Seen: sha, State: "applied", Healthy: true,
		AppliedAt: time.Now().Add(-time.Hour)}}); err != nil {
		return 0, "", err
	}
	return n, sha, b.settle(ctx)
}

// promote comments /promote on pull request n and returns how long it took
// until the promotion pull request promoted tag, and until the promoter
// was done (🚀 on the command).
func (b *promoterBench) promote(ctx context.Context, n int, tag string) (up, settled time.Duration, err error) {
	start := time.Now()
	id, err := b.gh.Comment(ctx, "my-org", "cluster-config", n, "maintainer", "/promote")
	if err != nil {
		return 0, 0, err
	}
	deadline := start.Add(2 * time.Minute)
	for up == 0 || settled == 0 {
		if time.Now().After(deadline) {
			return 0, 0, errors.New("no promotion pull request after 2 minutes")
		}
		if up == 0 {
			prs, err := b.gh.PRs("my-org", "cluster-config")
			if err != nil {
				return 0, 0, err
			}
			for _, pr := range prs {
				if pr.State == "open" && strings.HasPrefix(pr.Head, promoter.BranchPrefix) && strings.HasSuffix(pr.Title, " "+tag) {
					up = time.Since(start)
				}
			}
		}
		c, err := b.gh.CommentByID("my-org", "cluster-config", id)
		if err != nil {
			return 0, 0, err
		}
		for _, r := range c.Reactions {
			if r.Content == "rocket" && settled == 0 {
				settled = time.Since(start)
			}
			if r.Content == "confused" {
				return 0, 0, errors.New("the promotion was refused or failed")
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return up, settled, b.settle(ctx)
}

// mergePromotion merges the open promotion pull request and deletes its
// branch, as GitHub's "delete head branch on merge" does, so that the next
// promotion is a first one.
func (b *promoterBench) mergePromotion(ctx context.Context) error {
	prs, err := b.gh.PRs("my-org", "cluster-config")
	if err != nil {
		return err
	}
	for _, pr := range prs {
		if pr.State != "open" || !strings.HasPrefix(pr.Head, promoter.BranchPrefix) {
			continue
		}
		if _, err := b.gh.MergePR(ctx, "my-org", "cluster-config", pr.Number, "maintainer", "merge"); err != nil {
			return err
		}
		if err := b.client.DeleteBranch(ctx, github.Repo{Owner: "my-org", Name: "cluster-config"}, pr.Head); err != nil {
			return err
		}
	}
	return b.settle(ctx)
}
