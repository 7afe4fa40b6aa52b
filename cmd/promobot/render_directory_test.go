package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/promobot/promobot/internal/kustomize"
)

// TestRenderDirectoryApps checks that "promobot render --app" prints, for
// a plain-directory Application, the objects its files hold: the files
// its directory settings select (recurse, include, exclude), YAML
// documents and JSON objects alike.
func TestRenderDirectoryApps(t *testing.T) {
	repo := filepath.Join("testdata", "render-directory")
	tests := []struct {
		app   string
		files []string
	}{
		{app: "web-top", files: []string{"web/config.json", "web/deploy.yaml"}},
		{app: "web-all", files: []string{"web/config.json", "web/deploy.yaml", "web/sub/test-fixture.yaml", "web/sub/worker.yml", "web/test/smoke.yaml"}},
		{app: "web-filtered", files: []string{"web/config.json", "web/sub/worker.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			var want []map[string]any
			for _, f := range tt.files {
				want = append(want, fileObjects(t, filepath.Join(repo, f))...)
			}
			var out bytes.Buffer
			root := newRootCommand()
			root.SetOut(&out)
			root.SetArgs([]string{"render", "--repo", repo, "--app", tt.app})
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			objs, err := kustomize.Objects(out.Bytes())
			if err != nil {
				t.Fatalf("render output: %v\n%s", err, out.Bytes())
			}
			var got []map[string]any
			for _, o := range objs {
				got = append(got, o.Object)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("render (-files +promobot render):\n%s", diff)
			}
		})
	}
}

// fileObjects decodes the objects a manifest file holds, skipping empty
// documents.
func fileObjects(t *testing.T, p string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []map[string]any
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", p, err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var o unstructured.Unstructured
		if err := o.UnmarshalJSON(raw); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, o.Object)
	}
}
