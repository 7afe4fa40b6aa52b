package kustomize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ErrOutsideRepository is wrapped by every error about a path that leaves the
// repository root, lexically or through a symbolic link.
var ErrOutsideRepository = errors.New("outside the repository")

// errReadOnly is returned by every write operation of the sandbox file system.
var errReadOnly = errors.New("the repository file system is read-only")

// sandboxFS is a read-only filesys.FileSystem confined to one directory tree.
//
// Every path is made absolute, symbolic links are resolved, and the access is
// refused when the result is not inside root. Kustomize's own load restrictor
// only keeps files inside a kustomization's root; it lets relative directories
// (resources: [../../../x]) and links point anywhere, so the repository
// boundary is enforced here, below krusty, where nothing can get around it.
// The checkout is assumed not to change while a render reads it.
type sandboxFS struct {
	root string // absolute, symlinks resolved
	disk filesys.FileSystem
}

var _ filesys.FileSystem = (*sandboxFS)(nil)

// newSandboxFS returns a sandbox rooted at dir, which must be an existing
// directory.
func newSandboxFS(dir string) (*sandboxFS, error) {
	root, err := realRoot(dir)
	if err != nil {
		return nil, err
	}
	return &sandboxFS{root: root, disk: filesys.MakeFsOnDisk()}, nil
}

// realRoot returns dir as an absolute path with symbolic links resolved.
func realRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", dir, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("repository root %q: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("repository root %q: not a directory", dir)
	}
	return real, nil
}

// within reports whether the absolute, clean path p is root or below it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(p, prefix)
}

// resolveWithin returns the real location of name: absolute, clean, with every
// symbolic link resolved. When name does not exist, the longest existing
// prefix is resolved and the rest appended, so a missing file below a link
// that leaves the repository is still refused. The result must be inside
// root, else the error wraps ErrOutsideRepository.
func resolveWithin(root, name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", name, err)
	}
	abs = filepath.Clean(abs)
	if !within(root, abs) {
		return "", fmt.Errorf("path %q: %w", name, ErrOutsideRepository)
	}
	real, err := evalExisting(abs)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", name, err)
	}
	if !within(root, real) {
		return "", fmt.Errorf("path %q resolves to %q: %w", name, real, ErrOutsideRepository)
	}
	return real, nil
}

// evalExisting resolves symbolic links in abs. Missing trailing elements are
// kept as they are, below the resolved existing prefix.
func evalExisting(abs string) (string, error) {
	var missing []string
	p := abs
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			for i := len(missing) - 1; i >= 0; i-- {
				real = filepath.Join(real, missing[i])
			}
			return real, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return abs, nil
		}
		missing = append(missing, filepath.Base(p))
		p = parent
	}
}

func (s *sandboxFS) resolve(name string) (string, error) {
	return resolveWithin(s.root, name)
}

// Create is refused: renders never write.
func (s *sandboxFS) Create(name string) (filesys.File, error) {
	return nil, fmt.Errorf("create %q: %w", name, errReadOnly)
}

// Mkdir is refused: renders never write.
func (s *sandboxFS) Mkdir(name string) error {
	return fmt.Errorf("mkdir %q: %w", name, errReadOnly)
}

// MkdirAll is refused: renders never write.
func (s *sandboxFS) MkdirAll(name string) error {
	return fmt.Errorf("mkdir %q: %w", name, errReadOnly)
}

// RemoveAll is refused: renders never write.
func (s *sandboxFS) RemoveAll(name string) error {
	return fmt.Errorf("remove %q: %w", name, errReadOnly)
}

// WriteFile is refused: renders never write.
func (s *sandboxFS) WriteFile(name string, _ []byte) error {
	return fmt.Errorf("write %q: %w", name, errReadOnly)
}

// Open opens name for reading when it resolves inside the repository.
func (s *sandboxFS) Open(name string) (filesys.File, error) {
	real, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return s.disk.Open(real)
}

// IsDir is false for anything outside the repository.
func (s *sandboxFS) IsDir(name string) bool {
	real, err := s.resolve(name)
	if err != nil {
		return false
	}
	return s.disk.IsDir(real)
}

// ReadDir lists a directory inside the repository.
func (s *sandboxFS) ReadDir(name string) ([]string, error) {
	real, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return s.disk.ReadDir(real)
}

// CleanedAbs splits name into a confirmed directory and a file name, both
// inside the repository.
func (s *sandboxFS) CleanedAbs(name string) (filesys.ConfirmedDir, string, error) {
	real, err := s.resolve(name)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(real); err != nil {
		return "", "", fmt.Errorf("path %q: %w", name, err)
	}
	return s.disk.CleanedAbs(real)
}

// Exists is false for anything outside the repository.
func (s *sandboxFS) Exists(name string) bool {
	real, err := s.resolve(name)
	if err != nil {
		return false
	}
	return s.disk.Exists(real)
}

// Glob returns the matches of pattern that resolve inside the repository.
func (s *sandboxFS) Glob(pattern string) ([]string, error) {
	if _, err := s.resolve(filepath.Dir(pattern)); err != nil {
		return nil, err
	}
	matches, err := s.disk.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, m := range matches {
		if _, err := s.resolve(m); err == nil {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// ReadFile reads a file that resolves inside the repository.
func (s *sandboxFS) ReadFile(name string) ([]byte, error) {
	real, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	return s.disk.ReadFile(real)
}

// Walk walks a tree inside the repository; entries that resolve outside it
// are reported to walkFn as errors.
func (s *sandboxFS) Walk(name string, walkFn filepath.WalkFunc) error {
	if _, err := s.resolve(name); err != nil {
		return err
	}
	return s.disk.Walk(name, func(p string, info fs.FileInfo, err error) error {
		if err == nil {
			if _, rerr := s.resolve(p); rerr != nil {
				return walkFn(p, info, rerr)
			}
		}
		return walkFn(p, info, err)
	})
}
