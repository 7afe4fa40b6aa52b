package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// TestDoctorCommand runs promobot doctor against the local GitHub: with
// the App as promobot asks for it, every check is ok and the exit status 0;
// with a cluster on a closed port that check fails and the status is 1.
func TestDoctorCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := kit.NewReceiver(t)
	rc.SetStatus(http.StatusAccepted)
	dir := t.TempDir()
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: rc.URL, WebhookSecret: "s",
		SyncWebhooks: true, Permissions: appPermissions, Events: appEvents})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fixture := filepath.Join(dir, "fixture")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(fixture, "README.md"), "gitops\n")
	if err := srv.CreateRepo(ctx, "acme", "gitops", fixture); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(ctx, "acme", "gitops"); err != nil {
		t.Fatal(err)
	}
	// The installation was delivered to rc; from now on the App's webhook
	// URL is a public one, as a real App's is.
	public := githubapi.HookConfig{URL: "https://promobot.example.com/webhook"}
	write(filepath.Join(dir, "app.pem"), string(srv.AppPrivateKeyPEM()))
	write(filepath.Join(dir, "secret"), "s\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := kube.WriteKubeconfig(kubeconfig, &rest.Config{Host: "https://" + closed}); err != nil {
		t.Fatal(err)
	}
	natsDir := filepath.Join(dir, "nats")
	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: natsDir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := events.New(ctx, nc, events.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	base := []string{"doctor", "--json", "--github-url", srv.URL(), "--app-id", strconv.FormatInt(srv.AppID(), 10),
		"--private-key-file", filepath.Join(dir, "app.pem"), "--webhook-secret-file", filepath.Join(dir, "secret")}
	tests := []struct {
		name string
		args []string
		code int
		hook *githubapi.HookConfig // default public
		want map[string]doctor.Status
	}{
		{name: "all green", args: []string{"--webhook-url", public.URL}, want: map[string]doctor.Status{
			"github app": doctor.OK, "github app permissions": doctor.OK, "github app webhook": doctor.OK, "github app events": doctor.OK, "webhook secret": doctor.OK,
			"installation on acme": doctor.OK, "acme/gitops .promobot.yaml": doctor.OK, "acme/gitops apps": doctor.OK,
		}},
		{name: "webhook url not --webhook-url", args: []string{"--webhook-url", "https://promobot.example.org/webhook"}, code: 1, want: map[string]doctor.Status{
			"github app": doctor.OK, "github app permissions": doctor.OK, "github app webhook": doctor.Fail, "github app events": doctor.OK, "webhook secret": doctor.OK,
			"installation on acme": doctor.OK, "acme/gitops .promobot.yaml": doctor.OK, "acme/gitops apps": doctor.OK,
		}},
		{name: "webhook on plain http", hook: &githubapi.HookConfig{URL: "http://promobot.example.com/webhook"}, code: 1, want: map[string]doctor.Status{
			"github app": doctor.OK, "github app permissions": doctor.OK, "github app webhook": doctor.Fail, "github app events": doctor.OK, "webhook secret": doctor.OK,
			"installation on acme": doctor.OK, "acme/gitops .promobot.yaml": doctor.OK, "acme/gitops apps": doctor.OK,
		}},
		{name: "unreachable cluster", args: []string{"--cluster-kubeconfig", "prod=" + kubeconfig}, code: 1, want: map[string]doctor.Status{
			"github app": doctor.OK, "github app permissions": doctor.OK, "github app webhook": doctor.OK, "github app events": doctor.OK, "webhook secret": doctor.OK,
			"installation on acme": doctor.OK, "acme/gitops .promobot.yaml": doctor.OK, "acme/gitops apps": doctor.OK, "cluster prod": doctor.Fail,
		}},
		{name: "bus", args: []string{"--nats-url", emb.ClientURL(), "--data-dir", natsDir}, want: map[string]doctor.Status{
			"github app": doctor.OK, "github app permissions": doctor.OK, "github app webhook": doctor.OK, "github app events": doctor.OK, "webhook secret": doctor.OK,
			"installation on acme": doctor.OK, "acme/gitops .promobot.yaml": doctor.OK, "acme/gitops apps": doctor.OK,
			"bus stream " + events.StreamGitHub: doctor.OK, "bus stream " + events.StreamFacts: doctor.OK,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := public
			if tt.hook != nil {
				hook = *tt.hook
			}
			srv.SetWebhookConfig(hook)
			stdout, _, err := promobot(t, append(append([]string(nil), base...), tt.args...)...)
			code := 0
			var ee exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			var rep doctor.Report
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("--json output: %v\n%s", err, stdout)
			}
			got := map[string]doctor.Status{}
			for _, c := range rep.Checks {
				got[c.Name] = c.Status
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s\n%s", diff, stdout)
			}
		})
	}
}
