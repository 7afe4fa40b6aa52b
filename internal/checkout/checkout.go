// Package checkout owns repository checkouts on disk: it unpacks a
// repository tarball, as GitHub serves it, into a temporary directory
// (Fetch: one request gives the applier and the promoter every file of a
// commit, with no clone), and it is the one way promobot reads and writes
// repository content.
//
// A Repo wraps the checkout's directory in an *os.Root. Every read and write
// goes through it, so no path and no symbolic link a repository holds can
// reach a file outside the checkout: the kernel refuses it, and promobot's
// own resolution (Repo.Resolve, which follows the same rules) names the link
// that would have left.
package checkout

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// DefaultMaxBytes bounds what one repository tarball may expand to when
// Options.MaxBytes is zero. It leaves room for two checkouts (a pull
// request's base and head) in the chart's 1 GiB /tmp.
const DefaultMaxBytes = 512 << 20

// DefaultMaxEntries bounds the number of entries (files, directories and
// links) of one tarball when Options.MaxEntries is zero.
const DefaultMaxEntries = 100_000

// Options bounds an unpack. Zero fields take the process's limits
// (SetLimits), else the defaults.
type Options struct {
	// MaxBytes bounds the total size of the files; DefaultMaxBytes when 0.
	MaxBytes int64
	// MaxEntries bounds the number of tar entries; DefaultMaxEntries when 0.
	MaxEntries int
}

var (
	limitsMu      sync.Mutex
	processLimits Options
)

// SetLimits sets the bounds of every later unpack of this process whose
// Options leave them zero; zero fields of o keep the defaults. promobot calls
// it once, from its flags, before checking anything out. It is safe for
// concurrent use.
func SetLimits(o Options) {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	processLimits = o
}

func (o Options) effective() Options {
	limitsMu.Lock()
	p := processLimits
	limitsMu.Unlock()
	if o.MaxBytes <= 0 {
		o.MaxBytes = p.MaxBytes
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = p.MaxEntries
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// ErrTooLarge is wrapped when a tarball exceeds Options.MaxBytes or
// Options.MaxEntries. Nothing of it is left on disk.
var ErrTooLarge = errors.New("repository too large")

// ErrOutsideRepository is wrapped by every error about a path that leaves
// the repository, as written or through a symbolic link.
var ErrOutsideRepository = errors.New("outside the repository")

// EscapeError is a path that leaves the repository. It wraps
// ErrOutsideRepository.
type EscapeError struct {
	// Path is the repository-relative, slash-separated path that was
	// asked for.
	Path string
	// Link is the symbolic link (repository-relative, slash-separated)
	// whose target leaves the repository; empty when Path itself climbs
	// out with "..".
	Link string
}

// Error names the path and the link, e.g.
// `overlays/production/kustomization.yaml: symbolic link points outside the repository`.
func (e *EscapeError) Error() string {
	switch e.Link {
	case "":
		return fmt.Sprintf("%s: %v", e.Path, ErrOutsideRepository)
	case e.Path:
		return fmt.Sprintf("%s: symbolic link points %v", e.Path, ErrOutsideRepository)
	default:
		return fmt.Sprintf("%s: symbolic link %s points %v", e.Path, e.Link, ErrOutsideRepository)
	}
}

// Is makes errors.Is(err, ErrOutsideRepository) true.
func (e *EscapeError) Is(target error) bool { return target == ErrOutsideRepository }

// Repo is a repository checkout: its directory opened as an *os.Root.
// Names passed to its methods are relative to the repository root,
// slash-separated. A Repo is safe for concurrent use; the checkout is
// assumed not to change while it is read.
type Repo struct {
	dir  string
	root *os.Root

	// mu guards links: what Resolve learnt of each real path, so that a
	// render's many lookups of the same directories cost one Lstat each.
	mu    sync.Mutex
	links map[string]entryInfo
}

// entryInfo is what Resolve needs of a real path: its type, its link
// target, or why it could not be read.
type entryInfo struct {
	mode   fs.FileMode
	target string
	err    error
}

// entry describes the real path cur (no links but maybe the last element)
// through the root, once per Repo.
func (r *Repo) entry(cur string) entryInfo {
	r.mu.Lock()
	e, ok := r.links[cur]
	r.mu.Unlock()
	if ok {
		return e
	}
	info, err := r.root.Lstat(cur)
	e = entryInfo{err: err}
	if err == nil {
		e.mode = info.Mode()
		if e.mode&fs.ModeSymlink != 0 {
			e.target, e.err = r.root.Readlink(cur)
		}
	}
	r.mu.Lock()
	if r.links == nil {
		r.links = map[string]entryInfo{}
	}
	r.links[cur] = e
	r.mu.Unlock()
	return e
}

// forget drops what Resolve learnt: after Unpack changed a link.
func (r *Repo) forget() {
	r.mu.Lock()
	r.links = nil
	r.mu.Unlock()
}

// Open opens the checkout in dir. The caller closes it.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	return &Repo{dir: real, root: root}, nil
}

// Dir is the checkout's directory: absolute, with symbolic links resolved.
func (r *Repo) Dir() string { return r.dir }

// Root is the checkout's *os.Root.
func (r *Repo) Root() *os.Root { return r.root }

// Close closes the Repo; the directory stays.
func (r *Repo) Close() error { return r.root.Close() }

// Remove closes the Repo and removes its directory: for the temporary
// checkouts Unpack makes.
func (r *Repo) Remove() error {
	_ = r.root.Close()
	return os.RemoveAll(r.dir)
}

// Rel returns the repository-relative, slash-separated name of abs, an
// absolute path below Dir; ok is false when abs is not below Dir.
func (r *Repo) Rel(abs string) (name string, ok bool) {
	rel, err := filepath.Rel(r.dir, filepath.Clean(abs))
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Abs returns the absolute path of the repository-relative name.
func (r *Repo) Abs(name string) string {
	return filepath.Join(r.dir, filepath.FromSlash(name))
}

// maxLinks is how many symbolic links one resolution follows, as os.Root.
const maxLinks = 8

// Resolve returns where name really is: the repository-relative,
// slash-separated path ("." for the root) with every symbolic link
// followed, under the rules of os.Root: a link target may not be absolute,
// no step may climb above the root (not even to come back), and at most 8
// links are followed. A link that breaks a rule is an *EscapeError naming
// it. When an element of name does not exist (or is not a directory), the
// rest of name is appended to what resolved so far, so a missing file
// below a link that leaves is still refused.
func (r *Repo) Resolve(name string) (string, error) {
	return r.resolve(name, maxLinks)
}

// part is one element of a path being resolved, with the link whose
// target it came from ("" for name itself).
type part struct{ name, from string }

func splitParts(p, from string) []part {
	var out []part
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, part{s, from})
		}
	}
	return out
}

func (r *Repo) resolve(name string, budget int) (string, error) {
	slashed := filepath.ToSlash(name)
	if path.IsAbs(slashed) || filepath.IsAbs(name) {
		return "", &EscapeError{Path: slashed}
	}
	todo := splitParts(slashed, "")
	var done []string
	links := 0
	for i := 0; len(todo) > 0; i++ {
		if i > 4096 {
			return "", fmt.Errorf("%s: %w", slashed, syscall.ENAMETOOLONG)
		}
		p := todo[0]
		todo = todo[1:]
		if p.name == ".." {
			if len(done) == 0 {
				return "", &EscapeError{Path: slashed, Link: p.from}
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(slices.Clone(done), p.name)...)
		e := r.entry(cur)
		if e.err != nil {
			if errors.Is(e.err, fs.ErrNotExist) || errors.Is(e.err, syscall.ENOTDIR) {
				return r.rest(slashed, append(done, p.name), todo)
			}
			return "", fmt.Errorf("%s: %w", slashed, e.err)
		}
		if e.mode&fs.ModeSymlink == 0 {
			done = append(done, p.name)
			if !e.mode.IsDir() && len(todo) > 0 {
				return r.rest(slashed, done, todo)
			}
			continue
		}
		target := e.target
		// A link to itself is how Unpack stores a link it refused.
		if path.IsAbs(target) || filepath.IsAbs(target) || target == p.name {
			return "", &EscapeError{Path: slashed, Link: cur}
		}
		links++
		if links > budget {
			return "", fmt.Errorf("%s: %w", slashed, syscall.ELOOP)
		}
		todo = append(splitParts(filepath.ToSlash(target), cur), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// rest finishes a resolution that reached a missing element: the
// remaining elements are appended as written.
func (r *Repo) rest(name string, done []string, todo []part) (string, error) {
	for _, p := range todo {
		if p.name == ".." {
			if len(done) == 0 {
				return "", &EscapeError{Path: name, Link: p.from}
			}
			done = done[:len(done)-1]
			continue
		}
		done = append(done, p.name)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// local resolves name for an operation; "" is the root.
func (r *Repo) local(name string) (string, error) {
	if name == "" {
		name = "."
	}
	return r.Resolve(name)
}

// ReadFile reads the file name, following links inside the repository.
func (r *Repo) ReadFile(name string) ([]byte, error) {
	real, err := r.local(name)
	if err != nil {
		return nil, err
	}
	return r.root.ReadFile(real)
}

// Stat describes the file name, following links inside the repository.
func (r *Repo) Stat(name string) (fs.FileInfo, error) {
	real, err := r.local(name)
	if err != nil {
		return nil, err
	}
	return r.root.Stat(real)
}

// Lstat describes name itself when it is a link; links in its directory
// are followed.
func (r *Repo) Lstat(name string) (fs.FileInfo, error) {
	dir, base := path.Split(path.Clean(filepath.ToSlash(name)))
	real, err := r.local(dir)
	if err != nil {
		return nil, err
	}
	return r.root.Lstat(path.Join(real, base))
}

// OpenFile opens the file name, following links inside the repository.
func (r *Repo) OpenFile(name string) (*os.File, error) {
	real, err := r.local(name)
	if err != nil {
		return nil, err
	}
	return r.root.Open(real)
}

// ReadDir lists the directory name, sorted by name.
func (r *Repo) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := r.OpenFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// WriteFile replaces the content of the existing file name (through links
// inside the repository), keeping its permissions.
func (r *Repo) WriteFile(name string, data []byte) error {
	real, err := r.local(name)
	if err != nil {
		return err
	}
	info, err := r.root.Stat(real)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", name)
	}
	return r.root.WriteFile(real, data, info.Mode().Perm())
}

// CreateFile writes name, creating it, and the directories it needs, when
// it does not exist (mode 0644); an existing file is replaced as WriteFile
// does. The directory it goes in is resolved through links inside the
// repository; a link out of it is refused.
func (r *Repo) CreateFile(name string, data []byte) error {
	if _, err := r.Lstat(name); err == nil {
		return r.WriteFile(name, data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir, base := path.Split(path.Clean(filepath.ToSlash(name)))
	if err := r.mkdirAll(dir); err != nil {
		return err
	}
	real, err := r.local(dir)
	if err != nil {
		return err
	}
	return r.root.WriteFile(path.Join(real, base), data, 0o644)
}

// mkdirAll makes dir and its missing parents, each resolved through links
// inside the repository.
func (r *Repo) mkdirAll(dir string) error {
	dir = path.Clean(dir)
	if dir == "." || dir == "/" {
		return nil
	}
	if _, err := r.Stat(dir); err == nil {
		return nil
	}
	parent, base := path.Split(dir)
	if err := r.mkdirAll(parent); err != nil {
		return err
	}
	real, err := r.local(parent)
	if err != nil {
		return err
	}
	if err := r.root.Mkdir(path.Join(real, base), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// RemoveFile removes the file name (a link is removed, not followed).
func (r *Repo) RemoveFile(name string) error {
	dir, base := path.Split(path.Clean(filepath.ToSlash(name)))
	real, err := r.local(dir)
	if err != nil {
		return err
	}
	return r.root.Remove(path.Join(real, base))
}

// FS returns the checkout as an fs.FS whose every access goes through the
// Repo: a link that leaves the repository is an *EscapeError naming it.
func (r *Repo) FS() fs.FS { return repoFS{r} }

type repoFS struct{ r *Repo }

var (
	_ fs.ReadFileFS = repoFS{}
	_ fs.ReadDirFS  = repoFS{}
	_ fs.StatFS     = repoFS{}
)

func (f repoFS) check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

func (f repoFS) Open(name string) (fs.File, error) {
	if err := f.check("open", name); err != nil {
		return nil, err
	}
	return f.r.OpenFile(name)
}

func (f repoFS) ReadFile(name string) ([]byte, error) {
	if err := f.check("read", name); err != nil {
		return nil, err
	}
	return f.r.ReadFile(name)
}

func (f repoFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.check("readdir", name); err != nil {
		return nil, err
	}
	return f.r.ReadDir(name)
}

func (f repoFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.check("stat", name); err != nil {
		return nil, err
	}
	return f.r.Stat(name)
}

// Unpack unpacks a GitHub-style gzipped tarball into a new temporary
// directory, dropping the single top-level directory ("owner-repo-sha/"),
// and returns the checkout; the caller removes it (Repo.Remove). On error
// nothing is left on disk.
func Unpack(r io.Reader, opts Options) (*Repo, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	defer gz.Close()
	return unpackNew(tar.NewReader(gz), true, opts)
}

// UnpackArchive unpacks an uncompressed tarball whose entries are the
// repository's own paths, as `git archive --format=tar` writes it, into a
// new temporary directory, under the same rules as Unpack.
func UnpackArchive(r io.Reader, opts Options) (*Repo, error) {
	return unpackNew(tar.NewReader(r), false, opts)
}

func unpackNew(tr *tar.Reader, strip bool, opts Options) (*Repo, error) {
	dir, err := os.MkdirTemp("", "promobot-checkout-")
	if err != nil {
		return nil, err
	}
	repo, err := Open(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := untar(tr, repo, strip, opts); err != nil {
		_ = repo.Remove()
		return nil, err
	}
	return repo, nil
}

// Untar unpacks a GitHub-style gzipped tarball into the existing, empty
// directory dir, as Unpack does.
func Untar(r io.Reader, dir string, opts Options) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gunzip: %w", err)
	}
	defer gz.Close()
	repo, err := Open(dir)
	if err != nil {
		return err
	}
	defer repo.Close()
	return untar(tar.NewReader(gz), repo, true, opts)
}

// untar writes every entry through repo's root, so no entry and no link
// can make a write land outside it. Regular files, directories and
// symbolic links are kept; hard links, devices and other special files are
// dropped. An entry below a link or a file, or one that exists already, is
// an error: a repository's tree has neither. Once every entry is written,
// each link is resolved against the tree as unpacked (chains included);
// a link that leaves the repository is replaced by a link to itself, which
// nothing can follow and which Resolve reports as the link that leaves.
func untar(tr *tar.Reader, repo *Repo, strip bool, opts Options) (err error) {
	lim := opts.effective()
	maxBytes, maxEntries := lim.MaxBytes, lim.MaxEntries
	var total int64
	var links []string
	defer func() {
		// Also when the tarball is refused half-way: what is on disk
		// never leads outside.
		if rerr := refuseEscapingLinks(repo, links); err == nil {
			err = rerr
		}
	}()
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		if entries > maxEntries {
			return fmt.Errorf("untar: more than %d entries: %w", maxEntries, ErrTooLarge)
		}
		switch h.Typeflag {
		case tar.TypeDir, tar.TypeReg, tar.TypeSymlink:
		default:
			// pax headers, hard links, devices: not part of a GitOps repository.
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return fmt.Errorf("untar: entry %q escapes the checkout", h.Name)
		}
		rest := name
		if strip {
			var ok bool
			_, rest, ok = strings.Cut(name, "/")
			if !ok || rest == "" {
				continue
			}
		}
		if rest == "." {
			continue
		}
		if !filepath.IsLocal(rest) {
			return fmt.Errorf("untar: entry %q escapes the checkout", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := mkdirs(repo.root, rest); err != nil {
				return fmt.Errorf("untar %s: %w", rest, err)
			}
			continue
		}
		if err := mkdirs(repo.root, path.Dir(rest)); err != nil {
			return fmt.Errorf("untar %s: %w", rest, err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			total += h.Size
			if h.Size < 0 || total > maxBytes {
				return fmt.Errorf("untar: files larger than %s in total: %w", size(maxBytes), ErrTooLarge)
			}
			if err := writeFile(repo.root, rest, tr, h.Size); err != nil {
				return fmt.Errorf("untar %s: %w", rest, err)
			}
		case tar.TypeSymlink:
			if h.Linkname == "" {
				continue
			}
			if err := repo.root.Symlink(h.Linkname, rest); err != nil {
				return fmt.Errorf("untar %s: %w", rest, err)
			}
			links = append(links, rest)
		}
	}
	return nil
}

// size formats n bytes in the largest binary unit that divides it.
func size(n int64) string {
	for _, u := range []struct {
		unit  string
		bytes int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.bytes && n%u.bytes == 0 {
			return fmt.Sprintf("%d %s", n/u.bytes, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// refuseEscapingLinks replaces every link that leaves the repository by a
// link to itself. The links are resolved with a budget larger than any
// kernel's, so no chain is long enough to escape unseen.
func refuseEscapingLinks(repo *Repo, links []string) error {
	refused := map[string]bool{}
	for {
		var more []string
		for _, l := range links {
			_, err := repo.resolve(l, 255)
			if e := (*EscapeError)(nil); errors.As(err, &e) && e.Link != "" && !refused[e.Link] {
				refused[e.Link] = true
				more = append(more, e.Link)
			}
		}
		if len(more) == 0 {
			return nil
		}
		for _, l := range more {
			if err := repo.root.Remove(l); err != nil {
				return fmt.Errorf("untar %s: %w", l, err)
			}
			if err := repo.root.Symlink(path.Base(l), l); err != nil {
				return fmt.Errorf("untar %s: %w", l, err)
			}
		}
		repo.forget()
	}
}

// mkdirs creates dir and its parents through root, refusing to pass
// through anything that is not a directory (a link above all).
func mkdirs(root *os.Root, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	cur := ""
	for _, p := range strings.Split(dir, "/") {
		cur = path.Join(cur, p)
		info, err := root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := root.Mkdir(cur, 0o750); err != nil {
				return err
			}
		case err != nil:
			return err
		case !info.IsDir():
			return fmt.Errorf("%s is not a directory", cur)
		}
	}
	return nil
}

// writeFile creates name exclusively (never through a link, never over an
// earlier entry) and copies size bytes into it.
func writeFile(root *os.Root, name string, r io.Reader, size int64) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = io.CopyN(f, r, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CopyDir copies the directory src, a local checkout, into a new temporary
// directory under the same rules as Unpack (links that leave are refused,
// the limits hold) and returns the copy; the caller removes it. Files are
// read through src's os.Root; directories named .git are left out.
func CopyDir(src string, opts Options) (*Repo, error) {
	from, err := Open(src)
	if err != nil {
		return nil, err
	}
	defer from.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archiveTo(pw, from)) }()
	repo, err := unpackNew(tar.NewReader(pr), false, opts)
	pr.CloseWithError(io.ErrClosedPipe) // stops the writer when unpacking failed early
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	return repo, nil
}

// archiveTo writes repo's directories, regular files and links to w as a
// tarball of repository-relative names.
func archiveTo(w io.Writer, repo *Repo) error {
	tw := tar.NewWriter(w)
	err := fs.WalkDir(repo.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		h := &tar.Header{Name: name, Mode: 0o640}
		switch {
		case d.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o750
			return tw.WriteHeader(h)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := repo.root.Readlink(name)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
			return tw.WriteHeader(h)
		case d.Type().IsRegular():
			f, err := repo.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				return err
			}
			h.Typeflag, h.Size = tar.TypeReg, info.Size()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, info.Size())
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
