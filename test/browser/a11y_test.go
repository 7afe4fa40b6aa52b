package browser_test

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/browser"
	"github.com/promobot/promobot/test/kit"
)

// audit is an axe-style check of the page, in the page: the contrast of
// every visible text against its background (WCAG 2 relative luminance,
// at least 4.5:1), an accessible name on every link and button, one of
// each landmark, table headers with a scope, a language and a title.
const audit = `(() => {
  const problems = [];
  const rgba = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; return m[1].split(",").map(s => parseFloat(s)); };
  const lum = p => { const [r, g, b] = p.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const p = rgba(getComputedStyle(e).backgroundColor);
      if (p && (p.length < 4 || p[3] > 0)) return p;
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    const el = n.parentElement;
    if (!n.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right < 0 || r.bottom < 0) continue;
    const fg = lum(rgba(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + ":1 of " + JSON.stringify(n.textContent.trim().slice(0, 40)));
  }
  for (const a of document.querySelectorAll("a[href], button")) {
    if (!(a.getAttribute("aria-label") || a.textContent).trim()) problems.push("no accessible name: " + a.outerHTML.slice(0, 80));
    const label = a.getAttribute("aria-label");
    if (label && !label.includes(a.textContent.trim())) problems.push("label " + JSON.stringify(label) + " lacks the visible text " + JSON.stringify(a.textContent.trim()));
  }
  for (const th of document.querySelectorAll("th")) {
    if (!["col", "row"].includes(th.getAttribute("scope"))) problems.push("th without scope: " + th.textContent.trim());
  }
  for (const sel of ["body > header", "main", "body > footer", "h1"]) {
    const n = document.querySelectorAll(sel).length;
    if (n !== 1) problems.push(n + " of " + sel + ", want 1");
  }
  for (const s of document.querySelectorAll("main section")) {
    const id = s.getAttribute("aria-labelledby");
    if (!id || !document.getElementById(id)) problems.push("section without a heading naming it");
  }
  for (const t of document.querySelectorAll("table")) {
    if (!t.querySelector("thead th")) problems.push("table without a header row");
  }
  if (!document.documentElement.lang) problems.push("no lang on html");
  if (!document.title.trim()) problems.push("no title");
  return problems;
})()`

func TestAccessibility(t *testing.T) {
	e := stack(t)
	p := open(t, e.UIURL, true)
	p.live()
	if diff := cmp.Diff([]string{}, eval[[]string](p, audit)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	p.noConsoleErrors()
}

// focusState is what the page says of the element that has the focus.
const focusState = `(() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  return [e.dataset.kb || ("not a link: " + e.tagName),
    s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 ? "outline" : "no outline " + s.outlineStyle + " " + s.outlineWidth,
    r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 ? "on screen" : "off screen"];
})()`

// TestKeyboard: Tab reaches every link of the page in document order, the
// skip link first, each with a visible focus outline, on screen. Scripts
// are off so that no live update moves the links while the test tabs.
func TestKeyboard(t *testing.T) {
	e := stack(t)
	p := open(t, e.UIURL, false)
	names := eval[[]string](p, `Array.from(document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"))
		.filter(e => e.tabIndex >= 0)
		.map((e, i) => { e.dataset.kb = String(i); return (e.getAttribute("aria-label") || e.textContent).trim(); })`)
	if len(names) < 5 || names[0] != "Skip to content" {
		t.Fatalf("focusable elements %q: want the skip link first and the matrix's links", names)
	}
	var got, want [][]string
	for i := range names {
		if err := chromedp.Do(p.tab, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		got = append(got, eval[[]string](p, focusState))
		want = append(want, []string{strconv.Itoa(i), "outline", "on screen"})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tab order and focus (-want +got), links %q:\n%s", names, diff)
	}
	p.noConsoleErrors()
}

// TestSetupPageAccessibility: the `promobot setup` page shares the status
// page's look, and passes the same audit without a console error.
func TestSetupPageAccessibility(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, promobotBin, "setup", "--webhook-url", "https://promobot.example.com/webhook",
		"--listen", addr, "--out", t.TempDir(), "--github-web-url", "https://github.example.com")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	kit.EventuallyTrue(t, 20*time.Second, "the setup page", func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	tab, stop, err := browser.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	p := &page{t: t, tab: tab}
	if err := chromedp.Listen(tab, p.record); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{}, eval[[]string](p, audit)); diff != "" {
		t.Errorf("audit of the setup page (-want +got):\n%s", diff)
	}
	if got := eval[string](p, `getComputedStyle(document.querySelector("button")).backgroundColor`); got != "rgb(17, 99, 41)" {
		t.Errorf("the setup page's button is %s: not in the status page's look", got)
	}
	p.noConsoleErrors()
}
