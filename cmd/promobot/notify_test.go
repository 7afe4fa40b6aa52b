package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
)

// TestNotifyConfigRefused checks that serve refuses a notification file it
// cannot use before it starts, without showing a sink's URL.
func TestNotifyConfigRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badURL := write("bad-url", "hooks.example/T0SECRET\n")
	tests := []struct {
		name, config, want string
	}{
		{"unknown type", "sinks:\n- {name: ops, type: email, url_file: " + badURL + "}\n", `type "email"`},
		{"unknown field", "sinks:\n- {name: ops, type: slack, url_file: " + badURL + ", channel: x}\n", "channel"},
		{"bad name", "sinks:\n- {name: Ops.1, type: slack, url_file: " + badURL + "}\n", `name "Ops.1"`},
		{"bad subject", "sinks:\n- {name: ops, type: slack, url_file: " + badURL + ", subjects: [github.push.>]}\n", "start with promobot."},
		{"bad encoding", "sinks:\n- {name: ops, type: cloudevents, encoding: xml, url_file: " + badURL + "}\n", `encoding "xml"`},
		{"missing url file", "sinks:\n- {name: ops, type: slack, url_file: " + filepath.Join(dir, "nope") + "}\n", "url file read"},
		{"not a URL", "sinks:\n- {name: ops, type: slack, url_file: " + badURL + "}\n", "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newNotifyRole(write("notify.yaml", tt.config), nil, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("err %q shows the sink URL", err)
			}
		})
	}
}

// TestNotifyConfigNeedsAConsumingRole checks that --notify-config is
// refused in a process that runs only the webhook role.
func TestNotifyConfigNeedsAConsumingRole(t *testing.T) {
	t.Setenv(envWebhookSecret, "x")
	dir := t.TempDir()
	root := newRootCommand()
	var stderr bytes.Buffer
	root.SetErr(&stderr)
	root.SetArgs([]string{"serve", "--data-dir", filepath.Join(dir, "d"), "--listen", "127.0.0.1:0", "--nats-listen", "",
		"--roles", "webhook", "--notify-config", filepath.Join(dir, "notify.yaml")})
	err := root.ExecuteContext(context.Background())
	if want := "applier or promoter role"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to mention %q", err, want)
	}
}

// TestServeStartsNotifications checks that serve's roles include the
// notifier when --notify-config is given: a fact reaches the sink.
func TestServeStartsNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Ce-Id"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	config := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(urlFile, []byte(srv.URL+"/hook"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("sinks:\n- {name: ops, type: cloudevents, url_file: "+urlFile+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := kit.Bus(t)
	ctx := context.Background()
	roles := newRoleGroup(ctx, 2)
	defer roles.stop(ctx)
	if err := startRoles(ctx, &serveFlags{notifyConfig: config}, bus, nil, roles, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("startRoles: %v", err)
	}
	kit.EventuallyTrue(t, 20*time.Second, "the notify consumer", func() bool {
		_, err := bus.JetStream().Consumer(ctx, events.StreamFacts, "notify-ops")
		return err == nil
	})
	if _, err := bus.PublishFact(ctx, events.Fact{Kind: "apply", Verb: "completed", Owner: "acme", Repo: "config", Data: map[string]string{"app": "api"}}); err != nil {
		t.Fatal(err)
	}
	kit.EventuallyTrue(t, 20*time.Second, "the fact at the sink", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0] != ""
	})
}
