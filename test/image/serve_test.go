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

// secretPath is where the containers find the webhook secret.
const secretPath = "/run/secrets/promobot/webhook-secret"

// storedEvent is what promobot events tail --json shows of a delivery.
type storedEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Source  string `json:"source"`
	Subject string `json:"subject"`
}

// serveContainer is promobot serve (the webhook role) running in a
// container as the chart runs it: read-only root filesystem, no
// capabilities, no privilege escalation, the bus in a named volume on
// /var/lib/promobot, the webhook secret in a mounted file, the port
// published on loopback.
type serveContainer struct {
	name string
	base string // http://127.0.0.1:PORT
}

func startServe(t *testing.T, p podman, image, name, volume, secretFile string) serveContainer {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.run(ctx, "rm", "--force", "--volumes", "--ignore", name); err != nil {
			t.Errorf("remove the test's container: %v", err)
		}
	})
	p.must(t, "run", "--detach", "--name", name, "--publish", "127.0.0.1::8080",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--volume", volume+":/var/lib/promobot",
		"--volume", secretFile+":"+secretPath+":ro",
		image, "serve", "--roles", "webhook", "--webhook-secret-file", secretPath)
	c := serveContainer{name: name, base: "http://" + strings.TrimSpace(p.must(t, "port", name, "8080/tcp"))}
	t.Logf("promobot serve in container %s on %s", name, c.base)

	client := &http.Client{Timeout: 10 * time.Second}
	kit.Eventually(t, 60*time.Second, "promobot serve in the container to be ready", func() (bool, string) {
		if state := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}}", name)); state != "running" {
			t.Fatalf("the container is %s:\n%s", state, p.logs(t, name))
		}
		resp, err := client.Get(c.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return c
}

// firstEvent is the first event stored on the container's bus, as the
// operator reads it: promobot events tail in the container.
func (c serveContainer) firstEvent(t *testing.T, p podman) storedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.run(ctx, "exec", c.name, "/promobot", "events", "tail", "--all", "--limit", "1", "--json")
	if err != nil {
		t.Fatalf("promobot events tail in the container: %v", err)
	}
	var got storedEvent
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("promobot events tail --json: %v:\n%s", err, out)
	}
	return got
}

// stop sends SIGTERM and returns the container's exit status.
func (c serveContainer) stop(t *testing.T, p podman) string {
	t.Helper()
	p.must(t, "stop", "--time", "30", c.name)
	return strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.ExitCode}}", c.name))
}

// testServe runs promobot serve in the image. A delivery with a wrong
// signature is refused and a signed one is answered 202, stored on the bus
// (events tail shows it, and only it) and logged, never with the secret;
// SIGTERM stops the container with status 0; a new container on the same
// volume finds the delivery stored.
func testServe(t *testing.T, p podman, image, name string) {
	secret := "image-test-" + randomSuffix(t)
	secretFile := filepath.Join(t.TempDir(), "webhook-secret.txt")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	// The container runs as 65532, which must be able to read the file.
	if err := os.Chown(secretFile, 65532, 65532); err != nil {
		if err := os.Chmod(secretFile, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	volume := name + "-data"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.run(ctx, "volume", "exists", volume); err != nil {
			return // never made
		}
		if _, err := p.run(ctx, "volume", "rm", "--force", volume); err != nil {
			t.Errorf("remove the test's volume: %v", err)
		}
	})
	first := startServe(t, p, image, name, volume, secretFile)

	client := &http.Client{Timeout: 10 * time.Second}
	post := func(delivery, signature string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, first.base+"/webhook", strings.NewReader(pushPayload))
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
	want := storedEvent{ID: delivery, Type: "com.github.push", Source: "https://github.com/acme/gitops", Subject: "refs/heads/main"}
	if diff := cmp.Diff(want, first.firstEvent(t, p)); diff != "" {
		t.Errorf("the first event on the bus (-want +got):\n%s", diff)
	}

	if code := first.stop(t, p); code != "0" {
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

	// An upgrade: a new container on the same volume.
	second := startServe(t, p, image, name+"-2", volume, secretFile)
	if diff := cmp.Diff(want, second.firstEvent(t, p)); diff != "" {
		t.Errorf("the first event on the bus after a new container took the volume (-want +got):\n%s", diff)
	}
	if code := second.stop(t, p); code != "0" {
		t.Errorf("the second promobot serve exited with status %s on SIGTERM, want 0", code)
	}
}
