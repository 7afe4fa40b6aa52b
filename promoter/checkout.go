package promoter

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxCheckoutBytes bounds what one repository tarball may expand to.
const maxCheckoutBytes = 2 << 30

// fetchCheckout downloads repo at ref with one tarball request and unpacks
// it into a new temporary directory. The caller removes the directory.
func fetchCheckout(ctx context.Context, gh Reader, repo Repo, ref string) (string, error) {
	rc, err := gh.Tarball(ctx, repo, ref)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	dir, err := os.MkdirTemp("", "promobot-promote-")
	if err != nil {
		return "", err
	}
	if err := untar(rc, dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(ref), err)
	}
	return dir, nil
}

// untar unpacks a GitHub-style gzipped tarball into dir, dropping the single
// top-level directory. Entries that would land outside dir, device files and
// links pointing outside dir are refused or dropped.
func untar(r io.Reader, dir string) error {
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
			if total > maxCheckoutBytes {
				return errors.New("untar: repository larger than 2 GiB")
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
			if err != nil {
				return err
			}
			_, err = io.CopyN(f, tr, h.Size)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("untar %s: %w", rest, err)
			}
		case tar.TypeSymlink:
			// Kept so the render sandbox can refuse what escapes; a link
			// that is absolute or climbs out of the checkout is dropped.
			link := h.Linkname
			resolved := path.Clean(path.Join(path.Dir(rest), link))
			if path.IsAbs(link) || strings.HasPrefix(resolved, "../") || resolved == ".." {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			// pax headers, hard links, devices: not part of a GitOps repository.
		}
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
