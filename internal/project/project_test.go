package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "unknown field",
			in:   "projects:\n  - name: a\n    repos: [acme/a]\n    namespaces: [x]\n",
			want: "line 4: field namespaces not found in type project.Project",
		},
		{
			name: "no project",
			in:   "clusters: []\n",
			want: "projects: no project: every repository would deploy nowhere",
		},
		{
			name: "every problem at once",
			in: `clusters:
  - name: prod
  - name: prod
    kubeconfig: /k
projects:
  - repos: [acme, "acme/[x"]
    destinations:
      - namespace: "!"
    clusterResources:
      - group: rbac.authorization.k8s.io
  - name: b
    repos: []
  - name: b
    repos: ["*"]
`,
			want: "clusters[0].kubeconfig: missing kubeconfig file; " +
				"clusters[1].name: prod is defined twice; " +
				"projects[0].name: missing name; " +
				`projects[0].repos[0]: "acme" is not owner/repo (globs allowed, or * for every repository); ` +
				`projects[0].repos[1]: "acme/[x" is not a glob pattern; ` +
				"projects[0].destinations[0].cluster: missing cluster (a cluster name or server, or *); " +
				"projects[0].destinations[0].namespace: missing namespace (a namespace glob, or * for every namespace); " +
				"projects[0].clusterResources[0].kind: missing kind; " +
				"projects[1].repos: no repository; " +
				"projects[2].name: b is defined twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "promobot")
			if diff := cmp.Diff(tt.want, errString(err)); diff != "" {
				t.Errorf("Parse error (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

const example = `clusters:
  - name: production
    server: https://prod.example.com:6443
    kubeconfig: /etc/promobot/clusters/production
projects:
  - name: payments
    repos: [acme/payments, acme/payments-*]
    destinations:
      - cluster: in-cluster
        namespace: payments-*
      - cluster: https://prod.example.com:6443
        namespace: payments
      - cluster: "*"
        namespace: "!payments-secret"
    clusterResources:
      - kind: Namespace
  - name: platform
    repos: [acme/platform]
    destinations:
      - cluster: "*"
        namespace: "*"
      - cluster: in-cluster
        namespace: promobot
    clusterResources:
      - group: rbac.authorization.k8s.io
        kind: "*"
`

func TestScope(t *testing.T) {
	ps, err := Parse([]byte(example), "promobot")
	if err != nil {
		t.Fatal(err)
	}
	home := ClusterID{Name: "in-cluster", Server: "https://kubernetes.default.svc"}
	prod := ClusterID{Name: "production", Server: "https://prod.example.com:6443"}
	edge := ClusterID{Name: "edge"}
	tests := []struct {
		name   string
		repo   string
		check  func(*Scope) error
		want   string
		wantPr string
	}{
		{name: "first matching project", repo: "acme/payments-eu", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(home, "payments-eu") }},
		{name: "namespace outside the project", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(home, "kube-system") },
			want:  "namespace kube-system is not allowed for acme/payments (project payments)"},
		{name: "destination by server", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(prod, "payments") }},
		{name: "namespace allowed on another cluster only", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(prod, "payments-eu") },
			want:  "namespace payments-eu is not allowed for acme/payments (project payments)"},
		{name: "deny wins", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(home, "payments-secret") },
			want:  "namespace payments-secret is not allowed for acme/payments (project payments)"},
		{name: "cluster outside the project", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Cluster(edge) },
			want:  "cluster edge is not allowed for acme/payments (project payments)"},
		{name: "cluster inside the project", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Cluster(prod) }},
		{name: "cluster-scoped kind refused", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Object(home, "rbac.authorization.k8s.io", "ClusterRole", "", "admin") },
			want:  "cluster-scoped kind ClusterRole.rbac.authorization.k8s.io is not allowed for acme/payments (project payments)"},
		{name: "a Namespace object's name is a namespace", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Object(home, "", "Namespace", "", "team-b") },
			want:  "namespace team-b is not allowed for acme/payments (project payments)"},
		{name: "namespaced object", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Object(home, "apps", "Deployment", "payments-eu", "api") }},
		{name: "own namespace is not matched by a glob", repo: "acme/payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(ClusterID{Name: "x"}, "promobot") },
			want:  "namespace promobot (promobot's own) is not allowed for acme/payments (project payments)"},
		{name: "own namespace named exactly", repo: "acme/platform", wantPr: "platform",
			check: func(s *Scope) error { return s.Namespace(home, "promobot") }},
		{name: "kind glob", repo: "acme/platform", wantPr: "platform",
			check: func(s *Scope) error { return s.Object(edge, "rbac.authorization.k8s.io", "ClusterRole", "", "x") }},
		{name: "names are case-insensitive", repo: "ACME/Payments", wantPr: "payments",
			check: func(s *Scope) error { return s.Namespace(home, "payments-eu") }},
		{name: "repository in no project", repo: "evil/payments",
			want: "evil/payments is in no project of promobot's projects file: it may deploy nowhere; ask the operator to add it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ps.For(tt.repo)
			if err == nil {
				if s.Project() != tt.wantPr {
					t.Errorf("project = %q, want %q", s.Project(), tt.wantPr)
				}
				err = tt.check(s)
			}
			if diff := cmp.Diff(tt.want, errString(err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var pe *Error
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %T is not a *project.Error", err)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	home := ClusterID{Name: "in-cluster", Server: "https://kubernetes.default.svc"}
	s, err := Default("promobot").For("anyone/anything")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		group string
		kind  string
		ns    string
		obj   string
		want  string
	}{
		{name: "any namespace", kind: "ConfigMap", ns: "staging", obj: "x"},
		{name: "kube-system", kind: "ConfigMap", ns: "kube-system", obj: "x",
			want: "namespace kube-system is not allowed for anyone/anything (project default)"},
		{name: "kube-public", kind: "ConfigMap", ns: "kube-public", obj: "x",
			want: "namespace kube-public is not allowed for anyone/anything (project default)"},
		{name: "promobot's own", group: "apps", kind: "Deployment", ns: "promobot", obj: "promobot",
			want: "namespace promobot (promobot's own) is not allowed for anyone/anything (project default)"},
		{name: "Namespace", kind: "Namespace", obj: "staging"},
		{name: "promobot's own Namespace", kind: "Namespace", obj: "promobot",
			want: "namespace promobot (promobot's own) is not allowed for anyone/anything (project default)"},
		{name: "ClusterRoleBinding", group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding", obj: "x",
			want: "cluster-scoped kind ClusterRoleBinding.rbac.authorization.k8s.io is not allowed for anyone/anything (project default)"},
		{name: "CRD", group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", obj: "x",
			want: "cluster-scoped kind CustomResourceDefinition.apiextensions.k8s.io is not allowed for anyone/anything (project default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Object(home, tt.group, tt.kind, tt.ns, tt.obj)
			if diff := cmp.Diff(tt.want, errString(err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if err := s.Cluster(ClusterID{Name: "anything"}); err != nil {
		t.Errorf("default project refuses a cluster: %v", err)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "projects.yaml")
	if err := os.WriteFile(p, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := Load(p, "promobot")
	if err != nil {
		t.Fatal(err)
	}
	want := []Cluster{{Name: "production", Server: "https://prod.example.com:6443", Kubeconfig: "/etc/promobot/clusters/production"}}
	if diff := cmp.Diff(want, ps.Clusters()); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), ""); err == nil {
		t.Error("a missing projects file loaded")
	}
}

// TestExample: the commented example (also in the README) is a valid
// projects file and means what its comments say.
func TestExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/projects.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Parse(raw, "promobot")
	if err != nil {
		t.Fatalf("the example: %v", err)
	}
	prod := ClusterID{Name: "production", Server: "https://production.k8s.example.com"}
	home := ClusterID{Name: "in-cluster", Server: "https://kubernetes.default.svc"}
	payments, err := ps.For("acme/payments-eu")
	if err != nil {
		t.Fatal(err)
	}
	platform, err := ps.For("acme/platform")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{
		errString(payments.Namespace(home, "payments-eu")),
		errString(payments.Namespace(prod, "payments")),
		errString(payments.Namespace(home, "payments-vault")),
		errString(platform.Object(prod, "apiextensions.k8s.io", "CustomResourceDefinition", "", "x")),
		errString(platform.Namespace(home, "promobot")),
	}
	want := []string{"", "",
		"namespace payments-vault is not allowed for acme/payments-eu (project payments)",
		"",
		"namespace promobot (promobot's own) is not allowed for acme/platform (project platform)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the example's decisions (-want +got):\n%s", diff)
	}

	// The README shows the same example.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(raw)+"```\n") {
		t.Error("README.md does not show testdata/projects.example.yaml as a ```yaml block")
	}
}
