package kustomize

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDirectoryManifests parses a file as a directory render reads it and
// checks that the YAML stream the render prints for its objects reads back
// as the same objects: what promobot applies is what the file held.
func FuzzDirectoryManifests(f *testing.F) {
	f.Add("a.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: 'yes', n: '0x10', e: ''}\n---\n---\nkind: List\napiVersion: v1\nitems: [{apiVersion: v1, kind: Secret, metadata: {name: s}}]\n"))
	f.Add("b.json", []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"f": 1.5, "i": 3, "t": true}}`))
	f.Add("c.yml", []byte("replicas: 3\nimage: {tag: 1}\n"))
	f.Add("d.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name != "a.json" {
			name = "a.yaml"
		}
		objs, err := parseManifestFile(name, data)
		if err != nil {
			return
		}
		r := &dirReader{}
		for _, o := range objs {
			if err := r.add(o); err != nil {
				return
			}
		}
		out, err := encodeObjects(r.objs)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := splitYAML(out)
		if err != nil {
			t.Fatalf("the render does not read back: %v\n%s", err, out)
		}
		if len(back) != len(r.objs) {
			t.Fatalf("%d objects read back, %d rendered:\n%s", len(back), len(r.objs), out)
		}
		for i := range back {
			a, _ := json.Marshal(r.objs[i].Object)
			b, _ := json.Marshal(back[i].Object)
			if !bytes.Equal(a, b) {
				t.Fatalf("object %d changed in the render:\n%s\n%s", i, a, b)
			}
		}
	})
}
