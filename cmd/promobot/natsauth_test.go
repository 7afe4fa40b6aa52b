package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/promobot/promobot/events"
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
