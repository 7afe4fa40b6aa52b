package render

import (
	"context"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

// Discover finds the apps of the checkout at repoRoot as gitops.DiscoverApps
// does, rendering with opts the roots that are not plain manifests (a
// kustomization or Helm chart apps directory, nested roots of those kinds),
// as Argo CD renders the root app. A root that fails to render is a note.
// Everything is read through the checkout's os.Root.
func Discover(ctx context.Context, repoRoot string, dopts gitops.DiscoverOptions, opts kustomize.RenderOptions) ([]gitops.App, []gitops.Note, error) {
	repo, err := checkout.Open(repoRoot)
	if err != nil {
		return nil, nil, err
	}
	defer repo.Close()
	dopts.Render = Roots(ctx, repoRoot, opts)
	return gitops.DiscoverApps(repo.FS(), dopts)
}

// Roots returns the gitops.RenderFunc that renders roots of the checkout at
// repoRoot with opts.
func Roots(ctx context.Context, repoRoot string, opts kustomize.RenderOptions) gitops.RenderFunc {
	return func(app gitops.App, src gitops.Source) ([]byte, error) {
		return Source(ctx, repoRoot, app, src, opts)
	}
}

// LoadDir is gitops.LoadDir with Discover's rendering of roots.
func LoadDir(ctx context.Context, root string, repoURLs []string, opts kustomize.RenderOptions) (*gitops.Repository, error) {
	return LoadDirWith(ctx, root, gitops.LoadOptions{RepoURLs: repoURLs}, opts)
}

// LoadDirWith is gitops.LoadDirWith with Discover's rendering of roots.
func LoadDirWith(ctx context.Context, root string, lopts gitops.LoadOptions, opts kustomize.RenderOptions) (*gitops.Repository, error) {
	lopts.Render = Roots(ctx, root, opts)
	return gitops.LoadDirWith(root, lopts)
}
