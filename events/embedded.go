package events

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure the in-process nats-server promobot starts when
// no external NATS is configured.
type EmbeddedOptions struct {
	// DataDir holds JetStream's file storage; events survive restarts
	// on the same directory.
	DataDir string
	// Listen is the host:port other processes (promobot replicas, the nats
	// CLI, `promobot events tail`) connect to, authenticating with the
	// credentials in DataDir (see CredentialsFile). Empty means no listener
	// at all: only in-process connections. An address other hosts can reach
	// needs TLSCertFile and TLSKeyFile.
	Listen string
	// TLSCertFile and TLSKeyFile are the listener's TLS certificate and key
	// (PEM); when set, clients must connect with TLS.
	TLSCertFile, TLSKeyFile string
	// Sync is when JetStream fsyncs its files: every write, or every
	// interval (default DefaultSyncInterval); see Sync for what each loses
	// on power failure.
	Sync Sync
	// ReadyTimeout bounds the wait for the server (default 10s).
	ReadyTimeout time.Duration
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	srv   *server.Server
	creds *credentials
}

// StartEmbedded starts a nats-server with JetStream in this process and
// waits until it accepts connections.
//
// The server admits one user, whose nkey seed it keeps in DataDir (see
// CredentialsFile), generated on the first start on a directory; clients
// without it can neither publish nor subscribe.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.DataDir == "" {
		return nil, errors.New("embedded nats: a data directory is required")
	}
	if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
		return nil, errors.New("embedded nats tls: a certificate needs its key and a key its certificate")
	}
	creds, err := loadOrCreateCredentials(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	so := &server.Options{
		ServerName:         "promobot",
		JetStream:          true,
		StoreDir:           opts.DataDir,
		SyncAlways:         opts.Sync.Always,
		SyncInterval:       opts.Sync.interval(),
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         32 * 1024 * 1024, // GitHub payloads reach 25 MB
		JetStreamMaxMemory: 64 * 1024 * 1024,
		Nkeys:              []*server.NkeyUser{{Nkey: creds.pub}},
	}
	if opts.TLSCertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: opts.TLSCertFile, KeyFile: opts.TLSKeyFile})
		if err != nil {
			return nil, fmt.Errorf("embedded nats tls: %w", err)
		}
		so.TLSConfig, so.TLS, so.TLSTimeout = tc, true, 5
	}
	if opts.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: %w", opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: port: %w", opts.Listen, err)
		}
		if !isLoopback(host) && so.TLSConfig == nil {
			return nil, fmt.Errorf("embedded nats listen %q: %w", opts.Listen, ErrInsecureListen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		so.Host, so.Port = host, p
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(opts.ReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s (is %s in use?)", opts.ReadyTimeout, opts.Listen)
	}
	return &Embedded{srv: srv, creds: creds}, nil
}

// Connect opens a client connection to the embedded server, in-process
// (no TCP), authenticated as its user.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(e.srv), nats.Name("promobot"), e.creds.option()}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded nats connect: %w", err)
	}
	return nc, nil
}

// ClientURL is the URL other processes use to reach the server, empty when
// it does not listen.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// CredentialsFile is the nkey seed file clients connecting to ClientURL
// authenticate with.
func (e *Embedded) CredentialsFile() string { return e.creds.file }

// Sync is the fsync policy the running server's JetStream applies, as it
// reports it.
func (e *Embedded) Sync() Sync {
	c := e.srv.JetStreamConfig()
	if c == nil {
		return Sync{}
	}
	return Sync{Always: c.SyncAlways, Interval: c.SyncInterval}
}

// Shutdown stops the server and waits until it has.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
