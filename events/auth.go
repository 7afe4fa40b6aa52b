package events

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// CredentialsFile is the name of the embedded server's credentials in its
// data directory: the seed of the one NATS user the server admits, an nkey
// user seed file as `nk -gen user` writes it, mode 0600. Every promobot
// process that connects to the embedded server over TCP authenticates with
// it (`promobot events tail`, `promobot serve --nats-url`), and so does the
// nats CLI: `nats --nkey <data-dir>/nats-user.nk`.
const CredentialsFile = "nats-user.nk"

// ErrInsecureListen is returned by StartEmbedded for a listen address other
// hosts can reach when no TLS certificate is configured.
var ErrInsecureListen = errors.New("not a loopback address: the event bus would travel unencrypted")

// credentials is the embedded server's one user.
type credentials struct {
	file string
	kp   nkeys.KeyPair
	pub  string
}

// CredentialsPath is where the embedded server on dataDir keeps its
// credentials.
func CredentialsPath(dataDir string) string {
	return filepath.Join(dataDir, CredentialsFile)
}

// loadOrCreateCredentials reads dataDir's credentials, generating them
// when the directory has none (a new directory, or one an older promobot
// created). A file other users can read is tightened to 0600 rather than
// refused: Kubernetes adds group bits to files on a volume with an fsGroup
// each time it mounts it.
func loadOrCreateCredentials(dataDir string) (*credentials, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	file := CredentialsPath(dataDir)
	raw, err := readSeed(file)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createSeed(dataDir, file); err != nil {
			return nil, err
		}
		raw, err = readSeed(file)
	}
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.ParseDecoratedNKey(raw)
	wipe(raw)
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s parse: %w", file, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", file, err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("nats credentials %s: not an nkey user seed", file)
	}
	return &credentials{file: file, kp: kp, pub: pub}, nil
}

// readSeed reads a seed file that must be a regular file, tightening its
// mode to 0600.
func readSeed(file string) ([]byte, error) {
	fi, err := os.Lstat(file)
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", file, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("nats credentials %s: not a regular file (%s)", file, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(file, 0o600); err != nil {
			return nil, fmt.Errorf("nats credentials %s chmod 0600: %w", file, err)
		}
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", file, err)
	}
	return raw, nil
}

// createSeed writes a new nkey user seed to file, mode 0600, complete or
// not at all: the seed goes to a temporary file first, which is then linked
// into place, so two processes starting on one directory agree on one seed.
func createSeed(dataDir, file string) error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("nats credentials generate: %w", err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return fmt.Errorf("nats credentials generate: %w", err)
	}
	defer wipe(seed)
	tmp, err := os.CreateTemp(dataDir, ".nats-user-*.nk") // mode 0600
	if err != nil {
		return fmt.Errorf("nats credentials %s create: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(append(seed, '\n'))
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("nats credentials %s write: %w", file, err)
	}
	if err := os.Link(tmp.Name(), file); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("nats credentials %s create: %w", file, err)
	}
	return nil
}

// option authenticates a client connection as the embedded server's user,
// signing the server's nonce with the key held in memory.
func (c *credentials) option() nats.Option {
	return nats.Nkey(c.pub, func(nonce []byte) ([]byte, error) { return c.kp.Sign(nonce) })
}

// isLoopback reports whether host (of a host:port) is reachable from this
// machine only: a loopback IP or localhost. An empty host means every
// interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}
