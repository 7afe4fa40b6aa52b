package doctor_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

var (
	wantPerms = map[string]string{
		"contents": "write", "pull_requests": "write", "issues": "write", "statuses": "write",
		"checks": "write", "merge_queues": "read", "deployments": "write", "metadata": "read",
	}
	wantEvents = []string{"push", "pull_request", "issue_comment", "status", "check_run", "merge_group"}
	features   = map[string]string{"merge_queues": "applying merge queue groups"}
)

const validConfig = "appsDir: apps\n"

// public is a webhook configuration doctor finds all right.
var public = githubapi.HookConfig{URL: "https://promobot.example.com/webhook"}

// setup is one App on the local GitHub with a repository holding config
// as .promobot.yaml ("" for none), installed, and one push delivered to a
// real webhook receiver that verifies with serveSecret while GitHub signs
// with githubSecret.
type setup struct {
	perms        map[string]string
	config       string
	githubSecret string
	serveSecret  string
	// hook, when its URL is set, is the App's webhook configuration once
	// the push was delivered (deliveries go to the receiver before).
	hook githubapi.HookConfig
	// files are pushed with the config, REPO_URL replaced by the
	// repository's clone URL.
	files map[string]string
}

// run returns the options doctor would be given and a function that
// restarts the webhook receiver with another secret, as an operator
// fixing promobot serve's --webhook-secret-file does.
func (s setup) run(t *testing.T) (doctor.GitHubOptions, func(secret string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	bus := kit.Bus(t)
	var receiver atomic.Pointer[webhook.Receiver]
	serveWith := func(secret string) {
		rc, err := webhook.New(webhook.Options{Secrets: [][]byte{[]byte(secret)}, Logger: slog.New(slog.DiscardHandler)}, bus)
		if err != nil {
			t.Fatal(err)
		}
		receiver.Store(rc)
	}
	serveWith(s.serveSecret)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { receiver.Load().ServeHTTP(w, r) }))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: hook.URL, WebhookSecret: s.githubSecret,
		SyncWebhooks: true, Permissions: s.perms, Events: wantEvents})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fixture := filepath.Join(dir, "fixture")
	if err := os.MkdirAll(fixture, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixture, "README.md"), []byte("gitops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateRepo(ctx, "acme", "gitops", fixture); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(ctx, "acme", "gitops"); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"README.md": "gitops, again\n"}
	if s.config != "" {
		files[".promobot.yaml"] = s.config
	}
	for name, content := range s.files {
		files[name] = strings.ReplaceAll(content, "REPO_URL", srv.WebURL()+"/acme/gitops.git")
	}
	if _, err := srv.Push(ctx, "acme", "gitops", "main", githubapi.Commit{Message: "config", Files: files}); err != nil {
		t.Fatal(err)
	}
	if s.hook.URL != "" {
		srv.SetWebhookConfig(s.hook)
	}
	return doctor.GitHubOptions{
		BaseURL: srv.URL(), AppID: srv.AppID(), PrivateKey: srv.AppPrivateKeyPEM(),
		Permissions: wantPerms, Features: features, Events: wantEvents,
		WebhookSecrets: [][]byte{[]byte(s.serveSecret)}, WebhookPath: "/webhook",
	}, serveWith
}

// brief is a check without its prose, plus whether its Found and Fix hold
// the words that matter.
type brief struct {
	Name   string
	Status doctor.Status
}

// checks drops CheckGitHub's writes.
func checks(cs []doctor.Check, _ doctor.Writes) []doctor.Check { return cs }

func briefs(cs []doctor.Check) []brief {
	var out []brief
	for _, c := range cs {
		out = append(out, brief{c.Name, c.Status})
	}
	return out
}

func TestCheckGitHub(t *testing.T) {
	narrowed := map[string]string{}
	for k, v := range wantPerms {
		if k != "merge_queues" {
			narrowed[k] = v
		}
	}
	cfg := "acme/gitops .promobot.yaml"
	tests := []struct {
		name  string
		setup setup
		want  []brief
		// words the failing check's Found and Fix must hold
		found, fix string
	}{
		{
			name:  "all green",
			setup: setup{perms: wantPerms, config: validConfig, githubSecret: "s3cret", serveSecret: "s3cret", hook: public},
			want: []brief{{"github app", doctor.OK}, {"github app permissions", doctor.OK}, {"github app webhook", doctor.OK}, {"github app events", doctor.OK},
				{"webhook secret", doctor.OK}, {"installation on acme", doctor.OK}, {cfg, doctor.OK}},
		},
		{
			name:  "missing permission",
			setup: setup{perms: narrowed, config: validConfig, githubSecret: "s3cret", serveSecret: "s3cret", hook: public},
			want: []brief{{"github app", doctor.OK}, {"github app permissions", doctor.Fail}, {"github app webhook", doctor.OK}, {"github app events", doctor.OK},
				{"webhook secret", doctor.OK}, {"installation on acme", doctor.OK}, {cfg, doctor.OK}},
			found: "merge_queues: read (has none; needed for applying merge queue groups)", fix: "App's settings page",
		},
		{
			name:  "wrong webhook secret",
			setup: setup{perms: wantPerms, config: validConfig, githubSecret: "s3cret", serveSecret: "other", hook: public},
			want: []brief{{"github app", doctor.OK}, {"github app permissions", doctor.OK}, {"github app webhook", doctor.OK}, {"github app events", doctor.OK},
				{"webhook secret", doctor.Fail}, {"installation on acme", doctor.OK}, {cfg, doctor.OK}},
			found: "401, its signature matches no configured secret", fix: "same secret",
		},
		{
			name: "form-encoded webhook",
			setup: setup{perms: wantPerms, config: validConfig, githubSecret: "s3cret", serveSecret: "s3cret",
				hook: githubapi.HookConfig{URL: "https://promobot.example.com/webhook", ContentType: "form"}},
			want: []brief{{"github app", doctor.OK}, {"github app permissions", doctor.OK}, {"github app webhook", doctor.Fail}, {"github app events", doctor.OK},
				{"webhook secret", doctor.OK}, {"installation on acme", doctor.OK}, {cfg, doctor.OK}},
			found: `content type "form": promobot serve refuses payloads that are not JSON`, fix: "application/json",
		},
		{
			name:  "invalid .promobot.yaml",
			setup: setup{perms: wantPerms, config: "gates: [\n", githubSecret: "s3cret", serveSecret: "s3cret", hook: public},
			want: []brief{{"github app", doctor.OK}, {"github app permissions", doctor.OK}, {"github app webhook", doctor.OK}, {"github app events", doctor.OK},
				{"webhook secret", doctor.OK}, {"installation on acme", doctor.OK}, {cfg, doctor.Fail}},
			found: "invalid on main", fix: "fix .promobot.yaml on main",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := tt.setup.run(t)
			got, _ := doctor.CheckGitHub(context.Background(), o)
			if diff := cmp.Diff(tt.want, briefs(got)); diff != "" {
				t.Fatalf("checks (-want +got):\n%s\n%+v", diff, got)
			}
			for _, c := range got {
				if c.Status == doctor.OK {
					continue
				}
				if !strings.Contains(c.Found, tt.found) || !strings.Contains(c.Fix, tt.fix) {
					t.Errorf("%s: found %q fix %q; want %q and %q", c.Name, c.Found, c.Fix, tt.found, tt.fix)
				}
			}
		})
	}
}

func TestCheckGitHubNoSecret(t *testing.T) {
	o, _ := setup{perms: wantPerms, githubSecret: "s3cret", serveSecret: "s3cret", hook: public}.run(t)
	o.WebhookSecrets = nil
	var secret doctor.Check
	for _, c := range checks(doctor.CheckGitHub(context.Background(), o)) {
		if c.Name == "webhook secret" {
			secret = c
		}
	}
	if secret.Status != doctor.Fail || !strings.Contains(secret.Fix, "--webhook-secret-file") {
		t.Fatalf("webhook secret check = %+v, want a failure naming --webhook-secret-file", secret)
	}
}

// TestCheckGitHubRedeliver: after the operator fixed promobot serve's
// secret, the latest delivery still shows the old 401; with Redeliver the
// check sends it again and judges by the new attempt, in both directions.
func TestCheckGitHubRedeliver(t *testing.T) {
	o, serveWith := setup{perms: wantPerms, githubSecret: "s3cret", serveSecret: "wrong"}.run(t)
	serveWith("s3cret")
	secretStatus := func(redeliver bool) doctor.Check {
		t.Helper()
		o.Redeliver = redeliver
		for _, c := range checks(doctor.CheckGitHub(context.Background(), o)) {
			if c.Name == "webhook secret" {
				return c
			}
		}
		t.Fatal("no webhook secret check")
		return doctor.Check{}
	}
	if c := secretStatus(false); c.Status != doctor.Fail {
		t.Fatalf("without redelivery the stale 401 should show: %+v", c)
	}
	if c := secretStatus(true); c.Status != doctor.OK || !strings.Contains(c.Found, "accepted with 202") {
		t.Fatalf("after redelivery to the fixed receiver: %+v, want ok", c)
	}
	serveWith("wrong again")
	if c := secretStatus(true); c.Status != doctor.Fail || !strings.Contains(c.Found, "401") {
		t.Fatalf("after redelivery to a receiver with another secret: %+v, want fail", c)
	}
}
