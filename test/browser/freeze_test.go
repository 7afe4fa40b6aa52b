package browser_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/story"
)

// screenshotFile is the README's picture of the page, rewritten with
// -update.
var screenshotFile = filepath.Join("..", "..", "docs", "status-page.png")

// TestPromotionAndFreezeShowUp: /promote opens a promotion pull request
// and the page lists it; /freeze production shows on the page, live, who
// froze it and why, in the matrix and on the promotion; /unfreeze takes it
// away. The page's screenshot goes to the test's artifact directory (and,
// with -update, to docs/status-page.png).
func TestPromotionAndFreezeShowUp(t *testing.T) {
	e := stack(t)
	ctx := context.Background()
	p := open(t, e.UIURL, true)
	p.live()
	n := bumpStaging(t, e, "1.3.0")
	sha, err := e.GitHub.MergePR(ctx, story.Owner, story.Repo, n, story.Maintainer, "merge")
	if err != nil {
		t.Fatal(err)
	}
	p.waitFor("staging to run "+sha[:7], cellShows(stagingApp, sha), 90*time.Second)
	if _, err := e.GitHub.Comment(ctx, story.Owner, story.Repo, n, story.Maintainer, "/promote"); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the promotion pull request", `!!document.querySelector('#promotions tr[data-app="my-api-service"][data-env="production"]')`, 90*time.Second)

	if _, err := e.GitHub.Comment(ctx, story.Owner, story.Repo, n, admin, "/freeze production incident 42: the database is migrating"); err != nil {
		t.Fatal(err)
	}
	frozen := `(() => { const f = document.querySelector('p.freeze[data-env="production"]'), g = document.querySelector('#promotions tr[data-env="production"] .gate');
		return !!f && f.textContent.includes("frozen by @platform-admin (/freeze production): incident 42: the database is migrating") && !!g && g.textContent.includes("@platform-admin"); })()`
	p.waitFor("the freeze", frozen, 60*time.Second)
	shoot(t, p)

	if _, err := e.GitHub.Comment(ctx, story.Owner, story.Repo, n, admin, "/unfreeze production"); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the freeze to go", `!document.querySelector('p.freeze[data-env="production"]')`, 60*time.Second)
	p.noConsoleErrors()
}

// shoot writes the page's screenshot into the test's artifact directory,
// and with -update to screenshotFile.
func shoot(t *testing.T, p *page) {
	t.Helper()
	png, err := chromedp.Run(p.tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.ArtifactDir(), "status-page.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
	if kit.Updating() {
		if err := os.WriteFile(screenshotFile, png, 0o644); err != nil {
			t.Fatal(fmt.Errorf("screenshot %s: %w", screenshotFile, err))
		}
	}
}
