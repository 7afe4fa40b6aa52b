package kustomize

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResources(t *testing.T) {
	out, err := Render(context.Background(), "testdata/render", "overlays/namespaces", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resources(out)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var docs [][]byte
	for _, r := range res {
		keys = append(keys, r.Key.String())
		docs = append(docs, r.YAML)
		if r.Object.GetName() != r.Key.Name || r.Object.GetKind() != r.Key.Kind {
			t.Errorf("%s: object %s/%s does not match its key", r.Key, r.Object.GetKind(), r.Object.GetName())
		}
	}
	// kustomize's legacy order: Namespace first, cluster-scoped RBAC before
	// namespaced objects.
	want := []string{
		"Namespace/team-a",
		"ClusterRole/web-reader",
		"RoleBinding/team-a/web-reader",
		"Service/team-a/web",
		"Deployment/team-a/web",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("resource keys (-want +got):\n%s", diff)
	}
	if got := res[1].Key; got.Group != "rbac.authorization.k8s.io" {
		t.Errorf("ClusterRole group = %q", got.Group)
	}
	// The documents are the render's own bytes.
	if diff := cmp.Diff(string(out), string(bytes.Join(docs, []byte("---\n")))); diff != "" {
		t.Errorf("documents joined again differ from the render (-render +joined):\n%s", diff)
	}
	objs, err := Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(res) || objs[4].GetNamespace() != "team-a" || objs[4].GetLabels()["owner"] != "team-a" {
		t.Errorf("Objects = %d objects, last %v", len(objs), objs[len(objs)-1])
	}
}

func TestResourcesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "no name", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", want: "no metadata.name"},
		{name: "twice", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", want: "ConfigMap/a appears twice"},
		{name: "not an object", in: "- a\n- b\n", want: "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resources([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Resources error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResourcesSkipsEmptyDocuments(t *testing.T) {
	res, err := Resources([]byte("---\n# nothing\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range res {
		keys = append(keys, r.Key.String())
	}
	if diff := cmp.Diff([]string{"ConfigMap/a"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}
