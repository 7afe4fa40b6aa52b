package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeWebhookRole runs "promobot serve --roles webhook" in-process with
// its embedded NATS in the default data directory, sends it a signed
// delivery, reads it back with "promobot events tail" from the same
// directory (the credentials found there, mode 0600; without them tail is
// refused), and shuts it down.
func TestServeWebhookRole(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("old-secret\nnew-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr, natsAddr := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := startServeLogging(ctx, t, &stderr, httpAddr, "--roles", "webhook", "--nats-listen", natsAddr,
		"--webhook-secret-file", secretFile)

	base := "http://" + httpAddr
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	body := []byte(`{"ref":"refs/heads/main","repository":{"name":"cluster-config","full_name":"my-org/cluster-config","html_url":"https://github.com/my-org/cluster-config","owner":{"login":"my-org"}}}`)
	for _, secret := range []string{"old-secret", "new-secret"} {
		if code := deliver(t, base, secret, "push", "delivery-"+secret, body); code != http.StatusAccepted {
			t.Fatalf("signed with %s: status %d", secret, code)
		}
	}
	if code, metrics := get(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(metrics, `promobot_webhook_deliveries_total{code="202",event="push"} 2`) {
		t.Errorf("/metrics = %d, missing the delivery counter", code)
	}
	if strings.Contains(stderr.String(), "old-secret") || strings.Contains(stderr.String(), "new-secret") {
		t.Error("a webhook secret appeared in the logs")
	}

	fi, err := os.Stat(filepath.Join("promobot-data", events.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("credentials file mode %s, want -rw-------", fi.Mode())
	}

	// events tail replays what was stored, with the credentials it finds in
	// the default data directory.
	out, err := tailEvents(ctx, "--nats-url", "nats://"+natsAddr, "--all", "--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	// Without them it is refused, and says where they are.
	if _, err := tailEvents(ctx, "--nats-url", "nats://"+natsAddr, "--data-dir", t.TempDir(), "--all", "--limit", "1"); err == nil ||
		!strings.Contains(err.Error(), "Authorization Violation") || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("events tail without the credentials: %v, want an authorization violation naming --data-dir", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "github.push.my-org.cluster-config") || !strings.Contains(lines[0], "com.github.push") ||
		!strings.Contains(lines[0], "refs/heads/main") || !strings.Contains(lines[1], "delivery-new-secret") {
		t.Errorf("events tail printed:\n%s", out)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if code, _ := get(t, base+"/healthz"); code != 0 {
		t.Error("HTTP still answering after shutdown")
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no webhook secret", []string{"--roles", "webhook"}, nil, "no webhook secret"},
		{"unknown role", []string{"--roles", "webhook,deployer"}, nil, `unknown role "deployer"`},
		{"applier without app credentials", []string{"--roles", "applier"}, nil, "need GitHub App credentials"},
		{"missing secret file", []string{"--roles", "webhook", "--webhook-secret-file", filepath.Join(dir, "nope")}, nil, "webhook secret file"},
		{"bad log level", []string{"--roles", "webhook", "--log-level", "loud"}, map[string]string{envWebhookSecret: "x"}, "--log-level"},
		{"nats listen on every interface without TLS", []string{"--roles", "webhook", "--nats-listen", "0.0.0.0:0"}, map[string]string{envWebhookSecret: "x"},
			`--nats-listen: embedded nats listen "0.0.0.0:0": not a loopback address`},
		{"nats url with credentials", []string{"--roles", "webhook", "--nats-url", "nats://promobot:hunter2@127.0.0.1:1"}, map[string]string{envWebhookSecret: "x"},
			"--nats-url nats://[redacted]@127.0.0.1:1 carries credentials"},
		{"nats password without user", []string{"--roles", "webhook", "--nats-url", "nats://127.0.0.1:1", "--nats-password-file", filepath.Join(dir, "pw")}, map[string]string{envWebhookSecret: "x"},
			"--nats-password-file needs --nats-user"},
		{"two nats credentials", []string{"--roles", "webhook", "--nats-url", "nats://127.0.0.1:1", "--nats-nkey", "a.nk", "--nats-creds", "a.creds"}, map[string]string{envWebhookSecret: "x"},
			"name one"},
		{"unknown stream", []string{"--roles", "webhook", "--nats-max-bytes", "EVERYTHING=1Gi"}, nil, `unknown stream or bucket "EVERYTHING"`},
		{"not a size", []string{"--roles", "webhook", "--nats-max-bytes", "GITHUB=big"}, nil, `--nats-max-bytes GITHUB: "big"`},
		{"budget below one delivery", []string{"--roles", "webhook", "--webhook-unverified-bytes", "1Mi"}, nil, "below 25Mi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envWebhookSecret, "")
			t.Setenv(envPrivateKey, "")
			t.Setenv(envAppID, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			root := newRootCommand()
			var stderr bytes.Buffer
			root.SetErr(&stderr)
			root.SetArgs(append([]string{"serve", "--data-dir", filepath.Join(dir, "d"), "--listen", "127.0.0.1:0", "--nats-listen", ""}, tt.args...))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not explain the error", stderr.String())
			}
			if strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("stderr %q shows a password", stderr.String())
			}
		})
	}
}

// startServe runs "promobot serve args..." in-process until ctx ends and
// waits until its /readyz answers on httpAddr.
func startServe(ctx context.Context, t *testing.T, httpAddr string, args ...string) <-chan error {
	t.Helper()
	return startServeLogging(ctx, t, io.Discard, httpAddr, args...)
}

// startServeLogging is startServe with serve's log written to logs.
func startServeLogging(ctx context.Context, t *testing.T, logs io.Writer, httpAddr string, args ...string) <-chan error {
	t.Helper()
	root := newRootCommand()
	root.SetErr(logs)
	root.SetArgs(append([]string{"serve", "--listen", httpAddr, "--log-format", "text"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	kit.Eventually(t, 20*time.Second, fmt.Sprintf("serve %v to become ready", args), func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("serve %v exited: %v", args, err)
		default:
		}
		code, _ := get(t, "http://"+httpAddr+"/readyz")
		return code == http.StatusOK, fmt.Sprintf("/readyz answered %d", code)
	})
	return done
}

// deliver posts body to serve's /webhook at base as GitHub delivery id of
// event, signed with secret, and returns the status code.
func deliver(t *testing.T, base, secret, event, id string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/webhook", bytes.NewReader(body))
	req.Header.Set(webhook.HeaderEvent, event)
	req.Header.Set(webhook.HeaderDelivery, id)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tailEvents runs "promobot events tail args..." for at most 15 seconds
// and returns what it printed.
func tailEvents(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(append([]string{"events", "tail"}, args...))
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestSecondServeJoinsTheEmbeddedBus: a second promobot serve on the host
// of the first joins its embedded bus with --nats-url, authenticating with
// the credentials in the shared default data directory, and what it stores
// is on that bus; one without the credentials is refused at start.
func TestSecondServeJoinsTheEmbeddedBus(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(envWebhookSecret, "the-secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	natsAddr := freePort(t)
	first := startServe(ctx, t, freePort(t), "--roles", "webhook", "--nats-listen", natsAddr)

	httpAddr := freePort(t)
	second := startServe(ctx, t, httpAddr, "--roles", "webhook", "--nats-url", "nats://"+natsAddr)
	body := []byte(`{"ref":"refs/heads/main","repository":{"name":"cluster-config","full_name":"my-org/cluster-config","html_url":"https://github.com/my-org/cluster-config","owner":{"login":"my-org"}}}`)
	if code := deliver(t, "http://"+httpAddr, "the-secret", "push", "delivery-via-second", body); code != http.StatusAccepted {
		t.Fatalf("delivery to the second serve: status %d", code)
	}
	out, err := tailEvents(ctx, "--nats-url", "nats://"+natsAddr, "--all", "--limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "delivery-via-second") {
		t.Errorf("events tail printed %q, want the delivery the second serve stored", out)
	}

	sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
	defer scancel()
	stranger := newRootCommand()
	stranger.SetErr(io.Discard)
	stranger.SetArgs([]string{"serve", "--roles", "webhook", "--listen", freePort(t), "--nats-url", "nats://" + natsAddr,
		"--data-dir", t.TempDir(), "--log-format", "text"})
	if err := stranger.ExecuteContext(sctx); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("serve without the credentials: %v, want an authorization violation", err)
	}

	cancel()
	for _, done := range []<-chan error{second, first} {
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
}
