// Package kustomizetest writes kustomizations that tests of promobot need
// and that are too large to commit.
package kustomizetest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// WriteDoublingOverlay writes, under repoRoot, an overlay whose render
// doubles at each of depth levels: level i is a kustomization listing level
// i-1 twice, through two directories with different name prefixes, so its
// render holds twice the objects of level i-1 while the repository grows by
// three small files. Level 0 holds perLevel0 ConfigMaps. The overlay renders
// perLevel0 × 2^depth objects. It returns the overlay's directory relative to
// repoRoot, slash-separated (dir/levels/<depth>).
func WriteDoublingOverlay(repoRoot, dir string, depth, perLevel0 int) (string, error) {
	files := map[string]string{}
	var k0 strings.Builder
	k0.WriteString("resources:\n")
	for i := range perLevel0 {
		name := fmt.Sprintf("cm-%d.yaml", i)
		k0.WriteString("- " + name + "\n")
		files[path.Join(dir, "levels/0", name)] = fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  labels:\n    app: doubling\ndata:\n  key: value-%d\n", i, i)
	}
	files[path.Join(dir, "levels/0/kustomization.yaml")] = k0.String()
	for i := 1; i <= depth; i++ {
		lvl := path.Join(dir, "levels", fmt.Sprint(i))
		files[path.Join(lvl, "kustomization.yaml")] = "resources:\n- a\n- b\n"
		for _, side := range []string{"a", "b"} {
			files[path.Join(lvl, side, "kustomization.yaml")] = fmt.Sprintf(
				"namePrefix: %s%d-\nlabels:\n- pairs:\n    level-%d: %s\n  includeSelectors: true\nresources:\n- ../../%d\n", side, i, i, side, i-1)
		}
	}
	for p, c := range files {
		full := filepath.Join(repoRoot, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	return path.Join(dir, "levels", fmt.Sprint(depth)), nil
}
