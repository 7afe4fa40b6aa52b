package kustomize

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// RenderOptions tunes a render. The zero value is the strict sandbox, with
// the process's limits, as a preview.
type RenderOptions struct {
	// EnableHelm lets helmCharts inflate charts that are already in the
	// repository, by running the helm binary, as `kustomize build
	// --enable-helm` does. Charts fetched from a chart repository stay
	// refused. Off by default.
	EnableHelm bool
	// HelmCommand is the helm binary to run when EnableHelm is set; "helm"
	// (looked up in PATH) when empty.
	HelmCommand string
	// Class is whose render it is: renders for applies and previews of pull
	// requests run on separate workers, so no preview delays an apply.
	Class Class
	// Limits bound the render; zero fields take the process's limits
	// (SetLimits, else DefaultLimits).
	Limits Limits
}

// ErrRender is wrapped by every error kustomize itself reports for an overlay
// that passed the sandbox checks (a bad patch, a missing file, a panic inside
// kustomize, a render worker that died).
var ErrRender = errors.New("kustomize build failed")

// Render builds the kustomization in directory dir (relative to repoRoot,
// slash- or OS-separated) and returns the multi-document YAML that `kustomize
// build` v5.8.2 prints for it, byte for byte.
//
// The build runs in a sandbox: only kustomize's built-in generators and
// transformers (no exec, Go or container plugins), Helm only with
// opts.EnableHelm and only for charts inside the repository, no remote
// bases, resources or files (nothing is cloned with git or fetched over
// HTTP), and nothing read outside repoRoot, through symbolic links included.
// A refused reference is a *ReferenceError naming the kustomization file, the
// field and the reference; kustomize's own failures wrap ErrRender. Both are
// prefixed with dir.
//
// The build is bounded by opts.Limits: an overlay whose kustomization graph
// loads more than MaxObjects documents is refused before kustomize starts,
// and kustomize runs in a worker process (one of a few per opts.Class, kept
// warm) that is killed when it runs longer than Timeout, holds more than
// MaxMemory or prints more than MaxObjects objects. Each refusal is a
// *LimitError naming the limit, prefixed with dir. krusty keeps process-wide
// state and is not safe for concurrent builds
// (kubernetes-sigs/kustomize#3659): a worker runs one build at a time.
//
// Render is safe for concurrent use. A caller waiting for a worker gives up
// when ctx ends, and ending ctx stops a running build (its worker is killed
// and replaced).
func Render(ctx context.Context, repoRoot, dir string, opts RenderOptions) ([]byte, error) {
	label := filepath.ToSlash(filepath.Clean(dir))
	lim := opts.Limits.effective()
	// The walk refuses remote references before krusty sees them: krusty
	// would clone them with the git binary or fetch them with net/http, and
	// offers no hook to stop either.
	w, err := walk(repoRoot, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	start, err := appDir(w.root, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if n := countObjects(w.root, filepath.ToSlash(filepath.Clean(dir)), lim.MaxObjects); n > lim.MaxObjects {
		return nil, fmt.Errorf("%s: %w", label, &LimitError{Limit: LimitObjects, Limits: lim})
	}

	return runWork(ctx, label, opts.Class, lim, workRequest{
		Root: w.root, Dir: start,
		EnableHelm: opts.EnableHelm, HelmCommand: opts.HelmCommand,
		MaxObjects: lim.MaxObjects, MaxMemory: lim.MaxMemory,
	})
}

// workerError is a render failure reported by a worker: its message as the
// worker wrote it, matching ErrRender with errors.Is, and
// ErrOutsideRepository when it did there.
type workerError struct {
	msg     string
	outside bool
}

func (e workerError) Error() string { return e.msg }
func (e workerError) Is(target error) bool {
	return target == ErrRender || e.outside && target == ErrOutsideRepository
}

// build runs krusty with the options `kustomize build` uses by default,
// turning a panic inside kustomize into an error.
func build(fsys filesys.FileSystem, root, dir string, opts RenderOptions) ([]byte, error) {
	m, err := buildMap(fsys, root, dir, opts)
	if err != nil {
		return nil, err
	}
	return encodeMap(m)
}

// buildMap is build before the objects are printed.
func buildMap(fsys filesys.FileSystem, root, dir string, opts RenderOptions) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: kustomize panicked: %v", ErrRender, r)
		}
	}()
	kopts := krusty.MakeDefaultOptions()
	// As `kustomize build` without --reorder: the kustomization's
	// sortOptions, else the legacy order (Namespaces first, webhooks last).
	kopts.Reorder = krusty.ReorderOptionUnspecified
	kopts.LoadRestrictions = types.LoadRestrictionsRootOnly
	kopts.PluginConfig = types.DisabledPluginConfig()
	kopts.PluginConfig.HelmConfig.Enabled = opts.EnableHelm
	kopts.PluginConfig.HelmConfig.Command = opts.HelmCommand
	if kopts.PluginConfig.HelmConfig.Command == "" {
		kopts.PluginConfig.HelmConfig.Command = "helm"
	}
	m, err = krusty.MakeKustomizer(kopts).Run(fsys, dir)
	if err != nil {
		// Repository-relative paths in the message: it ends up on commit
		// statuses, where the checkout's location means nothing.
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
		return nil, fmt.Errorf("%w: %s", ErrRender, msg)
	}
	return m, nil
}

// encodeMap prints a build's objects as `kustomize build` does.
func encodeMap(m resmap.ResMap) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: kustomize panicked: %v", ErrRender, r)
		}
	}()
	out, err = m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrRender, err)
	}
	return out, nil
}
