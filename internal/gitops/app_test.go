package gitops

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const repoURL = "https://github.com/acme/gitops.git"

func application(name, path, namespace string) string {
	return `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ` + name + `
  namespace: argocd
spec:
  project: default
  source:
    repoURL: ` + repoURL + `
    targetRevision: HEAD
    path: ` + path + `
  destination:
    server: https://kubernetes.default.svc
    namespace: ` + namespace + `
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
`
}

// seedRepo is laid out like the repositories promobot serves: an App of
// Apps root, one Application per environment, a Kustomize base and overlays.
func seedRepo() fstest.MapFS {
	return fstest.MapFS{
		"apps/root.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
  namespace: argocd
spec:
  source:
    repoURL: git@github.com:Acme/GitOps.git
    path: apps
  destination:
    server: https://kubernetes.default.svc
    namespace: argocd
`)},
		"apps/my-api-service-staging.yaml":                 {Data: []byte(application("my-api-service-staging", "kustomize/overlays/staging", "staging"))},
		"apps/my-api-service-production.yaml":              {Data: []byte(application("my-api-service-production", "kustomize/overlays/production", "production"))},
		"kustomize/base/kustomization.yaml":                {Data: []byte("resources: [deployment.yaml]\n")},
		"kustomize/overlays/staging/kustomization.yaml":    {Data: []byte("resources: [../../base]\n")},
		"kustomize/overlays/production/kustomization.yaml": {Data: []byte("resources: [../../base]\n")},
		"README.md": {Data: []byte("# gitops\n")},
	}
}

func TestDiscoverAppsSeed(t *testing.T) {
	apps, notes, err := DiscoverApps(seedRepo(), DiscoverOptions{RepoURLs: []string{"https://github.com/acme/gitops"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []App{
		{
			Name: "my-api-service-production", Namespace: "argocd", RepoURL: repoURL, Path: "kustomize/overlays/production", TargetRevision: "HEAD",
			Sources: []Source{{Kind: SourceKustomize, RepoURL: repoURL, Path: "kustomize/overlays/production", TargetRevision: "HEAD"}},
			Server:  "https://kubernetes.default.svc", DestNamespace: "production", Automated: true, Prune: true, SelfHeal: true, CreateNamespace: true, SyncOptions: []string{"CreateNamespace=true"},
			Environment: "production", Apply: true, File: "apps/my-api-service-production.yaml",
		},
		{
			Name: "my-api-service-staging", Namespace: "argocd", RepoURL: repoURL, Path: "kustomize/overlays/staging", TargetRevision: "HEAD",
			Sources: []Source{{Kind: SourceKustomize, RepoURL: repoURL, Path: "kustomize/overlays/staging", TargetRevision: "HEAD"}},
			Server:  "https://kubernetes.default.svc", DestNamespace: "staging", Automated: true, Prune: true, SelfHeal: true, CreateNamespace: true, SyncOptions: []string{"CreateNamespace=true"},
			Environment: "staging", Apply: true, File: "apps/my-api-service-staging.yaml",
		},
	}
	if diff := cmp.Diff(want, apps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	wantNotes := []Note{{Kind: NoteRoot, File: "apps/root.yaml", App: "root", Message: "App of Apps root (source path apps holds Application manifests); not applied as a child"}}
	if diff := cmp.Diff(wantNotes, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestDiscoverAppsNotes(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/multi.yaml": {Data: []byte(application("web-staging", "web/overlays/staging", "web") + "---\n" +
			application("web-production", "web/overlays/production", "web") + "---\n# just a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")},
		"apps/team-a/worker.yml": {Data: []byte(application("worker-qa", "worker/qa", "team-a"))},
		"apps/foreign.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: other}
spec:
  source: {repoURL: "https://github.com/someone/else", path: deploy}
  destination: {server: "https://kubernetes.default.svc", namespace: other}
`)},
		"apps/chart.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: ingress-nginx}
spec:
  source: {repoURL: "https://kubernetes.github.io/ingress-nginx", chart: ingress-nginx, targetRevision: 4.11.0}
  destination: {server: "https://kubernetes.default.svc", namespace: ingress}
`)},
		"apps/broken.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: [oops\n")},
		"apps/nodest.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: nodest}\nspec:\n  source: {repoURL: " + repoURL + ", path: x}\n")},
		"apps/escape.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: escape}\nspec:\n  source: {repoURL: " + repoURL + ", path: ../../etc}\n  destination: {name: in-cluster}\n")},
		"apps/dup.yaml":    {Data: []byte(application("web-staging", "web/overlays/staging", "web"))},
		"apps/forged.yaml": {Data: []byte(strings.Replace(application("x", "web/overlays/forged", "web"), "name: x", "name: \"0`\\n\\nNo changes. :white_check_mark:\\n<!--\"", 1))},
		"apps/set.yaml":    {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: all}\n")},
		"apps/multisource.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: db-staging, namespace: platform}
spec:
  sources:
  - {repoURL: "https://github.com/acme/gitops", path: db/chart, helm: {valueFiles: [$values/db/staging/values.yaml]}}
  - {repoURL: "ssh://git@github.com:22/acme/gitops", path: db/staging/, ref: values}
  destination: {name: staging-cluster, namespace: db}
  syncPolicy:
    automated: {enabled: false, prune: true}
`)},
		"apps/kustomization.yaml": {Data: []byte("resources: [multi.yaml]\n")},
		"apps/.github/ci.yaml":    {Data: []byte(application("hidden", "x", "y"))},
		"apps/notes.txt":          {Data: []byte("not yaml: [")},
	}
	apps, notes, err := DiscoverApps(fsys, DiscoverOptions{RepoURLs: []string{"git@github.com:acme/gitops.git"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		got = append(got, a.String()+" "+a.Path+" env="+a.Environment)
	}
	want := []string{
		"web-production web/overlays/production env=production",
		"web-staging web/overlays/staging env=staging",
		"worker-qa worker/qa env=qa",
		"platform/db-staging db/chart env=staging",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	var gotNotes []string
	for _, n := range notes {
		gotNotes = append(gotNotes, string(n.Kind)+" "+n.String())
	}
	wantNotes := []string{
		`invalid apps/broken.yaml: not valid YAML (document 1): line 2: did not find expected ',' or ']'`,
		"foreign-repo apps/chart.yaml: ingress-nginx: source is Helm chart ingress-nginx from https://kubernetes.github.io/ingress-nginx; promobot renders only what this repository holds; skipped",
		"invalid apps/escape.yaml: escape: source path: \"../../etc\" is outside the repository",
		"invalid apps/forged.yaml: metadata.name \"0`\\n\\nNo changes. :white_check_mark:\\n<!--\" is not a valid Application name: Argo CD requires a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)",
		"invalid apps/nodest.yaml: nodest: Application has neither spec.destination.server nor spec.destination.name",
		"invalid apps/set.yaml: all: ApplicationSet refused: spec.generators is empty, so it generates no Application",
		"foreign-repo apps/foreign.yaml: other: source https://github.com/someone/else is another repository; skipped",
		"duplicate apps/multi.yaml: web-staging: Application argocd/web-staging is already declared in apps/dup.yaml; skipped",
	}
	if diff := cmp.Diff(wantNotes, gotNotes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	db := apps[3]
	if db.Automated || db.Prune || db.DestName != "staging-cluster" || db.Namespace != "platform" {
		t.Errorf("multi-source app = %+v; want automated off (enabled: false), destination name staging-cluster", db)
	}
}

func TestDiscoverAppsConfig(t *testing.T) {
	fsys := seedRepo()
	fsys["deploy/argo/legacy.yaml"] = &fstest.MapFile{Data: []byte(application("legacy", "legacy", "legacy"))}
	cfg, err := ParseConfig([]byte("appsDir: deploy/argo\napps:\n  legacy: {apply: false, environment: uat}\n  gone: {apply: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	apps, notes, err := DiscoverApps(fsys, DiscoverOptions{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Name != "legacy" || apps[0].Environment != "uat" || apps[0].Apply {
		t.Errorf("apps = %+v; want only legacy, environment uat, apply off", apps)
	}
	want := []Note{{Kind: NoteConfig, File: ".promobot.yaml", App: "gone", Message: "apps.gone matches no Application"}}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}

	_, notes, err = DiscoverApps(fstest.MapFS{"README.md": {}}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Note{{Kind: NoteInvalid, File: "apps", Message: "apps directory not found; no Application manifests to read"}}, notes); diff != "" {
		t.Errorf("missing apps dir notes (-want +got):\n%s", diff)
	}
	if _, _, err := DiscoverApps(fsys, DiscoverOptions{AppsDir: "../x"}); err == nil {
		t.Errorf("an apps dir outside the repository should be an error")
	}
}

func TestDiscoverAppsRootVariants(t *testing.T) {
	tests := []struct {
		name string
		path string
		root bool
	}{
		{name: "apps dir", path: "apps", root: true},
		{name: "apps dir with slash", path: "apps/", root: true},
		{name: "repository root", path: ".", root: true},
		{name: "subdirectory holding manifests", path: "apps/team", root: true},
		{name: "overlay", path: "kustomize/overlays/staging", root: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"apps/x.yaml":      {Data: []byte(application("x", tt.path, "x"))},
				"apps/team/y.yaml": {Data: []byte(application("y-staging", "y/staging", "y"))},
			}
			apps, notes, err := DiscoverApps(fsys, DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			gotRoot := len(notes) == 1 && notes[0].Kind == NoteRoot && notes[0].App == "x"
			if gotRoot != tt.root {
				t.Errorf("x with path %q: root = %v, want %v (apps %v, notes %v)", tt.path, gotRoot, tt.root, apps, notes)
			}
		})
	}
}

func TestNormalizeRepoURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "https with .git", in: "https://github.com/Acme/GitOps.git", want: "github.com/acme/gitops"},
		{name: "https trailing slash", in: "https://github.com/acme/gitops/", want: "github.com/acme/gitops"},
		{name: "scp-like ssh", in: "git@github.com:acme/gitops.git", want: "github.com/acme/gitops"},
		{name: "ssh url with port", in: "ssh://git@github.com:22/acme/gitops", want: "github.com/acme/gitops"},
		{name: "https with credentials", in: "https://x-access-token:abc@github.com/acme/gitops", want: "github.com/acme/gitops"},
		{name: "enterprise host", in: "https://ghe.example.com/acme/gitops.git", want: "ghe.example.com/acme/gitops"},
		{name: "other repo differs", in: "https://github.com/acme/gitops-other", want: "github.com/acme/gitops-other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeRepoURL(tt.in); got != tt.want {
				t.Errorf("NormalizeRepoURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInferEnvironment(t *testing.T) {
	cfg := &Config{Apps: map[string]AppOverride{"odd": {Environment: "canary"}}}
	tests := []struct {
		name string
		app  App
		want string
	}{
		{name: "config wins", app: App{Name: "odd", DestNamespace: "production"}, want: "canary"},
		{name: "namespace word", app: App{Name: "api", DestNamespace: "staging", Path: "x"}, want: "staging"},
		{name: "namespace suffix", app: App{Name: "api", DestNamespace: "shop-prod", Path: "x"}, want: "prod"},
		{name: "longest namespace suffix", app: App{Name: "api", DestNamespace: "shop-pre-prod"}, want: "pre-prod"},
		{name: "overlay directory", app: App{Name: "api", DestNamespace: "api", Path: "kustomize/overlays/eu-west"}, want: "eu-west"},
		{name: "overlay directory that is no name", app: App{Name: "api", DestNamespace: "api", Path: "kustomize/overlays/a`b <!--"}, want: ""},
		{name: "env directory word", app: App{Name: "api", DestNamespace: "api", Path: "deploy/qa"}, want: "qa"},
		{name: "name suffix", app: App{Name: "my-api-service-production", DestNamespace: "api", Path: "deploy/main"}, want: "production"},
		{name: "nothing", app: App{Name: "api", DestNamespace: "api", Path: "deploy"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InferEnvironment(tt.app, cfg); got != tt.want {
				t.Errorf("InferEnvironment = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckAppName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{name: "my-api-service-staging", ok: true},
		{name: "a", ok: true},
		{name: "api.v2", ok: true},
		{name: "0abc", ok: true},
		{name: strings.Repeat("a", 253), ok: true},
		{name: strings.Repeat("a", 254)},
		{name: ""},
		{name: "My-App"},
		{name: "-api"},
		{name: "api-"},
		{name: "api..v2"},
		{name: "api_v2"},
		{name: "api v2"},
		{name: "0`\n\nNo changes. :white_check_mark:\n<!--"},
		{name: "api\n"},
		{name: "<b>api</b>"},
		{name: "apí"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAppName(tt.name)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckAppName(%q) = %v, want ok %v", tt.name, err, tt.ok)
			}
			if err != nil && (strings.ContainsAny(err.Error(), "\r\n") || !strings.Contains(err.Error(), "metadata.name ")) {
				t.Errorf("error = %q: want one line naming metadata.name", err)
			}
		})
	}
}
