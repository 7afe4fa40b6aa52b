package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/promobot/promobot/events"
)

// envNATSPassword may carry the password of --nats-user instead of a file.
const envNATSPassword = "PROMOBOT_NATS_PASSWORD"

// natsClientFlags are how a promobot process authenticates to a NATS server
// it does not embed: an external NATS cluster, or the embedded server of a
// promobot serve elsewhere. At most one of creds, nkey and user is set;
// secrets come from files or the environment, never from flag values.
type natsClientFlags struct {
	// creds is a NATS credentials file (a user JWT and its nkey seed).
	creds string
	// nkey is an nkey user seed file, such as the embedded server's
	// <data-dir>/nats-user.nk.
	nkey string
	// user is a NATS user name; its password comes from passwordFile or
	// $PROMOBOT_NATS_PASSWORD.
	user         string
	passwordFile string
	// tlsCA verifies the server's certificate; tlsCert and tlsKey are the
	// client certificate some servers ask for.
	tlsCA, tlsCert, tlsKey string
}

// register adds the flags. serve names --nats-tls-cert and --nats-tls-key
// itself, since they are also its embedded listener's certificate.
func (f *natsClientFlags) register(fl *pflag.FlagSet, withClientCert bool) {
	fl.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (user JWT and seed) for --nats-url")
	fl.StringVar(&f.nkey, "nats-nkey", "", "NATS nkey user seed file for --nats-url (promobot serve's embedded server: <data-dir>/"+events.CredentialsFile+")")
	fl.StringVar(&f.user, "nats-user", "", "NATS user for --nats-url; the password from --nats-password-file or $"+envNATSPassword)
	fl.StringVar(&f.passwordFile, "nats-password-file", "", "file holding the password of --nats-user")
	fl.StringVar(&f.tlsCA, "nats-tls-ca", "", "CA certificate file that verifies the NATS server's TLS certificate")
	if withClientCert {
		fl.StringVar(&f.tlsCert, "nats-tls-cert", "", "client TLS certificate file presented to NATS")
		fl.StringVar(&f.tlsKey, "nats-tls-key", "", "key file of --nats-tls-cert")
	}
}

// options returns the nats options that authenticate a connection to
// natsURL. Without credentials named, the embedded server's credentials in
// dataDir are used when that directory has them, so a process on the host
// of promobot serve (and `promobot events tail` next to it) needs no flag.
func (f *natsClientFlags) options(natsURL, dataDir string, log *slog.Logger) ([]nats.Option, error) {
	if err := checkNATSURL(natsURL); err != nil {
		return nil, err
	}
	named := 0
	for _, s := range []string{f.creds, f.nkey, f.user} {
		if s != "" {
			named++
		}
	}
	if named > 1 {
		return nil, errors.New("--nats-creds, --nats-nkey and --nats-user: name one")
	}
	if f.passwordFile != "" && f.user == "" {
		return nil, errors.New("--nats-password-file needs --nats-user")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	var opts []nats.Option
	switch {
	case f.creds != "":
		if _, err := os.Stat(f.creds); err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(f.creds))
	case f.nkey != "":
		o, err := nats.NkeyOptionFromSeed(f.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", f.nkey, err)
		}
		opts = append(opts, o)
	case f.user != "":
		pw, err := natsPassword(f.passwordFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(f.user, pw))
	case dataDir != "":
		file := events.CredentialsPath(dataDir)
		o, err := nats.NkeyOptionFromSeed(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			log.Debug("no NATS credentials named or found", "file", file)
		case err != nil:
			return nil, fmt.Errorf("nats credentials %s: %w", file, err)
		default:
			log.Debug("NATS credentials from the data directory", "file", file)
			opts = append(opts, o)
		}
	}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	if f.tlsCert != "" {
		opts = append(opts, nats.ClientCert(f.tlsCert, f.tlsKey))
	}
	return opts, nil
}

// natsPassword reads the password of --nats-user from file or
// $PROMOBOT_NATS_PASSWORD (its first line, without the line break).
func natsPassword(file string) (string, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("nats password file %s: %w", file, err)
		}
		pw, _, _ := strings.Cut(string(raw), "\n")
		if pw = strings.TrimRight(pw, "\r"); pw == "" {
			return "", fmt.Errorf("nats password file %s: empty", file)
		}
		return pw, nil
	}
	if v := os.Getenv(envNATSPassword); v != "" {
		return v, nil
	}
	return "", errors.New("--nats-user needs a password: set --nats-password-file or $" + envNATSPassword)
}

// checkNATSURL refuses credentials in a NATS URL list: flag values show in
// process lists and in the Deployment. Each URL is read as nats.go reads it
// (a URL without "://" gets the nats scheme), so none slips through.
func checkNATSURL(list string) error {
	for _, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		full := u
		if !strings.Contains(full, "://") {
			full = "nats://" + full
		}
		p, err := url.Parse(full)
		if err == nil && p.User == nil {
			continue
		}
		if err != nil && !strings.Contains(u, "@") {
			continue // nats.Connect reports it
		}
		return fmt.Errorf("--nats-url %s carries credentials, which would show in process lists: use --nats-creds, --nats-nkey, or --nats-user with --nats-password-file or $%s", redactURL(full), envNATSPassword)
	}
	return nil
}
