package project

import (
	"os"
	"testing"
)

// FuzzOwnNamespace: whatever a projects file says, promobot's own namespace
// is a destination only where a destination names it exactly, and parsing
// or deciding never panics.
func FuzzOwnNamespace(f *testing.F) {
	if raw, err := os.ReadFile("testdata/projects.example.yaml"); err == nil {
		f.Add(raw, "acme/payments", "in-cluster", "promobot")
	}
	f.Add([]byte("projects:\n- name: all\n  repos: ['*']\n  destinations: [{cluster: '*', namespace: '*'}]\n"), "a/b", "x", "promobot")
	f.Add([]byte("projects:\n- name: p\n  repos: ['a/*']\n  destinations: [{cluster: 'c?', namespace: 'prom*'}, {cluster: c1, namespace: promobot}]\n"), "a/b", "c1", "promobot")
	f.Add([]byte("projects:\n- name: p\n  repos: ['a/[b]']\n  destinations: [{cluster: '[', namespace: '!*'}]\n"), "a/b", "[", "kube-system")
	f.Fuzz(func(t *testing.T, data []byte, repo, clusterName, own string) {
		ps, err := Parse(data, own)
		if err != nil {
			return
		}
		s, err := ps.For(repo)
		if err != nil {
			return
		}
		id := ClusterID{Name: clusterName}
		_ = s.Cluster(id)
		_ = s.Object(id, "", "Namespace", "", own)
		if own == "" || s.Namespace(id, own) != nil {
			return
		}
		for _, d := range s.project.Destinations {
			if d.Namespace == own && clusterMatch(d.Cluster, id) {
				return
			}
		}
		t.Fatalf("%s's own namespace %q is allowed on %q without a destination naming it", repo, own, clusterName)
	})
}
