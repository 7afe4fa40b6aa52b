package gitops

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// appWithSpec is an Application named name whose spec is the YAML spec
// (indented by two spaces) plus an in-cluster destination.
func appWithSpec(name, spec string) []byte {
	return []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + name + "\nspec:\n" + spec +
		"  destination: {server: https://kubernetes.default.svc, namespace: shop}\n")
}

// TestSourceDetection checks how each source is told to render: an
// explicit block wins, else what the path holds, as Argo CD decides.
func TestSourceDetection(t *testing.T) {
	repo := fstest.MapFS{
		"k/kustomization.yaml":    {Data: []byte("resources: []\n")},
		"kyml/kustomization.yml":  {Data: []byte("resources: []\n")},
		"kcap/Kustomization":      {Data: []byte("resources: []\n")},
		"chart/Chart.yaml":        {Data: []byte("name: c\n")},
		"chart/values.yaml":       {Data: []byte("a: 1\n")},
		"both/Chart.yaml":         {Data: []byte("name: c\n")},
		"both/kustomization.yaml": {Data: []byte("resources: []\n")},
		"plain/cm.yaml":           {Data: []byte("apiVersion: v1\n")},
		"nested/sub/Chart.yaml":   {Data: []byte("name: c\n")},
	}
	src := func(extra string) string {
		return "  source:\n    repoURL: " + repoURL + "\n" + extra
	}
	tests := []struct {
		name string
		spec string
		want Source
		note string
	}{
		{name: "kustomization.yaml", spec: src("    path: k\n"), want: Source{Kind: SourceKustomize, Path: "k"}},
		{name: "kustomization.yml", spec: src("    path: kyml\n"), want: Source{Kind: SourceKustomize, Path: "kyml"}},
		{name: "Kustomization", spec: src("    path: kcap\n"), want: Source{Kind: SourceKustomize, Path: "kcap"}},
		{name: "Chart.yaml", spec: src("    path: chart\n"), want: Source{Kind: SourceHelm, Path: "chart"}},
		{name: "kustomization wins over Chart.yaml", spec: src("    path: both\n"), want: Source{Kind: SourceKustomize, Path: "both"}},
		{name: "plain directory", spec: src("    path: plain\n"), want: Source{Kind: SourceDirectory, Path: "plain"}},
		{name: "a chart below the path does not count", spec: src("    path: nested\n"), want: Source{Kind: SourceDirectory, Path: "nested"}},
		{name: "missing path is a directory", spec: src("    path: gone\n"), want: Source{Kind: SourceDirectory, Path: "gone"}},
		{name: "explicit directory wins over a kustomization", spec: src("    path: k\n    directory: {recurse: true, include: '*.yaml', exclude: 'x/*'}\n"),
			want: Source{Kind: SourceDirectory, Path: "k", Directory: &DirectorySource{Recurse: true, Include: "*.yaml", Exclude: "x/*"}}},
		{name: "explicit helm", spec: src("    path: plain\n    helm:\n      releaseName: web\n      valueFiles: [values-prod.yaml]\n      ignoreMissingValueFiles: true\n      values: |\n        a: 1\n      valuesObject: {b: {c: 2}}\n      parameters: [{name: image.tag, value: 1.2.3, forceString: true}]\n      fileParameters: [{name: cfg, path: files/cfg.txt}]\n      skipCrds: true\n      namespace: other\n"),
			want: Source{Kind: SourceHelm, Path: "plain", Helm: &HelmSource{
				ReleaseName: "web", ValueFiles: []string{"values-prod.yaml"}, IgnoreMissingValueFiles: true, Values: "a: 1\n",
				ValuesObject: map[string]any{"b": map[string]any{"c": 2}}, Parameters: []HelmParameter{{Name: "image.tag", Value: "1.2.3", ForceString: true}},
				FileParameters: []HelmFileParameter{{Name: "cfg", Path: "files/cfg.txt"}}, SkipCrds: true, Namespace: "other"}}},
		{name: "explicit kustomize", spec: src("    path: plain\n    kustomize: {}\n"), want: Source{Kind: SourceKustomize, Path: "plain"}},
		{name: "kustomize options", spec: src("    path: k\n    kustomize: {namePrefix: x-, images: [web=web:2]}\n"),
			note: `unsupported apps/a.yaml: a: source sets kustomize: options ("namePrefix", "images"), which promobot does not apply; put them in the kustomization file`},
		{name: "null block is no block", spec: src("    path: chart\n    kustomize: null\n"), want: Source{Kind: SourceHelm, Path: "chart"}},
		{name: "two blocks", spec: src("    path: k\n    helm: {}\n    directory: {}\n"),
			note: "invalid apps/a.yaml: a: source: multiple application sources defined: Helm,Directory"},
		{name: "plugin", spec: src("    path: k\n    plugin: {name: cdk8s}\n"),
			note: "unsupported apps/a.yaml: a: source uses a Config Management Plugin (plugin:); promobot runs no plugin, it renders Kustomize, plain directories and Helm charts of this repository in its sandbox"},
		{name: "remote chart", spec: "  source: {repoURL: 'https://charts.example.com', chart: web, targetRevision: 1.0.0}\n",
			note: "foreign-repo apps/a.yaml: a: source is Helm chart web from https://charts.example.com; promobot renders only what this repository holds; skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"apps/a.yaml": {Data: appWithSpec("a", tt.spec)}}
			for k, v := range repo {
				fsys[k] = v
			}
			apps, notes, err := DiscoverApps(fsys, DiscoverOptions{RepoURLs: []string{repoURL}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.note != "" {
				if len(apps) != 0 || len(notes) != 1 {
					t.Fatalf("apps %v, notes %v; want one note", apps, notes)
				}
				if got := string(notes[0].Kind) + " " + notes[0].String(); got != tt.note {
					t.Errorf("note = %q\nwant   %q", got, tt.note)
				}
				return
			}
			if len(apps) != 1 || len(notes) != 0 {
				t.Fatalf("apps %v, notes %v; want one app", apps, notes)
			}
			tt.want.RepoURL = repoURL
			if diff := cmp.Diff([]Source{tt.want}, apps[0].Sources); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMultiSource checks spec.sources: every source must be this
// repository; ref: sources give value files to Helm sources; several
// paths make one app.
func TestMultiSource(t *testing.T) {
	repo := fstest.MapFS{
		"chart/Chart.yaml":             {Data: []byte("name: c\n")},
		"extra/cm.yaml":                {Data: []byte("apiVersion: v1\n")},
		"base/kustomization.yaml":      {Data: []byte("resources: []\n")},
		"env/prod/values.yaml":         {Data: []byte("a: 1\n")},
		"env/prod/kustomization.yaml":  {Data: []byte("resources: []\n")},
		"other/kustomization.yaml":     {Data: []byte("resources: []\n")},
		"chart/values-production.yaml": {Data: []byte("a: 2\n")},
	}
	const other = "https://github.com/someone/else.git"
	tests := []struct {
		name     string
		sources  string
		rendered []string
		note     string
	}{
		{name: "helm with $values from a ref source",
			sources:  "  - {repoURL: " + repoURL + ", path: chart, helm: {valueFiles: [values-production.yaml, $values/env/prod/values.yaml]}}\n  - {repoURL: " + repoURL + ", ref: values}\n",
			rendered: []string{"helm chart"}},
		{name: "several paths merged",
			sources:  "  - {repoURL: " + repoURL + ", path: base}\n  - {repoURL: " + repoURL + ", path: extra}\n  - {repoURL: " + repoURL + ", path: other/}\n",
			rendered: []string{"kustomize base", "directory extra", "kustomize other"}},
		{name: "a ref source with a path renders too",
			sources:  "  - {repoURL: " + repoURL + ", path: chart, helm: {valueFiles: [$env/env/prod/values.yaml]}}\n  - {repoURL: " + repoURL + ", path: env/prod, ref: env}\n",
			rendered: []string{"helm chart", "kustomize env/prod"}},
		{name: "spec.source is ignored beside spec.sources",
			sources:  "  - {repoURL: " + repoURL + ", path: extra}\n  source: {repoURL: " + repoURL + ", path: base}\n",
			rendered: []string{"directory extra"}},
		{name: "another repository among the sources",
			sources: "  - {repoURL: " + repoURL + ", path: base}\n  - {repoURL: '" + other + "', ref: values}\n",
			note:    "foreign-repo apps/a.yaml: a: source 2 of 2 (" + other + ") is another repository; promobot applies a multi-source Application only when every source is this repository; skipped"},
		{name: "a remote chart among the sources",
			sources: "  - {repoURL: 'https://charts.example.com', chart: web, targetRevision: 1.0.0, helm: {valueFiles: [$values/env/prod/values.yaml]}}\n  - {repoURL: " + repoURL + ", ref: values}\n",
			note:    "foreign-repo apps/a.yaml: a: source 1 of 2 is Helm chart web from https://charts.example.com; promobot renders only what this repository holds; skipped"},
		{name: "a plugin among the sources",
			sources: "  - {repoURL: " + repoURL + ", path: base}\n  - {repoURL: " + repoURL + ", path: extra, plugin: {name: x}}\n",
			note:    "unsupported apps/a.yaml: a: source 2 of 2 uses a Config Management Plugin (plugin:); promobot runs no plugin, it renders Kustomize, plain directories and Helm charts of this repository in its sandbox"},
		{name: "unknown ref",
			sources: "  - {repoURL: " + repoURL + ", path: chart, helm: {valueFiles: [$vals/env/prod/values.yaml]}}\n  - {repoURL: " + repoURL + ", ref: values}\n",
			note:    "invalid apps/a.yaml: a: value file $vals/env/prod/values.yaml: no source has ref vals"},
		{name: "value file outside the repository",
			sources: "  - {repoURL: " + repoURL + ", path: chart, helm: {valueFiles: [../../etc/passwd]}}\n",
			note:    "invalid apps/a.yaml: a: value file ../../etc/passwd: outside the repository"},
		{name: "$values file outside the repository",
			sources: "  - {repoURL: " + repoURL + ", path: chart, helm: {valueFiles: [$values/../x.yaml]}}\n  - {repoURL: " + repoURL + ", ref: values}\n",
			note:    "invalid apps/a.yaml: a: value file $values/../x.yaml: outside the repository"},
		{name: "only ref sources",
			sources: "  - {repoURL: " + repoURL + ", ref: a}\n  - {repoURL: " + repoURL + ", ref: b}\n",
			note:    "invalid apps/a.yaml: a: none of its 2 sources has a path to render (a ref: source only provides value files)"},
		{name: "duplicate ref",
			sources: "  - {repoURL: " + repoURL + ", path: base, ref: a}\n  - {repoURL: " + repoURL + ", ref: a}\n",
			note:    "invalid apps/a.yaml: a: ref a names two sources"},
		{name: "different revisions",
			sources: "  - {repoURL: " + repoURL + ", path: base, targetRevision: v1}\n  - {repoURL: " + repoURL + ", path: extra}\n",
			note:    `unsupported apps/a.yaml: a: its sources name different revisions ("v1" and ""); promobot deploys one revision of the repository per app`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"apps/a.yaml": {Data: appWithSpec("a", "  sources:\n"+tt.sources)}}
			for k, v := range repo {
				fsys[k] = v
			}
			apps, notes, err := DiscoverApps(fsys, DiscoverOptions{RepoURLs: []string{repoURL}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.note != "" {
				if len(apps) != 0 || len(notes) != 1 {
					t.Fatalf("apps %v, notes %v; want one note", apps, notes)
				}
				if got := string(notes[0].Kind) + " " + notes[0].String(); got != tt.note {
					t.Errorf("note = %q\nwant   %q", got, tt.note)
				}
				return
			}
			if len(apps) != 1 || len(notes) != 0 {
				t.Fatalf("apps %v, notes %v; want one app", apps, notes)
			}
			var got []string
			for _, s := range apps[0].Rendered() {
				got = append(got, string(s.Kind)+" "+s.Path)
			}
			if diff := cmp.Diff(tt.rendered, got); diff != "" {
				t.Errorf("rendered sources (-want +got):\n%s", diff)
			}
			if first := apps[0].Rendered()[0]; apps[0].Path != first.Path {
				t.Errorf("App.Path = %q, want the first rendered source's %q", apps[0].Path, first.Path)
			}
		})
	}
}

// TestValueFile resolves Helm value files of a multi-source app.
func TestValueFile(t *testing.T) {
	chart := Source{Kind: SourceHelm, Path: "charts/web"}
	a := App{Sources: []Source{chart, {Kind: SourceValues, Ref: "values"}}}
	tests := []struct {
		file, want string
		bad        bool
	}{
		{file: "values.yaml", want: "charts/web/values.yaml"},
		{file: "../common/values.yaml", want: "charts/common/values.yaml"},
		{file: "$values/env/prod.yaml", want: "env/prod.yaml"},
		{file: "$values/./env/../prod.yaml", want: "prod.yaml"},
		{file: "$other/prod.yaml", bad: true},
		{file: "../../../x.yaml", bad: true},
		{file: "/env/prod.yaml", want: "env/prod.yaml"},
		{file: "/../../etc/passwd", bad: true},
		{file: "$values/../../x.yaml", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := a.ValueFile(chart, tt.file)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("ValueFile(%q) = %q, %v; want %q (error %v)", tt.file, got, err, tt.want, tt.bad)
			}
		})
	}
}

// TestAffectedSources checks which changes affect directory, Helm and
// multi-source apps, and apps declared by a rendered root.
func TestAffectedSources(t *testing.T) {
	dir := App{Name: "dir", Path: "web", Sources: []Source{{Kind: SourceDirectory, Path: "web"}}}
	recurse := App{Name: "recurse", Path: "web", Sources: []Source{{Kind: SourceDirectory, Path: "web",
		Directory: &DirectorySource{Recurse: true, Include: "{*.yaml,*.json}", Exclude: "test/*"}}}}
	helm := App{Name: "helm", Path: "charts/web", Sources: []Source{
		{Kind: SourceHelm, Path: "charts/web", Helm: &HelmSource{ValueFiles: []string{"$values/env/prod.yaml", "../shared/values.yaml"},
			FileParameters: []HelmFileParameter{{Name: "cfg", Path: "../../files/cfg.txt"}}}},
		{Kind: SourceValues, Ref: "values"},
	}}
	multi := App{Name: "multi", Path: "base", Sources: []Source{{Kind: SourceKustomize, Path: "base"}, {Kind: SourceDirectory, Path: "extra"}}}
	rooted := App{Name: "rooted", Path: "svc", File: "apps", Root: "apps", Sources: []Source{{Kind: SourceDirectory, Path: "svc"}}}
	apps := []App{dir, recurse, helm, multi, rooted}
	deps := func(p string) ([]string, error) {
		if p == "base" {
			return []string{"base/kustomization.yaml", "base/cm.yaml"}, nil
		}
		t.Errorf("deps(%q): only kustomizations have a graph", p)
		return nil, nil
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{name: "top-level yaml", changed: []string{"web/a.yaml"}, want: []string{"dir", "recurse"}},
		{name: "json", changed: []string{"web/a.json"}, want: []string{"dir", "recurse"}},
		{name: "yml is not included by the recursing app", changed: []string{"web/a.yml"}, want: []string{"dir"}},
		{name: "subdirectory", changed: []string{"web/sub/a.yaml"}, want: []string{"recurse"}},
		{name: "excluded subdirectory", changed: []string{"web/test/a.yaml"}},
		{name: "not a manifest", changed: []string{"web/README.md"}},
		{name: "chart template", changed: []string{"charts/web/templates/deploy.yaml"}, want: []string{"helm"}},
		{name: "$values file", changed: []string{"env/prod.yaml"}, want: []string{"helm"}},
		{name: "other environment's values", changed: []string{"env/staging.yaml"}},
		{name: "value file beside the chart", changed: []string{"charts/shared/values.yaml"}, want: []string{"helm"}},
		{name: "file parameter", changed: []string{"files/cfg.txt"}, want: []string{"helm"}},
		{name: "first source of several", changed: []string{"base/cm.yaml"}, want: []string{"multi"}},
		{name: "second source of several", changed: []string{"extra/x.yaml"}, want: []string{"multi"}},
		{name: "the rendered root", changed: []string{"apps/templates/svc.yaml"}, want: []string{"rooted"}},
		{name: "the rooted app's own path", changed: []string{"svc/a.yaml"}, want: []string{"rooted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Affected(apps, tt.changed, deps)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range got {
				names = append(names, a.Name)
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("affected (-want +got):\n%s", diff)
			}
		})
	}
}
