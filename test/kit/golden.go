package kit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is the test binaries' -update flag; a program that links the kit
// (the benchmarks, the demo) gets no such flag.
var update = func() *bool {
	if !testing.Testing() {
		return new(bool)
	}
	return flag.Bool("update", false, "rewrite the golden files under testdata/")
}()

// Updating reports whether the test binary runs with -update, for tests
// that rewrite golden files Golden does not handle (whole directories).
func Updating() bool { return *update }

// Golden compares got with the file at path byte for byte, or, with
// -update, writes got there (creating its directory) and passes.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden file %s: %v", path, err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("golden file %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run the test with -update to create it)", path, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the output (-want +got; run the test with -update to rewrite it):\n%s", path, diff)
	}
}
