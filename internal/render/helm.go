package render

import (
	"cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/helm"
)

// helmOptions are the options Argo CD would run `helm template` with for
// src, a Helm source of app whose checkout is at repoRoot: the release
// named for the app unless helm.releaseName says otherwise, the
// destination namespace unless helm.namespace does, the Application's
// build environment, and each `ref:` source of the app (all of them this
// repository) for "$<ref>/..." value files. The kube version and API
// versions are helm's defaults: promobot renders without asking the
// destination cluster.
func helmOptions(repoRoot string, app gitops.App, src gitops.Source) helm.Options {
	h := src.Helm
	if h == nil {
		h = &gitops.HelmSource{}
	}
	o := helm.Options{
		ReleaseName:             cmp.Or(h.ReleaseName, app.Name),
		Namespace:               cmp.Or(h.Namespace, app.DestNamespace),
		ValueFiles:              h.ValueFiles,
		IgnoreMissingValueFiles: h.IgnoreMissingValueFiles,
		Values:                  h.Values,
		ValuesObject:            h.ValuesObject,
		SkipCrds:                h.SkipCrds,
		Env: map[string]string{
			"ARGOCD_APP_NAME":                   app.Name,
			"ARGOCD_APP_NAMESPACE":              app.DestNamespace,
			"ARGOCD_APP_SOURCE_PATH":            src.Path,
			"ARGOCD_APP_SOURCE_REPO_URL":        src.RepoURL,
			"ARGOCD_APP_SOURCE_TARGET_REVISION": src.TargetRevision,
		},
	}
	for _, p := range h.Parameters {
		o.Parameters = append(o.Parameters, helm.Parameter{Name: p.Name, Value: p.Value, ForceString: p.ForceString})
	}
	for _, p := range h.FileParameters {
		o.FileParameters = append(o.FileParameters, helm.FileParameter{Name: p.Name, Path: p.Path})
	}
	for _, s := range app.Sources {
		if s.Ref != "" {
			if o.Refs == nil {
				o.Refs = map[string]string{}
			}
			o.Refs[s.Ref] = repoRoot
		}
	}
	return o
}
