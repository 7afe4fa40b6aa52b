package applier

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/project"
)

// Clusters resolves an app's destination to one of the operator's clusters,
// checks it against the repository's project, and caches the connections.
// Credentials and projects are the operator's; a repository's
// .promobot.yaml can only map a destination to an operator cluster by name.
// It is safe for concurrent use.
type Clusters struct {
	clusters []OperatorCluster
	projects *project.Projects

	mu    sync.Mutex
	cache map[string]*cluster.Cluster
}

// OperatorCluster is a cluster the operator gave promobot credentials for.
type OperatorCluster struct {
	// Name is how projects and .promobot.yaml refer to it.
	Name string
	// Server is the API server URL Applications name as their
	// spec.destination.server ("" if none).
	Server string
	// Config connects to it.
	Config *rest.Config
}

// NewClusters returns a resolver. home is the cluster promobot runs in,
// named "in-cluster" at https://kubernetes.default.svc (nil: none). static
// maps destination servers or names (--cluster-kubeconfig) to connections;
// each is an operator cluster named by its key. Every repository is in the
// default project (project.Default) until WithProjects says otherwise.
func NewClusters(home *rest.Config, static map[string]*rest.Config) *Clusters {
	c := &Clusters{projects: project.Default(""), cache: map[string]*cluster.Cluster{}}
	keys := make([]string, 0, len(static))
	for k := range static {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		oc := OperatorCluster{Name: k, Config: static[k]}
		if strings.Contains(k, "://") {
			oc.Server = k
		}
		c.clusters = append(c.clusters, oc)
	}
	if home != nil {
		c.clusters = append(c.clusters, OperatorCluster{Name: gitops.InClusterName, Server: gitops.InClusterServer, Config: home})
	}
	return c
}

// WithProjects sets which repositories may deploy where and adds the
// clusters the projects file defines (configs built by the caller, in
// order). Clusters already known by name keep their connection. It returns
// c and must be called before c is used.
func (c *Clusters) WithProjects(ps *project.Projects, defined []OperatorCluster) *Clusters {
	c.projects = ps
	for _, oc := range defined {
		if _, ok := c.byName(oc.Name); !ok {
			c.clusters = append(c.clusters, oc)
		}
	}
	return c
}

func (c *Clusters) byName(name string) (OperatorCluster, bool) {
	for _, oc := range c.clusters {
		if oc.Name == name {
			return oc, true
		}
	}
	return OperatorCluster{}, false
}

// Destination is where one app of one repository applies, and what its
// project lets it apply there.
type Destination struct {
	Cluster *cluster.Cluster
	// ID is the operator's cluster.
	ID project.ClusterID
	// Scope is the repository's project.
	Scope *project.Scope
}

// Name is the destination as statuses show it: the app's own words for it.
func destName(app gitops.App) string {
	if app.Server != "" {
		return app.Server
	}
	return app.DestName
}

// For resolves app (of repo, "owner/name") to one of the operator's
// clusters and checks that repo's project allows that cluster and the app's
// destination namespace. The .promobot.yaml mapping (clusters: DEST:
// {cluster: NAME}) comes first, then the operator cluster whose server or
// name is the app's destination.
func (c *Clusters) For(repo string, app gitops.App, cfg *gitops.Config) (*Destination, error) {
	dest := destName(app)
	scope, err := c.projects.For(repo)
	if err != nil {
		return nil, err
	}
	oc, err := c.resolve(app, cfg)
	if err != nil {
		return nil, err
	}
	id := project.ClusterID{Name: oc.Name, Server: oc.Server}
	if err := scope.Cluster(id); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", dest, err)
	}
	if app.DestNamespace != "" {
		if err := scope.Namespace(id, app.DestNamespace); err != nil {
			return nil, fmt.Errorf("cluster %s: destination %w", dest, err)
		}
	}
	cl, err := c.get(oc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", dest, err)
	}
	return &Destination{Cluster: cl, ID: id, Scope: scope}, nil
}

// Permit is the cluster.Options.Permit of the destination: every object
// must be allowed by the repository's project.
func (d *Destination) Permit(r cluster.ObjectRef) error {
	return d.Scope.Object(d.ID, r.Group, r.Kind, r.Namespace, r.Name)
}

func (c *Clusters) resolve(app gitops.App, cfg *gitops.Config) (OperatorCluster, error) {
	dest := destName(app)
	if m, ok := cfg.ClusterFor(app); ok {
		name := m.OperatorCluster()
		oc, ok := c.byName(name)
		if !ok {
			return OperatorCluster{}, fmt.Errorf("cluster %s: .promobot.yaml maps it to %q, which is none of the operator's clusters (%s)", dest, name, c.names())
		}
		return oc, nil
	}
	server := strings.TrimSuffix(app.Server, "/")
	for _, oc := range c.clusters {
		if (server != "" && strings.TrimSuffix(oc.Server, "/") == server) ||
			(server != "" && oc.Name == app.Server) ||
			(app.DestName != "" && oc.Name == app.DestName) {
			return oc, nil
		}
	}
	if server == gitops.InClusterServer || app.DestName == gitops.InClusterName {
		return OperatorCluster{}, fmt.Errorf("cluster %s is the cluster promobot runs in, but promobot runs outside a cluster and was given no --kubeconfig", dest)
	}
	return OperatorCluster{}, fmt.Errorf("no credentials for cluster %s: the operator defines clusters (--cluster-kubeconfig or the projects file); map the destination to one of them (%s) with clusters: in .promobot.yaml", dest, c.names())
}

func (c *Clusters) names() string {
	if len(c.clusters) == 0 {
		return "none defined"
	}
	names := make([]string, len(c.clusters))
	for i, oc := range c.clusters {
		names[i] = oc.Name
	}
	return strings.Join(names, ", ")
}

func (c *Clusters) get(oc OperatorCluster) (*cluster.Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.cache[oc.Name]; ok {
		return cl, nil
	}
	cl, err := cluster.New(oc.Config)
	if err != nil {
		return nil, err
	}
	c.cache[oc.Name] = cl
	return cl, nil
}

// ForGenerator returns the operator's clusters repo ("owner/name") may
// deploy to, for its ApplicationSets' cluster generator: a repository sees
// no cluster its project does not allow. Clusters have no labels.
func (c *Clusters) ForGenerator(repo string) []appset.Cluster {
	if c == nil {
		return nil
	}
	scope, err := c.projects.For(repo)
	if err != nil {
		return []appset.Cluster{}
	}
	out := []appset.Cluster{}
	for _, oc := range c.clusters {
		if scope.Cluster(project.ClusterID{Name: oc.Name, Server: oc.Server}) == nil {
			out = append(out, appset.Cluster{Name: oc.Name, Server: oc.Server})
		}
	}
	return out
}
