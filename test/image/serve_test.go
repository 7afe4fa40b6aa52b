package image_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/webhook"
)

// pushPayload is a push to acme/gitops's default branch, as GitHub sends it
// (the fields promobot reads).
const pushPayload = `{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111",` +
	`"after":"2222222222222222222222222222222222222222",` +
	`"repository":{"id":7,"name":"gitops","full_name":"acme/gitops","html_url":"https://github.com/acme/gitops",` +
	`"default_branch":"main","owner":{"login":"acme"}},"installation":{"id":42},"sender":{"login":"octocat"}}`

// testServe runs promobot serve in the container as an operator would: the
// webhook secret in a mounted file, the port published on loopback. A
// delivery with a wrong signature is refused and a signed one is answered
// 202, stored on the bus (promobot events tail in the container shows it,
// and only it) and logged; SIGTERM stops the container with status 0.
func testServe(t *testing.T, p podman, image, name string) {
	secret := "image-test-" + randomSuffix(t)
	secretFile := filepath.Join(t.TempDir(), "webhook-secret.txt")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	// The container runs as 65532, which must be able to read the file (a
	// chart mounts the Secret with that group).
	if err := os.Chown(secretFile, 65532, 65532); err != nil {
		if err := os.Chmod(secretFile, 0o444); err != nil {
			t.Fatal(err)
		}
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.run(ctx, "rm", "--force", "--volumes", "--ignore", name); err != nil {
			t.Errorf("remove the test's container: %v", err)
		}
	})
	p.must(t, "run", "--detach", "--name", name, "--publish", "127.0.0.1::8080",
		"--volume", secretFile+":/run/secrets/promobot/webhook-secret:ro",
		image, "serve", "--roles", "webhook", "--webhook-secret-file", "/run/secrets/promobot/webhook-secret")
	addr := strings.TrimSpace(p.must(t, "port", name, "8080/tcp"))
	base := "http://" + addr
	t.Logf("promobot serve in container %s on %s", name, base)

	client := &http.Client{Timeout: 10 * time.Second}
	kit.Eventually(t, 60*time.Second, "promobot serve in the container to be ready", func() (bool, string) {
		if state := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}}", name)); state != "running" {
			t.Fatalf("the container is %s:\n%s", state, p.logs(t, name))
		}
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	post := func(delivery, signature string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/webhook", strings.NewReader(pushPayload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", signature)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// First a delivery signed with another secret: refused, and not stored,
	// or tail below would show it first.
	forged := "forged-" + randomSuffix(t)
	if got := post(forged, webhook.Sign([]byte("not-"+secret), []byte(pushPayload))); got != http.StatusUnauthorized {
		t.Errorf("a delivery signed with another secret got %d, want %d", got, http.StatusUnauthorized)
	}
	delivery := "delivery-" + randomSuffix(t)
	if got := post(delivery, webhook.Sign([]byte(secret), []byte(pushPayload))); got != http.StatusAccepted {
		t.Fatalf("the signed push got %d, want %d", got, http.StatusAccepted)
	}

	// What the operator sees on the bus: the first stored event is the push.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.run(ctx, "exec", name, "/promobot", "events", "tail", "--all", "--limit", "1", "--json")
	if err != nil {
		t.Fatalf("promobot events tail in the container: %v", err)
	}
	type storedEvent struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Source  string `json:"source"`
		Subject string `json:"subject"`
	}
	var got storedEvent
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("promobot events tail --json: %v:\n%s", err, out)
	}
	want := storedEvent{ID: delivery, Type: "com.github.push", Source: "https://github.com/acme/gitops", Subject: "refs/heads/main"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the first event on the bus (-want +got):\n%s", diff)
	}

	p.must(t, "stop", "--time", "30", name)
	if code := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("promobot serve exited with status %s on SIGTERM, want 0", code)
	}
	logs := p.logs(t, name)
	if strings.Contains(logs, secret) {
		t.Errorf("the container's log holds the webhook secret")
	}
	var stored bool
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Msg        string `json:"msg"`
			DeliveryID string `json:"delivery_id"`
			Status     int    `json:"status"`
		}
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &line) == nil && line.Msg == "webhook delivery stored" && line.DeliveryID == delivery {
			stored = line.Status == http.StatusAccepted
		}
	}
	if !stored {
		t.Errorf("the log does not say delivery %s was stored and answered 202:\n%s", delivery, logs)
	}
}
