package kustomize

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Class says whose render it is. Each class has its own render workers, so
// renders of one class never wait for renders of the other.
type Class int

const (
	// ClassPreview is a render for a pull request's diff comment or a
	// promotion plan: repository content anyone who can open a pull
	// request chooses. The zero value, so a caller that forgets to choose
	// can slow down only previews.
	ClassPreview Class = iota
	// ClassApply is a render the applier applies: the default branch.
	ClassApply
)

// String names the class for errors and logs.
func (c Class) String() string {
	switch c {
	case ClassPreview:
		return "preview"
	case ClassApply:
		return "apply"
	default:
		return fmt.Sprintf("class %d", int(c))
	}
}

// workersPerClass is how many renders of one class run at once. Each worker
// is a process holding kustomize's parsed OpenAPI schema (about 35 MiB
// resident when idle); a class's workers start with its first render and are
// kept warm.
var workersPerClass = map[Class]int{ClassApply: 2, ClassPreview: 1}

// memoryPoll is how often the resident size of a rendering worker is read.
const memoryPoll = 20 * time.Millisecond

// pool holds the workers of one class, all started with the pool. A slot
// holds nil only while a worker is being replaced after a failed start.
type pool struct {
	class Class
	slots chan *worker
}

var (
	poolsMu sync.Mutex
	pools   = map[Class]*pool{}
)

// poolFor returns the pool of class c, creating it on first use.
func poolFor(c Class) *pool {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	p, ok := pools[c]
	if !ok {
		n := max(workersPerClass[c], 1)
		p = &pool{class: c, slots: make(chan *worker, n)}
		for range n {
			p.slots <- startWorker()
		}
		pools[c] = p
	}
	return p
}

// get takes a worker ready to render, starting one if its slot has none or
// its process has ended. The caller must put it back.
func (p *pool) get(ctx context.Context) (*worker, error) {
	var w *worker
	select {
	case w = <-p.slots:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a %s render worker: %w", p.class, ctx.Err())
	}
	if w == nil || w.exited() {
		w.release()
		w = startWorker()
	}
	select {
	case <-w.ready:
	case <-ctx.Done():
		p.put(w)
		return nil, fmt.Errorf("wait for a %s render worker: %w", p.class, ctx.Err())
	}
	if w.startErr != nil {
		w.kill()
		w.release()
		p.slots <- nil
		return nil, w.startErr
	}
	return w, nil
}

// put gives the worker's slot back. A worker that was killed is replaced at
// once, so the next render finds a warm one.
func (p *pool) put(w *worker) {
	if w != nil && w.exited() {
		w.release()
		w = startWorker()
	}
	p.slots <- w
}

// worker is one render worker process.
type worker struct {
	cmd *exec.Cmd
	enc *gob.Encoder
	dec *gob.Decoder
	// stdout is the read end of the worker's stdout. It is ours, not
	// exec's: cmd.Wait would close a StdoutPipe as soon as the process
	// exits, losing an answer the worker wrote just before exiting (as a
	// retiring worker does). release closes it.
	stdout *os.File
	// ready is closed once the worker announced itself or failed to;
	// startErr says which.
	ready    chan struct{}
	startErr error
	// done is closed once the process has exited and been waited for.
	done chan struct{}
	// waitErr is cmd.Wait's result, set before done is closed.
	waitErr error
}

// startWorker starts a worker process: this executable with workerEnv set.
// It returns at once; w.ready closes when the worker can render.
func startWorker() *worker {
	w := &worker{ready: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) *worker {
		w.startErr = fmt.Errorf("start render worker: %w", err)
		close(w.ready)
		close(w.done)
		return w
	}
	exe, err := selfExecutable()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = workerEnviron()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = workerProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	cmd.Stdout = stdoutW
	err = cmd.Start()
	stdoutW.Close() // the worker holds its own copy
	if err != nil {
		stdout.Close()
		return fail(err)
	}
	w.cmd = cmd
	w.stdout = stdout
	w.enc = gob.NewEncoder(stdin)
	w.dec = gob.NewDecoder(bufio.NewReader(stdout))
	go func() {
		w.waitErr = cmd.Wait()
		close(w.done)
	}()
	go func() {
		defer close(w.ready)
		var hello workResponse
		if err := w.dec.Decode(&hello); err != nil {
			w.startErr = fmt.Errorf("start render worker: %w", w.exitReason(err))
			return
		}
		if hello.Kind != respReady {
			w.startErr = fmt.Errorf("start render worker: unexpected greeting %d", hello.Kind)
		}
	}()
	return w
}

// workerEnviron is the environment of a render worker: what kustomize and
// the helm it may run need (PATH, HOME, TMPDIR, locale, XDG_* and HELM_*)
// and Go's runtime settings. promobot's secrets and credentials
// ($PROMOBOT_PRIVATE_KEY, $PROMOBOT_WEBHOOK_SECRET, cloud and proxy
// settings) never reach the process that reads repository content.
func workerEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "HOME", k == "TMPDIR", k == "USER", k == "LANG", k == "TZ",
			k == "GODEBUG", k == "GOTRACEBACK", k == "GOCOVERDIR",
			strings.HasPrefix(k, "LC_"), strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "HELM_"):
			env = append(env, kv)
		}
	}
	return append(env, workerEnv+"=1")
}

// exited reports whether the worker's process has ended.
func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// release closes what the parent holds of a worker that has exited. It is
// safe on a nil worker and on one that never started.
func (w *worker) release() {
	if w != nil && w.stdout != nil {
		w.stdout.Close()
	}
}

// kill ends the worker's process group (the worker and any helm it runs)
// and waits for the worker to exit.
func (w *worker) kill() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	killGroup(w.cmd.Process.Pid)
	<-w.done
}

// exitReason explains a failed read from the worker: when its process has
// ended, how it ended.
func (w *worker) exitReason(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		select {
		case <-w.done:
			if w.waitErr != nil {
				return fmt.Errorf("render worker exited: %w", w.waitErr)
			}
			return errors.New("render worker exited")
		case <-time.After(time.Second):
		}
	}
	return err
}

// render sends one request and waits for its answer. It kills the worker
// when ctx ends, when the render takes longer than lim.Timeout, or when the
// worker's resident memory passes lim.MaxMemory; the worker must not be
// used again then (put replaces it).
func (w *worker) render(ctx context.Context, req workRequest, lim Limits) (workResponse, error) {
	// A limit below what the worker holds before it starts is over at once,
	// however quickly the render would end.
	if rss := residentBytes(w.cmd.Process.Pid); rss > lim.MaxMemory {
		w.kill()
		return workResponse{}, &LimitError{Limit: LimitMemory, Limits: lim}
	}
	type result struct {
		resp workResponse
		err  error
	}
	results := make(chan result, 1)
	go func() {
		var r result
		if err := w.enc.Encode(req); err != nil {
			r.err = err
		} else if err := w.dec.Decode(&r.resp); err != nil {
			r.err = err
		}
		results <- r
	}()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()
	poll := time.NewTicker(memoryPoll)
	defer poll.Stop()
	for {
		select {
		case r := <-results:
			if r.err != nil {
				err := w.exitReason(r.err)
				w.kill()
				return workResponse{}, fmt.Errorf("%w: %w", ErrRender, err)
			}
			if r.resp.Retire {
				w.kill()
			}
			return r.resp, nil
		case <-ctx.Done():
			w.kill()
			return workResponse{}, fmt.Errorf("render: %w", ctx.Err())
		case <-timer.C:
			w.kill()
			return workResponse{}, &LimitError{Limit: LimitTimeout, Limits: lim}
		case <-poll.C:
			if rss := residentBytes(w.cmd.Process.Pid); rss > lim.MaxMemory {
				w.kill()
				return workResponse{}, &LimitError{Limit: LimitMemory, Limits: lim}
			}
		}
	}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
