package promoter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

// The fixture repository and its people.
const (
	owner      = "my-org"
	repoName   = "cluster-config"
	maintainer = "maintainer" // maintain
	developer  = "dev"        // write
	reader     = "reader"     // read
	botLogin   = "promobot[bot]"

	stagingApp    = "my-api-service-staging"
	productionApp = "my-api-service-production"
	stagingFile   = "kustomize/overlays/staging/kustomization.yaml"
	prodFile      = "kustomize/overlays/production/kustomization.yaml"
	promoBranch   = "promobot/promote/my-api-service/production"
)

var testKey = []byte("promobot-test-fingerprint-key")

// harness is the promoter wired to real components: the local GitHub API
// (real git repositories) sending signed webhooks to the real webhook
// receiver, which stores them on an in-process NATS JetStream bus, from
// which the promoter's consume loop takes them.
type harness struct {
	t       *testing.T
	ctx     context.Context
	gh      *githubapi.Server
	bus     *events.Bus
	p       *Promoter
	records *applier.Records
	logs    *bytes.Buffer
	logw    *lockedWriter
	now     time.Time
	// app is promobot's GitHub App client, as serve wires it.
	app *github.App
	// hookURL and secret are the webhook receiver's, for deliveries the
	// local GitHub does not send (merge_group).
	hookURL, secret string
}

type harnessOptions struct {
	// files are added to (or replace) fixture files before the
	// repository is created.
	files map[string]string
	// rename moves fixture files (old path → new path) first.
	rename map[string]string
	// links are symbolic links (path → target) added to (or replacing
	// files of) the fixture, after files.
	links map[string]string
	// opts tune the promoter.
	opts Options
	// permissions are the App's installation permissions (nil: the
	// local API's defaults).
	permissions map[string]string
}

func fixtureDir(t *testing.T) string {
	abs, err := filepath.Abs(filepath.Join("..", "test", "fixtures", "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func newHarness(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()

	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	bus, err := events.New(ctx, nc, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret := "webhook-secret"
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{[]byte(secret)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus)
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	gh, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: hook.URL,
		WebhookSecret: secret, AppSlug: "promobot", SyncWebhooks: true, Permissions: ho.permissions,
		Events: []string{"push", "pull_request", "issue_comment", "status", "check_run"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })

	// The Applications name the repository by its URL, which on the local
	// GitHub is the local web URL.
	fixture := filepath.Join(dir, "fixture")
	if err := os.CopyFS(fixture, os.DirFS(fixtureDir(t))); err != nil {
		t.Fatal(err)
	}
	apps, _ := filepath.Glob(filepath.Join(fixture, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+owner+"/"+repoName+".git"), []byte(gh.WebURL()+"/"+owner+"/"+repoName+".git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for from, to := range ho.rename {
		if err := os.Rename(filepath.Join(fixture, filepath.FromSlash(from)), filepath.Join(fixture, filepath.FromSlash(to))); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range ho.files {
		full := filepath.Join(fixture, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range ho.links {
		full := filepath.Join(fixture, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(full)
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	if err := gh.CreateRepo(ctx, owner, repoName, fixture); err != nil {
		t.Fatal(err)
	}
	for login, p := range map[string]githubapi.Permission{
		developer: githubapi.PermissionWrite, maintainer: githubapi.PermissionMaintain, reader: githubapi.PermissionRead,
	} {
		if err := gh.AddCollaborator(owner, repoName, login, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gh.Install(ctx, owner, repoName); err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, ctx: ctx, gh: gh, bus: bus, logs: &bytes.Buffer{}, now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
		hookURL: hook.URL, secret: secret}
	opts := ho.opts
	opts.AppSlug = "promobot"
	opts.FingerprintKey = testKey
	opts.Backoff = []time.Duration{50 * time.Millisecond}
	opts.MaxDeliver = 2
	if opts.AckAfter == 0 {
		// 👀 at once, so that every command's reactions are the same
		// however long it runs here.
		opts.AckAfter = -1
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return h.now }
	}
	h.logw = &lockedWriter{w: h.logs}
	opts.Logger = slog.New(slog.NewTextHandler(h.logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.app, err = github.NewApp(github.Options{AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM(), BaseURL: gh.URL(),
		Backoff: 10 * time.Millisecond, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	h.p, err = New(ctx, opts, bus, InstallationsFunc(func(ctx context.Context, id int64) (GitHub, error) {
		ic, err := h.app.Installation(ctx, id)
		if err != nil {
			return nil, err
		}
		return ic, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.records, err = applier.OpenRecords(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.p.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("promoter logs:\n%s", h.logs.String())
		}
	})
	h.settle()
	return h
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logText returns the promoter's log lines so far.
func (h *harness) logText() string {
	h.logw.mu.Lock()
	defer h.logw.mu.Unlock()
	return h.logs.String()
}

// installation returns promobot's client of the fixture's installation.
func (h *harness) installation() *github.InstallationClient {
	h.t.Helper()
	ic, err := h.app.Installation(h.ctx, h.gh.InstallationID(owner))
	if err != nil {
		h.t.Fatal(err)
	}
	return ic
}

// warmToken makes the installation's client fetch its token, so that call
// counts measure the promoter's calls only.
func (h *harness) warmToken() {
	h.t.Helper()
	if _, err := h.installation().Repository(h.ctx, Repo{Owner: owner, Name: repoName}); err != nil {
		h.t.Fatal(err)
	}
}

// settle waits until the promoter's consumers have handled every event
// stored so far.
func (h *harness) settle() {
	h.t.Helper()
	js := h.bus.JetStream()
	kit.Eventually(h.t, 90*time.Second, "the promoter's consumers to settle", func() (bool, string) {
		// Webhooks are sent out of order and late, as GitHub sends them:
		// every one sent, then every one handled, and none sent since.
		if err := h.gh.WaitDeliveries(h.ctx); err != nil {
			return false, err.Error()
		}
		for _, c := range []struct{ stream, name string }{{events.StreamGitHub, "promoter"}, {events.StreamFacts, "promoter-auto"}} {
			ok, left, err := kit.ConsumerCaughtUp(h.ctx, js, c.stream, c.name)
			if err != nil {
				return false, err.Error()
			}
			if !ok {
				return false, left + "; log:\n" + h.logs.String()
			}
		}
		return h.gh.DeliveriesIdle(), "webhooks sent while the consumers were idle"
	})
}

// file reads path at ref.
func (h *harness) file(ref, path string) string {
	h.t.Helper()
	raw, err := h.gh.File(h.ctx, owner, repoName, ref, path)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(raw)
}

// withTag returns the overlay's kustomization with its newTag value
// replaced, the rest byte for byte.
func withTag(t *testing.T, kustomization, tag string) string {
	t.Helper()
	re := regexp.MustCompile(`(newTag: )[^ \n]+`)
	if !re.MatchString(kustomization) {
		t.Fatalf("no newTag in %q", kustomization)
	}
	return re.ReplaceAllString(kustomization, "${1}"+tag)
}

// openChange pushes files to a new branch as the developer and opens a
// pull request; it returns the number.
func (h *harness) openChange(branch string, files map[string]string) int {
	h.t.Helper()
	if _, err := h.gh.Push(h.ctx, owner, repoName, branch, githubapi.Commit{Message: "Change " + branch, Author: developer, Files: files}); err != nil {
		h.t.Fatal(err)
	}
	n, err := h.gh.OpenPR(h.ctx, owner, repoName, githubapi.NewPR{Title: "Change " + branch, Head: branch, Author: developer})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// bumpStaging merges a pull request setting the staging tag and returns
// its number and merge commit.
func (h *harness) bumpStaging(tag string) (int, string) {
	h.t.Helper()
	n := h.openChange("bump-"+tag, map[string]string{stagingFile: withTag(h.t, h.file("main", stagingFile), tag)})
	sha, err := h.gh.MergePR(h.ctx, owner, repoName, n, maintainer, "merge")
	if err != nil {
		h.t.Fatal(err)
	}
	return n, sha
}

// applied records that the applier applied sha to the staging app, as it
// does after a successful, healthy apply, at when.
func (h *harness) applied(sha string, healthy bool, when time.Time) {
	h.t.Helper()
	rec := applier.Record{AppStatus: state.AppStatus{Repo: owner + "/" + repoName, App: stagingApp, Environment: "staging", Path: "kustomize/overlays/staging",
		Commit: sha, Seen: sha, AppliedAt: when, State: "applied", Healthy: healthy}}
	if !healthy {
		rec.State, rec.Message = "failed", "Deployment/staging/my-api-service: timed out waiting for rollout"
	}
	if err := h.records.Put(h.ctx, applier.Repo{Owner: owner, Name: repoName}, rec); err != nil {
		h.t.Fatal(err)
	}
}

// comment posts body on pull request n as login, waits until the promoter
// handled it, and returns the comment's id.
func (h *harness) comment(n int, login, body string) int64 {
	h.t.Helper()
	id, err := h.gh.Comment(h.ctx, owner, repoName, n, login, body)
	if err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	return id
}

// reactions returns the bot's reactions on a comment, in order.
func (h *harness) reactions(id int64) []string {
	h.t.Helper()
	c, err := h.gh.CommentByID(owner, repoName, id)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for _, r := range c.Reactions {
		if r.User == botLogin {
			out = append(out, r.Content)
		}
	}
	return out
}

// botComments returns the bodies of the bot's comments on n.
func (h *harness) botComments(n int) []githubapi.IssueComment {
	h.t.Helper()
	cs, err := h.gh.Comments(owner, repoName, n)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []githubapi.IssueComment
	for _, c := range cs {
		if c.Author == botLogin {
			out = append(out, c)
		}
	}
	return out
}

// replies returns the bot's comments on n other than sticky diff comments.
func (h *harness) replies(n int) []githubapi.IssueComment {
	h.t.Helper()
	var out []githubapi.IssueComment
	for _, c := range h.botComments(n) {
		if !strings.Contains(c.Body, "<!-- promobot:diff ") {
			out = append(out, c)
		}
	}
	return out
}

// promotionPRs returns the pull requests from the promotion branch.
func (h *harness) promotionPRs() []githubapi.PullRequest {
	h.t.Helper()
	prs, err := h.gh.PRs(owner, repoName)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []githubapi.PullRequest
	for _, p := range prs {
		if strings.HasPrefix(p.Head, BranchPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// facts returns the verbs and data of promobot.promotion.* facts so far.
func (h *harness) facts() []fact {
	h.t.Helper()
	var out []fact
	for _, fc := range kit.Facts(h.t, h.bus.JetStream(), events.FactPrefix+".promotion.>") {
		var f fact
		f.Verb = strings.TrimPrefix(fc.Type, "dev.promobot.promotion.")
		_ = json.Unmarshal(fc.Data, &f.Data)
		out = append(out, f)
	}
	return out
}

type fact struct {
	Verb string
	Data factData
}

func verbs(fs []fact) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Verb)
	}
	return out
}

// git runs git on the local GitHub's bare repository.
func (h *harness) git(args ...string) string {
	h.t.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir=" + h.gh.RepoPath(owner, repoName)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// scrub replaces the SHAs that change from run to run with names.
func scrub(s string, names map[string]string) string {
	for sha, name := range names {
		if sha == "" {
			continue
		}
		s = strings.ReplaceAll(s, sha, "<"+name+">")
		s = strings.ReplaceAll(s, markdown.ShortSHA(sha), "<"+name+">")
	}
	return s
}

// callsString formats call counts by route for a failure message.
func callsString(c githubapi.CallStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls, %d writes:", c.Total, c.Writes)
	for r, n := range c.ByRoute {
		fmt.Fprintf(&b, "\n  %d × %s", n, r)
	}
	return b.String()
}

// commitOf is a one-file commit by login.
func commitOf(login, path, content string) githubapi.Commit {
	return githubapi.Commit{Message: "Update " + path, Author: login, Files: map[string]string{path: content}}
}
