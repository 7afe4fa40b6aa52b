package applier

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"sandbox refusal leads with the reason",
			&kustomize.ReferenceError{File: "kustomize/overlays/staging/kustomization.yaml", Field: "resources", Ref: "../../../../etc", Err: kustomize.ErrOutsideRepository},
			`outside the repository: resources "../../../../etc" in kustomize/overlays/staging/kustomization.yaml`},
		{"wrapped sandbox refusal",
			fmt.Errorf("kustomize/overlays/staging: %w", &kustomize.ReferenceError{File: "k.yaml", Field: "resources", Ref: "https://x", Err: kustomize.ErrRemoteReference}),
			`remote reference: only files of this repository may be used: resources "https://x" in k.yaml`},
		{"repeated path prefixes dropped",
			errors.New("kustomize/overlays/staging: kustomize/overlays/staging: kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': not found"),
			"kustomize build failed: cannot load resource 'missing.yaml': not found"},
		{"other errors unchanged", errors.New("cluster https://x: connection refused"), "cluster https://x: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Describe(tt.err, "kustomize/overlays/staging")); diff != "" {
				t.Error(diff)
			}
		})
	}
	re := &RenderError{Path: "kustomize/overlays/staging", Err: errors.New("kustomize/overlays/staging: bad")}
	if got, want := re.Error(), "render kustomize/overlays/staging: bad"; got != want {
		t.Errorf("RenderError = %q, want %q", got, want)
	}
}

func TestFilterApps(t *testing.T) {
	apps := []gitops.App{
		{Name: "api-staging", Server: "https://kubernetes.default.svc"},
		{Name: "api-production", Server: "https://prod.example:6443"},
		{Name: "web-production", DestName: "prod"},
	}
	names := func(as []gitops.App) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Name)
		}
		return out
	}
	tests := []struct {
		name string
		t    Target
		want []string
	}{
		{"everything", Target{}, []string{"api-staging", "api-production", "web-production"}},
		{"by app", Target{Apps: []string{"api-production"}}, []string{"api-production"}},
		{"by server", Target{Cluster: "https://prod.example:6443"}, []string{"api-production"}},
		{"by destination name", Target{Cluster: "prod"}, []string{"web-production"}},
		{"app and cluster must both match", Target{Apps: []string{"api-staging"}, Cluster: "prod"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(filterApps(apps, tt.t))); diff != "" {
				t.Error(diff)
			}
		})
	}
}
