package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"

	"github.com/promobot/promobot/internal/checkout"
)

// utf8BOM is dropped from the start of every chart file, as helm's loader
// does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// chartWalk reads a chart directory's files as helm's loader.LoadDir does,
// but through the repository's os.Root: .helmignore is honoured, links are
// followed only inside the repository, and the sizes are bounded by helm's
// own limits for a chart archive (loader.MaxDecompressedFileSize per file,
// loader.MaxDecompressedChartSize in all).
type chartWalk struct {
	repo  *checkout.Repo
	rules *ignore.Rules
	left  int64 // bytes still allowed
	files []*loader.BufferedFile
}

// loadChart loads the chart in dir, a resolved repository-relative
// directory.
func loadChart(repo *checkout.Repo, dir string) (*chart.Chart, error) {
	info, err := repo.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("chart directory %s: %w", dir, refused(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("chart directory %s: not a directory", dir)
	}
	rules := ignore.Empty()
	data, err := repo.ReadFile(path.Join(dir, ignore.HelmIgnore))
	switch {
	case err == nil:
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrRender, path.Join(dir, ignore.HelmIgnore), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("chart %s: %w", dir, refused(err))
	}
	rules.AddDefaults()
	w := &chartWalk{repo: repo, rules: rules, left: loader.MaxDecompressedChartSize}
	if err := w.walk(dir, "", map[string]bool{dir: true}); err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	c, err := loader.LoadFiles(w.files)
	if err != nil {
		return nil, fmt.Errorf("%w: load chart %s: %w", ErrRender, dir, err)
	}
	return c, nil
}

// walk reads the directory real (resolved), whose name in the chart is
// rel ("" for the chart itself). open holds the real directories being
// walked, so that a link to one of them is refused instead of looping.
func (w *chartWalk) walk(real, rel string, open map[string]bool) error {
	entries, err := w.repo.ReadDir(real)
	if err != nil {
		return refused(err)
	}
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		target, err := w.repo.Resolve(path.Join(real, e.Name()))
		if err != nil {
			return refused(err)
		}
		fi, err := w.repo.Stat(target)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if fi.IsDir() {
			if w.rules.Ignore(name, fi) {
				continue
			}
			if open[target] {
				return fmt.Errorf("%s: symbolic link loop (back to %s)", name, target)
			}
			open[target] = true
			if err := w.walk(target, name, open); err != nil {
				return err
			}
			delete(open, target)
			continue
		}
		if w.rules.Ignore(name, fi) {
			continue
		}
		if err := w.read(target, name, fi); err != nil {
			return err
		}
	}
	return nil
}

// read adds the file real to the chart as name.
func (w *chartWalk) read(real, name string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: cannot load an irregular file into a chart", name)
	}
	if fi.Size() > loader.MaxDecompressedFileSize {
		return fmt.Errorf("%s: %w: larger than helm's limit of %d bytes for a chart file", name, ErrRefused, loader.MaxDecompressedFileSize)
	}
	if fi.Size() > w.left {
		return fmt.Errorf("%s: %w: the chart's files are larger than helm's limit of %d bytes for a chart", name, ErrRefused, loader.MaxDecompressedChartSize)
	}
	data, err := w.repo.ReadFile(real)
	if err != nil {
		return fmt.Errorf("%s: %w", name, refused(err))
	}
	w.left -= int64(len(data))
	if w.left < 0 {
		return fmt.Errorf("%s: %w: the chart's files are larger than helm's limit of %d bytes for a chart", name, ErrRefused, loader.MaxDecompressedChartSize)
	}
	w.files = append(w.files, &loader.BufferedFile{Name: name, Data: bytes.TrimPrefix(data, utf8BOM)})
	return nil
}
