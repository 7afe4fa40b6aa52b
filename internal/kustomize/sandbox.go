package kustomize

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/promobot/promobot/internal/checkout"
)

// ErrOutsideRepository is wrapped by every error about a path that leaves the
// repository root, lexically or through a symbolic link. It is the checkout
// package's: a refusal reads the same whichever part of promobot made it.
var ErrOutsideRepository = checkout.ErrOutsideRepository

// errReadOnly is returned by every write operation of the sandbox file system.
var errReadOnly = errors.New("the repository file system is read-only")

// sandboxFS is a read-only filesys.FileSystem confined to one repository
// checkout.
//
// krusty works with absolute paths; each is turned into a repository-relative
// name, resolved by checkout.Repo.Resolve (the rules of os.Root: no absolute
// link targets, no step above the root) and read through the checkout's
// os.Root, so the kernel refuses what the resolution would. Kustomize's own
// load restrictor only keeps files inside a kustomization's root; it lets
// relative directories (resources: [../../../x]) and links point anywhere, so
// the repository boundary is enforced here, below krusty, where nothing can
// get around it. The checkout is assumed not to change while a render reads
// it.
type sandboxFS struct {
	root string // absolute, symlinks resolved
	repo *checkout.Repo
	disk filesys.FileSystem
}

var _ filesys.FileSystem = (*sandboxFS)(nil)

// newSandboxFS returns a sandbox rooted at dir, which must be an existing
// directory. Its os.Root is closed when the sandbox is garbage collected.
func newSandboxFS(dir string) (*sandboxFS, error) {
	repo, err := openRepo(dir)
	if err != nil {
		return nil, err
	}
	return &sandboxFS{root: repo.Dir(), repo: repo, disk: filesys.MakeFsOnDisk()}, nil
}

// openRepo opens the repository checkout at dir.
func openRepo(dir string) (*checkout.Repo, error) {
	repo, err := checkout.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("repository root %q: %w", dir, errors.Unwrap(err))
	}
	info, err := repo.Root().Stat(".")
	if err != nil || !info.IsDir() {
		repo.Close()
		return nil, fmt.Errorf("repository root %q: not a directory", dir)
	}
	return repo, nil
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

// resolveIn returns the real location of name (absolute, or relative to
// the working directory): absolute, clean, with every symbolic link
// resolved by repo.Resolve. When name does not exist, the longest existing
// prefix is resolved and the rest appended, so a missing file below a link
// that leaves the repository is still refused. The result is inside the
// repository, else the error wraps ErrOutsideRepository (a
// *checkout.EscapeError naming the link, when a link leaves).
func resolveIn(repo *checkout.Repo, name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", name, err)
	}
	rel, ok := repo.Rel(abs)
	if !ok {
		// Named relative to the root: where the checkout lives means
		// nothing to the repository's authors.
		r, err := filepath.Rel(repo.Dir(), abs)
		if err != nil {
			r = name
		}
		return "", &checkout.EscapeError{Path: filepath.ToSlash(r)}
	}
	real, err := repo.Resolve(rel)
	if err != nil {
		return "", err
	}
	return repo.Abs(real), nil
}

func (s *sandboxFS) resolve(name string) (string, error) {
	return resolveIn(s.repo, name)
}

// rel returns the repository-relative name of real, an absolute path that
// resolve returned.
func (s *sandboxFS) rel(real string) string {
	r, _ := s.repo.Rel(real)
	return r
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
	return s.repo.Root().Open(s.rel(real))
}

// IsDir is false for anything outside the repository.
func (s *sandboxFS) IsDir(name string) bool {
	real, err := s.resolve(name)
	if err != nil {
		return false
	}
	info, err := s.repo.Root().Stat(s.rel(real))
	return err == nil && info.IsDir()
}

// ReadDir lists a directory inside the repository.
func (s *sandboxFS) ReadDir(name string) ([]string, error) {
	real, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := s.repo.Root().Open(s.rel(real))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// CleanedAbs splits name into a confirmed directory and a file name, both
// inside the repository.
func (s *sandboxFS) CleanedAbs(name string) (filesys.ConfirmedDir, string, error) {
	real, err := s.resolve(name)
	if err != nil {
		return "", "", err
	}
	if _, err := s.repo.Root().Stat(s.rel(real)); err != nil {
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
	_, err = s.repo.Root().Stat(s.rel(real))
	return err == nil
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
	return s.repo.Root().ReadFile(s.rel(real))
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
