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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
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
	dir := t.TempDir()
	srv, base := doctorGitHub(t, ctx, dir, map[string]string{"README.md": "gitops\n"})
	public := srv.WebhookConfig()
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

// doctorGitHub starts the local GitHub with the App as promobot asks for
// it and installs it on acme/gitops, which holds files (REPO_URL replaced
// by the repository's clone URL). The installation is delivered to a
// receiver that accepts it; then the App's webhook URL becomes a public
// one, as a real App's is. It returns the server and doctor's arguments
// for it.
func doctorGitHub(t *testing.T, ctx context.Context, dir string, files map[string]string) (*githubapi.Server, []string) {
	t.Helper()
	rc := kit.NewReceiver(t)
	rc.SetStatus(http.StatusAccepted)
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: rc.URL, WebhookSecret: "s",
		SyncWebhooks: true, Permissions: appPermissions, Events: appEvents})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fixture := filepath.Join(dir, "fixture")
	for name, content := range files {
		write(filepath.Join(fixture, name), strings.ReplaceAll(content, "REPO_URL", srv.WebURL()+"/acme/gitops.git"))
	}
	if err := srv.CreateRepo(ctx, "acme", "gitops", fixture); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(ctx, "acme", "gitops"); err != nil {
		t.Fatal(err)
	}
	srv.SetWebhookConfig(githubapi.HookConfig{URL: "https://promobot.example.com/webhook"})
	write(filepath.Join(dir, "app.pem"), string(srv.AppPrivateKeyPEM()))
	write(filepath.Join(dir, "secret"), "s\n")
	return srv, []string{"doctor", "--json", "--github-url", srv.URL(), "--app-id", strconv.FormatInt(srv.AppID(), 10),
		"--private-key-file", filepath.Join(dir, "app.pem"), "--webhook-secret-file", filepath.Join(dir, "secret")}
}

// doctorFleet is a repository with one app for the cluster
// https://prod.example.com: a Deployment and a ConfigMap in namespace apps.
var doctorFleet = map[string]string{
	"apps/web.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web-prod}
spec:
  source: {repoURL: REPO_URL, path: web}
  destination: {server: https://prod.example.com, namespace: apps}
`,
	"web/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`,
	"web/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
}

// TestDoctorClusterRBAC: doctor renders acme/gitops's app as the applier
// would and asks the harness cluster whether promobot's identity may apply
// it. An identity that may write ConfigMaps but only read Deployments
// fails with the missing verbs and the Role rule that grants them; the
// admin is all green.
func TestDoctorClusterRBAC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	_, base := doctorGitHub(t, ctx, dir, doctorFleet)
	c, err := kube.Start(ctx, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	admin, partial := filepath.Join(dir, "admin.kubeconfig"), filepath.Join(dir, "partial.kubeconfig")
	if err := kube.WriteKubeconfig(admin, c.Config); err != nil {
		t.Fatal(err)
	}
	if err := kube.WriteKubeconfig(partial, readDeploymentsOnly(t, c)); err != nil {
		t.Fatal(err)
	}
	const prod = "cluster https://prod.example.com"
	rbacRule := `Role in apps: {apiGroups: ["apps"], resources: [deployments], verbs: [create, patch, delete]}`
	tests := []struct {
		name       string
		kubeconfig string
		code       int
		rbac       doctor.Status
		found, fix string
	}{
		{name: "may write configmaps, not deployments", kubeconfig: partial, code: 1, rbac: doctor.Fail,
			found: "may not create, patch, delete deployments.apps in apps", fix: rbacRule},
		{name: "admin", kubeconfig: admin, rbac: doctor.OK, found: "may get, list, create, patch, delete configmaps in apps, deployments.apps in apps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := promobot(t, append(append([]string(nil), base...), "--cluster-kubeconfig", "https://prod.example.com="+tt.kubeconfig)...)
			code := 0
			var ee exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatal(err)
			}
			var rep doctor.Report
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("--json output: %v\n%s", err, stdout)
			}
			got := map[string]doctor.Check{}
			for _, ch := range rep.Checks {
				got[ch.Name] = ch
			}
			apps, rbac := got["acme/gitops apps"], got[prod+" rbac"]
			if code != tt.code || apps.Status != doctor.OK || apps.Found != "1 rendered: 1 → https://prod.example.com" || got[prod].Status != doctor.OK || rbac.Status != tt.rbac {
				t.Fatalf("exit code %d (want %d), apps %+v, rbac %+v (want %s)\n%s", code, tt.code, apps, rbac, tt.rbac, stdout)
			}
			if !strings.Contains(rbac.Found, tt.found) || !strings.Contains(rbac.Fix, tt.fix) {
				t.Errorf("rbac found %q fix %q; want %q and %q", rbac.Found, rbac.Fix, tt.found, tt.fix)
			}
			if rbac.Status != doctor.OK && strings.Contains(rbac.Found, "configmaps") {
				t.Errorf("rbac names configmaps, which the identity may write: %q", rbac.Found)
			}
		})
	}
}

// readDeploymentsOnly is a user of c who may do everything to configmaps
// in namespace apps but only get and list deployments there.
func readDeploymentsOnly(t *testing.T, c *kube.Cluster) *rest.Config {
	t.Helper()
	cfg, err := c.RoleUser(context.Background(), "promobot", "apps", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
