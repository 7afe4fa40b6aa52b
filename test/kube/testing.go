package kube

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StartForTest starts a cluster for one test and stops it when the test ends.
func StartForTest(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatalf("start kube cluster: %v", err)
	}
	t.Logf("kube cluster %s up in %s", c.Config.Host, c.StartupDuration.Round(1e6))
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop kube cluster: %v", err)
		}
	})
	return c
}

// Main is a TestMain body that shares one cluster across a package's tests:
// it starts the cluster, stores it in *cluster, runs the tests, stops the
// cluster and exits with the tests' code.
//
//	func TestMain(m *testing.M) { kube.Main(m, &cluster) }
func Main(m *testing.M, cluster **Cluster) {
	c, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube: %v\n", err)
		os.Exit(1)
	}
	*cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kube: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Namespace creates a fresh namespace named after the test and returns its
// name. The namespace is left in place at the end of the test: without the
// namespace controller a deleted namespace would stay Terminating anyway, and
// the whole cluster goes away with the package's test binary.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := namespaceName(t.Name())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// namespaceName turns a test name into a unique DNS label.
func namespaceName(testName string) string {
	var b strings.Builder
	dash := true
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	if base == "" {
		base = "test"
	}
	return base + "-" + randomSuffix(6)
}

func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return strings.Repeat("x", n)
	}
	for i, v := range buf {
		buf[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(buf)
}
