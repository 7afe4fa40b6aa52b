package appset

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// operatorClusters are the clusters every golden case sees, as the
// documentation's examples name them.
var operatorClusters = []Cluster{
	InCluster,
	{Name: "staging", Server: "https://1.2.3.4", Labels: map[string]string{"environment": "staging", "argocd.argoproj.io/secret-type": "cluster"}},
	{Name: "production", Server: "https://2.4.6.8", Labels: map[string]string{"environment": "production", "argocd.argoproj.io/secret-type": "cluster"},
		Annotations: map[string]string{"team": "platform"}},
}

// thisRepo is the repository the golden cases' git generators read.
func thisRepo(u string) bool {
	return strings.TrimSuffix(strings.ToLower(u), ".git") == "https://github.com/argoproj/argo-cd"
}

// render formats a Set as its golden file: each Application's manifest
// under its synthetic file name, then the notes.
func render(s *Set) []byte {
	var b bytes.Buffer
	for _, a := range s.Apps {
		fmt.Fprintf(&b, "# %s\n%s---\n", a.File, a.Manifest)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "# note %s", n.Kind)
		if n.App != "" {
			fmt.Fprintf(&b, " %s", n.App)
		}
		fmt.Fprintf(&b, ": %s\n", n.Message)
	}
	return b.Bytes()
}

// TestGenerateGolden generates each testdata/golden/<case>/set.yaml, with
// <case>/repo as the repository when present, and compares the
// Applications and notes with <case>/want.yaml (go test -update rewrites
// them). The cases follow Argo CD's documented examples (Git, List,
// Cluster, Matrix and Merge generators, both template syntaxes), then
// refusals and limits.
func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
	}{
		{name: "list"},
		{name: "list-gotemplate-elementsyaml"},
		{name: "list-values"},
		{name: "git-directories"},
		{name: "git-directories-fasttemplate"},
		{name: "git-directories-root"},
		{name: "git-files"},
		{name: "git-files-gotemplate"},
		{name: "git-files-list-of-objects"},
		{name: "git-values-prefix"},
		{name: "clusters"},
		{name: "clusters-gotemplate"},
		{name: "clusters-expressions"},
		{name: "matrix-git-clusters"},
		{name: "matrix-files-clusters-params"},
		{name: "matrix-override"},
		{name: "matrix-conflict"},
		{name: "merge-clusters-list"},
		{name: "generator-template"},
		{name: "selector"},
		{name: "sprig"},
		{name: "missingkey-error"},
		{name: "refuse-unsupported-generators"},
		{name: "refuse-template-patch"},
		{name: "refuse-foreign-repo"},
		{name: "refuse-revision"},
		{name: "refuse-dotdot"},
		{name: "refuse-absolute"},
		{name: "refuse-duplicate-names"},
		{name: "refuse-non-string-element"},
		{name: "refuse-env"},
		{name: "refuse-define"},
		{name: "refuse-nesting"},
		{name: "limit-apps", limits: Limits{MaxApps: 2}},
		{name: "limit-value", limits: Limits{MaxValueBytes: 64}},
		{name: "limit-repeat"},
		{name: "limit-range"},
		{name: "limit-work"},
		{name: "limit-file", limits: Limits{MaxFileBytes: 16}},
		{name: "limit-replace"},
		{name: "limit-regex"},
		{name: "limit-join"},
		{name: "refuse-set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", tt.name)
			set, err := os.ReadFile(filepath.Join(dir, "set.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			env := Env{SameRepo: thisRepo, Clusters: operatorClusters, Limits: tt.limits}
			if _, err := os.Stat(filepath.Join(dir, "repo")); err == nil {
				env.Files = os.DirFS(filepath.Join(dir, "repo"))
			}
			got, err := Generate(context.Background(), "apps/set.yaml", set, env)
			if err != nil {
				t.Fatal(err)
			}
			out := render(got)
			golden := filepath.Join(dir, "want.yaml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("generated (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGenerateReads checks which changed files can change what a set
// generates.
func TestGenerateReads(t *testing.T) {
	set := []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  generators:
  - git:
      repoURL: https://github.com/argoproj/argo-cd.git
      directories: [{path: "apps/*"}, {path: apps/skip, exclude: true}]
  - git:
      repoURL: https://github.com/argoproj/argo-cd.git
      files: [{path: "config/**/config.json"}]
  template:
    metadata: {name: '{{path.basename}}'}
    spec: {destination: {server: https://kubernetes.default.svc}}
`)
	got, err := Generate(context.Background(), "apps/set.yaml", set, Env{Files: os.DirFS(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	want := Reads{Dirs: []string{"apps/*", "apps/skip"}, Files: []string{"config/**/config.json"}}
	if diff := cmp.Diff(want, got.Reads); diff != "" {
		t.Fatalf("reads (-want +got):\n%s", diff)
	}
	tests := []struct {
		changed string
		want    bool
	}{
		{"apps/new/deployment.yaml", true},
		{"apps/guestbook/sub/x.yaml", true},
		{"apps/skip/x.yaml", true},
		{"config/eu/prod/config.json", true},
		{"config/config.json", false},
		{"apps/README.md", false},
		{"other/x.yaml", false},
	}
	for _, tt := range tests {
		if g := got.Reads.Touches(tt.changed); g != tt.want {
			t.Errorf("Touches(%q) = %v, want %v", tt.changed, g, tt.want)
		}
	}
}

// TestGenerateTimeout: a set whose generation outlasts Limits.Timeout is
// refused with a note, and the caller's context is not the one that ended.
func TestGenerateTimeout(t *testing.T) {
	set := []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: slow}
spec:
  goTemplate: true
  generators:
  - list: {elements: [{a: b}]}
  template:
    metadata: {name: '{{range 4000000}}{{range 4000000}}{{end}}{{end}}x'}
`)
	got, err := Generate(context.Background(), "apps/set.yaml", set, Env{Limits: Limits{Timeout: 50 * time.Millisecond, MaxWork: 1 << 60}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Note{{Kind: NoteInvalid, Message: "ApplicationSet refused: generating took longer than 50ms"}}
	if diff := cmp.Diff(want, got.Notes); diff != "" || len(got.Apps) != 0 {
		t.Fatalf("notes (-want +got):\n%s\napps: %d", diff, len(got.Apps))
	}
}

// TestGenerateCanceled: the caller's cancelled context is an error, not a
// note.
func TestGenerateCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, "apps/set.yaml", []byte("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\n"), Env{})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want context canceled", err)
	}
}

// BenchmarkGenerate generates 1,000 Applications from a git directories
// generator over 1,000 directories, in each template syntax.
func BenchmarkGenerate(b *testing.B) {
	repo := fstest.MapFS{}
	for i := range 1000 {
		repo[fmt.Sprintf("apps/app-%04d/kustomization.yaml", i)] = &fstest.MapFile{Data: []byte("resources: []\n")}
	}
	for _, goTemplate := range []bool{false, true} {
		name, dot := "fasttemplate", ""
		if goTemplate {
			name, dot = "goTemplate", "."
		}
		set := []byte(fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: many}
spec:
  goTemplate: %v
  generators:
  - git: {repoURL: https://github.com/acme/gitops, directories: [{path: "apps/*"}]}
  template:
    metadata: {name: '{{%[2]spath.basename}}', labels: {app: '{{%[2]spath.basename}}'}}
    spec:
      source: {repoURL: https://github.com/acme/gitops, targetRevision: HEAD, path: '{{%[2]spath.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{%[2]spath.basename}}'}
      syncPolicy: {automated: {prune: true, selfHeal: true}}
`, goTemplate, dot))
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s, err := Generate(context.Background(), "apps/set.yaml", set, Env{Files: repo})
				if err != nil || len(s.Apps) != 1000 {
					b.Fatalf("%v, %d apps, notes %v", err, len(s.Apps), s.Notes)
				}
			}
		})
	}
}

// TestGenerateChargesArguments: a function's arguments are charged before
// it runs, so a call over many large arguments is refused before it
// allocates their sum (here 300 MB).
func TestGenerateChargesArguments(t *testing.T) {
	set := []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: big}
spec:
  goTemplate: true
  generators: [{list: {elements: [{n: x}]}}]
  template:
    metadata: {name: '{{ $a := repeat 1000000 .n }}{{ cat` + strings.Repeat(" $a", 300) + ` | len }}'}
`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := Generate(context.Background(), "apps/set.yaml", set, Env{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Apps) != 0 || len(got.Notes) != 1 || !strings.Contains(got.Notes[0].Message, "error calling cat: limit exceeded: the templates do more than 8388608 units of work") {
		t.Fatalf("apps %d, notes %v", len(got.Apps), got.Notes)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 100<<20 {
		t.Fatalf("generation allocated %d MiB", n>>20)
	}
}
