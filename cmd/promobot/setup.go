package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/ui"
)

// appPermissions are the repository permissions promobot's App asks for; the
// README's "Install the GitHub App" table lists the same.
var appPermissions = map[string]string{
	"contents":      "write",
	"pull_requests": "write",
	"issues":        "write",
	"statuses":      "write",
	"checks":        "write",
	"merge_queues":  "read",
	"deployments":   "write",
	"metadata":      "read",
}

// appEvents are the webhook events promobot's App subscribes to
// (installation events are always sent).
var appEvents = []string{"push", "pull_request", "issue_comment", "status", "check_run", "merge_group"}

// appHomepage is the App's homepage on its GitHub settings page.
const appHomepage = "https://github.com/promobot/promobot"

// Files "promobot setup" writes under --out.
const (
	setupAppIDFile         = "app-id"
	setupPrivateKeyFile    = "app.private-key.pem"
	setupWebhookSecretFile = "webhook-secret.txt"
)

type setupFlags struct {
	webhookURL string
	org        string
	name       string
	webURL     string
	githubURL  string
	listen     string
	out        string
	open       bool
	timeout    time.Duration
}

// appManifest is a GitHub App manifest
// (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest).
type appManifest struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	HookAttributes     hookAttributes    `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	Public             bool              `json:"public"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
}

type hookAttributes struct {
	URL    string `json:"url"`
	Active bool   `json:"active"`
}

func newSetupCommand() *cobra.Command {
	f := &setupFlags{}
	cmd := &cobra.Command{
		Use:   "setup --webhook-url URL",
		Short: "Register promobot's GitHub App from a local page (the App manifest flow)",
		Long: `Register the GitHub App promobot runs as, with the permissions and events it needs,
without filling in GitHub's form by hand.

setup serves a page on --listen with one button. Open it in a browser signed in to
GitHub, press the button and confirm on GitHub: GitHub creates the App and sends the
browser back to setup, which exchanges the one-time code for the App's credentials
and writes them under --out:

  app-id               the App id
  app.private-key.pem  the App's private key (mode 0600)
  webhook-secret.txt   the webhook secret (mode 0600)

The key and the secret are never printed. setup then prints how to install the App
and start "promobot serve", and exits. It refuses to overwrite existing files.`,
		Example: `  promobot setup --webhook-url https://promobot.example.com/webhook
  promobot setup --org my-org --webhook-url https://promobot.example.com/webhook --out /etc/promobot
  # GitHub Enterprise Server
  promobot setup --github-web-url https://ghe.example.com --webhook-url https://promobot.example.com/webhook`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("github-url") && strings.TrimSuffix(f.webURL, "/") != "https://github.com" {
				f.githubURL = strings.TrimSuffix(f.webURL, "/") + "/api/v3/"
			}
			return runSetup(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.webhookURL, "webhook-url", "", "where GitHub sends the App's webhooks: promobot serve's /webhook, reachable from GitHub (required)")
	fl.StringVar(&f.org, "org", "", "register the App under this organization instead of your user account")
	fl.StringVar(&f.name, "name", "promobot", "the App's name (unique on GitHub)")
	fl.StringVar(&f.webURL, "github-web-url", "https://github.com", "GitHub's web address (GitHub Enterprise Server: https://HOST)")
	fl.StringVar(&f.githubURL, "github-url", "https://api.github.com/", "GitHub REST API base URL (default for --github-web-url https://HOST: https://HOST/api/v3/)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8765", "address of the local setup page")
	fl.StringVar(&f.out, "out", ".", "directory for app-id, app.private-key.pem and webhook-secret.txt")
	fl.BoolVar(&f.open, "open", false, "open the setup page in the default browser")
	fl.DurationVar(&f.timeout, "timeout", 15*time.Minute, "give up if no App is registered within this time")
	return cmd
}

func (f *setupFlags) validate() error {
	if f.webhookURL == "" {
		return errors.New("--webhook-url is required: where GitHub sends deliveries, e.g. https://promobot.example.com/webhook")
	}
	u, err := url.Parse(f.webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--webhook-url %q: want an absolute http(s) URL", f.webhookURL)
	}
	if !strings.HasSuffix(u.Path, "/webhook") {
		return fmt.Errorf("--webhook-url %q: want promobot serve's /webhook path", f.webhookURL)
	}
	if strings.TrimSpace(f.name) == "" {
		return errors.New("--name: the App needs a name")
	}
	w, err := url.Parse(f.webURL)
	if err != nil || (w.Scheme != "https" && w.Scheme != "http") || w.Host == "" {
		return fmt.Errorf("--github-web-url %q: want an absolute http(s) URL", f.webURL)
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	}
	for _, name := range []string{setupAppIDFile, setupPrivateKeyFile, setupWebhookSecretFile} {
		p := filepath.Join(f.out, name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; move it away or choose another --out", p)
		}
	}
	return nil
}

// formAction is where the browser posts the manifest: GitHub's "new App"
// page for the user or the organization.
func (f *setupFlags) formAction(state string) string {
	base := strings.TrimSuffix(f.webURL, "/")
	p := "/settings/apps/new"
	if f.org != "" {
		p = "/organizations/" + url.PathEscape(f.org) + p
	}
	return base + p + "?state=" + url.QueryEscape(state)
}

// apiClient is an unauthenticated client for the manifest conversion (the
// one-time code is the credential).
// checkGitHubURL refuses a --github-url that is not an API root URL before
// the setup page opens.
func (f *setupFlags) checkGitHubURL() error {
	if u, err := url.Parse(f.githubURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("--github-url %q: not an http(s) URL", f.githubURL)
	}
	return nil
}

// permissionWhy says why promobot's App asks for each of appPermissions.
var permissionWhy = map[string]string{
	"contents":      "Read the repository's manifests at each commit; write the promotion branches and their commits.",
	"pull_requests": "Read pull requests to render their diffs; open, update, merge and close promotion pull requests.",
	"issues":        "Answer commands such as /promote and /freeze with a comment and a reaction, and label promotions.",
	"statuses":      "Report each app's apply on its commit, when the repository asks for commit statuses.",
	"checks":        "Report each sync and each pull request's render as a check run; auto-merge reads the required checks.",
	"merge_queues":  "Render what a merge queue is about to merge, before it lands.",
	"deployments":   "Record what runs in each environment as GitHub Deployments.",
	"metadata":      "Read the repository itself (every GitHub App has it).",
}

// eventWhy says why promobot's App subscribes to each of appEvents.
var eventWhy = map[string]string{
	"push":          "A merge to the default branch applies the apps it changed.",
	"pull_request":  "A pull request's push is rendered into a diff comment; a merged promotion is recorded.",
	"issue_comment": "Commands on pull requests: /promote, /rollback, /freeze, /sync, /diff.",
	"status":        "A green required status lets an auto-merge promotion go ahead.",
	"check_run":     "A green required check lets an auto-merge promotion go ahead.",
	"merge_group":   "A merge queue's group is rendered and checked before it merges.",
}

// setupContent is the setup pages' content, in the status page's look
// (ui.Layout): "page" registers the App, "done" says what was saved and
// what comes next, "failed" what went wrong and what to do.
const setupContent = `{{define "title"}}{{if .Failed}}promobot setup: {{.Title}}{{else if .ID}}Registered {{.Name}} (App id {{.ID}}){{else}}Register {{.Name}} on GitHub{{end}}{{end}}
{{define "footer"}}promobot setup: this page runs on your machine and ends when setup exits.{{end}}
{{define "content"}}{{if .Failed}}{{template "failed" .}}{{else if .ID}}{{template "done" .}}{{else}}{{template "page" .}}{{end}}{{end}}
{{define "page"}}
<p>This registers a private GitHub App named <strong>{{.Name}}</strong>, {{if .Org}}owned by the organization <strong>{{.Org}}</strong>{{else}}owned by your GitHub account{{end}},
sending its webhooks to <code>{{.WebhookURL}}</code>.</p>
<section aria-labelledby="perms-title">
<h2 id="perms-title">Repository permissions</h2>
<table>
<thead><tr><th scope="col">Permission</th><th scope="col">Access</th><th scope="col">Why promobot needs it</th></tr></thead>
<tbody>
{{range .Permissions}}<tr><th scope="row"><code>{{.Name}}</code></th><td>{{.Access}}</td><td>{{.Why}}</td></tr>
{{end}}</tbody>
</table>
</section>
<section aria-labelledby="events-title">
<h2 id="events-title">Webhook events</h2>
<table>
<thead><tr><th scope="col">Event</th><th scope="col">What promobot does with it</th></tr></thead>
<tbody>
{{range .Events}}<tr><th scope="row"><code>{{.Name}}</code></th><td>{{.Why}}</td></tr>
{{end}}</tbody>
</table>
</section>
<section aria-labelledby="next-title">
<h2 id="next-title">What happens next</h2>
<ol class="steps">
<li>GitHub shows the App it is about to create; confirm there.</li>
<li>GitHub sends you back to this page, and setup saves the App's id, private key and webhook secret under <code>{{.Out}}</code> (the key and the secret readable only by you). They are never shown.</li>
<li>You install the App on your GitOps repository, from the link the next page gives.</li>
<li>You start <code>promobot serve</code> with the command setup prints in your terminal.</li>
</ol>
</section>
<form method="post" action="{{.Action}}">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Register the GitHub App</button>
</form>
{{end}}
{{define "done"}}
<p>GitHub registered <strong>{{.Name}}</strong> (App id {{.ID}}). Its credentials are saved:</p>
<ul>{{range .Written}}<li><code>{{.}}</code></li>{{end}}</ul>
<h2>Next</h2>
<ol class="steps">
<li><a href="{{.InstallURL}}">Install the App</a> on your GitOps repository.</li>
<li>Start promobot with the command printed in the terminal running <code>promobot setup</code>.</li>
</ol>
{{end}}
{{define "failed"}}
<div class="error" role="alert"><p><strong>{{.Title}}.</strong> {{.Err}}</p></div>
<h2>What to do</h2>
<ol class="steps">{{range .Steps}}<li>{{.}}</li>{{end}}</ol>
{{end}}
`

var setupTemplates = template.Must(ui.Layout(setupContent))

// setupRow is one permission or event on the setup page.
type setupRow struct{ Name, Access, Why string }

// setupView is what the setup pages show.
type setupView struct {
	Name, Org, WebhookURL, Out string
	Permissions, Events        []setupRow
	Action                     template.URL
	Manifest                   string
	// ID, Written and InstallURL are the registered App's.
	ID         int64
	Written    []string
	InstallURL template.URL
	// Failed, Title, Err and Steps are a failure and what to do about it.
	Failed     bool
	Title, Err string
	Steps      []string
}

// setupResult is what the callback hands back to runSetup.
type setupResult struct {
	app     github.Registration
	written []string
	err     error
}

func runSetup(ctx context.Context, f *setupFlags, out io.Writer) error {
	if err := f.validate(); err != nil {
		return err
	}
	if err := f.checkGitHubURL(); err != nil {
		return err
	}
	state, err := randomState()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("setup page listen %s: %w", f.listen, err)
	}
	pageURL := "http://" + ln.Addr().String()
	manifest, err := json.Marshal(appManifest{
		Name:               f.name,
		URL:                appHomepage,
		HookAttributes:     hookAttributes{URL: f.webhookURL, Active: true},
		RedirectURL:        pageURL + "/callback",
		Public:             false,
		DefaultPermissions: appPermissions,
		DefaultEvents:      appEvents,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("app manifest encode: %w", err)
	}
	sp := &setupPages{f: f, state: state, pageURL: pageURL, manifest: string(manifest), results: make(chan setupResult, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", sp.page)
	mux.HandleFunc("GET /callback", sp.callback)
	mux.Handle("GET /static/", ui.Static())
	srv := &http.Server{Handler: ownHostOnly(ln.Addr(), mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(out, "open %s in a browser signed in to GitHub and press the button to register the App\n", pageURL)
	if f.open {
		if err := openBrowser(pageURL); err != nil {
			fmt.Fprintf(out, "could not open a browser (%v); open %s yourself\n", err, pageURL)
		}
	}
	res, err := waitForApp(ctx, f.timeout, sp.results)
	if err != nil {
		return err
	}
	printNextSteps(out, f, res)
	return nil
}

// setupPages are the setup page, whose form posts the App manifest to
// GitHub, and the callback GitHub redirects to with the code that
// registers the App, once.
type setupPages struct {
	f        *setupFlags
	state    string // the form's state, which the callback must carry
	pageURL  string
	manifest string
	once     sync.Once
	results  chan setupResult
}

func (sp *setupPages) page(w http.ResponseWriter, _ *http.Request) {
	f := sp.f
	v := setupView{Name: f.name, Org: f.org, WebhookURL: f.webhookURL, Out: f.out,
		Action: template.URL(f.formAction(sp.state)), Manifest: sp.manifest}
	for _, name := range slices.Sorted(maps.Keys(appPermissions)) {
		v.Permissions = append(v.Permissions, setupRow{Name: name, Access: appPermissions[name], Why: permissionWhy[name]})
	}
	for _, name := range appEvents {
		v.Events = append(v.Events, setupRow{Name: name, Why: eventWhy[name]})
	}
	sp.render(w, http.StatusOK, v)
}

// render writes one setup page with status.
func (sp *setupPages) render(w http.ResponseWriter, status int, v setupView) {
	setupHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = setupTemplates.ExecuteTemplate(w, "layout", v)
}

// fail writes the error page: what went wrong, and what to do.
func (sp *setupPages) fail(w http.ResponseWriter, status int, title, err string, steps ...string) {
	sp.render(w, status, setupView{Name: sp.f.name, Failed: true, Title: title, Err: err, Steps: steps})
}

func (sp *setupPages) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(sp.state)) != 1 {
		sp.fail(w, http.StatusBadRequest, "This link is not from this setup page", "The state does not match this setup page: the link came from another run of promobot setup, or was changed.",
			"Start again from "+sp.pageURL+" and press the button there.")
		return
	}
	code := q.Get("code")
	if code == "" {
		sp.fail(w, http.StatusBadRequest, "GitHub registered no App", "GitHub sent no code: the registration was cancelled on GitHub or did not finish.",
			"Start again from "+sp.pageURL+" and confirm on GitHub.")
		return
	}
	handled := false
	sp.once.Do(func() {
		handled = true
		res := sp.register(r.Context(), code)
		if res.err != nil {
			sp.fail(w, http.StatusBadGateway, "Registration failed", res.err.Error(),
				"Read the message above: it names what failed. The terminal running promobot setup shows it too.",
				"If GitHub refused the code (404 or 422), it expired or was used already: run promobot setup again.",
				"Check that --github-url ("+sp.f.githubURL+") is the API of the GitHub you registered on.")
		} else {
			sp.render(w, http.StatusOK, setupView{Name: res.app.Name, ID: res.app.ID, Written: res.written,
				InstallURL: template.URL(strings.TrimSuffix(res.app.HTMLURL, "/") + "/installations/new")})
		}
		sp.results <- res
	})
	if !handled {
		sp.fail(w, http.StatusGone, "This setup page is used up", "It has already registered an App; it registers one at most.",
			"Look in the terminal running promobot setup for the App it registered and where its credentials are.",
			"To register another App, run promobot setup again.")
	}
}

// register trades code for the App's configuration and saves its
// credentials.
func (sp *setupPages) register(ctx context.Context, code string) setupResult {
	app, err := github.RegisterFromManifest(ctx, sp.f.githubURL, code)
	if err != nil {
		return setupResult{err: err}
	}
	written, err := writeAppCredentials(sp.f.out, app)
	if err != nil {
		err = fmt.Errorf("GitHub App %q (id %d) was registered but its credentials were not saved, so delete it on %s and run promobot setup again: %w",
			app.Name, app.ID, app.HTMLURL, err)
	}
	return setupResult{app: app, written: written, err: err}
}

// waitForApp waits for the callback's result, the timeout or the end of
// ctx.
func waitForApp(ctx context.Context, timeout time.Duration, results <-chan setupResult) (setupResult, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-results:
		return res, res.err
	case <-timer.C:
		return setupResult{}, fmt.Errorf("no App was registered within %s (--timeout); run promobot setup again", timeout)
	case <-ctx.Done():
		return setupResult{}, fmt.Errorf("setup interrupted before an App was registered: %w", ctx.Err())
	}
}

// printNextSteps tells what was registered and written, and the two steps
// left: install the App, run promobot serve with its credentials.
func printNextSteps(out io.Writer, f *setupFlags, res setupResult) {
	app := res.app
	id := strconv.FormatInt(app.ID, 10)
	keyPath := filepath.Join(f.out, setupPrivateKeyFile)
	secretPath := filepath.Join(f.out, setupWebhookSecretFile)
	serve := "promobot serve --app-id " + id + " --private-key-file " + keyPath + " --webhook-secret-file " + secretPath
	if strings.TrimSuffix(f.githubURL, "/") != "https://api.github.com" {
		serve += " --github-url " + f.githubURL
	}
	fmt.Fprintf(out, "registered GitHub App %q (id %s): %s\n", app.Name, id, app.HTMLURL)
	fmt.Fprintf(out, "wrote %s\n", strings.Join(res.written, ", "))
	if app.WebhookSecret == "" {
		fmt.Fprintf(out, "GitHub returned no webhook secret: set one on the App's settings page and save it in %s\n", secretPath)
	}
	fmt.Fprintf(out, "next:\n  1. install the App on your GitOps repository: %s/installations/new\n", strings.TrimSuffix(app.HTMLURL, "/"))
	fmt.Fprintf(out, "  2. run %s\n", serve)
}

// ownHostOnly answers 421 to requests whose Host is not the setup page's
// own address. A web page on another origin whose DNS name is rebound to
// this address reaches the listener with its own name as Host, and must not
// read the page (which holds the state) or drive the callback.
func ownHostOnly(listen net.Addr, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ownHost(listen, r.Host) {
			setupHeaders(w)
			http.Error(w, "this setup page answers only at its own address", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownHost reports whether a request's Host names the listener: its port,
// and an IP address it listens on or, on loopback, "localhost" and the
// other loopback addresses. DNS names other than localhost are refused:
// only a name can be rebound, an IP literal cannot.
func ownHost(listen net.Addr, host string) bool {
	tcp, ok := listen.(*net.TCPAddr)
	if !ok {
		return false
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil { // no port: the scheme's default
		name, port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80"
	}
	if port != strconv.Itoa(tcp.Port) {
		return false
	}
	loopback := tcp.IP.IsLoopback() || tcp.IP.IsUnspecified()
	if strings.EqualFold(name, "localhost") {
		return loopback
	}
	ip := net.ParseIP(name)
	switch {
	case ip == nil:
		return false
	case tcp.IP.IsUnspecified():
		return true
	case tcp.IP.IsLoopback():
		return ip.IsLoopback()
	}
	return ip.Equal(tcp.IP)
}

// setupHeaders keeps the local pages out of frames and caches, and lets
// them load only their own style sheet.
func setupHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// writeAppCredentials writes the App id, private key and webhook secret
// under dir, the secrets with mode 0600, and returns the paths written. It
// never overwrites a file.
func writeAppCredentials(dir string, app github.Registration) ([]string, error) {
	if app.ID == 0 || app.PEM == "" {
		return nil, errors.New("app manifest conversion: GitHub returned no App id or private key")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credentials directory %s: %w", dir, err)
	}
	files := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{setupAppIDFile, strconv.FormatInt(app.ID, 10) + "\n", 0o644},
		{setupPrivateKeyFile, app.PEM, 0o600},
		{setupWebhookSecretFile, app.WebhookSecret + "\n", 0o600},
	}
	var written []string
	for _, fl := range files {
		if fl.name == setupWebhookSecretFile && app.WebhookSecret == "" {
			continue
		}
		p := filepath.Join(dir, fl.name)
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fl.mode)
		if err != nil {
			return written, fmt.Errorf("credentials file %s: %w", p, err)
		}
		_, werr := fh.WriteString(fl.data)
		cerr := fh.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return written, fmt.Errorf("credentials file %s write: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}

func randomState() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("setup state: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// openBrowser asks the desktop to open u.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
