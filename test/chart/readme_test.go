package chart_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// readmeCommands returns the shell commands of the README's sh blocks,
// continuation lines joined.
func readmeCommands(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in := false
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			if l, ok := strings.CutSuffix(line, "\\"); ok {
				cur.WriteString(l)
				continue
			}
			cur.WriteString(line)
			if c := strings.Join(strings.Fields(cur.String()), " "); c != "" {
				cmds = append(cmds, c)
			}
			cur.Reset()
		}
	}
	return cmds
}

// TestREADMECommands runs the chart README's commands as written, from a
// directory holding the files they name, with kubectl and helm from bin/
// pointed at the test cluster, and checks what they installed.
func TestREADMECommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmds := readmeCommands(t, filepath.Join(chartDir, "README.md"))

	// The user's working directory: the promobot checkout's charts, the App's
	// private key downloaded from GitHub, and NATS credentials.
	work := t.TempDir()
	if err := os.Symlink(filepath.Join(repoRoot, "charts"), filepath.Join(work, "charts")); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(work, "my-app.private-key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "promobot.creds"), []byte("-----BEGIN NATS USER JWT-----\ntest\n------END NATS USER JWT------\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var ran []string
	var output strings.Builder
	for _, c := range cmds {
		tool := strings.Fields(c)[0]
		if tool == "docker" {
			continue // Docker does not run here; TestDockerfile* check the Dockerfile.
		}
		ran = append(ran, tool)
		cmd := exec.CommandContext(ctx, "sh", "-c", c)
		cmd.Dir = work
		cmd.Env = append(helmEnv(),
			"PATH="+filepath.Dir(helmBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"KUBECONFIG="+cluster.Kubeconfig)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README command failed: %s\n%v\n%s", c, err, out)
		}
		output.Write(out)
	}
	if diff := cmp.Diff([]string{"kubectl", "openssl", "kubectl", "helm", "kubectl", "helm"}, ran); diff != "" {
		t.Errorf("README commands run (-want +got):\n%s", diff)
	}

	// What the user sees and what is in the cluster.
	if !strings.Contains(output.String(), "\n     http://promobot.example.com/webhook\n") {
		t.Errorf("the install did not print the webhook URL the README promises:\n%s", output.String())
	}
	secret, err := cluster.Client.CoreV1().Secrets("promobot").Get(ctx, "promobot-github", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(secret.Data["private-key.pem"]); got != string(keyPEM) {
		t.Errorf("Secret promobot-github private-key.pem is not the key file")
	}
	if got := len(strings.TrimSpace(string(secret.Data["webhook-secret"]))); got != 64 {
		t.Errorf("Secret promobot-github webhook-secret has %d characters, want openssl's 64 hex digits", got)
	}
	deps, err := cluster.Client.AppsV1().Deployments("promobot").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range deps.Items {
		got = append(got, fmt.Sprintf("%s x%d", d.Name, *d.Spec.Replicas))
	}
	slices.Sort(got)
	want := []string{"promobot x1", "promobot-split-applier x2", "promobot-split-promoter x1", "promobot-split-webhook x3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deployments after the README's installs (-want +got):\n%s", diff)
	}
}
