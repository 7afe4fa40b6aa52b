// Package proc runs the harness's child processes (kube-apiserver, etcd,
// nats-server) for promobot's tests, so that none outlives its test binary:
// each runs in its own process group with a parent-death signal, forked from
// one OS thread that lives as long as the test binary.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvBinDir names the environment variable holding the directory with the
// harness binaries `make tools` builds (the Makefile exports it).
const EnvBinDir = "PROMOBOT_BIN_DIR"

// spawner forks every child process from one OS thread that lives as long as
// the test binary. Linux sends a child its Pdeathsig when the *thread* that
// forked it exits, not the process (golang/go#27505), so forking from an
// ordinary goroutine could kill a child early when the runtime retires that
// thread; a locked goroutine that never returns keeps its thread forever.
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startFromSpawner(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// Process is one child in its own process group, killed with SIGKILL when
// the test binary dies for any reason. Its methods are safe for concurrent
// use.
type Process struct {
	// Name names the child in errors.
	Name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// Start runs path with args, its output appended to logPath. The child
// gets env as its environment, or the test binary's when env is empty.
func Start(name, path, logPath string, args []string, env ...string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log create: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	if len(env) > 0 {
		cmd.Env = env
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := startFromSpawner(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s start: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Running reports whether the child has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed once the child has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the child exited (as exec.Cmd.Wait reports it), nil while it
// runs.
func (p *Process) Err() error {
	if p.Running() {
		return nil
	}
	return p.waitErr
}

// Kill sends SIGKILL to the child's process group and waits for it to be
// reaped. The harness's children hold only throwaway test data, so there is
// nothing a graceful shutdown would save, and tests use Kill to crash them.
// Killing a child that has exited does nothing.
func (p *Process) Kill() error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s kill: %w", p.Name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running 10s after SIGKILL", p.Name, p.PID())
	}
}

// LogTail returns the last lines of the child's log, for start errors.
func (p *Process) LogTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	const max = 4000
	if len(data) > max {
		data = data[len(data)-max:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return string(data)
}

var (
	portsMu   sync.Mutex
	usedPorts = map[int]bool{}
)

// FreePorts reserves n distinct loopback ports and releases them for the
// children to bind. Ports handed out earlier by this process are avoided;
// another process can still take one in between, so a child that fails to
// bind is restarted on fresh ports.
func FreePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var (
		ports     []int
		listeners []net.Listener
	)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		listeners = append(listeners, l)
		port := l.Addr().(*net.TCPAddr).Port
		if usedPorts[port] {
			continue
		}
		usedPorts[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// BinDir finds the harness binaries: dir when set, else $PROMOBOT_BIN_DIR,
// else <promobot module root>/bin found by walking up from the working
// directory.
func BinDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if env := os.Getenv(EnvBinDir); env != "" {
		return env, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bin dir: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.Contains(string(data), "module github.com/promobot/promobot\n") {
			return filepath.Join(d, "bin"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("bin dir: no promobot go.mod above %s; set %s", wd, EnvBinDir)
		}
	}
}
