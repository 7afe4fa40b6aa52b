package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Cluster is one cluster promobot applies to.
type Cluster struct {
	// Name is how the operator named it (a flag value or project cluster).
	Name   string
	Config *rest.Config
	// Namespace is where the RBAC check asks for deployments when the
	// apps were not rendered (Rendered false); default "default".
	Namespace string
	// Rendered says Objects is what the apps applying to this cluster
	// render (CheckGitHub's Writes); the RBAC check then asks for exactly
	// those.
	Rendered bool
	Objects  []Object
}

// clusterTimeout bounds each request to a cluster, and clusterCheckTimeout
// one cluster's checks.
const (
	clusterTimeout      = 10 * time.Second
	clusterCheckTimeout = time.Minute
)

// applyVerbs are the verbs promobot's apply needs on what an app renders:
// get and list (diff, health, inventory), create and patch (server-side
// apply) and delete (prune).
var applyVerbs = []string{"get", "list", "create", "patch", "delete"}

// maxResources bounds the resources one cluster's RBAC check asks about
// (each costs one SelfSubjectAccessReview per verb).
const maxResources = 60

// resourceAttr is what a SelfSubjectAccessReview asks about; Namespace is
// "" for cluster-scoped resources.
type resourceAttr struct {
	Group, Resource, Namespace string
}

func (r resourceAttr) String() string {
	s := r.Resource
	if r.Group != "" {
		s += "." + r.Group
	}
	if r.Namespace == "" {
		return s + " (cluster-wide)"
	}
	return s + " in " + r.Namespace
}

// CheckCluster checks that c answers GET /version and that its credentials
// may do what apply needs (applyVerbs): on every resource its apps render
// when c.Rendered, else on deployments in c.Namespace
// (SelfSubjectAccessReviews).
func CheckCluster(ctx context.Context, c Cluster) []Check {
	name := "cluster " + c.Name
	ctx, cancel := context.WithTimeout(ctx, clusterCheckTimeout)
	defer cancel()
	rc := rest.CopyConfig(c.Config)
	rc.Timeout = clusterTimeout
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return []Check{fail(name, err.Error(), "fix the kubeconfig of "+c.Name)}
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return []Check{fail(name, fmt.Sprintf("unreachable at %s: %v", rc.Host, err),
			"check the kubeconfig's server address, the network path from promobot to it and its certificate")}
	}
	out := []Check{ok(name, fmt.Sprintf("reachable at %s (Kubernetes %s)", rc.Host, v.GitVersion))}
	rbac := name + " rbac"
	attrs, dropped := c.resources(client)
	if c.Rendered && len(attrs) == 0 {
		return append(out, ok(rbac, "no app of the installations' repositories applies here"))
	}
	missing, err := accessReviews(ctx, client, attrs)
	if err != nil {
		return append(out, fail(rbac, fmt.Sprintf("SelfSubjectAccessReview: %v", err), "let promobot's credentials create selfsubjectaccessreviews"))
	}
	if len(missing) > 0 {
		return append(out, fail(rbac, "may not "+describeMissing(missing)+dropped, rbacFix(missing)))
	}
	what := fmt.Sprintf("the %d resources its apps render", len(attrs))
	if len(attrs) <= 4 {
		var names []string
		for _, a := range attrs {
			names = append(names, a.String())
		}
		what = strings.Join(names, ", ")
	}
	found := fmt.Sprintf("may %s %s%s", strings.Join(applyVerbs, ", "), what, dropped)
	if dropped != "" {
		return append(out, warn(rbac, found, "check the rest by hand (kubectl auth can-i --list)"))
	}
	return append(out, ok(rbac, found))
}

// resources are the resources c's RBAC check asks about: what its apps
// render, mapped to resources with the cluster's discovery (a kind the
// cluster does not serve yet, e.g. of a CRD the app installs, by its
// conventional plural), or deployments in c.Namespace when the apps were
// not rendered. dropped says what maxResources left out. It and
// accessReviews take the concrete clientset: converting it to
// kubernetes.Interface would keep every typed client and apply
// configuration of client-go in the binary (about 10 MB).
func (c Cluster) resources(client *kubernetes.Clientset) (attrs []resourceAttr, dropped string) {
	if !c.Rendered {
		ns := c.Namespace
		if ns == "" {
			ns = "default"
		}
		return []resourceAttr{{Group: "apps", Resource: "deployments", Namespace: ns}}, ""
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	seen := map[resourceAttr]bool{}
	for _, o := range c.Objects {
		gvk := schema.GroupVersionKind{Group: o.Group, Version: o.Version, Kind: o.Kind}
		a := resourceAttr{Group: o.Group, Namespace: o.Namespace}
		if m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			a.Resource = m.Resource.Resource
			if m.Scope.Name() != meta.RESTScopeNameNamespace {
				a.Namespace = ""
			} else if a.Namespace == "" {
				a.Namespace = "default"
			}
		} else {
			plural, _ := meta.UnsafeGuessKindToResource(gvk)
			a.Resource = plural.Resource
		}
		if !seen[a] {
			seen[a] = true
			attrs = append(attrs, a)
		}
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].String() < attrs[j].String() })
	if len(attrs) > maxResources {
		dropped = fmt.Sprintf(" (%d more resources not checked)", len(attrs)-maxResources)
		attrs = attrs[:maxResources]
	}
	return attrs, dropped
}

// accessReviews asks for each verb of applyVerbs on each resource and
// returns the verbs denied, per resource.
func accessReviews(ctx context.Context, client *kubernetes.Clientset, attrs []resourceAttr) (map[resourceAttr][]string, error) {
	missing := map[resourceAttr][]string{}
	for _, a := range attrs {
		for _, verb := range applyVerbs {
			r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
				Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
					Namespace: a.Namespace, Verb: verb, Group: a.Group, Resource: a.Resource,
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", verb, a, err)
			}
			if !r.Status.Allowed {
				missing[a] = append(missing[a], verb)
			}
		}
	}
	return missing, nil
}

func sortedAttrs(m map[resourceAttr][]string) []resourceAttr {
	out := make([]resourceAttr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// describeMissing lists the denied (verbs, resource, namespace).
func describeMissing(missing map[resourceAttr][]string) string {
	var parts []string
	for _, a := range sortedAttrs(missing) {
		parts = append(parts, strings.Join(missing[a], ", ")+" "+a.String())
	}
	return strings.Join(parts, "; ")
}

// rbacFix is the rules that grant what is missing: a Role per namespace,
// a ClusterRole for cluster-scoped resources.
func rbacFix(missing map[resourceAttr][]string) string {
	var rules []string
	for _, a := range sortedAttrs(missing) {
		where := "ClusterRole"
		if a.Namespace != "" {
			where = "Role in " + a.Namespace
		}
		rules = append(rules, fmt.Sprintf("%s: {apiGroups: [%q], resources: [%s], verbs: [%s]}", where, a.Group, a.Resource, strings.Join(missing[a], ", ")))
	}
	return "bind promobot's identity to a Role or ClusterRole with these rules: " + strings.Join(rules, "; ")
}
