package kustomize

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateDirectory = flag.Bool("update-directory", false, "rewrite testdata/directory/golden")

// TestRenderDirectoryGolden renders testdata/directory/repo/app with each
// directory setting and compares the YAML stream with
// testdata/directory/golden/<case>.yaml. Run with -update-directory to
// rewrite them.
func TestRenderDirectoryGolden(t *testing.T) {
	tests := []struct {
		name string
		d    Directory
	}{
		{name: "top-level", d: Directory{}},
		{name: "recurse", d: Directory{Recurse: true}},
		{name: "include-json-and-yml", d: Directory{Include: "{*.json,*.yml}"}},
		{name: "recurse-exclude-sub", d: Directory{Recurse: true, Exclude: "sub/*"}},
		{name: "recurse-include-exclude", d: Directory{Recurse: true, Include: "sub/*", Exclude: "*secret*"}},
		{name: "invalid-include", d: Directory{Recurse: true, Include: "{a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderDirectory(context.Background(), "testdata/directory/repo", "app", tt.d, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/directory/golden", tt.name+".yaml")
			if *updateDirectory {
				writeFile(t, golden, string(got))
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("render (-golden +got):\n%s", diff)
			}
			if _, err := Resources(got); err != nil {
				t.Errorf("the render does not split into objects: %v", err)
			}
		})
	}
}

// TestRenderDirectoryRefuses renders hostile or broken directories: each
// fails with an error naming the file, and reads nothing outside the
// repository.
func TestRenderDirectoryRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		d     Directory
		is    error
		want  string
	}{
		{name: "file link out of the repository", files: map[string]string{"app/cm.yaml": "->../../outside/base/cm.yaml"},
			is: ErrOutsideRepository, want: `app: app/cm.yaml: symbolic link points outside the repository`},
		{name: "absolute file link", files: map[string]string{"app/cm.yaml": "->$PARENT/outside/base/cm.yaml"},
			is: ErrOutsideRepository, want: "app/cm.yaml: symbolic link points outside the repository"},
		{name: "app directory is a link out", files: map[string]string{"app": "->../outside/base"},
			is: ErrOutsideRepository, want: "app: app: symbolic link points outside the repository"},
		{name: "app path outside", files: map[string]string{}, d: Directory{}, is: ErrOutsideRepository, want: "outside the repository"},
		{name: "jsonnet", files: map[string]string{"app/main.jsonnet": "{}\n", "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"},
			is: ErrRender, want: "app: directory render failed: main.jsonnet: jsonnet is not supported by promobot"},
		{name: "broken manifest", files: map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [a\n"},
			is: ErrRender, want: "directory render failed: cm.yaml"},
		{name: "second document broken", files: map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nfoo: [\n"},
			is: ErrRender, want: "directory render failed: cm.yaml"},
		{name: "list item without a kind", files: map[string]string{"app/list.yaml": "apiVersion: v1\nkind: List\nitems: [{}]\n"},
			is: ErrRender, want: "app: directory render failed: list.yaml: an object has no kind or apiVersion"},
		{name: "object without an apiVersion", files: map[string]string{"app/x.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
			is: ErrRender, want: "app: directory render failed: x.yaml: an object has no kind or apiVersion"},
		{name: "json array", files: map[string]string{"app/list.json": "[]\n"},
			is: ErrRender, want: "directory render failed: list.json"},
		{name: "not a directory", files: map[string]string{"app": "apiVersion: v1\n"},
			is: ErrRender, want: "app is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := sandboxRepo(t, tt.files)
			dir := "app"
			if tt.name == "app path outside" {
				dir = "../outside/base"
			}
			out, err := RenderDirectory(context.Background(), root, dir, tt.d, RenderOptions{})
			if err == nil {
				t.Fatalf("rendered %q; want an error", out)
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want %v containing %q", err, tt.is, tt.want)
			}
			if strings.Contains(err.Error(), "stolen") {
				t.Errorf("error shows content from outside the repository: %v", err)
			}
		})
	}
}

// TestRenderDirectoryLinks: links inside the repository are read, links to
// directories are not followed, dangling links are skipped.
func TestRenderDirectoryLinks(t *testing.T) {
	root := sandboxRepo(t, map[string]string{
		"shared/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
		"shared/more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: more}\n",
		"app/cm.yaml":      "->../shared/cm.yaml",
		"app/linked":       "->../shared",
		"app/gone.yaml":    "->missing.yaml",
	})
	out, err := RenderDirectory(context.Background(), root, "app", Directory{Recurse: true}, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resources(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Key.String())
	}
	if diff := cmp.Diff([]string{"ConfigMap/shared"}, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

// TestRenderDirectoryLimits: a directory over --render-max-objects is
// refused like an overlay.
func TestRenderDirectoryLimits(t *testing.T) {
	files := map[string]string{}
	var b strings.Builder
	for i := range 5 {
		b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + string(rune('a'+i)) + "}\n")
	}
	files["app/many.yaml"] = b.String()
	root := sandboxRepo(t, files)
	_, err := RenderDirectory(context.Background(), root, "app", Directory{}, RenderOptions{Limits: Limits{MaxObjects: 4}})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitObjects || !strings.HasPrefix(err.Error(), "app: render refused: more than 4 objects") {
		t.Errorf("error = %v; want the objects limit", err)
	}
	if _, err := RenderDirectory(context.Background(), root, "app", Directory{}, RenderOptions{Limits: Limits{MaxObjects: 5}}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}
