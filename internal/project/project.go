// Package project is the operator's word on where repositories may deploy,
// like Argo CD's AppProject: which repositories (globs on owner/repo) may
// apply to which of the operator's clusters, in which namespaces, and which
// cluster-scoped kinds they may create. Cluster credentials are the
// operator's too: a projects file may define clusters beside promobot
// serve's --kubeconfig and --cluster-kubeconfig flags. A repository's own
// configuration can only narrow what its project allows.
//
// Without a projects file every repository is in the default project (see
// Default): any of the operator's clusters, any namespace but promobot's own
// and kube-*, and Namespaces as the only cluster-scoped kind.
package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Wildcard matches every repository, cluster, namespace, group or kind.
const Wildcard = "*"

// File is the content of the operator's projects file.
type File struct {
	// Clusters are destination clusters the operator defines credentials for,
	// beside --kubeconfig (named "in-cluster") and --cluster-kubeconfig.
	Clusters []Cluster `yaml:"clusters"`
	// Projects are tried in order; a repository belongs to the first whose
	// repos match it. A repository in no project deploys nowhere.
	Projects []Project `yaml:"projects"`
}

// Cluster is one of the operator's clusters.
type Cluster struct {
	// Name is how projects and .promobot.yaml refer to the cluster.
	Name string `yaml:"name"`
	// Server is the API server URL Applications name in
	// spec.destination.server (optional).
	Server string `yaml:"server"`
	// Kubeconfig is a kubeconfig file on promobot's host.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context selects a context of Kubeconfig (default: its current one).
	Context string `yaml:"context"`
}

// Project says where a set of repositories may deploy.
type Project struct {
	// Name identifies the project in statuses and logs.
	Name string `yaml:"name"`
	// Repos are globs on "owner/repo" ("acme/*", "acme/payments-*"); "*"
	// matches every repository.
	Repos []string `yaml:"repos"`
	// Destinations are the cluster/namespace pairs the repositories may
	// apply to. A namespace starting with "!" denies the namespaces it
	// matches on the matching clusters, whatever else allows them.
	Destinations []Destination `yaml:"destinations"`
	// ClusterResources are the cluster-scoped kinds the repositories may
	// apply (Namespace objects also need their name to be an allowed
	// namespace).
	ClusterResources []GroupKind `yaml:"clusterResources"`
}

// Destination is a glob pair: an operator cluster (by name or server) and
// a namespace.
type Destination struct {
	Cluster   string `yaml:"cluster"`
	Namespace string `yaml:"namespace"`
}

// GroupKind names a kind by API group ("" for the core group) and kind;
// either may be "*".
type GroupKind struct {
	Group string `yaml:"group"`
	Kind  string `yaml:"kind"`
}

// String formats the kind as Kind or Kind.group.
func (g GroupKind) String() string {
	if g.Group == "" {
		return g.Kind
	}
	return g.Kind + "." + g.Group
}

// ClusterID is an operator's cluster as projects see it.
type ClusterID struct {
	Name   string
	Server string
}

func (c ClusterID) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Server
}

// Projects is a validated projects file, bound to the namespace promobot
// runs in. It is immutable and safe for concurrent use.
type Projects struct {
	clusters     []Cluster
	projects     []Project
	ownNamespace string
}

// Default is what promobot enforces without a projects file: one project,
// "default", for every repository, allowing every operator cluster, every
// namespace except ownNamespace (promobot's own) and kube-*, and Namespace
// as the only cluster-scoped kind.
func Default(ownNamespace string) *Projects {
	return &Projects{ownNamespace: ownNamespace, projects: []Project{{
		Name:  "default",
		Repos: []string{Wildcard},
		Destinations: []Destination{
			{Cluster: Wildcard, Namespace: Wildcard},
			{Cluster: Wildcard, Namespace: "!kube-*"},
		},
		ClusterResources: []GroupKind{{Group: "", Kind: "Namespace"}},
	}}}
}

// Load reads and validates the projects file at path (see Parse).
func Load(file, ownNamespace string) (*Projects, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("projects file %s: %w", file, err)
	}
	p, err := Parse(raw, ownNamespace)
	if err != nil {
		return nil, fmt.Errorf("projects file %s: %w", file, err)
	}
	return p, nil
}

// Parse decodes a projects file strictly (an unknown field is an error) and
// validates it; the error lists every problem found. ownNamespace is the
// namespace promobot runs in: a glob never matches it, only a destination
// that names it exactly.
func Parse(data []byte, ownNamespace string) (*Projects, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
		return nil, errors.New(strings.ReplaceAll(msg, "\n  ", "; "))
	}
	if problems := f.validate(); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return &Projects{clusters: f.Clusters, projects: f.Projects, ownNamespace: ownNamespace}, nil
}

func (f *File) validate() []string {
	var problems []string
	add := func(p, format string, args ...any) {
		problems = append(problems, p+": "+fmt.Sprintf(format, args...))
	}
	pattern := func(p, glob string) {
		if _, err := path.Match(strings.TrimPrefix(glob, "!"), ""); err != nil {
			add(p, "%q is not a glob pattern", glob)
		}
	}
	// named checks that the cluster or project at p has a name no other
	// in seen has.
	named := func(p, name string, seen map[string]bool) {
		switch {
		case name == "":
			add(p+".name", "missing name")
		case seen[name]:
			add(p+".name", "%s is defined twice", name)
		}
		seen[name] = true
	}
	clusters := map[string]bool{}
	for i, c := range f.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		named(p, c.Name, clusters)
		if c.Kubeconfig == "" {
			add(p+".kubeconfig", "missing kubeconfig file")
		}
	}
	if len(f.Projects) == 0 {
		add("projects", "no project: every repository would deploy nowhere")
	}
	names := map[string]bool{}
	for i, pr := range f.Projects {
		p := fmt.Sprintf("projects[%d]", i)
		named(p, pr.Name, names)
		if len(pr.Repos) == 0 {
			add(p+".repos", "no repository")
		}
		for j, r := range pr.Repos {
			q := fmt.Sprintf("%s.repos[%d]", p, j)
			if r != Wildcard && strings.Count(r, "/") != 1 {
				add(q, "%q is not owner/repo (globs allowed, or * for every repository)", r)
				continue
			}
			pattern(q, r)
		}
		for j, d := range pr.Destinations {
			q := fmt.Sprintf("%s.destinations[%d]", p, j)
			if d.Cluster == "" {
				add(q+".cluster", "missing cluster (a cluster name or server, or *)")
			}
			if d.Namespace == "" || d.Namespace == "!" {
				add(q+".namespace", "missing namespace (a namespace glob, or * for every namespace)")
			}
			pattern(q+".cluster", d.Cluster)
			pattern(q+".namespace", d.Namespace)
		}
		for j, g := range pr.ClusterResources {
			q := fmt.Sprintf("%s.clusterResources[%d]", p, j)
			if g.Kind == "" {
				add(q+".kind", "missing kind")
			}
			pattern(q+".group", g.Group)
			pattern(q+".kind", g.Kind)
		}
	}
	return problems
}

// Clusters returns the clusters the projects file defines.
func (ps *Projects) Clusters() []Cluster { return append([]Cluster(nil), ps.clusters...) }

// OwnNamespace returns the namespace promobot runs in ("" if unknown).
func (ps *Projects) OwnNamespace() string { return ps.ownNamespace }

// Error is a refusal: what a repository tried that its project does not
// allow.
type Error struct {
	Repo    string
	Project string
	// What is refused, e.g. "namespace kube-system".
	What string
}

// Error reads "namespace kube-system is not allowed for acme/payments
// (project payments)".
func (e *Error) Error() string {
	if e.Project == "" {
		return fmt.Sprintf("%s is in no project of promobot's projects file: it may deploy nowhere; ask the operator to add it", e.Repo)
	}
	return fmt.Sprintf("%s is not allowed for %s (project %s)", e.What, e.Repo, e.Project)
}

// Scope is one repository's project: what it may deploy where.
type Scope struct {
	repo    string
	project *Project
	own     string
}

// For returns repo's ("owner/name") scope: its first matching project
// (GitHub names are case-insensitive, and so is the match). A repository in
// no project gets an *Error.
func (ps *Projects) For(repo string) (*Scope, error) {
	for i := range ps.projects {
		pr := &ps.projects[i]
		for _, g := range pr.Repos {
			if match(strings.ToLower(g), strings.ToLower(repo)) {
				return &Scope{repo: repo, project: pr, own: ps.ownNamespace}, nil
			}
		}
	}
	return nil, &Error{Repo: repo}
}

// Project returns the scope's project name.
func (s *Scope) Project() string { return s.project.Name }

func (s *Scope) refuse(format string, args ...any) error {
	return &Error{Repo: s.repo, Project: s.project.Name, What: fmt.Sprintf(format, args...)}
}

// Cluster reports whether the project allows any namespace of cluster.
func (s *Scope) Cluster(c ClusterID) error {
	for _, d := range s.project.Destinations {
		if !strings.HasPrefix(d.Namespace, "!") && clusterMatch(d.Cluster, c) {
			return nil
		}
	}
	return s.refuse("cluster %s", c)
}

// Namespace reports whether the project allows applying into namespace ns
// of cluster c. promobot's own namespace is matched only by a destination
// that names it exactly, never by a glob.
func (s *Scope) Namespace(c ClusterID, ns string) error {
	allowed := false
	for _, d := range s.project.Destinations {
		if !clusterMatch(d.Cluster, c) {
			continue
		}
		if deny, ok := strings.CutPrefix(d.Namespace, "!"); ok {
			if nsMatch(deny, ns, s.own) {
				return s.refuse("namespace %s", ns)
			}
			continue
		}
		if nsMatch(d.Namespace, ns, s.own) {
			allowed = true
		}
	}
	if !allowed {
		if ns == s.own && ns != "" {
			return s.refuse("namespace %s (promobot's own)", ns)
		}
		return s.refuse("namespace %s", ns)
	}
	return nil
}

// Object reports whether the project allows an object of group/kind named
// name in namespace ns ("" for a cluster-scoped object) on cluster c: a
// namespaced object's namespace must be allowed; a cluster-scoped object's
// kind must be in clusterResources, and a Namespace's name must be an
// allowed namespace.
func (s *Scope) Object(c ClusterID, group, kind, ns, name string) error {
	if ns != "" {
		return s.Namespace(c, ns)
	}
	gk := GroupKind{Group: group, Kind: kind}
	ok := false
	for _, g := range s.project.ClusterResources {
		if match(g.Group, group) && match(g.Kind, kind) {
			ok = true
			break
		}
	}
	if !ok {
		return s.refuse("cluster-scoped kind %s", gk)
	}
	if group == "" && kind == "Namespace" {
		return s.Namespace(c, name)
	}
	return nil
}

func clusterMatch(pattern string, c ClusterID) bool {
	return (c.Name != "" && match(pattern, c.Name)) ||
		(c.Server != "" && (match(pattern, c.Server) || match(strings.TrimSuffix(pattern, "/"), strings.TrimSuffix(c.Server, "/"))))
}

// nsMatch matches a namespace glob; own (promobot's namespace) matches only
// a pattern that is exactly it.
func nsMatch(pattern, ns, own string) bool {
	if own != "" && ns == own {
		return pattern == ns
	}
	return match(pattern, ns)
}

// match is path.Match with "*" matching everything (slashes included).
func match(pattern, s string) bool {
	if pattern == Wildcard {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
