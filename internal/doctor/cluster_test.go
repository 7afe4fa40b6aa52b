package doctor_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/kube"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestCheckCluster(t *testing.T) {
	c, err := kube.Start(context.Background(), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	nobody := rest.CopyConfig(c.Config)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	partial := partialUser(t, c)
	configMap := doctor.Object{Version: "v1", Kind: "ConfigMap", Namespace: "apps"}
	deployment := doctor.Object{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps"}
	namespace := doctor.Object{Version: "v1", Kind: "Namespace"}
	widget := doctor.Object{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "apps"}
	tests := []struct {
		name       string
		config     *rest.Config
		objects    []doctor.Object // rendered when not nil
		want       []brief
		found, fix string
	}{
		{name: "admin", config: c.Config, want: []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.OK}}},
		{
			name: "no rights", config: nobody,
			want:  []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.Fail}},
			found: "may not get, list, create, patch, delete deployments.apps in apps", fix: "bind promobot's identity",
		},
		{
			name: "rendered, all allowed", config: c.Config, objects: []doctor.Object{configMap, deployment, namespace, widget},
			want: []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.OK}},
		},
		{
			name: "rendered, no app applies here", config: nobody, objects: []doctor.Object{},
			want: []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.OK}},
		},
		{
			name: "rendered, may write configmaps, not deployments", config: partial, objects: []doctor.Object{configMap, deployment},
			want:  []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.Fail}},
			found: "may not create, patch, delete deployments.apps in apps",
			fix:   `Role in apps: {apiGroups: ["apps"], resources: [deployments], verbs: [create, patch, delete]}`,
		},
		{
			name: "rendered, a namespace it creates and a kind the cluster does not serve yet", config: partial,
			objects: []doctor.Object{configMap, namespace, widget},
			want:    []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.Fail}},
			found:   "may not get, list, create, patch, delete namespaces (cluster-wide); get, list, create, patch, delete widgets.example.com in apps",
			fix:     `ClusterRole: {apiGroups: [""], resources: [namespaces], verbs: [get, list, create, patch, delete]}; Role in apps: {apiGroups: ["example.com"], resources: [widgets]`,
		},
		{
			name: "unreachable", config: &rest.Config{Host: "https://" + closedPort(t)},
			want:  []brief{{"cluster prod", doctor.Fail}},
			found: "unreachable at https://127.0.0.1:", fix: "server address",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doctor.CheckCluster(context.Background(), doctor.Cluster{Name: "prod", Config: tt.config, Namespace: "apps",
				Rendered: tt.objects != nil, Objects: tt.objects})
			if diff := cmp.Diff(tt.want, briefs(got)); diff != "" {
				t.Fatalf("checks (-want +got):\n%s\n%+v", diff, got)
			}
			for _, ch := range got {
				if ch.Status != doctor.OK && (!strings.Contains(ch.Found, tt.found) || !strings.Contains(ch.Fix, tt.fix)) {
					t.Errorf("%s: found %q fix %q; want %q and %q", ch.Name, ch.Found, ch.Fix, tt.found, tt.fix)
				}
			}
		})
	}
}

// partialUser is a user who may do everything to configmaps in namespace
// apps but only read deployments there.
func partialUser(t *testing.T, c *kube.Cluster) *rest.Config {
	t.Helper()
	cfg, err := c.RoleUser(context.Background(), "partial", "apps", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
