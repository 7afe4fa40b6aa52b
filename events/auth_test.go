package events_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
)

// startListening starts an embedded server listening on a free loopback
// port, with promobot's streams provisioned.
func startListening(t *testing.T, dir string) *events.Embedded {
	t.Helper()
	srv, nc := startServer(t, events.EmbeddedOptions{DataDir: dir, Listen: "127.0.0.1:0"})
	provision(t, nc, events.Options{PublishTimeout: 2 * time.Second})
	return srv
}

// TestEmbeddedRefusesStrangers: a client on the embedded server's TCP
// listener without its stored credentials is refused before it can publish
// or subscribe, whatever it presents; one with them publishes to the
// stream and reads back.
func TestEmbeddedRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	srv := startListening(t, dir)
	stranger, err := nats.NkeyOptionFromSeed(eventstest.StrangerKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts []nats.Option
	}{
		{"anonymous", nil},
		{"another nkey", []nats.Option{stranger}},
		{"user and password", []nats.Option{nats.UserInfo("promobot", "promobot")}},
		{"token", []nats.Option{nats.Token("promobot")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(srv.ClientURL(), append(tt.opts, nats.NoReconnect())...)
			if err == nil {
				// Show what the stranger could have done.
				_, perr := nc.Request("$JS.API.STREAM.NAMES", nil, 2*time.Second)
				nc.Close()
				t.Fatalf("a %s client connected (JetStream API answered error %v)", tt.name, perr)
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("connect: %v, want %v", err, nats.ErrAuthorization)
			}
		})
	}

	t.Run("stored credentials", func(t *testing.T) {
		if got, want := srv.CredentialsFile(), filepath.Join(dir, events.CredentialsFile); got != want {
			t.Errorf("CredentialsFile() = %s, want %s", got, want)
		}
		nc := eventstest.Connect(t, srv.ClientURL(), events.CredentialsPath(dir), nats.NoReconnect())
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		subject := events.GitHubSubject("push", "acme", "cluster-config")
		if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatalf("publish: %v", err)
		}
		cons, err := js.OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		if m.Subject() != subject {
			t.Errorf("read %s, want %s", m.Subject(), subject)
		}
	})
}

// TestEmbeddedCredentialsFile: the credentials are generated on the first
// start, mode 0600, and kept across restarts; a directory without them (as
// an older promobot left it) gets them on its next start, its events kept;
// a file others can read is tightened to 0600.
func TestEmbeddedCredentialsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by the first start
	file := events.CredentialsPath(dir)
	mode := func() os.FileMode {
		t.Helper()
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	read := func() string {
		t.Helper()
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	// connects proves the file on disk opens the running server.
	connects := func(srv *events.Embedded) {
		t.Helper()
		eventstest.Connect(t, srv.ClientURL(), file, nats.NoReconnect()).Close()
	}

	// msgs counts the deliveries stored on the running server.
	msgs := func(srv *events.Embedded) uint64 {
		t.Helper()
		nc, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		st, err := js.Stream(context.Background(), events.StreamGitHub)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}

	srv := startListening(t, dir)
	connects(srv)
	if diff := cmp.Diff(os.FileMode(0o600), mode()); diff != "" {
		t.Errorf("credentials file mode (-want +got):\n%s", diff)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(context.Background(), events.GitHubSubject("push", "acme", "cluster-config"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	first := read()
	srv.Shutdown()

	srv = startListening(t, dir)
	connects(srv)
	if read() != first {
		t.Error("a restart replaced the credentials")
	}
	srv.Shutdown()

	// A directory an older promobot left: JetStream data, no credentials.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	srv = startListening(t, dir)
	connects(srv)
	if read() == first {
		t.Error("no new credentials were generated")
	}
	if got := msgs(srv); got != 1 {
		t.Errorf("%d deliveries stored after new credentials, want the 1 stored before", got)
	}
	if diff := cmp.Diff(os.FileMode(0o600), mode()); diff != "" {
		t.Errorf("regenerated credentials file mode (-want +got):\n%s", diff)
	}
	srv.Shutdown()

	if err := os.Chmod(file, 0o664); err != nil {
		t.Fatal(err)
	}
	srv = startListening(t, dir)
	connects(srv)
	if diff := cmp.Diff(os.FileMode(0o600), mode()); diff != "" {
		t.Errorf("loosened credentials file mode after a start (-want +got):\n%s", diff)
	}
}

// TestEmbeddedListenAddress: a listener other hosts can reach is refused
// without TLS; with a certificate it serves TLS only, to clients with the
// credentials that trust it.
func TestEmbeddedListenAddress(t *testing.T) {
	for _, tt := range []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"[::1]:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"[::]:0", false},
		{"192.0.2.1:0", false},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: t.TempDir(), Listen: tt.listen})
			if err == nil {
				srv.Shutdown()
			}
			if tt.ok && err != nil && !errors.Is(err, events.ErrInsecureListen) {
				t.Skipf("%s: %v (no such interface here)", tt.listen, err)
			}
			if got := !errors.Is(err, events.ErrInsecureListen); got != tt.ok {
				t.Errorf("StartEmbedded(Listen: %s): %v", tt.listen, err)
			}
		})
	}

	t.Run("TLS", func(t *testing.T) {
		dir := t.TempDir()
		cert, key := eventstest.SelfSigned(t)
		ca := cert
		srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: dir, Listen: "0.0.0.0:0", TLSCertFile: cert, TLSKeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		_, port, _ := net.SplitHostPort(srv.ClientURL()[len("nats://"):])
		url := "nats://127.0.0.1:" + port
		auth, err := nats.NkeyOptionFromSeed(srv.CredentialsFile())
		if err != nil {
			t.Fatal(err)
		}
		if nc, err := nats.Connect(url, auth, nats.NoReconnect()); err == nil {
			nc.Close()
			t.Error("a client that does not trust the certificate connected")
		}
		if nc, err := nats.Connect(url, nats.RootCAs(ca), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Error("a TLS client without the credentials connected")
		}
		nc, err := nats.Connect(url, auth, nats.RootCAs(ca), nats.NoReconnect())
		if err != nil {
			t.Fatalf("a TLS client with the credentials: %v", err)
		}
		defer nc.Close()
		if !nc.TLSRequired() {
			t.Error("the connection is not TLS")
		}
		// The in-process connection needs no TLS.
		in, err := srv.Connect()
		if err != nil {
			t.Fatal(err)
		}
		in.Close()
	})
}
