package kustomize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/promobot/promobot/internal/helm"
)

// helmWork is a Helm chart render asked of a worker: the chart's path
// relative to the repository root and helm's options, as JSON (values
// objects hold any YAML value, which gob cannot carry).
type helmWork struct {
	Chart   string
	Options []byte
}

// RenderHelm renders the Helm chart at chartPath (relative to repoRoot)
// with opts, as Argo CD runs `helm template`, in a render worker under the
// same limits as every render (RenderOptions.Limits, Class), and returns
// the rendered objects as a YAML stream. See internal/helm for what a
// chart may and may not do.
func RenderHelm(ctx context.Context, repoRoot, chartPath string, hopts helm.Options, opts RenderOptions) ([]byte, error) {
	label := filepath.ToSlash(filepath.Clean(chartPath))
	repo, err := openRepo(repoRoot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	root := repo.Dir()
	repo.Close()
	if _, err := appDir(root, chartPath); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	raw, err := json.Marshal(hopts)
	if err != nil {
		return nil, fmt.Errorf("%s: helm options: %w", label, err)
	}
	lim := opts.Limits.effective()
	return runWork(ctx, label, opts.Class, lim, workRequest{
		Root: root, Dir: root, Helm: &helmWork{Chart: filepath.ToSlash(filepath.Clean(chartPath)), Options: raw},
		MaxObjects: lim.MaxObjects, MaxMemory: lim.MaxMemory,
	})
}

// workHelm renders a Helm chart inside the worker.
func workHelm(req workRequest) workResponse {
	var hopts helm.Options
	if err := json.Unmarshal(req.Helm.Options, &hopts); err != nil {
		return workResponse{Kind: respRender, Err: "helm options: " + err.Error()}
	}
	out, err := helm.Render(context.Background(), req.Root, req.Helm.Chart, hopts)
	if err != nil {
		// helm's errors name the chart already.
		return workResponse{Kind: respRender, Err: err.Error(), Outside: errors.Is(err, ErrOutsideRepository)}
	}
	if req.MaxObjects > 0 {
		if res, err := Resources(out); err == nil && len(res) > req.MaxObjects {
			return workResponse{Kind: respObjects}
		}
	}
	return workResponse{Kind: respOK, Out: out}
}
