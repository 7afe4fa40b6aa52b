// Package render turns an app into the objects promobot applies: each of
// its sources rendered as Argo CD renders it (a kustomization, a plain
// directory of manifests, a Helm chart), several sources concatenated into
// one render. It also reads a repository's apps the way Argo CD finds them,
// rendering App of Apps roots that are not plain manifests (Discover,
// LoadDir).
//
// Every render runs in internal/kustomize's sandboxed worker processes,
// under the same limits; the output is the YAML stream kustomize.Render
// prints, so applies, diffs and prunes treat every kind alike.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

// ErrDuplicate is wrapped by the error of a multi-source render in which two
// sources render the same object.
var ErrDuplicate = errors.New("rendered by two sources")

// App renders every source of app from the checkout at repoRoot and returns
// their YAML streams concatenated, in the order of the sources. An App
// without Sources (one built by hand) renders as the kustomization at its
// Path. A single source's render is returned as its renderer printed it,
// byte for byte.
//
// Unlike Argo CD, which keeps the last of two sources rendering the same
// object and warns, a duplicate is an error wrapping ErrDuplicate naming
// both sources: which one a cluster gets would otherwise depend on their
// order. Errors name the source's path. App is safe for concurrent use.
func App(ctx context.Context, repoRoot string, app gitops.App, opts kustomize.RenderOptions) ([]byte, error) {
	srcs := app.Rendered()
	if len(app.Sources) == 0 {
		srcs = []gitops.Source{{Kind: gitops.SourceKustomize, Path: app.Path}}
	}
	if len(srcs) == 1 {
		return Source(ctx, repoRoot, app, srcs[0], opts)
	}
	var out bytes.Buffer
	owner := map[kustomize.ResourceKey]string{}
	for _, src := range srcs {
		b, err := Source(ctx, repoRoot, app, src, opts)
		if err != nil {
			return nil, err
		}
		res, err := kustomize.Resources(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Path, err)
		}
		for _, r := range res {
			if first, dup := owner[r.Key]; dup {
				return nil, fmt.Errorf("%s: %s is %w: %s and %s", app.Name, r.Key, ErrDuplicate, first, src.Path)
			}
			owner[r.Key] = src.Path
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), nil
}

// Source renders one source of app: a kustomization with kustomize.Render,
// a plain directory with kustomize.RenderDirectory, a Helm chart with
// kustomize.RenderHelm as Argo CD runs `helm template` (see helmOptions);
// any other kind is an error.
func Source(ctx context.Context, repoRoot string, app gitops.App, src gitops.Source, opts kustomize.RenderOptions) ([]byte, error) {
	switch src.Kind {
	case gitops.SourceKustomize:
		return kustomize.Render(ctx, repoRoot, src.Path, opts)
	case gitops.SourceDirectory:
		return kustomize.RenderDirectory(ctx, repoRoot, src.Path, src.Directory.Selection(), opts)
	case gitops.SourceHelm:
		return kustomize.RenderHelm(ctx, repoRoot, src.Path, helmOptions(repoRoot, app, src), opts)
	default:
		return nil, fmt.Errorf("%s: source of kind %q renders nothing", src.Path, src.Kind)
	}
}
