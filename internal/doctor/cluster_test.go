package doctor_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/kit"
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
// apps but only read deployments there, once the authorizer knows it.
func partialUser(t *testing.T, c *kube.Cluster) *rest.Config {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
	}
	if _, err := c.Client.RbacV1().Roles("apps").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "partial"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings("apps").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "partial"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "partial"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "partial"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.UserConfig("partial")
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	// The authorizer learns of the binding through an informer.
	kit.Eventually(t, 10*time.Second, "the authorizer to learn the binding", func() (bool, string) {
		r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{Namespace: "apps", Verb: "delete", Resource: "configmaps"}},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return r.Status.Allowed, r.Status.Reason
	})
	return cfg
}
