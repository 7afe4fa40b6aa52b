package kustomize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8syaml "sigs.k8s.io/yaml"
)

// ResourceKey identifies one rendered object.
type ResourceKey struct {
	// Group is the API group, empty for the core group.
	Group string
	// Kind is the object's kind, e.g. Deployment.
	Kind string
	// Namespace is empty for cluster-scoped objects (and for namespaced
	// objects the render left without one).
	Namespace string
	// Name is the object's name.
	Name string
}

// String returns "Kind/namespace/name", or "Kind/name" without a namespace,
// e.g. "Deployment/staging/my-api-service" or "Namespace/staging".
func (k ResourceKey) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// Resource is one object of a render.
type Resource struct {
	// Key identifies the object.
	Key ResourceKey
	// YAML is the object's document exactly as the render printed it,
	// without the "---" separator.
	YAML []byte
	// Object is the decoded object.
	Object *unstructured.Unstructured
}

// Resources splits rendered multi-document YAML (Render's output) into its
// objects, in render order. Empty documents are skipped; a document that is
// not a Kubernetes object (no kind, apiVersion, or name or generateName) is
// an error, and so is a key that appears twice. An object with only a
// generateName is keyed by it.
func Resources(rendered []byte) ([]Resource, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	var out []Resource
	seen := map[ResourceKey]bool{}
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rendered document %d read: %w", i, err)
		}
		j, err := k8syaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("rendered document %d parse: %w", i, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("rendered document %d decode: %w", i, err)
		}
		name := obj.GetName()
		if name == "" {
			// A hook may have only a generateName: the applier names it
			// afresh on every sync, as the API server would.
			name = obj.GetGenerateName()
		}
		if name == "" {
			return nil, fmt.Errorf("rendered document %d (%s): no metadata.name", i, obj.GetKind())
		}
		gvk := obj.GroupVersionKind()
		key := ResourceKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: name}
		if seen[key] {
			return nil, fmt.Errorf("rendered document %d: %s appears twice", i, key)
		}
		seen[key] = true
		out = append(out, Resource{Key: key, YAML: doc, Object: obj})
	}
}

// Objects decodes rendered multi-document YAML into objects for apply, in
// render order.
func Objects(rendered []byte) ([]*unstructured.Unstructured, error) {
	res, err := Resources(rendered)
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(res))
	for i, r := range res {
		out[i] = r.Object
	}
	return out, nil
}
