// Package browser drives Debian's headless Chromium from Go (chromedp) for
// promobot's tests of its status page: the tests in this directory, and
// the story's screenshot.
package browser

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"
)

// ExecPath is the Chromium the tests run: $PROMOBOT_CHROMIUM, or Debian's
// /usr/bin/chromium.
func ExecPath() string {
	if p := os.Getenv("PROMOBOT_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// Check says how to get Chromium when it is missing.
func Check() error {
	if _, err := os.Stat(ExecPath()); err != nil {
		return fmt.Errorf("chromium not found at %s: run `make system-packages` (it installs Debian's chromium), or point $PROMOBOT_CHROMIUM at a Chromium: %w", ExecPath(), err)
	}
	return nil
}

// New starts a headless Chromium (no sandbox: the tests run as root) and
// returns the context of a tab in it, 1280×900; cancel ends the browser.
func New(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := Check(); err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ExecPath()), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		cancelAlloc()
		return nil, nil, fmt.Errorf("chromium %s start: %w", ExecPath(), err)
	}
	return tab, func() { cancelTab(); cancelAlloc() }, nil
}

// Screenshot loads url in a new headless Chromium, waits until the
// JavaScript expression ready is true (at most wait), and returns a PNG
// of the whole page.
func Screenshot(ctx context.Context, url, ready string, wait time.Duration) ([]byte, error) {
	tab, cancel, err := New(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(url)); err != nil {
		return nil, fmt.Errorf("%s load: %w", url, err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(wait))); err != nil {
		return nil, fmt.Errorf("%s: waiting for %s: %w", url, ready, err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		return nil, fmt.Errorf("%s screenshot: %w", url, err)
	}
	return png, nil
}
