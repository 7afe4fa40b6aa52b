package main

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckNATSURL: a --nats-url list checkNATSURL accepts holds no user
// information in any URL as nats.go parses it, and a refusal never shows
// the password.
func FuzzCheckNATSURL(f *testing.F) {
	for _, seed := range []string{
		"nats://127.0.0.1:4222",
		"nats://a:4222,nats://b:4222",
		"tls://nats.example.com",
		"127.0.0.1:4222",
		"nats://promobot:hunter2@127.0.0.1:4222",
		"promobot:hunter2@127.0.0.1:4222",
		"nats://token@host",
		" nats://a , user:pw@b ",
		"ws://u:p@h:80/path",
		"nats://[::1]:4222",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		err := checkNATSURL(list)
		for _, u := range strings.Split(list, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			if !strings.Contains(u, "://") {
				u = "nats://" + u
			}
			p, perr := url.Parse(u)
			if perr != nil || p.User == nil {
				continue
			}
			if err == nil {
				t.Fatalf("checkNATSURL(%q) accepted %q, whose user information is %q", list, u, p.User)
			}
			if pw, ok := p.User.Password(); ok && pw != "" && strings.Contains(err.Error(), ":"+pw+"@") {
				t.Fatalf("checkNATSURL(%q) shows the password: %v", list, err)
			}
		}
	})
}
