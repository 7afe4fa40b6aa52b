package chart_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/promobot/promobot/test/kit"
)

// access is one question to the API server's authorizer: may ServiceAccount
// sa (in the release namespace) do verb on resource in namespace ns?
type access struct {
	sa       string
	verb     string
	resource string // kubectl notation: "deployments.apps", "pods/exec", "namespaces"
	ns       string // "" for cluster-scoped resources or every namespace
	name     string
	allowed  bool
}

func (a access) String() string {
	where := "cluster-wide"
	if a.ns != "" {
		where = "in " + a.ns
	}
	obj := a.resource
	if a.name != "" {
		obj += " " + a.name
	}
	verdict := "denied"
	if a.allowed {
		verdict = "allowed"
	}
	return fmt.Sprintf("%s: %s %s %s: %s", a.sa, a.verb, obj, where, verdict)
}

// attributes turns kubectl notation into the API's resource attributes.
func (a access) attributes() *authorizationv1.ResourceAttributes {
	res, sub, _ := strings.Cut(a.resource, "/")
	res, group, _ := strings.Cut(res, ".")
	return &authorizationv1.ResourceAttributes{Namespace: a.ns, Verb: a.verb, Group: group, Resource: res, Subresource: sub, Name: a.name}
}

// workloads are the kinds the fixture repository and most GitOps
// repositories apply.
var workloads = []string{"deployments.apps", "services", "configmaps"}

func each(sa string, verbs, resources, namespaces []string, allowed bool) []access {
	var out []access
	for _, ns := range namespaces {
		for _, r := range resources {
			for _, v := range verbs {
				out = append(out, access{sa: sa, verb: v, resource: r, ns: ns, allowed: allowed})
			}
		}
	}
	return out
}

var writeVerbs = []string{"create", "patch", "delete"}

// applierClusterAccess: with scope cluster the applier manages workloads
// and Namespaces everywhere, but reads no Secret (not the App's private key
// in its own namespace, not a kubeconfig), and cannot exec into pods or
// touch nodes.
func applierClusterAccess(sa string, n names) []access {
	out := each(sa, writeVerbs, workloads, []string{n.Other, n.Allowed[0]}, true)
	out = append(out, each(sa, writeVerbs, []string{"namespaces", "customresourcedefinitions.apiextensions.k8s.io"}, []string{""}, true)...)
	return append(out,
		access{sa: sa, verb: "create", resource: "clusterrolebindings.rbac.authorization.k8s.io", allowed: true},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "cluster-prod", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "promobot-github", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Other, name: "cluster-prod", allowed: false},
		access{sa: sa, verb: "list", resource: "secrets", ns: n.Namespace, allowed: false},
		access{sa: sa, verb: "create", resource: "secrets", ns: n.Other, allowed: false},
		access{sa: sa, verb: "create", resource: "pods/exec", ns: n.Other, allowed: false},
		access{sa: sa, verb: "get", resource: "nodes", allowed: false},
		access{sa: sa, verb: "create", resource: "deployments.apps", ns: "", allowed: true},
	)
}

// applierNamespacesAccess: with scope namespaces the applier manages
// workloads only in the listed namespaces, may patch only those Namespace
// objects, and reads no Secret.
func applierNamespacesAccess(sa string, n names) []access {
	out := each(sa, writeVerbs, workloads, n.Allowed, true)
	out = append(out, each(sa, writeVerbs, workloads, []string{n.Other, n.Namespace}, false)...)
	return append(out,
		access{sa: sa, verb: "create", resource: "deployments.apps", ns: "", allowed: false},
		access{sa: sa, verb: "get", resource: "namespaces", name: n.Allowed[0], allowed: true},
		access{sa: sa, verb: "patch", resource: "namespaces", name: n.Allowed[1], allowed: true},
		access{sa: sa, verb: "patch", resource: "namespaces", name: n.Other, allowed: false},
		access{sa: sa, verb: "create", resource: "namespaces", allowed: false},
		access{sa: sa, verb: "delete", resource: "namespaces", name: n.Allowed[0], allowed: false},
		access{sa: sa, verb: "create", resource: "clusterrolebindings.rbac.authorization.k8s.io", allowed: false},
		access{sa: sa, verb: "create", resource: "customresourcedefinitions.apiextensions.k8s.io", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "cluster-prod", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "promobot-github", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Allowed[0], name: "cluster-prod", allowed: false},
	)
}

// noAccess: the webhook receiver and the promoter may do nothing at all.
func noAccess(sa string, n names) []access {
	out := each(sa, []string{"get", "list", "create", "patch", "delete"}, workloads, []string{n.Namespace, n.Allowed[0]}, false)
	return append(out,
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "promobot-github", allowed: false},
		access{sa: sa, verb: "get", resource: "secrets", ns: n.Namespace, name: "cluster-prod", allowed: false},
		access{sa: sa, verb: "get", resource: "namespaces", name: n.Namespace, allowed: false},
		access{sa: sa, verb: "list", resource: "pods", ns: n.Namespace, allowed: false},
	)
}

func saClient(t *testing.T, ctx context.Context, n names, sa string) kubernetes.Interface {
	t.Helper()
	cfg, err := cluster.ServiceAccountConfig(ctx, n.Namespace, sa)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAccess asks the API server, as each ServiceAccount, what it may do.
// The authorizer learns of the chart's new bindings through an informer a
// moment after they are created, so a mismatch is asked again for a few
// seconds before it counts.
func checkAccess(t *testing.T, ctx context.Context, n names, want []access) {
	t.Helper()
	clients := map[string]kubernetes.Interface{}
	kit.Eventually(t, 10*time.Second, "the ServiceAccounts' access to match", func() (bool, string) {
		var wantLines, gotLines []string
		for _, a := range want {
			c, ok := clients[a.sa]
			if !ok {
				c = saClient(t, ctx, n, a.sa)
				clients[a.sa] = c
			}
			r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: a.attributes()},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s: access review: %v", a.sa, err)
			}
			got := a
			got.allowed = r.Status.Allowed
			wantLines = append(wantLines, a.String())
			gotLines = append(gotLines, got.String())
		}
		diff := cmp.Diff(wantLines, gotLines)
		return diff == "", "RBAC (-want +got):\n" + diff
	})
}

// outcome describes a request's result the way a user reads it.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case apierrors.IsForbidden(err):
		return "forbidden"
	default:
		return "error: " + err.Error()
	}
}

func applyConfigMap(ctx context.Context, c kubernetes.Interface, ns string) error {
	cm := applycorev1.ConfigMap("promobot-rbac-check", ns).WithData(map[string]string{"from": "applier"})
	_, err := c.CoreV1().ConfigMaps(ns).Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "promobot"})
	return err
}

func bindClusterRole(ctx context.Context, c kubernetes.Interface, ns, role string) error {
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bind-" + role, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}},
	}
	_, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{})
	return err
}

// grantWithin creates a Role with rights the applier holds and binds it,
// as a repository's own RBAC manifests would.
func grantWithin(ctx context.Context, c kubernetes.Interface, ns string) error {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "config-reader", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return err
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "config-reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "config-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}},
	}
	_, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{})
	return err
}

func getSecret(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	_, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	return err
}

// applierClusterActions makes real requests as the applier with scope
// cluster: it applies anywhere and creates Namespaces, but reads no Secret
// of its own namespace (the App's private key, kubeconfigs) and cannot grant
// itself more than it holds.
func applierClusterActions(sa string) func(t *testing.T, n names) {
	return func(t *testing.T, n names) {
		ctx := context.Background()
		c := saClient(t, ctx, n, sa)
		got := map[string]string{
			"apply ConfigMap in another namespace": outcome(applyConfigMap(ctx, c, n.Other)),
			"create Namespace": outcome(func() error {
				_, err := c.CoreV1().Namespaces().Apply(ctx, applycorev1.Namespace(n.Other+"-new"), metav1.ApplyOptions{FieldManager: "promobot"})
				return err
			}()),
			"create a Role and bind it":               outcome(grantWithin(ctx, c, n.Other)),
			"bind cluster-admin":                      outcome(bindClusterRole(ctx, c, n.Other, "cluster-admin")),
			"get kubeconfig Secret in own namespace":  outcome(getSecret(ctx, c, n.Namespace, "cluster-prod")),
			"get the GitHub App Secret":               outcome(getSecret(ctx, c, n.Namespace, "promobot-github")),
			"get kubeconfig Secret in another":        outcome(getSecret(ctx, c, n.Other, "cluster-prod")),
			"apply a Deployment in another namespace": outcome(applyDeployment(ctx, c, n.Other)),
		}
		want := map[string]string{
			"apply ConfigMap in another namespace":    "ok",
			"create Namespace":                        "ok",
			"create a Role and bind it":               "ok",
			"bind cluster-admin":                      "forbidden",
			"get kubeconfig Secret in own namespace":  "forbidden",
			"get the GitHub App Secret":               "forbidden",
			"get kubeconfig Secret in another":        "forbidden",
			"apply a Deployment in another namespace": "ok",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requests as the applier (-want +got):\n%s", diff)
		}
	}
}

// applierNamespacesActions makes real requests as the applier with scope
// namespaces.
func applierNamespacesActions(sa string) func(t *testing.T, n names) {
	return func(t *testing.T, n names) {
		ctx := context.Background()
		c := saClient(t, ctx, n, sa)
		got := map[string]string{
			"apply ConfigMap in a listed namespace":    outcome(applyConfigMap(ctx, c, n.Allowed[0])),
			"apply Deployment in a listed namespace":   outcome(applyDeployment(ctx, c, n.Allowed[1])),
			"apply ConfigMap in an unlisted namespace": outcome(applyConfigMap(ctx, c, n.Other)),
			"apply ConfigMap in its own namespace":     outcome(applyConfigMap(ctx, c, n.Namespace)),
			"label a listed Namespace": outcome(func() error {
				_, err := c.CoreV1().Namespaces().Apply(ctx, applycorev1.Namespace(n.Allowed[0]).WithLabels(map[string]string{"team": "a"}), metav1.ApplyOptions{FieldManager: "promobot"})
				return err
			}()),
			"create Namespace": outcome(func() error {
				_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.Allowed[0] + "-new"}}, metav1.CreateOptions{})
				return err
			}()),
			"create a Role and bind it in a listed namespace": outcome(grantWithin(ctx, c, n.Allowed[0])),
			"bind cluster-admin in a listed namespace":        outcome(bindClusterRole(ctx, c, n.Allowed[0], "cluster-admin")),
			"get the named kubeconfig Secret":                 outcome(getSecret(ctx, c, n.Namespace, "cluster-prod")),
			"get the GitHub App Secret":                       outcome(getSecret(ctx, c, n.Namespace, "promobot-github")),
		}
		want := map[string]string{
			"apply ConfigMap in a listed namespace":           "ok",
			"apply Deployment in a listed namespace":          "ok",
			"apply ConfigMap in an unlisted namespace":        "forbidden",
			"apply ConfigMap in its own namespace":            "forbidden",
			"label a listed Namespace":                        "ok",
			"create Namespace":                                "forbidden",
			"create a Role and bind it in a listed namespace": "ok",
			"bind cluster-admin in a listed namespace":        "forbidden",
			"get the named kubeconfig Secret":                 "forbidden",
			"get the GitHub App Secret":                       "forbidden",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requests as the applier (-want +got):\n%s", diff)
		}
		// The label really landed: the applier owns it with its field manager.
		ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, n.Allowed[0], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ns.Labels["team"]; got != "a" {
			t.Errorf("namespace %s label team = %q after the applier's apply, want a", n.Allowed[0], got)
		}
	}
}

func applyDeployment(ctx context.Context, c kubernetes.Interface, ns string) error {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guestbook"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "guestbook"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "guestbook", Image: "gcr.io/heptio-images/ks-guestbook-demo:0.2"}}},
			},
		},
	}
	_, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	return err
}

// checkPodSecurity creates a Pod from each Deployment's template in the
// release namespace, which enforces the "restricted" Pod Security
// Standard: promobot's pods must be admitted. A control Pod without the
// security context must be refused, which shows the check is enforced.
func checkPodSecurity(t *testing.T, ctx context.Context, n names, m manifest) {
	t.Helper()
	pods := cluster.Client.CoreV1().Pods(n.Namespace)
	for _, d := range of[*appsv1.Deployment](m) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-admission", Namespace: n.Namespace, Labels: d.Spec.Template.Labels},
			Spec:       *d.Spec.Template.Spec.DeepCopy(),
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Errorf("Deployment %s pod refused by Pod Security restricted: %v", d.Name, err)
		}
		control := p.DeepCopy()
		control.Name = d.Name + "-control"
		control.Spec.SecurityContext = nil
		control.Spec.Containers[0].SecurityContext = nil
		_, err := pods.Create(ctx, control, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity \"restricted") {
			t.Errorf("control pod without a security context: got %v, want a PodSecurity refusal", err)
		}
	}
}
