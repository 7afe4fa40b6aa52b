package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Cluster is one cluster promobot applies to.
type Cluster struct {
	// Name is how the operator named it (a flag value or project cluster).
	Name   string
	Config *rest.Config
	// Namespace is where the RBAC check asks for deployments; default
	// "default".
	Namespace string
}

// clusterTimeout bounds each request to a cluster.
const clusterTimeout = 10 * time.Second

// accessChecks are the verbs promobot's server-side apply needs on the
// objects apps render (checked on deployments, the common case).
var accessChecks = []string{"get", "create", "patch"}

// CheckCluster checks that c answers GET /version and that its credentials
// may get, create and patch deployments (SelfSubjectAccessReview).
func CheckCluster(ctx context.Context, c Cluster) []Check {
	name := "cluster " + c.Name
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
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	var denied []string
	for _, verb := range accessChecks {
		r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: "apps", Resource: "deployments",
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return append(out, fail(name+" rbac", fmt.Sprintf("SelfSubjectAccessReview: %v", err), "let promobot's credentials create selfsubjectaccessreviews"))
		}
		if !r.Status.Allowed {
			denied = append(denied, verb)
		}
	}
	rbac := name + " rbac"
	if len(denied) > 0 {
		return append(out, fail(rbac, fmt.Sprintf("may not %s deployments in %s", strings.Join(denied, ", "), ns),
			"bind promobot's identity to a Role or ClusterRole allowing get, create and patch on what its apps render"))
	}
	return append(out, ok(rbac, fmt.Sprintf("may %s deployments in %s", strings.Join(accessChecks, ", "), ns)))
}
