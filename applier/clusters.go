package applier

import (
	"context"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
)

// Clusters resolves an app's destination to a connection and caches the
// connections. It is safe for concurrent use.
type Clusters struct {
	home   *rest.Config
	static map[string]*rest.Config

	mu    sync.Mutex
	cache map[string]*cluster.Cluster
}

// NewClusters returns a resolver. home is the cluster promobot runs in: the
// in-cluster address https://kubernetes.default.svc and in-cluster
// credentials in .promobot.yaml mean it (nil: none). static maps destination
// servers (or names) to connections configured by the operator; they take
// precedence over .promobot.yaml.
func NewClusters(home *rest.Config, static map[string]*rest.Config) *Clusters {
	return &Clusters{home: home, static: static, cache: map[string]*cluster.Cluster{}}
}

// For returns the connection to app's destination cluster: the operator's
// mapping first, then .promobot.yaml's clusters, then the home cluster for
// the in-cluster address.
func (c *Clusters) For(ctx context.Context, app gitops.App, cfg *gitops.Config) (*cluster.Cluster, string, error) {
	dest := app.Server
	if dest == "" {
		dest = app.DestName
	}
	for _, k := range []string{app.Server, strings.TrimSuffix(app.Server, "/"), app.DestName} {
		if rc, ok := c.static[k]; ok && k != "" {
			cl, err := c.get("static:"+k, rc)
			return cl, dest, err
		}
	}
	if creds, ok := cfg.ClusterFor(app); ok {
		switch {
		case creds.InCluster:
			return c.homeCluster(dest)
		case creds.Kubeconfig != nil:
			rc, err := cluster.RESTConfigFor(cluster.Credentials{KubeconfigPath: creds.Kubeconfig.File, Context: creds.Kubeconfig.Context})
			if err != nil {
				return nil, dest, fmt.Errorf("cluster %s: %w", dest, err)
			}
			cl, err := c.get("file:"+creds.Kubeconfig.File+"#"+creds.Kubeconfig.Context, rc)
			return cl, dest, err
		case creds.KubeconfigSecret != nil:
			rc, err := c.fromSecret(ctx, *creds.KubeconfigSecret)
			if err != nil {
				return nil, dest, fmt.Errorf("cluster %s: %w", dest, err)
			}
			s := creds.KubeconfigSecret
			cl, err := c.get("secret:"+s.Namespace+"/"+s.Name+"/"+s.Key+"#"+s.Context, rc)
			return cl, dest, err
		}
	}
	if strings.TrimSuffix(app.Server, "/") == gitops.InClusterServer || app.DestName == "in-cluster" {
		return c.homeCluster(dest)
	}
	return nil, dest, fmt.Errorf("no credentials for cluster %s: map it under clusters: in .promobot.yaml", dest)
}

func (c *Clusters) homeCluster(dest string) (*cluster.Cluster, string, error) {
	if c.home == nil {
		return nil, dest, fmt.Errorf("cluster %s is the cluster promobot runs in, but promobot runs outside a cluster and was given no --kubeconfig", dest)
	}
	cl, err := c.get("home", c.home)
	return cl, dest, err
}

func (c *Clusters) get(key string, rc *rest.Config) (*cluster.Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.cache[key]; ok {
		return cl, nil
	}
	cl, err := cluster.New(rc)
	if err != nil {
		return nil, err
	}
	c.cache[key] = cl
	return cl, nil
}

// fromSecret reads a kubeconfig from a Secret in the home cluster.
func (c *Clusters) fromSecret(ctx context.Context, s gitops.KubeconfigSecret) (*rest.Config, error) {
	if c.home == nil {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s: promobot has no home cluster to read it from", s.Namespace, s.Name)
	}
	cs, err := kubernetes.NewForConfig(c.home)
	if err != nil {
		return nil, err
	}
	sec, err := cs.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	key := s.Key
	if key == "" {
		key = gitops.DefaultKubeconfigSecretKey
	}
	raw, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s has no key %q", s.Namespace, s.Name, key)
	}
	return cluster.RESTConfigFor(cluster.Credentials{Kubeconfig: raw, Context: s.Context})
}
