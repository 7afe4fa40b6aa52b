package kustomize

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// RenderOptions tunes a render. The zero value is the strict sandbox.
type RenderOptions struct {
	// EnableHelm lets helmCharts inflate charts that are already in the
	// repository, by running the helm binary, as `kustomize build
	// --enable-helm` does. Charts fetched from a chart repository stay
	// refused. Off by default.
	EnableHelm bool
	// HelmCommand is the helm binary to run when EnableHelm is set; "helm"
	// (looked up in PATH) when empty.
	HelmCommand string
}

// ErrRender is wrapped by every error kustomize itself reports for an overlay
// that passed the sandbox checks (a bad patch, a missing file, a panic inside
// kustomize).
var ErrRender = errors.New("kustomize build failed")

// buildSlot serializes krusty builds: krusty keeps process-wide state (the
// OpenAPI schema) and is not safe for concurrent builds
// (kubernetes-sigs/kustomize#3659). fluxcd/pkg serializes the same way.
var buildSlot = make(chan struct{}, 1)

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
// Render is safe for concurrent use; builds run one at a time, and a caller
// waiting for its turn gives up when ctx ends. A build that has started runs
// to completion.
func Render(ctx context.Context, repoRoot, dir string, opts RenderOptions) ([]byte, error) {
	label := filepath.ToSlash(filepath.Clean(dir))
	// The walk refuses remote references before krusty sees them: krusty
	// would clone them with the git binary or fetch them with net/http, and
	// offers no hook to stop either.
	w, err := walk(repoRoot, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	fsys, err := newSandboxFS(w.root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	start, err := appDir(w.root, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}

	select {
	case buildSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: wait to render: %w", label, ctx.Err())
	}
	defer func() { <-buildSlot }()

	out, err := build(fsys, w.root, start, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return out, nil
}

// build runs krusty with the options `kustomize build` uses by default,
// turning a panic inside kustomize into an error.
func build(fsys filesys.FileSystem, root, dir string, opts RenderOptions) (out []byte, err error) {
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
	m, err := krusty.MakeKustomizer(kopts).Run(fsys, dir)
	if err != nil {
		// Repository-relative paths in the message: it ends up on commit
		// statuses, where the checkout's location means nothing.
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
		return nil, fmt.Errorf("%w: %s", ErrRender, msg)
	}
	out, err = m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrRender, err)
	}
	return out, nil
}
