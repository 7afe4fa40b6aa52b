package gitops

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/appset"
)

// setRepo is a repository whose apps directory holds ApplicationSets: one
// over the directories of guestbook/, one over config files, one of
// another repository, one whose template fails, and a plain Application.
func setRepo() fstest.MapFS {
	return fstest.MapFS{
		"apps/sets.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/acme/gitops.git
      revision: HEAD
      directories: [{path: "guestbook/*"}, {path: guestbook/skip, exclude: true}]
  template:
    metadata: {name: 'guestbook-{{.path.basename}}'}
    spec:
      source: {repoURL: https://github.com/acme/gitops.git, targetRevision: HEAD, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
      syncPolicy: {automated: {prune: true}}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: regions}
spec:
  generators:
  - git:
      repoURL: git@github.com:acme/gitops
      files: [{path: "regions/**/region.json"}]
      template:
        metadata: {name: 'api-{{region}}'}
        spec: {destination: {namespace: 'api-{{region}}'}}
  - clusters:
      selector: {matchLabels: {tier: edge}}
      template:
        metadata: {name: 'api-{{name}}'}
        spec: {destination: {server: '{{server}}', namespace: 'api-{{name}}'}}
  template:
    metadata: {}
    spec:
      source: {repoURL: https://github.com/acme/gitops, path: api}
      destination: {server: https://kubernetes.default.svc}
`)},
		"apps/foreign.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: foreign}
spec:
  generators:
  - git: {repoURL: https://github.com/someone/else, directories: [{path: "*"}]}
  template:
    metadata: {name: '{{path.basename}}'}
    spec: {destination: {server: https://kubernetes.default.svc}}
`)},
		"apps/broken.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: broken}
spec:
  goTemplate: true
  generators: [{list: {elements: [{a: b}]}}]
  template:
    metadata: {name: '{{ .a | nosuchfunction }}'}
    spec: {destination: {server: https://kubernetes.default.svc}}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: badnames}
spec:
  generators: [{list: {elements: [{a: Not_A_Name}]}}]
  template:
    metadata: {name: '{{a}}'}
    spec: {destination: {server: https://kubernetes.default.svc}}
`)},
		"apps/plain.yaml": {Data: []byte(application("web-staging", "web/overlays/staging", "web"))},
		"apps/unnamed.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: "Bad Name"}
spec:
  generators: [{list: {elements: [{a: b}]}}]
  template:
    metadata: {name: '{{a}}'}
    spec: {destination: {server: https://kubernetes.default.svc}}
`)},
		"guestbook/blue/deployment.yaml":          {Data: []byte("{}\n")},
		"guestbook/green/deployment.yaml":         {Data: []byte("{}\n")},
		"guestbook/skip/deployment.yaml":          {Data: []byte("{}\n")},
		"regions/eu/west/region.json":             {Data: []byte(`{"region": "eu-west"}`)},
		"web/overlays/staging/kustomization.yaml": {Data: []byte("resources: []\n")},
	}
}

// setSummary is what a test reads of a discovered app.
type setSummary struct {
	Name, Path, Namespace, Env, File, Set string
	Prune                                 bool
}

func summarize(apps []App) []setSummary {
	var out []setSummary
	for _, a := range apps {
		out = append(out, setSummary{a.Name, a.Path, a.DestNamespace, a.Environment, a.File, a.Set, a.Prune})
	}
	return out
}

// TestDiscoverApplicationSets: every Application an ApplicationSet
// generates is an app like any other (environment, prune, paths), its File
// the set's; a set that cannot generate is a note naming it and the
// reason, and the other apps are discovered all the same.
func TestDiscoverApplicationSets(t *testing.T) {
	clusters := []appset.Cluster{appset.InCluster, {Name: "edge-1", Server: "https://edge-1", Labels: map[string]string{"tier": "edge"}}}
	apps, notes, err := DiscoverApps(setRepo(), DiscoverOptions{RepoURLs: []string{"https://github.com/acme/gitops"}, Clusters: clusters})
	if err != nil {
		t.Fatal(err)
	}
	want := []setSummary{
		{"api-edge-1", "api", "api-edge-1", "", "apps/sets.yaml", "regions", false},
		{"api-eu-west", "api", "api-eu-west", "", "apps/sets.yaml", "regions", false},
		{"guestbook-blue", "guestbook/blue", "blue", "", "apps/sets.yaml", "guestbook", true},
		{"guestbook-green", "guestbook/green", "green", "", "apps/sets.yaml", "guestbook", true},
		{"web-staging", "web/overlays/staging", "web", "staging", "apps/plain.yaml", "", true},
	}
	if diff := cmp.Diff(want, summarize(apps)); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	var got []string
	for _, n := range notes {
		got = append(got, string(n.Kind)+" "+n.String())
	}
	wantNotes := []string{
		`invalid apps/broken.yaml: broken: ApplicationSet refused: generator 1: template "{{ .a | nosuchfunction }}": template: :1: function "nosuchfunction" not defined`,
		`invalid apps/broken.yaml#Not_A_Name: metadata.name "Not_A_Name" is not a valid Application name: Argo CD requires a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`,
		`foreign-repo apps/foreign.yaml: foreign: ApplicationSet refused: generator 1: git: repoURL "https://github.com/someone/else" is another repository; promobot reads git generators of this repository only, as it applies Applications of this repository only`,
		`invalid apps/unnamed.yaml: ApplicationSet not generated: metadata.name "Bad Name" is not a valid Application name: Argo CD requires a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`,
	}
	if diff := cmp.Diff(wantNotes, got); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

// TestApplicationSetNewDirectory: discovery reads the commit it is given,
// so a commit adding a directory under a git directories generator's path
// adds its app, and Affected marks the set's apps for that commit's
// changed files.
func TestApplicationSetNewDirectory(t *testing.T) {
	repo := setRepo()
	before, _, err := DiscoverApps(repo, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo["guestbook/red/deployment.yaml"] = &fstest.MapFile{Data: []byte("{}\n")}
	after, _, err := DiscoverApps(repo, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(apps []App) []string {
		var out []string
		for _, a := range apps {
			out = append(out, a.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"api-eu-west", "guestbook-blue", "guestbook-green", "web-staging"}, names(before)); diff != "" {
		t.Fatalf("before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"api-eu-west", "guestbook-blue", "guestbook-green", "guestbook-red", "web-staging"}, names(after)); diff != "" {
		t.Fatalf("after (-want +got):\n%s", diff)
	}
	affected, err := Affected(after, []string{"guestbook/red/deployment.yaml"}, func(string) ([]string, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"guestbook-red"}, names(affected)); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}

// TestAffectedApplicationSetOtherSource: when a set's apps do not render
// from the directories its generator matches, a change in such a directory
// (a new one, say) affects every app of the set, the new one included.
func TestAffectedApplicationSetOtherSource(t *testing.T) {
	repo := fstest.MapFS{
		"apps/teams.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: teams}
spec:
  generators: [{git: {repoURL: https://github.com/acme/gitops, directories: [{path: "teams/*"}]}}]
  template:
    metadata: {name: 'team-{{path.basename}}'}
    spec:
      source: {repoURL: https://github.com/acme/gitops, path: team-app}
      destination: {server: https://kubernetes.default.svc, namespace: 'team-{{path.basename}}'}
`)},
		"teams/a/owners.yaml":   {Data: []byte("{}\n")},
		"teams/new/owners.yaml": {Data: []byte("{}\n")},
		"team-app/cm.yaml":      {Data: []byte("{}\n")},
	}
	apps, _, err := DiscoverApps(repo, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Affected(apps, []string{"teams/new/owners.yaml"}, func(string) ([]string, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name)
	}
	if diff := cmp.Diff([]string{"team-a", "team-new"}, names); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}

// TestAffectedApplicationSets: a change to the set's file or to a file its
// git generators read affects the set's apps; other changes do not.
func TestAffectedApplicationSets(t *testing.T) {
	apps, _, err := DiscoverApps(setRepo(), DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{"set file", []string{"apps/sets.yaml"}, []string{"api-eu-west", "guestbook-blue", "guestbook-green"}},
		{"a config file a files generator reads", []string{"regions/us/east/region.json"}, []string{"api-eu-west"}},
		{"an excluded directory may be included again", []string{"guestbook/skip/deployment.yaml"}, []string{"guestbook-blue", "guestbook-green"}},
		{"a file of one generated app", []string{"guestbook/blue/x.yaml"}, []string{"guestbook-blue"}},
		{"elsewhere", []string{"README.md", "regions/README.md"}, nil},
	}
	deps := func(string) ([]string, error) { return nil, nil }
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

// TestDiscoverApplicationSetsTimeout: once the sets of a discovery have
// taken setsTimeout together, the others are notes, and the plain
// Applications are discovered all the same.
func TestDiscoverApplicationSetsTimeout(t *testing.T) {
	old := setsTimeout
	setsTimeout = 0
	t.Cleanup(func() { setsTimeout = old })
	apps, notes, err := DiscoverApps(setRepo(), DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]setSummary{{"web-staging", "web/overlays/staging", "web", "staging", "apps/plain.yaml", "", true}}, summarize(apps)); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	var got []string
	for _, n := range notes {
		got = append(got, n.String())
	}
	msg := ": ApplicationSet not generated: the repository's ApplicationSets took longer than 0s together"
	want := []string{"apps/broken.yaml: broken" + msg, "apps/broken.yaml: badnames" + msg, "apps/foreign.yaml: foreign" + msg,
		"apps/sets.yaml: guestbook" + msg, "apps/sets.yaml: regions" + msg,
		`apps/unnamed.yaml: ApplicationSet not generated: metadata.name "Bad Name" is not a valid Application name: Argo CD requires a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
