package browser_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/browser"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/story"
)

const (
	stagingApp    = "my-api-service-staging"
	productionApp = "my-api-service-production"
	stagingFile   = "kustomize/overlays/staging/kustomization.yaml"
	admin         = "platform-admin"
	// liveWithin bounds how long after the apply fact is on the bus the
	// page may take to show it.
	liveWithin = 2 * time.Second
)

var (
	promobotBin string
	env         struct {
		once sync.Once
		dir  string
		e    *story.Env
		err  error
	}
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "promobot-browser-")
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
	env.dir = filepath.Join(dir, "env")
	code := m.Run()
	if env.e != nil {
		env.e.Close()
	}
	return code
}

// stack is the one running promobot the tests share: the local GitHub
// with the story's repository, the kube-apiserver, promobot serve with its
// status page; the App installed and every app synced once.
func stack(t *testing.T) *story.Env {
	t.Helper()
	if err := browser.Check(); err != nil {
		t.Fatal(err)
	}
	env.once.Do(func() {
		abs, _ := filepath.Abs(filepath.Join("..", "fixtures", "gitops"))
		env.e, env.err = story.Start(context.Background(), story.Options{Promobot: promobotBin, Fixture: abs, Dir: env.dir, Keep: true})
		if env.err != nil {
			return
		}
		if _, env.err = env.e.GitHub.Install(context.Background(), story.Owner, story.Repo); env.err != nil {
			return
		}
		env.err = env.e.GitHub.AddCollaborator(story.Owner, story.Repo, admin, githubapi.PermissionAdmin)
	})
	if env.err != nil {
		log, _ := os.ReadFile(filepath.Join(env.dir, "promobot.log"))
		t.Fatalf("stack: %v\npromobot's log:\n%s", env.err, log)
	}
	return env.e
}

// page is the status page open in a headless Chromium tab, with what the
// tab wrote to its console.
type page struct {
	t   *testing.T
	tab context.Context
	mu  sync.Mutex
	// console holds the console's errors and warnings, uncaught
	// exceptions and the browser log's errors (failed loads, CSP).
	console []string
}

// open opens url in a new browser, scripts on or off, and waits for the
// matrix to show every app synced.
func open(t *testing.T, url string, scripts bool) *page {
	t.Helper()
	tab, cancel, err := browser.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	p := &page{t: t, tab: tab}
	if err := chromedp.Listen(tab, p.record); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if !scripts {
		if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The first sync applies every app: wait for both cells (a reload
	// shows them when scripts are off).
	synced := fmt.Sprintf(`!!document.querySelector('td[data-app=%q][data-commit]') && !!document.querySelector('td[data-app=%q][data-commit]')`, stagingApp, productionApp)
	kit.Eventually(t, 180*time.Second, "the matrix to show both apps synced", func() (bool, string) {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](synced))
		if err == nil && !ok && !scripts {
			_ = chromedp.Do(tab, chromedp.Reload())
		}
		return err == nil && ok, fmt.Sprint(err)
	})
	return p
}

func (p *page) record(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			raw, _ := json.Marshal(ev.Args)
			line = fmt.Sprintf("console.%s %s", ev.Type, raw)
		}
	case *runtime.EventExceptionThrown:
		line = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			line += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			line = fmt.Sprintf("log %s %s: %s (%s)", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if line != "" {
		p.mu.Lock()
		p.console = append(p.console, line)
		p.mu.Unlock()
	}
}

// noConsoleErrors fails the test for each error the page wrote.
func (p *page) noConsoleErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.console {
		p.t.Errorf("the page's console: %s", l)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.tab, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits, in the page, until the JavaScript expression is true.
func (p *page) waitFor(what, expr string, timeout time.Duration) {
	p.t.Helper()
	if _, err := chromedp.Run(p.tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))); err != nil {
		p.t.Fatalf("waiting %s for %s: %v\nthe page:\n%s", timeout, what, err, eval[string](p, "document.querySelector('main').innerText"))
	}
}

// live waits until the page's live updates are connected.
func (p *page) live() {
	p.t.Helper()
	p.waitFor("the live updates", `document.getElementById("live").textContent.startsWith("Live:")`, 10*time.Second)
}

// openChange pushes files to a new branch and opens a pull request of it.
func openChange(t *testing.T, e *story.Env, branch string, files map[string]string) int {
	t.Helper()
	ctx := context.Background()
	if _, err := e.GitHub.Push(ctx, story.Owner, story.Repo, branch, githubapi.Commit{Message: "Change " + branch, Author: story.Developer, Files: files, From: "main"}); err != nil {
		t.Fatal(err)
	}
	n, err := e.GitHub.OpenPR(ctx, story.Owner, story.Repo, githubapi.NewPR{Title: "Change " + branch, Head: branch, Author: story.Developer})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var tagRE = regexp.MustCompile(`newTag: [^\s#]+`)

// bumpStaging opens a pull request setting the staging image's tag.
func bumpStaging(t *testing.T, e *story.Env, tag string) int {
	t.Helper()
	overlay, err := e.GitHub.File(context.Background(), story.Owner, story.Repo, "main", stagingFile)
	if err != nil {
		t.Fatal(err)
	}
	return openChange(t, e, "bump-"+tag, map[string]string{stagingFile: tagRE.ReplaceAllString(string(overlay), "newTag: "+tag)})
}

// cellShows is the expression true when app's cell shows commit.
func cellShows(app, commit string) string {
	return fmt.Sprintf(`!!document.querySelector('td[data-app=%q][data-commit=%q]')`, app, commit)
}

func TestPageLoadsWithoutConsoleErrors(t *testing.T) {
	e := stack(t)
	p := open(t, e.UIURL, true)
	p.live()
	if got := eval[string](p, `document.title`); got != "What runs where · promobot" {
		t.Errorf("title %q", got)
	}
	p.noConsoleErrors()
}

// TestPageWorksWithoutJavaScript: the matrix, its links and the feed are
// in the HTML itself.
func TestPageWorksWithoutJavaScript(t *testing.T) {
	e := stack(t)
	p := open(t, e.UIURL, false)
	got := eval[[]string](p, `[document.getElementById("live").textContent.trim(),
		document.querySelector('td[data-app="my-api-service-staging"] a.commit').href.includes("/my-org/cluster-config/commit/") ? "commit link" : "no commit link",
		document.querySelectorAll('#feed li').length > 0 ? "feed" : "no feed"]`)
	if !strings.HasSuffix(got[0], "Reload for news.") || got[1] != "commit link" || got[2] != "feed" {
		t.Errorf("without JavaScript: %q", got)
	}
	p.noConsoleErrors()
}

// TestMergeChangesTheCellLive: a merge in the local GitHub shows up in
// the staging cell within liveWithin of its apply fact reaching the bus,
// pushed to the open page: no reload, no polling.
func TestMergeChangesTheCellLive(t *testing.T) {
	e := stack(t)
	p := open(t, e.UIURL, true)
	p.live()
	eval[bool](p, `(window.promobotNoReload = true)`)
	nc := eventstest.Connect(t, e.NATSURL, events.CredentialsPath(filepath.Join(env.dir, "data")))
	sub, err := nc.SubscribeSync(events.FactSubject("apply", state.ApplyCompleted, story.Owner, story.Repo))
	if err != nil {
		t.Fatal(err)
	}
	n := bumpStaging(t, e, "1.2.0")
	sha, err := e.GitHub.MergePR(context.Background(), story.Owner, story.Repo, n, story.Maintainer, "merge")
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := sub.NextMsg(90 * time.Second)
		if err != nil {
			t.Fatalf("no apply fact of %s at %s: %v", stagingApp, sha[:7], err)
		}
		ev, err := events.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := state.DecodeApplyFact(ev); err == nil && f.App == stagingApp && f.Commit == sha {
			break
		}
	}
	onBus := time.Now()
	p.waitFor("the staging cell to show "+sha[:7], cellShows(stagingApp, sha), liveWithin)
	t.Logf("the cell showed %s %s after its apply fact was on the bus", sha[:7], time.Since(onBus).Round(time.Millisecond))
	if !eval[bool](p, `window.promobotNoReload === true`) {
		t.Error("the page reloaded")
	}
	p.waitFor(fmt.Sprintf("the cell to link pull request #%d", n),
		fmt.Sprintf(`!!document.querySelector('td[data-app=%q] a.pr[href$="/pull/%d"]')`, stagingApp, n), 10*time.Second)
	p.noConsoleErrors()
}
