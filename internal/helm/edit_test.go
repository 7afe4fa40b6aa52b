package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestSetValue edits testdata/setvalue/<case>/before.yaml and compares the
// result with after.yaml byte for byte (-update rewrites after.yaml).
func TestSetValue(t *testing.T) {
	tests := []struct {
		name, path, value string
	}{
		{"tag-plain", "image.tag", "1.1.0"},
		{"tag-double-quoted", "image.tag", "1.1.0"},
		{"tag-single-quoted", "image.tag", "it's 1.1"},
		// 1.10 written plain would be the number 1.1 to helm.
		{"tag-plain-becomes-quoted", "image.tag", "1.10"},
		{"replicas-stay-a-number", "replicaCount", "4"},
		{"nested-component", "worker.image.tag", "2.0.0"},
		{"flow-mapping", "image.tag", "1.1.0"},
		{"add-key", "image.tag", "1.1.0"},
		{"add-mapping", "image.tag", "1.1.0"},
		{"add-to-empty-file", "image.tag", "1.1.0"},
		{"add-to-comment-only-file", "image.tag", "1.1.0"},
		{"add-no-final-newline", "image.tag", "true"},
		{"crlf", "image.tag", "1.1.0"},
		{"crlf-add", "image.tag", "1.1.0"},
		{"empty-value", "image.tag", "1.1.0"},
		{"add-after-empty-value", "image.tag", "1.1.0"},
		{"unchanged", "image.tag", "1.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "setvalue", tt.name)
			before, err := os.ReadFile(filepath.Join(dir, "before.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := SetValue(before, tt.path, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "after.yaml"), got)
			checkEdit(t, before, got, tt.path, tt.value)
		})
	}
}

// checkEdit checks what every edit must hold: the value reads back; helm
// reads every other value as before; no line of the file was removed.
func checkEdit(t *testing.T, before, after []byte, path, value string) {
	t.Helper()
	got, ok, err := GetValue(after, path)
	if err != nil || !ok || got != value {
		t.Fatalf("GetValue(after, %q) = %q, %v, %v; want %q", path, got, ok, err, value)
	}
	var b, a map[string]any
	if err := sigsyaml.Unmarshal(before, &b); err != nil {
		t.Fatalf("before does not parse for helm: %v", err)
	}
	if err := sigsyaml.Unmarshal(after, &a); err != nil {
		t.Fatalf("after does not parse for helm: %v\n%s", err, after)
	}
	// Put after's value into before: the rest must be equal.
	keys := strings.Split(path, ".")
	src, dst := any(a), b
	if dst == nil {
		dst = map[string]any{}
	}
	top := dst
	for i, k := range keys {
		sm, _ := src.(map[string]any)
		src = sm[k]
		if i == len(keys)-1 {
			dst[k] = src
			break
		}
		next, ok := dst[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			dst[k] = next
		}
		dst = next
	}
	if a == nil {
		a = map[string]any{}
	}
	if diff := cmp.Diff(top, a); diff != "" {
		t.Errorf("the edit changed more than %s (-before with the new value +after):\n%s", path, diff)
	}
	// One contiguous change that removes no line break.
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	if removed := before[p : len(before)-s]; strings.ContainsAny(string(removed), "\r\n") {
		t.Errorf("the edit removed %q, a line break", removed)
	}
}

// TestSetValueRefusals: what SetValue does not edit is an error naming
// why, never a guess.
func TestSetValueRefusals(t *testing.T) {
	tests := []struct {
		name, values, path, value, want string
	}{
		{"alias", "base: &b 1.0.0\nimage:\n  tag: *b\n", "image.tag", "2", "alias or an anchor"},
		{"anchor", "image:\n  tag: &t 1.0.0\nother: *t\n", "image.tag", "2", "alias or an anchor"},
		{"merge key", "base: &b {tag: 1}\nimage:\n  <<: *b\n", "image.tag", "2", "merge keys are not edited"},
		{"block scalar", "image:\n  tag: |\n    1.0.0\n", "image.tag", "2", "does not edit"},
		{"multi-line plain", "image:\n  tag: 1.0\n    .0\n", "image.tag", "2", "does not edit"},
		{"two documents", "a: 1\n---\nb: 2\n", "a", "2", "one YAML document"},
		{"not a mapping on the way", "image: ghcr.io/acme/api:1.0.0\n", "image.tag", "2", "image is not a mapping"},
		{"not a scalar", "image:\n  tag: [1]\n", "image.tag", "2", "not a single value"},
		{"key twice", "image:\n  tag: 1\n  tag: 2\n", "image.tag", "3", "given twice"},
		{"value spans lines", "image:\n  tag: 1\n", "image.tag", "1\n2", "spans lines"},
		{"empty key", "image:\n  tag: 1\n", "image..tag", "2", "empty key"},
		{"not a mapping", "- 1\n", "image.tag", "2", "not a mapping"},
		{"empty flow mapping on the way is fine but a null one is not", "image:\nx: 1\n", "image.tag", "2", "not a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetValue([]byte(tt.values), tt.path, tt.value)
			if err == nil {
				t.Fatalf("SetValue succeeded:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestImagePaths: the image conventions found in a values file, in file
// order.
func TestImagePaths(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string
	}{
		{"fixture production values", mustRead(t, fixtureRepo+"/helm-guestbook/values-production.yaml"), []string{"image.tag"}},
		{"fixture chart values", mustRead(t, fixtureRepo+"/helm-guestbook/values.yaml"), []string{"image.repository", "image.tag"}},
		{"components", "api:\n  image:\n    repository: a\n    tag: 1\nworker:\n  sidecar:\n    image: {tag: 2}\nimage: plain-string\n", []string{"api.image.repository", "api.image.tag", "worker.sidecar.image.tag"}},
		{"none", "replicaCount: 1\n", nil},
		{"not yaml", "a: [\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ImagePaths([]byte(tt.values))); diff != "" {
				t.Errorf("ImagePaths (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPromoteFixtureImageTag: the promotion the fixture's README promises,
// staging's image.tag copied into values-production.yaml, changes only the
// tag's bytes, and production renders the new image.
func TestPromoteFixtureImageTag(t *testing.T) {
	root := copyRepo(t, fixtureRepo)
	prod := filepath.Join(root, "helm-guestbook", "values-production.yaml")
	before, err := os.ReadFile(prod)
	if err != nil {
		t.Fatal(err)
	}
	after, err := SetValue(before, "image.tag", "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(before), `tag: "1.0.0" # promoted from staging`, `tag: "1.2.0" # promoted from staging`, 1)
	if diff := cmp.Diff(want, string(after)); diff != "" {
		t.Fatalf("values-production.yaml (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(prod, after, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Render(t.Context(), root, "helm-guestbook", Options{ReleaseName: "helm-guestbook-production", Namespace: "production", ValueFiles: []string{"values-production.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `image: "ghcr.io/acme/helm-guestbook:1.2.0"`) {
		t.Errorf("production does not render the promoted image:\n%s", out)
	}
}
