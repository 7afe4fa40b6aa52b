// Package checkout unpacks a repository tarball, as GitHub serves it, into a
// temporary directory: one request gives the applier and the promoter every
// file of a commit, with no clone and nothing left behind once they remove
// the directory.
package checkout

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxBytes bounds what one repository tarball may expand to.
const MaxBytes = 2 << 30

// Unpack unpacks a GitHub-style gzipped tarball into a new temporary
// directory and returns it; the caller removes it. On error nothing is left
// on disk.
func Unpack(r io.Reader) (string, error) {
	dir, err := os.MkdirTemp("", "promobot-checkout-")
	if err != nil {
		return "", err
	}
	if err := Untar(r, dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Untar unpacks a GitHub-style gzipped tarball into dir, dropping the single
// top-level directory ("owner-repo-sha/"). Entries that would land outside
// dir are refused; symbolic links that are absolute or climb out of the
// checkout, hard links, devices and other special files are dropped, so the
// checkout holds only the repository's own files and directories.
func Untar(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gunzip: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return fmt.Errorf("untar: entry %q escapes the checkout", h.Name)
		}
		_, rest, ok := strings.Cut(name, "/")
		if !ok || rest == "" {
			continue
		}
		if strings.HasPrefix(rest, "../") || rest == ".." || path.IsAbs(rest) {
			return fmt.Errorf("untar: entry %q escapes the checkout", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rest))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o750); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxBytes {
				return errors.New("untar: repository larger than 2 GiB")
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
				return err
			}
			if err := writeFile(target, tr, h.Size); err != nil {
				return fmt.Errorf("untar %s: %w", rest, err)
			}
		case tar.TypeSymlink:
			// Kept so the render sandbox sees (and refuses) what a link
			// reaches; a link that is absolute or leaves the checkout is
			// dropped here already.
			resolved := path.Clean(path.Join(path.Dir(rest), h.Linkname))
			if path.IsAbs(h.Linkname) || strings.HasPrefix(resolved, "../") || resolved == ".." {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			// pax headers, hard links, devices: not part of a GitOps repository.
		}
	}
}

func writeFile(target string, r io.Reader, size int64) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = io.CopyN(f, r, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
