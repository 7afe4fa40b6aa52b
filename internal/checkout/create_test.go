package checkout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCreateAndRemoveFile: a new file and its directories are made inside
// the repository; a directory that is a link out of it is refused, and
// nothing is written outside.
func TestCreateAndRemoveFile(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if err := repo.CreateFile("overlays/prod/new.yaml", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "overlays", "prod", "new.yaml")); err != nil || string(got) != "new" {
		t.Errorf("created file: %q %v", got, err)
	}
	if err := repo.CreateFile("a.yaml", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "a.yaml")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("an existing file keeps its mode: %v %v", info.Mode(), err)
	}
	if err := repo.CreateFile("out/x/evil.yaml", []byte("x")); !errors.Is(err, ErrOutsideRepository) {
		t.Errorf("create through a link out of the repository: %v, want ErrOutsideRepository", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside the repository: %v", entries)
	}
	if err := repo.RemoveFile("overlays/prod/new.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "overlays", "prod", "new.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed file still there: %v", err)
	}
}
