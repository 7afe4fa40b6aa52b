package cluster

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// resolve follows an RFC 6901 pointer into obj.
func resolve(obj any, ptr string) bool {
	cur := obj
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return false
			}
			cur = c[i]
		default:
			return false
		}
	}
	return true
}

// FuzzJSONPointer: whatever an object and a field manager's fields hold,
// every pointer jsonPointer makes of the manager's fields resolves in the
// object, and none panics.
func FuzzJSONPointer(f *testing.F) {
	f.Add(`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"api","image":"a:1"},{"name":"side","image":"b:1"}]}}},"metadata":{"labels":{"a/b~c":"x"}}}`,
		`{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"side\"}":{".":{},"f:image":{}}}}}},"f:metadata":{"f:labels":{"f:a/b~c":{}}}}`)
	f.Add(`{"spec":{"finalizers":["a","b"],"ports":[{"port":80,"protocol":"TCP"}]}}`,
		`{"f:spec":{"f:finalizers":{"v:\"b\"":{}},"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{"f:port":{}}}}}`)
	f.Add(`{"a":[1,2]}`, `{"f:a":{"i:1":{}}}`)
	f.Add(`{"a":[1,2]}`, `{"f:a":{"i:7":{}, "k:{\"x\":1}":{}}}`)
	f.Fuzz(func(t *testing.T, object, fields string) {
		var obj map[string]any
		if json.Unmarshal([]byte(object), &obj) != nil {
			return
		}
		set := &fieldpath.Set{}
		if set.FromJSON(bytes.NewReader([]byte(fields))) != nil {
			return
		}
		set.Leaves().Iterate(func(p fieldpath.Path) {
			ptr, ok := jsonPointer(obj, p)
			if !ok {
				return
			}
			if !strings.HasPrefix(ptr, "/") || !resolve(obj, ptr) {
				t.Fatalf("path %s became pointer %q, which %s does not hold", p, ptr, object)
			}
		})
	})
}

func TestJSONPointer(t *testing.T) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(`{"spec":{"replicas":3,"finalizers":["a","b"],"template":{"spec":{"containers":[{"name":"api","image":"a:1"},{"name":"side","image":"b:1"}]}}},"metadata":{"labels":{"a/b~c":"x"}}}`), &obj); err != nil {
		t.Fatal(err)
	}
	set := &fieldpath.Set{}
	fields := `{"f:spec":{"f:replicas":{},"f:finalizers":{"v:\"b\"":{}},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"side\"}":{".":{},"f:image":{}}}}}},"f:metadata":{"f:labels":{"f:a/b~c":{}}},"f:gone":{}}`
	if err := set.FromJSON(strings.NewReader(fields)); err != nil {
		t.Fatal(err)
	}
	var got []string
	set.Leaves().Iterate(func(p fieldpath.Path) {
		if ptr, ok := jsonPointer(obj, p); ok {
			got = append(got, ptr)
		}
	})
	slices.Sort(got)
	want := []string{"/metadata/labels/a~1b~0c", "/spec/finalizers/1", "/spec/replicas", "/spec/template/spec/containers/1/image"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pointers (-want +got):\n%s", diff)
	}
}
