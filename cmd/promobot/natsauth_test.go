package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
)

// TestNATSClientCredentials connects to real servers with each way
// --nats-url takes credentials: the embedded server's nkey seed (named, or
// found in --data-dir), and a user whose password comes from a file or the
// environment. Wrong or missing credentials are refused by the server.
func TestNATSClientCredentials(t *testing.T) {
	dataDir := t.TempDir()
	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: dataDir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)

	pw := server.New(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, Username: "promobot", Password: "s3cret-pw"})
	go pw.Start()
	if !pw.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server with a password not ready")
	}
	t.Cleanup(pw.Shutdown)

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	wrongFile := filepath.Join(dir, "wrong")
	for file, text := range map[string]string{pwFile: "s3cret-pw\n", wrongFile: "guess\n"} {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		url     string
		flags   natsClientFlags
		dataDir string
		env     string
		ok      bool
	}{
		{name: "nkey seed file", url: emb.ClientURL(), flags: natsClientFlags{nkey: emb.CredentialsFile()}, ok: true},
		{name: "found in the data directory", url: emb.ClientURL(), dataDir: dataDir, ok: true},
		{name: "named credentials win over the data directory", url: emb.ClientURL(), dataDir: dataDir, flags: natsClientFlags{user: "promobot", passwordFile: pwFile}},
		{name: "no credentials in the data directory", url: emb.ClientURL(), dataDir: t.TempDir()},
		{name: "no data directory", url: emb.ClientURL()},
		{name: "password file", url: pw.ClientURL(), flags: natsClientFlags{user: "promobot", passwordFile: pwFile}, ok: true},
		{name: "password from the environment", url: pw.ClientURL(), flags: natsClientFlags{user: "promobot"}, env: "s3cret-pw", ok: true},
		{name: "wrong password", url: pw.ClientURL(), flags: natsClientFlags{user: "promobot", passwordFile: wrongFile}},
		{name: "embedded credentials elsewhere", url: pw.ClientURL(), dataDir: dataDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envNATSPassword, tt.env)
			opts, err := tt.flags.options(tt.url, tt.dataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(tt.url, append(opts, nats.NoReconnect())...)
			if err == nil {
				nc.Close()
			}
			if got := err == nil; got != tt.ok {
				t.Errorf("connect: %v, want success %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, nats.ErrAuthorization) && !errors.Is(err, nats.ErrNkeysNotSupported) {
				t.Errorf("connect: %v, want the server to refuse the credentials", err)
			}
		})
	}
}

// TestServeListensWithTLS: serve's embedded bus on every interface needs a
// certificate; with one, events tail reaches it over TLS with the CA and
// the credentials in the data directory, and not without the CA.
func TestServeListensWithTLS(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envWebhookSecret, "the-secret")
	cert, key := eventstest.SelfSigned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, port, _ := net.SplitHostPort(freePort(t))
	dataDir, httpAddr := filepath.Join(dir, "data"), freePort(t)
	done := startServe(ctx, t, httpAddr, "--roles", "webhook", "--data-dir", dataDir,
		"--nats-listen", "0.0.0.0:"+port, "--nats-tls-cert", cert, "--nats-tls-key", key)
	body := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	if code := deliver(t, "http://"+httpAddr, "the-secret", "ping", "delivery-over-tls", body); code != http.StatusOK {
		t.Fatalf("ping: status %d", code)
	}

	tail := func(extra ...string) (string, error) {
		return tailEvents(ctx, append([]string{"--nats-url", "tls://127.0.0.1:" + port, "--data-dir", dataDir, "--all", "--limit", "1"}, extra...)...)
	}
	if out, err := tail("--nats-tls-ca", cert); err != nil || !strings.Contains(out, "delivery-over-tls") {
		t.Errorf("events tail with the CA: %v, printed %q", err, out)
	}
	if _, err := tail(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("events tail without the CA: %v, want a certificate error", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v", err)
	}
}
