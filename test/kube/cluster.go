// Package kube runs real Kubernetes API servers for promobot's tests: a
// kube-apiserver backed by etcd, both built from the Go module proxy by
// `make tools`, on loopback ports in a temporary directory.
//
// As with controller-runtime's envtest no controllers run: objects are stored,
// validated, defaulted, admitted and authorized (RBAC is enforced), but nothing
// creates Pods or writes workload status. [MarkRolledOut] sets a workload's
// status the way its controller would, for health tests.
//
// Both processes are killed when the test binary exits for any reason (normal
// end, failed test, panic, timeout, signal): they run in their own process
// group with a parent-death signal, and [Cluster.Stop] kills them earlier.
//
// A package shares one cluster and gives each test its own namespace:
//
//	var cluster *kube.Cluster
//
//	func TestMain(m *testing.M) { kube.Main(m, &cluster) }
//
//	func TestX(t *testing.T) { ns := cluster.Namespace(t); ... }
package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/test/proc"
)

// EnvBinDir names the environment variable holding the directory with the
// kube-apiserver, etcd and kubectl binaries (the Makefile exports it).
const EnvBinDir = proc.EnvBinDir

// Options configure [Start]. The zero value is ready to use.
type Options struct {
	// BinDir holds the kube-apiserver and etcd binaries. Default: $PROMOBOT_BIN_DIR,
	// else the bin directory at the root of the promobot module.
	BinDir string
	// StartTimeout bounds how long Start waits for the API server to be ready.
	// Default 90s (generous: tests share small machines).
	StartTimeout time.Duration
	// APIServerArgs are appended to the API server's flags, e.g. a feature gate.
	APIServerArgs []string
}

// Cluster is a running etcd and kube-apiserver. Its fields are read-only; its
// methods are safe for concurrent use.
type Cluster struct {
	// Config authenticates as the cluster admin (user "admin" in the
	// system:masters group). Copy it with rest.CopyConfig before changing it.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the admin, usable with
	// kubectl and with promobot's kubeconfig-based cluster credentials.
	Kubeconfig string
	// Client is a typed clientset for the admin.
	Client kubernetes.Interface
	// Dir is the temporary directory holding the cluster's data, certificates
	// and the logs etcd.log and kube-apiserver.log.
	Dir string
	// StartupDuration is how long Start took, from nothing to /readyz.
	StartupDuration time.Duration

	ca        *authority
	etcd      *proc.Process
	apiserver *proc.Process
	stopOnce  sync.Once
	stopErr   error
}

// Start runs a new, empty cluster and returns once the API server answers
// /readyz. Call Stop when done; the processes also die with the test binary.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	began := time.Now()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	binDir, err := proc.BinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			return nil, fmt.Errorf("kube cluster start: %s not found in %s (run `make tools`): %w", name, binDir, err)
		}
	}
	removeStaleDirs()

	dir, err := os.MkdirTemp("", "promobot-kube-")
	if err != nil {
		return nil, fmt.Errorf("kube cluster dir create: %w", err)
	}
	c := &Cluster{Dir: dir}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("kube cluster owner write: %w", err)
	}
	if err := c.writePKI(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	// Free ports are picked, released and then bound by the children, so
	// another process can take one in between: retry with fresh ports.
	const attempts = 4
	for attempt := 1; ; attempt++ {
		err = c.boot(ctx, binDir, opts)
		if err == nil {
			break
		}
		c.killProcesses()
		var portErr *portInUseError
		if !errors.As(err, &portErr) || attempt == attempts {
			os.RemoveAll(dir)
			return nil, err
		}
	}

	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(c.Kubeconfig, c.Config); err != nil {
		c.Stop()
		return nil, err
	}
	c.Client, err = kubernetes.NewForConfig(c.Config)
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("kube cluster client create: %w", err)
	}
	c.StartupDuration = time.Since(began)
	return c, nil
}

// ownerFile in a cluster directory records the pid of the test binary that
// owns it, so a later run can remove the directories of runs that were killed.
const ownerFile = "owner.pid"

func (c *Cluster) writePKI() error {
	ca, err := newAuthority()
	if err != nil {
		return err
	}
	c.ca = ca
	servingCert, servingKey, err := ca.issue("kube-apiserver", nil, true)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt":        ca.certPEM,
		"apiserver.crt": servingCert,
		"apiserver.key": servingKey,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
			return fmt.Errorf("kube cluster %s write: %w", name, err)
		}
	}
	return serviceAccountKey(filepath.Join(c.Dir, "sa.key"), filepath.Join(c.Dir, "sa.pub"))
}

// portInUseError marks a start attempt that lost a port race.
type portInUseError struct{ err error }

func (e *portInUseError) Error() string { return e.err.Error() }
func (e *portInUseError) Unwrap() error { return e.err }

func (c *Cluster) boot(ctx context.Context, binDir string, opts Options) error {
	ports, err := proc.FreePorts(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)

	c.etcd, err = proc.Start("etcd", filepath.Join(binDir, "etcd"), filepath.Join(c.Dir, "etcd.log"), []string{
		"--name=default",
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	})
	if err != nil {
		return err
	}

	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(securePort),
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
		"--tls-cert-file=" + filepath.Join(c.Dir, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(c.Dir, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(c.Dir, "ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(c.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(c.Dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// No controller manager runs, so no ServiceAccount token controller
		// either; the admission plugin would reject Pods waiting for one.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=1",
	}
	args = append(args, opts.APIServerArgs...)
	c.apiserver, err = proc.Start("kube-apiserver", filepath.Join(binDir, "kube-apiserver"), filepath.Join(c.Dir, "kube-apiserver.log"), args)
	if err != nil {
		return err
	}

	adminCert, adminKey, err := c.ca.issue("admin", []string{"system:masters"}, false)
	if err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host: "https://127.0.0.1:" + strconv.Itoa(securePort),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.ca.certPEM,
			CertData: adminCert,
			KeyData:  adminKey,
		},
		// A local API server: the client-go default of 5 requests/s would
		// make tests measure the client's throttle rather than promobot.
		QPS:   500,
		Burst: 1000,
	}
	return c.waitReady(ctx, adminCert, adminKey)
}

// waitReady polls /readyz until it answers 200, a child exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("kube cluster admin key pair: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.cert)
	httpClient := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      pool,
			Certificates: []tls.Certificate{pair},
		}},
	}
	defer httpClient.CloseIdleConnections()

	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	var last string
	for {
		for _, p := range []*proc.Process{c.etcd, c.apiserver} {
			if !p.Running() {
				tail := p.LogTail()
				err := fmt.Errorf("kube cluster start: %s exited (%v); log tail:\n%s", p.Name, p.Err(), tail)
				if strings.Contains(tail, "address already in use") {
					return &portInUseError{err: err}
				}
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Config.Host+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("kube cluster readyz request: %w", err)
		}
		resp, err := httpClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube cluster start: not ready (last /readyz: %s): %w; kube-apiserver log tail:\n%s",
				last, ctx.Err(), c.apiserver.LogTail())
		case <-ticker.C:
		}
	}
}

// Stop kills the API server and etcd and removes the cluster's directory.
// It is idempotent.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.killProcesses()
		if err := os.RemoveAll(c.Dir); err != nil && c.stopErr == nil {
			c.stopErr = fmt.Errorf("kube cluster dir remove: %w", err)
		}
	})
	return c.stopErr
}

func (c *Cluster) killProcesses() error {
	var errs []error
	for _, p := range []*proc.Process{c.apiserver, c.etcd} {
		if p != nil {
			errs = append(errs, p.Kill())
		}
	}
	return errors.Join(errs...)
}

// PIDs returns the process ids of kube-apiserver and etcd, for tests that
// check no process outlives its test binary.
func (c *Cluster) PIDs() []int {
	var pids []int
	for _, p := range []*proc.Process{c.apiserver, c.etcd} {
		if p != nil {
			pids = append(pids, p.PID())
		}
	}
	return pids
}

// removeStaleDirs deletes cluster directories left by test binaries that were
// killed before they could clean up (their children died with them).
func removeStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "promobot-kube-*"))
	for _, dir := range matches {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}
