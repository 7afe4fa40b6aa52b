package helm

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzSetValue: whatever the file, path and value, SetValue either refuses
// or makes an edit that reads back as the value, leaves every other value
// as helm reads it, and removes no line. Seeds: the golden cases.
func FuzzSetValue(f *testing.F) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "setvalue", "*", "before.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range dirs {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "image.tag", "1.1.0")
		f.Add(b, "replicaCount", "4")
		f.Add(b, "api.image.tag", "yes")
	}
	f.Add([]byte("image: {}\n"), "image.tag", "1.0")
	f.Add([]byte("a:\n  - b: 1\n    c: 2\n"), "a", "x")
	f.Fuzz(func(t *testing.T, data []byte, path, value string) {
		out, err := SetValue(data, path, value)
		if err != nil {
			return
		}
		checkEdit(t, data, out, path, value)
	})
}
