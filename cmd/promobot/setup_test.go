package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const (
	setupTestSecret = "whsec-from-local-github"
	setupTestHook   = "https://promobot.example.com/webhook"
)

func startLocalGitHub(t *testing.T) *githubapi.Server {
	t.Helper()
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(t.TempDir(), "github"), WebhookSecret: setupTestSecret, AppID: 4242})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// setupRun is "promobot setup" running in-process.
type setupRun struct {
	page   string
	stdout *kit.Buffer
	stderr *kit.Buffer
	done   chan error
}

func startSetup(t *testing.T, srv *githubapi.Server, args ...string) *setupRun {
	t.Helper()
	addr := freePort(t)
	r := &setupRun{page: "http://" + addr, stdout: &kit.Buffer{}, stderr: &kit.Buffer{}, done: make(chan error, 1)}
	root := newRootCommand()
	root.SetOut(r.stdout)
	root.SetErr(r.stderr)
	root.SetArgs(append([]string{"setup", "--listen", addr, "--github-web-url", srv.WebURL(), "--github-url", srv.URL()}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { r.done <- root.ExecuteContext(ctx) }()
	kit.Eventually(t, 10*time.Second, "the setup page", func() (bool, string) {
		select {
		case err := <-r.done:
			t.Fatalf("setup exited early: %v\n%s", err, r.stderr.String())
		default:
		}
		code, _ := get(t, r.page+"/")
		return code == http.StatusOK, fmt.Sprintf("status %d; %s", code, r.stderr.String())
	})
	return r
}

func (r *setupRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("setup did not exit")
		return nil
	}
}

var (
	formActionRE   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	formManifestRE = regexp.MustCompile(`<input type="hidden" name="manifest" value="([^"]*)">`)
)

// setupForm reads the local page as a browser would: the form's action and
// its hidden manifest.
func setupForm(t *testing.T, page string) (action *url.URL, manifest string) {
	t.Helper()
	code, body := get(t, page+"/")
	a, m := formActionRE.FindStringSubmatch(body), formManifestRE.FindStringSubmatch(body)
	if code != http.StatusOK || a == nil || m == nil {
		t.Fatalf("setup page %d without a manifest form:\n%s", code, body)
	}
	action, err := url.Parse(html.UnescapeString(a[1]))
	if err != nil {
		t.Fatal(err)
	}
	return action, html.UnescapeString(m[1])
}

func TestSetupRegistersApp(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantAction string
	}{
		{"user", nil, "/settings/apps/new"},
		{"organization", []string{"--org", "acme"}, "/organizations/acme/settings/apps/new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startLocalGitHub(t)
			out := filepath.Join(t.TempDir(), "creds")
			r := startSetup(t, srv, append([]string{"--webhook-url", setupTestHook, "--name", "promobot-test", "--out", out}, tt.args...)...)

			action, manifest := setupForm(t, r.page)
			if got := action.Scheme + "://" + action.Host + action.Path; got != srv.WebURL()+tt.wantAction {
				t.Errorf("form action %s, want %s", got, srv.WebURL()+tt.wantAction)
			}
			state := action.Query().Get("state")
			if len(state) < 32 {
				t.Errorf("state %q is not a long random value", state)
			}
			var gotManifest map[string]any
			if err := json.Unmarshal([]byte(manifest), &gotManifest); err != nil {
				t.Fatalf("manifest %q: %v", manifest, err)
			}
			wantManifest := map[string]any{
				"name":            "promobot-test",
				"url":             appHomepage,
				"hook_attributes": map[string]any{"url": setupTestHook, "active": true},
				"redirect_url":    r.page + "/callback",
				"public":          false,
				"default_permissions": map[string]any{"contents": "write", "pull_requests": "write", "issues": "write",
					"statuses": "write", "checks": "write", "merge_queues": "read", "deployments": "write", "metadata": "read"},
				"default_events": []any{"push", "pull_request", "issue_comment", "status", "check_run", "merge_group"},
			}
			if diff := cmp.Diff(wantManifest, gotManifest); diff != "" {
				t.Errorf("manifest (-want +got):\n%s", diff)
			}

			// A callback that is not from this page's form is refused, and
			// setup keeps waiting.
			code, body := get(t, r.page+"/callback?code=stolen&state=wrong")
			if code != http.StatusBadRequest || !strings.Contains(body, "state does not match") {
				t.Errorf("wrong state: %d %q", code, body)
			}

			// The browser posts the manifest to GitHub, which redirects it
			// back to the callback.
			resp, err := http.PostForm(action.String(), url.Values{"manifest": {manifest}})
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Registered promobot-test (App id 4242)") ||
				!strings.Contains(string(page), `href="`+srv.WebURL()+`/apps/promobot/installations/new"`) {
				t.Errorf("callback page %d:\n%s", resp.StatusCode, page)
			}
			if err := r.wait(t); err != nil {
				t.Fatalf("setup: %v\n%s", err, r.stderr.String())
			}

			keyPath, secretPath := filepath.Join(out, "app.private-key.pem"), filepath.Join(out, "webhook-secret.txt")
			wantOut := "open " + r.page + " in a browser signed in to GitHub and press the button to register the App\n" +
				`registered GitHub App "promobot-test" (id 4242): ` + srv.WebURL() + "/apps/promobot\n" +
				"wrote " + filepath.Join(out, "app-id") + ", " + keyPath + ", " + secretPath + "\n" +
				"next:\n  1. install the App on your GitOps repository: " + srv.WebURL() + "/apps/promobot/installations/new\n" +
				"  2. run promobot serve --app-id 4242 --private-key-file " + keyPath + " --webhook-secret-file " + secretPath +
				" --github-url " + srv.URL() + "\n"
			if diff := cmp.Diff(wantOut, r.stdout.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}

			files := map[string]string{}
			modes := map[string]os.FileMode{}
			for _, name := range []string{"app-id", "app.private-key.pem", "webhook-secret.txt"} {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				st, _ := os.Stat(filepath.Join(out, name))
				files[name], modes[name] = string(b), st.Mode().Perm()
			}
			wantFiles := map[string]string{"app-id": "4242\n", "app.private-key.pem": string(srv.AppPrivateKeyPEM()), "webhook-secret.txt": setupTestSecret + "\n"}
			if diff := cmp.Diff(wantFiles, files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]os.FileMode{"app-id": 0o644, "app.private-key.pem": 0o600, "webhook-secret.txt": 0o600}, modes); diff != "" {
				t.Errorf("file modes (-want +got):\n%s", diff)
			}
			for _, secret := range []string{setupTestSecret, "PRIVATE KEY"} {
				if strings.Contains(r.stdout.String()+r.stderr.String(), secret) {
					t.Errorf("setup printed %q", secret)
				}
			}

			// The saved key authenticates as the App.
			tr, err := ghinstallation.NewAppsTransportKeyFromFile(http.DefaultTransport, 4242, keyPath)
			if err != nil {
				t.Fatalf("saved private key: %v", err)
			}
			tr.BaseURL = strings.TrimSuffix(srv.URL(), "/")
			client, err := gh.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(srv.URL(), srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			app, _, err := client.Apps.Get(context.Background(), "")
			if err != nil || app.GetID() != 4242 {
				t.Errorf("GET /app with the saved key: id %d, %v", app.GetID(), err)
			}
		})
	}
}

func TestSetupConversionFailure(t *testing.T) {
	srv := startLocalGitHub(t)
	out := t.TempDir()
	r := startSetup(t, srv, "--webhook-url", setupTestHook, "--out", out)
	action, _ := setupForm(t, r.page)
	// A code GitHub never issued (or one already used) is refused by GitHub.
	code, body := get(t, r.page+"/callback?code=0123456789abcdef&state="+action.Query().Get("state"))
	if code != http.StatusBadGateway || !strings.Contains(body, "Registration failed") {
		t.Errorf("callback %d:\n%s", code, body)
	}
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "app manifest conversion") || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want the failed conversion", err)
	}
	if !strings.Contains(r.stderr.String(), "promobot setup: app manifest conversion") {
		t.Errorf("stderr %q does not explain the error", r.stderr.String())
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("files written after a failed conversion: %v", entries)
	}
}

func TestSetupTimesOut(t *testing.T) {
	srv := startLocalGitHub(t)
	r := startSetup(t, srv, "--webhook-url", setupTestHook, "--out", t.TempDir(), "--timeout", "1s")
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "no App was registered within 1s") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestSetupRefusesBadFlags(t *testing.T) {
	existing := t.TempDir()
	if err := os.WriteFile(filepath.Join(existing, "app.private-key.pem"), []byte("old key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no webhook url", nil, "--webhook-url is required"},
		{"webhook url not absolute", []string{"--webhook-url", "promobot.example.com/webhook"}, "want an absolute http(s) URL"},
		{"webhook url without /webhook", []string{"--webhook-url", "https://promobot.example.com/hooks"}, "want promobot serve's /webhook path"},
		{"credentials exist", []string{"--webhook-url", setupTestHook, "--out", existing}, filepath.Join(existing, "app.private-key.pem") + " already exists"},
		{"zero timeout", []string{"--webhook-url", setupTestHook, "--timeout", "0s"}, "--timeout 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCommand()
			var stderr bytes.Buffer
			root.SetErr(&stderr)
			root.SetOut(io.Discard)
			root.SetArgs(append([]string{"setup", "--listen", "127.0.0.1:0", "--out", t.TempDir()}, tt.args...))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not explain the error", stderr.String())
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(existing, "app.private-key.pem")); string(b) != "old key" {
		t.Errorf("an existing private key was changed: %q", b)
	}
}

// TestSetupManifestMatchesREADME: the permissions and events the App
// manifest asks for are the ones the README's "Install the GitHub App"
// table lists.
func TestSetupManifestMatchesREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(setting string) []string {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "| "+setting+" | "); ok {
				v = strings.TrimSuffix(strings.TrimSpace(v), "|")
				var items []string
				for _, it := range strings.Split(v, "·") {
					it, _, _ = strings.Cut(it, "(")
					items = append(items, strings.TrimSpace(it))
				}
				return items
			}
		}
		t.Fatalf("README.md has no %q row", setting)
		return nil
	}
	// The README uses GitHub's form labels; the manifest uses API names.
	permName := map[string]string{"Contents": "contents", "Pull requests": "pull_requests", "Issues": "issues",
		"Commit statuses": "statuses", "Deployments": "deployments", "Metadata": "metadata", "Checks": "checks", "Merge queues": "merge_queues"}
	access := map[string]string{"read & write": "write", "read": "read"}
	readmePerms := map[string]string{}
	for _, it := range row("Repository permissions") {
		label, level, _ := strings.Cut(it, ": ")
		if permName[label] == "" || access[level] == "" {
			t.Fatalf("README permission %q: unknown label or access", it)
		}
		readmePerms[permName[label]] = access[level]
	}
	if diff := cmp.Diff(readmePerms, appPermissions); diff != "" {
		t.Errorf("manifest permissions vs README (-readme +manifest):\n%s", diff)
	}
	var readmeEvents []string
	for _, it := range row("Subscribe to events") {
		readmeEvents = append(readmeEvents, strings.ReplaceAll(strings.ToLower(it), " ", "_"))
	}
	if diff := cmp.Diff(readmeEvents, appEvents); diff != "" {
		t.Errorf("manifest events vs README (-readme +manifest):\n%s", diff)
	}
}

// TestSetupAnswersOnlyItsOwnHost: the setup page answers requests naming
// its own address (and, on loopback, localhost) and refuses every other
// Host with 421, so a page whose DNS name was rebound to 127.0.0.1 cannot
// read the state or drive the callback.
func TestSetupAnswersOnlyItsOwnHost(t *testing.T) {
	srv := startLocalGitHub(t)
	r := startSetup(t, srv, "--webhook-url", setupTestHook, "--out", t.TempDir())
	action, manifest := setupForm(t, r.page)
	state := action.Query().Get("state")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.page, "http://"))
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"127.0.0.2:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"rebound.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"rebound.attacker.example", http.StatusMisdirectedRequest},
		{"127.0.0.1", http.StatusMisdirectedRequest},
		{"127.0.0.1:1", http.StatusMisdirectedRequest},
		{"192.0.2.7:" + port, http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			paths := []string{"/"}
			if tt.want != http.StatusOK {
				// A callback from this page would end setup; one with
				// a foreign Host must not.
				paths = append(paths, "/callback?code=0123456789abcdef&state="+state)
			}
			for _, path := range paths {
				req, _ := http.NewRequest(http.MethodGet, r.page+path, nil)
				req.Host = tt.host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("GET %s with Host %q: %d, want %d", path, tt.host, resp.StatusCode, tt.want)
				}
				if tt.want != http.StatusOK && strings.Contains(string(body), state) {
					t.Errorf("GET %s with Host %q: the answer holds the state", path, tt.host)
				}
			}
		})
	}
	// The refused callbacks used nothing up: the browser's own round trip
	// through GitHub still registers the App.
	resp, err := http.PostForm(action.String(), url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Registered promobot") {
		t.Errorf("callback page %d:\n%s", resp.StatusCode, page)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("setup: %v\n%s", err, r.stderr.String())
	}
}

func TestSetupOwnHost(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		host   string
		want   bool
	}{
		{"loopback by its address", "127.0.0.1:8765", "127.0.0.1:8765", true},
		{"loopback as localhost", "127.0.0.1:8765", "localhost:8765", true},
		{"loopback as ::1", "127.0.0.1:8765", "[::1]:8765", true},
		{"loopback, another port", "127.0.0.1:8765", "127.0.0.1:8766", false},
		{"loopback, a DNS name", "127.0.0.1:8765", "promobot.example:8765", false},
		{"loopback, a LAN address", "127.0.0.1:8765", "192.168.1.5:8765", false},
		{"any address, an IP", "0.0.0.0:8765", "192.168.1.5:8765", true},
		{"any address, localhost", "0.0.0.0:8765", "localhost:8765", true},
		{"any address, a DNS name", "0.0.0.0:8765", "promobot.example:8765", false},
		{"LAN address by itself", "192.168.1.5:8765", "192.168.1.5:8765", true},
		{"LAN address as localhost", "192.168.1.5:8765", "localhost:8765", false},
		{"LAN address, another IP", "192.168.1.5:8765", "192.168.1.6:8765", false},
		{"port 80 without a port", "127.0.0.1:80", "localhost", true},
		{"port 80, IPv6 without a port", "[::1]:80", "[::1]", true},
		{"no host", "127.0.0.1:8765", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			if got := ownHost(addr, tt.host); got != tt.want {
				t.Errorf("ownHost(%s, %q) = %v, want %v", tt.listen, tt.host, got, tt.want)
			}
		})
	}
}

// TestSetupPageExplainsEachPermission: the setup page shows each
// permission the manifest asks for and each event it subscribes to in a
// table, with why promobot needs it.
func TestSetupPageExplainsEachPermission(t *testing.T) {
	if diff := cmp.Diff(slices.Sorted(maps.Keys(appPermissions)), slices.Sorted(maps.Keys(permissionWhy))); diff != "" {
		t.Errorf("permissions without a why, or whys without a permission (-manifest +why):\n%s", diff)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(appEvents)), slices.Sorted(maps.Keys(eventWhy))); diff != "" {
		t.Errorf("events without a why, or whys without an event (-manifest +why):\n%s", diff)
	}
	srv := startLocalGitHub(t)
	r := startSetup(t, srv, "--webhook-url", setupTestHook, "--out", t.TempDir())
	_, body := get(t, r.page+"/")
	perms := map[string]string{}
	for _, m := range setupPermRowRE.FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(m[3]) == "" {
			t.Errorf("permission %s: no why", m[1])
		}
		perms[m[1]] = m[2]
	}
	if diff := cmp.Diff(appPermissions, perms); diff != "" {
		t.Errorf("the page's permission rows (-manifest +page):\n%s", diff)
	}
	var evs []string
	for _, m := range setupEventRowRE.FindAllStringSubmatch(body, -1) {
		if m[2] != html.EscapeString(eventWhy[m[1]]) {
			t.Errorf("event %s: why %q", m[1], m[2])
		}
		evs = append(evs, m[1])
	}
	if diff := cmp.Diff(appEvents, evs); diff != "" {
		t.Errorf("the page's event rows (-manifest +page):\n%s", diff)
	}
	for _, want := range []string{`<link rel="stylesheet" href="static/style.css">`, "What happens next"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if code, css := get(t, r.page+"/static/style.css"); code != http.StatusOK || !strings.Contains(css, "--focus") {
		t.Errorf("GET /static/style.css: %d", code)
	}
}

var (
	setupPermRowRE  = regexp.MustCompile(`<tr><th scope="row"><code>(\w+)</code></th><td>(read|write)</td><td>([^<]*)</td></tr>`)
	setupEventRowRE = regexp.MustCompile(`<tr><th scope="row"><code>(\w+)</code></th><td>([^<]*)</td></tr>`)
)

// TestSetupErrorPages: each refusal of the callback is a page saying what
// went wrong and what to do next.
func TestSetupErrorPages(t *testing.T) {
	srv := startLocalGitHub(t)
	r := startSetup(t, srv, "--webhook-url", setupTestHook, "--out", t.TempDir())
	action, manifest := setupForm(t, r.page)
	state := action.Query().Get("state")
	tests := []struct {
		name, query string
		code        int
		want        []string
	}{
		{"another page's link", "?code=abc&state=wrong", http.StatusBadRequest,
			[]string{"<h1>promobot setup: This link is not from this setup page</h1>", "What to do", "Start again from " + r.page}},
		{"no code", "?state=" + state, http.StatusBadRequest,
			[]string{"<h1>promobot setup: GitHub registered no App</h1>", "Start again from " + r.page + " and confirm on GitHub."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, r.page+"/callback"+tt.query)
			if code != tt.code {
				t.Errorf("status %d, want %d", code, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q:\n%s", w, body)
				}
			}
		})
	}
	resp, err := http.PostForm(action.String(), url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	sp := &setupPages{f: &setupFlags{name: "promobot"}, state: state, pageURL: r.page}
	sp.once.Do(func() {})
	rec := httptest.NewRecorder()
	sp.callback(rec, httptest.NewRequest(http.MethodGet, "/callback?code=again&state="+state, nil))
	if body := rec.Body.String(); rec.Code != http.StatusGone || !strings.Contains(body, "This setup page is used up") || !strings.Contains(body, "run promobot setup again") {
		t.Errorf("a second callback: %d\n%s", rec.Code, body)
	}
}
