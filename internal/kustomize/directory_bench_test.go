package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkRenderDirectory renders 500 files of two ConfigMaps each as a
// plain directory and, for comparison, as a kustomization listing them.
func BenchmarkRenderDirectory(b *testing.B) {
	root := b.TempDir()
	var res strings.Builder
	res.WriteString("resources:\n")
	for i := range 500 {
		name := fmt.Sprintf("cm-%03d.yaml", i)
		doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a%03d\ndata:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b%03d\ndata:\n  k: v\n", i, i)
		writeFileB(b, filepath.Join(root, "plain", name), doc)
		res.WriteString("- " + name + "\n")
	}
	writeFileB(b, filepath.Join(root, "plain", "kustomization.yaml"), res.String())
	ctx := context.Background()
	b.Run("directory", func(b *testing.B) {
		for b.Loop() {
			if _, err := RenderDirectory(ctx, root, "plain", Directory{Exclude: "kustomization.yaml"}, RenderOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kustomization", func(b *testing.B) {
		for b.Loop() {
			if _, err := Render(ctx, root, "plain", RenderOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func writeFileB(b *testing.B, p, content string) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}
