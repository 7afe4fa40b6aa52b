package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables that may carry secrets instead of files. Secrets
// are never accepted as flag values, so they never show in process lists,
// and are never logged.
const (
	envWebhookSecret = "PROMOBOT_WEBHOOK_SECRET"
	envPrivateKey    = "PROMOBOT_PRIVATE_KEY"
	envAppID         = "PROMOBOT_APP_ID"
)

// loadWebhookSecrets reads the webhook secrets: one per non-empty line of
// each file, then one per line of $PROMOBOT_WEBHOOK_SECRET. Several secrets
// allow rotation without downtime.
func loadWebhookSecrets(files []string) ([][]byte, error) {
	var out [][]byte
	add := func(src, text string) {
		for _, line := range strings.Split(text, "\n") {
			if s := strings.TrimRight(line, "\r"); strings.TrimSpace(s) != "" {
				out = append(out, []byte(s))
			}
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("webhook secret file %s: %w", f, err)
		}
		add(f, string(raw))
	}
	if v := os.Getenv(envWebhookSecret); v != "" {
		add(envWebhookSecret, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no webhook secret: set --webhook-secret-file or $" + envWebhookSecret + " (the secret configured on the GitHub App)")
	}
	return out, nil
}

// loadPrivateKey reads the GitHub App's private key (PEM) from file or
// $PROMOBOT_PRIVATE_KEY.
func loadPrivateKey(file string) ([]byte, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("private key file %s: %w", file, err)
		}
		return raw, nil
	}
	if v := os.Getenv(envPrivateKey); v != "" {
		return []byte(v), nil
	}
	return nil, errors.New("no GitHub App private key: set --private-key-file or $" + envPrivateKey)
}
