// Package chart_test tests the Helm chart in charts/promobot and the
// Dockerfile that builds the image it runs.
//
// Every supported combination of values is linted and rendered with a real
// helm (built from the Go module proxy), compared with a golden rendering,
// checked object by object, and installed with `helm install` into a real
// kube-apiserver, where the Pod Security admission and the RBAC the chart
// grants are exercised for real. Combinations the chart refuses are checked
// for the message the user sees.
package chart_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promobot/promobot/test/kube"
)

// helmVersion must match HELM_VERSION in the Makefile.
const helmVersion = "v3.22.0"

var (
	cluster *kube.Cluster
	// helmBin is the helm binary; helmHome isolates its config and caches.
	helmBin  string
	helmHome string
	// repoRoot is the promobot checkout; chartDir the chart in it.
	repoRoot string
	chartDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "chart tests: %v\n", err)
		os.Exit(1)
	}
	code := run(m)
	os.RemoveAll(helmHome)
	os.Exit(code)
}

// run shares one kube-apiserver among the package's tests; each test
// installs into namespaces of its own.
func run(m *testing.M) int {
	c, err := kube.Start(context.Background(), kube.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "chart tests: %v\n", err)
		return 1
	}
	cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "chart tests: kube cluster stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func setup() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	chartDir = filepath.Join(repoRoot, "charts", "promobot")
	binDir := os.Getenv(kube.EnvBinDir)
	if binDir == "" {
		binDir = filepath.Join(repoRoot, "bin")
	}
	helmBin = filepath.Join(binDir, "helm")
	if err := ensureHelm(binDir); err != nil {
		return err
	}
	helmHome, err = os.MkdirTemp("", "promobot-helm-")
	return err
}

// helmLDFlags are the flags helm's own release builds set: the version, and
// the Kubernetes version (of helm's client-go) that helm template assumes and
// helm lint checks API deprecations against. They must match the Makefile.
var helmLDFlags = strings.Join([]string{
	"-s", "-w",
	"-X helm.sh/helm/v3/internal/version.version=" + helmVersion,
	"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
	"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37",
	"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1",
	"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37",
}, " ")

// ensureHelm builds helm into binDir when it is missing or another version,
// the way `make tools` does, so a fresh clone can run these tests alone.
func ensureHelm(binDir string) error {
	if out, err := exec.Command(helmBin, "version", "--template", "{{.Version}}").Output(); err == nil &&
		strings.TrimSpace(string(out)) == helmVersion {
		return nil
	}
	fmt.Fprintf(os.Stderr, ">> building helm %s from the Go module proxy into %s (about a minute)\n", helmVersion, binDir)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "install", "-ldflags", helmLDFlags, "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	// Outside any module, so promobot's go.mod is neither read nor changed.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOFLAGS=-mod=mod")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("helm %s install: %w", helmVersion, err)
	}
	return nil
}

// helm runs the helm binary and returns its stdout; a failure's error holds
// helm's stderr, which is what a user would read.
func helm(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = helmEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &helmError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// helmCombined runs helm and returns stdout and stderr together, for
// commands that report on stderr even when they succeed.
func helmCombined(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = helmEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func helmEnv() []string {
	return append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
		"KUBECONFIG=/dev/null", // only an explicit --kubeconfig reaches a cluster
	)
}

type helmError struct {
	args   []string
	err    error
	stderr string
}

func (e *helmError) Error() string {
	return fmt.Sprintf("helm %s: %v\n%s", strings.Join(e.args, " "), e.err, e.stderr)
}
