package kustomize

import (
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// workerEnv turns a process into a render worker when set to "1": any
// binary that links this package (promobot, a test binary) serves renders on
// its stdin and stdout instead of running its main, as moby's reexec does.
// The parent starts its own executable with it (see pool.go).
const workerEnv = "PROMOBOT_RENDER_WORKER"

func init() {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	// Helm, which a render may run, must not become a worker too.
	os.Unsetenv(workerEnv)
	os.Exit(serveWorker(os.Stdin, os.Stdout))
}

// workRequest asks a worker for one render.
type workRequest struct {
	// Root is the repository root, absolute with symbolic links resolved.
	Root string
	// Dir is the kustomization directory, absolute, inside Root.
	Dir string
	// Directory, when set, asks for a plain directory render of Dir
	// (RenderDirectory) instead of a kustomize build.
	Directory *Directory
	// Helm, when set, asks for a Helm chart render (RenderHelm).
	Helm        *helmWork
	EnableHelm  bool
	HelmCommand string
	MaxObjects  int
	MaxMemory   int64
}

// Kinds of workResponse.
const (
	respReady   = iota // the worker has loaded kustomize's schema and waits
	respOK             // Out holds the render
	respRender         // Err is kustomize's failure (wraps ErrRender)
	respObjects        // the render printed more than MaxObjects objects
)

// workResponse answers a workRequest (or announces the worker).
type workResponse struct {
	Kind int
	Out  []byte
	Err  string
	// Outside says that Err is about a path or link that leaves the
	// repository (it wrapped ErrOutsideRepository in the worker).
	Outside bool
	// Retire asks the parent to replace the worker: the render changed
	// state kustomize keeps for the process (a kustomization's custom
	// OpenAPI schema), which must not leak into the next render.
	Retire bool
}

// serveWorker answers render requests from in on out until in ends, and
// returns the process's exit code.
func serveWorker(in io.Reader, out io.Writer) int {
	// Nothing but the protocol may reach stdout: whatever kustomize or a
	// library prints goes to stderr.
	os.Stdout = os.Stderr
	dec := gob.NewDecoder(in)
	enc := gob.NewEncoder(out)
	warmUp()
	schema := openapi.GetSchemaVersion()
	if err := enc.Encode(workResponse{Kind: respReady}); err != nil {
		return 1
	}
	for {
		var req workRequest
		if err := dec.Decode(&req); err != nil {
			if err == io.EOF {
				return 0
			}
			fmt.Fprintf(os.Stderr, "render worker: read request: %v\n", err)
			return 1
		}
		resp := work(req)
		resp.Retire = openapi.GetSchemaVersion() != schema
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintf(os.Stderr, "render worker: write response: %v\n", err)
			return 1
		}
		if resp.Retire {
			return 0
		}
		// Give the render's memory back, so the next render's resident
		// size starts from the worker's own.
		debug.FreeOSMemory()
	}
}

// work runs one render.
func work(req workRequest) workResponse {
	if req.MaxMemory > 0 {
		// The parent kills the worker above MaxMemory; collecting harder
		// before that keeps renders that fit from being killed for garbage.
		old := debug.SetMemoryLimit(req.MaxMemory * 8 / 10)
		defer debug.SetMemoryLimit(old)
	}
	if req.Directory != nil {
		return workDirectory(req)
	}
	if req.Helm != nil {
		return workHelm(req)
	}
	fsys, err := newSandboxFS(req.Root)
	if err != nil {
		return workResponse{Kind: respRender, Err: err.Error()}
	}
	opts := RenderOptions{EnableHelm: req.EnableHelm, HelmCommand: req.HelmCommand}
	m, err := buildMap(fsys, fsys.root, req.Dir, opts)
	if err != nil {
		return workResponse{Kind: respRender, Err: err.Error()}
	}
	if req.MaxObjects > 0 && m.Size() > req.MaxObjects {
		return workResponse{Kind: respObjects}
	}
	b, err := encodeMap(m)
	if err != nil {
		return workResponse{Kind: respRender, Err: err.Error()}
	}
	return workResponse{Kind: respOK, Out: b}
}

// warmUp renders a small kustomization from memory, so the worker has parsed
// kustomize's built-in OpenAPI schema before its first real render.
func warmUp() {
	fsys := filesys.MakeFsInMemory()
	_ = fsys.WriteFile("/warm/kustomization.yaml", []byte("namePrefix: w-\nresources:\n- d.yaml\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: d\n    spec:\n      replicas: 2\n"))
	_ = fsys.WriteFile("/warm/d.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n"))
	_, _ = build(fsys, "/", "/warm", RenderOptions{})
	runtime.GC()
	debug.FreeOSMemory()
}
