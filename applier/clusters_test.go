package applier

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/project"
)

func TestClustersFor(t *testing.T) {
	home := &rest.Config{Host: "https://home.invalid"}
	edge := &rest.Config{Host: "https://edge.invalid"}
	ps, err := project.Parse([]byte(`
projects:
  - name: payments
    repos: [acme/payments]
    destinations:
      - {cluster: in-cluster, namespace: "payments-*"}
      - {cluster: https://prod.invalid, namespace: payments}
`), "promobot")
	if err != nil {
		t.Fatal(err)
	}
	prod := OperatorCluster{Name: "production", Server: "https://prod.invalid", Config: &rest.Config{Host: "https://prod.invalid"}}
	withDefault := NewClusters(home, map[string]*rest.Config{"edge": edge}).WithProjects(project.Default("promobot"), nil)
	withFile := NewClusters(home, nil).WithProjects(ps, []OperatorCluster{prod})
	mapped, err := gitops.ParseConfig([]byte("clusters:\n  https://edge.example.com:\n    cluster: edge\n  https://gone.example.com:\n    cluster: gone\n"))
	if err != nil {
		t.Fatal(err)
	}
	app := func(server, name, ns string) gitops.App {
		return gitops.App{Name: "x", Server: server, DestName: name, DestNamespace: ns}
	}
	const inCluster = "https://kubernetes.default.svc"
	tests := []struct {
		name     string
		clusters *Clusters
		repo     string
		app      gitops.App
		cfg      *gitops.Config
		want     string // the operator cluster, or the error
	}{
		{name: "in-cluster address", clusters: withDefault, repo: "acme/gitops", app: app(inCluster+"/", "", "staging"), want: "in-cluster"},
		{name: "by name", clusters: withDefault, repo: "acme/gitops", app: app("", "edge", "staging"), want: "edge"},
		{name: "mapped by .promobot.yaml", clusters: withDefault, repo: "acme/gitops", app: app("https://edge.example.com", "", "staging"), cfg: mapped, want: "edge"},
		{name: "mapped to no operator cluster", clusters: withDefault, repo: "acme/gitops", app: app("https://gone.example.com", "", "staging"), cfg: mapped,
			want: `cluster https://gone.example.com: .promobot.yaml maps it to "gone", which is none of the operator's clusters (edge, in-cluster)`},
		{name: "unknown server", clusters: withDefault, repo: "acme/gitops", app: app("https://elsewhere.example.com", "", "staging"),
			want: "no credentials for cluster https://elsewhere.example.com: the operator defines clusters (--cluster-kubeconfig or the projects file); map the destination to one of them (edge, in-cluster) with clusters: in .promobot.yaml"},
		{name: "kube-system", clusters: withDefault, repo: "acme/gitops", app: app(inCluster, "", "kube-system"),
			want: "cluster https://kubernetes.default.svc: destination namespace kube-system is not allowed for acme/gitops (project default)"},
		{name: "promobot's own namespace", clusters: withDefault, repo: "acme/gitops", app: app(inCluster, "", "promobot"),
			want: "cluster https://kubernetes.default.svc: destination namespace promobot (promobot's own) is not allowed for acme/gitops (project default)"},
		{name: "projects file cluster by server", clusters: withFile, repo: "acme/payments", app: app("https://prod.invalid", "", "payments"), want: "production"},
		{name: "namespace of another cluster", clusters: withFile, repo: "acme/payments", app: app("https://prod.invalid", "", "payments-eu"),
			want: "cluster https://prod.invalid: destination namespace payments-eu is not allowed for acme/payments (project payments)"},
		{name: "repository in no project", clusters: withFile, repo: "evil/payments", app: app(inCluster, "", "payments-eu"),
			want: "evil/payments is in no project of promobot's projects file: it may deploy nowhere; ask the operator to add it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == nil {
				cfg = gitops.DefaultConfig()
			}
			d, err := tt.clusters.For(tt.repo, tt.app, cfg)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = d.ID.Name
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("For (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAllowsMassPrune(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"Remove the old workers\n\npromobot: allow-mass-prune\n", true},
		{"Remove the old workers\n\nPromobot: Allow-Mass-Prune", true},
		{"Remove the old workers\n\nSigned-off-by: a\n  promobot: allow-mass-prune  \n", true},
		{"Remove the old workers (promobot: allow-mass-prune)", false},
		{"promobot: allow-mass-prune-later", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := AllowsMassPrune(tt.msg); got != tt.want {
			t.Errorf("AllowsMassPrune(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

// TestClustersForGenerator: an ApplicationSet's cluster generator sees the
// operator's clusters its repository's project allows, and no other.
func TestClustersForGenerator(t *testing.T) {
	home := &rest.Config{Host: "https://home.invalid"}
	ps, err := project.Parse([]byte(`
clusters:
  - {name: production, server: https://prod.invalid, kubeconfig: /dev/null}
projects:
  - name: payments
    repos: [acme/payments]
    destinations:
      - {cluster: https://prod.invalid, namespace: payments}
  - name: web
    repos: [acme/web]
    destinations:
      - {cluster: "*", namespace: "web-*"}
`), "promobot")
	if err != nil {
		t.Fatal(err)
	}
	prod := OperatorCluster{Name: "production", Server: "https://prod.invalid", Config: &rest.Config{Host: "https://prod.invalid"}}
	c := NewClusters(home, nil).WithProjects(ps, []OperatorCluster{prod})
	tests := []struct {
		repo string
		want []appset.Cluster
	}{
		{repo: "acme/payments", want: []appset.Cluster{{Name: "production", Server: "https://prod.invalid"}}},
		{repo: "acme/web", want: []appset.Cluster{{Name: "in-cluster", Server: "https://kubernetes.default.svc"}, {Name: "production", Server: "https://prod.invalid"}}},
		{repo: "evil/payments", want: []appset.Cluster{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, c.ForGenerator(tt.repo)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.repo, diff)
		}
	}
}
