// Package natscluster runs a NATS cluster of real nats-server processes for
// promobot's tests: nodes clustered on loopback with JetStream, each with its
// own store directory, admitting one nkey user. Tests kill nodes with SIGKILL
// and restart them on the same store and ports, as a node of a production
// cluster crashes and comes back.
//
// nats-server is built by `make tools` into bin/ at the version promobot's
// go.mod embeds, and found as the other harness binaries are (see
// [proc.BinDir]). Every node dies with the test binary.
package natscluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/promobot/promobot/test/proc"
)

// Name is the cluster's name, as clients see it (nats.Conn.ConnectedClusterName).
const Name = "promobot-test"

// readyTimeout bounds a node's start: its client port open and the
// cluster's JetStream answering through it.
const readyTimeout = 60 * time.Second

// Cluster is a running NATS cluster. Its methods are safe for concurrent use.
type Cluster struct {
	// Dir holds each node's configuration, store and log.
	Dir string
	// URLs are the nodes' client URLs, in node order.
	URLs []string
	// SeedFile is the nkey user seed file the cluster admits (mode 0600),
	// what promobot's --nats-nkey names.
	SeedFile string

	t      testing.TB
	bin    string
	seed   nkeys.KeyPair
	mu     sync.Mutex
	nodes  []*proc.Process
	config []string // each node's configuration file
}

// Start starts n clustered nats-server processes and waits until the
// cluster's JetStream answers through every node. They are killed when the
// test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	binDir, err := proc.BinDir("")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "nats-server")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("nats cluster: nats-server not found in %s (run `make tools`): %v", binDir, err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: t.TempDir(), t: t, bin: bin, seed: user, nodes: make([]*proc.Process, n)}
	if err := c.writeSeed(); err != nil {
		t.Fatal(err)
	}
	if err := c.writeConfigs(n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, p := range c.nodes {
			if p == nil {
				continue
			}
			if err := p.Kill(); err != nil {
				t.Errorf("nats cluster node %d: %v", i, err)
			}
			if t.Failed() {
				t.Logf("nats cluster node %d log tail:\n%s", i, p.LogTail())
			}
		}
	})
	for i := range n {
		if err := c.start(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if err := c.waitReady(i); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// URL is every node's client URL, comma-separated, as --nats-url takes it.
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }

// Kill sends SIGKILL to node i and waits until it is gone: what it had not
// written to its store is lost, as in a crash.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	p := c.nodes[i]
	c.mu.Unlock()
	if err := p.Kill(); err != nil {
		c.t.Fatal(err)
	}
}

// Restart starts node i again on its store and ports and waits until the
// cluster answers through it.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.mu.Lock()
	running := c.nodes[i].Running()
	c.mu.Unlock()
	if running {
		c.t.Fatalf("nats cluster node %d: restart of a running node", i)
	}
	if err := c.start(i); err != nil {
		c.t.Fatal(err)
	}
	if err := c.waitReady(i); err != nil {
		c.t.Fatal(err)
	}
}

// PID is node i's process id.
func (c *Cluster) PID(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].PID()
}

// UserOption authenticates a nats.go connection as the cluster's user.
func (c *Cluster) UserOption() nats.Option {
	pub, _ := c.seed.PublicKey()
	return nats.Nkey(pub, c.seed.Sign)
}

// Connect opens a connection to every node as the cluster's user, closed
// when the test ends. It reconnects forever, so it survives a node's kill.
func (c *Cluster) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{c.UserOption(), nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.URL(), opts...)
	if err != nil {
		t.Fatalf("nats cluster connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (c *Cluster) writeSeed() error {
	seed, err := c.seed.Seed()
	if err != nil {
		return fmt.Errorf("nats cluster seed: %w", err)
	}
	c.SeedFile = filepath.Join(c.Dir, "user.nk")
	if err := os.WriteFile(c.SeedFile, append(seed, '\n'), 0o600); err != nil {
		return fmt.Errorf("nats cluster seed write: %w", err)
	}
	return nil
}

// writeConfigs writes each node's configuration: client and route ports on
// loopback, every node's route, JetStream on its own store, one nkey user.
func (c *Cluster) writeConfigs(n int) error {
	ports, err := proc.FreePorts(2 * n)
	if err != nil {
		return fmt.Errorf("nats cluster: %w", err)
	}
	pub, err := c.seed.PublicKey()
	if err != nil {
		return fmt.Errorf("nats cluster user: %w", err)
	}
	var routes []string
	for i := range n {
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(ports[n+i]))
	}
	for i := range n {
		c.URLs = append(c.URLs, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
# GitHub payloads reach 25 MB.
max_payload: 33554432
authorization {
  users: [{nkey: %q}]
}
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 8GB
}
cluster {
  name: %q
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i, ports[i], pub, filepath.Join(c.Dir, fmt.Sprintf("n%d", i)), Name, ports[n+i], strings.Join(routes, ", "))
		file := filepath.Join(c.Dir, fmt.Sprintf("n%d.conf", i))
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			return fmt.Errorf("nats cluster config write: %w", err)
		}
		c.config = append(c.config, file)
	}
	return nil
}

func (c *Cluster) start(i int) error {
	p, err := proc.Start(fmt.Sprintf("nats-server n%d", i), c.bin, filepath.Join(c.Dir, fmt.Sprintf("n%d.log", i)), []string{"-c", c.config[i]})
	if err != nil {
		return fmt.Errorf("nats cluster: %w", err)
	}
	c.mu.Lock()
	c.nodes[i] = p
	c.mu.Unlock()
	return nil
}

// waitReady waits until a client of node i alone reaches the cluster's
// JetStream: the node is up, routed, and a meta leader is elected.
func (c *Cluster) waitReady(i int) error {
	c.mu.Lock()
	p := c.nodes[i]
	c.mu.Unlock()
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if !p.Running() {
			return fmt.Errorf("nats cluster: %s exited (%v); log tail:\n%s", p.Name, p.Err(), p.LogTail())
		}
		if last = c.jetStreamAnswers(c.URLs[i]); last == nil {
			return nil
		}
		select {
		case <-p.Exited():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("nats cluster: %s not ready after %s: %w; log tail:\n%s", p.Name, readyTimeout, last, p.LogTail())
}

func (c *Cluster) jetStreamAnswers(url string) error {
	nc, err := nats.Connect(url, c.UserOption(), nats.NoReconnect(), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	if nc.ConnectedClusterName() != Name {
		return errors.New("not routed to the cluster yet")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}
