package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/checkout"
)

// Directory says which files of a plain directory of manifests a render
// reads: Argo CD's spec.source.directory.
type Directory struct {
	// Recurse reads the subdirectories too.
	Recurse bool
	// Include, when set, is a glob (see MatchGlob) a file's path relative
	// to the directory must match to be read.
	Include string
	// Exclude, when set, is a glob a file's path relative to the directory
	// must not match to be read. It wins over Include.
	Exclude string
}

// ErrJsonnet is wrapped by the error of a directory render that would read
// a Jsonnet file: promobot does not evaluate Jsonnet.
var ErrJsonnet = errors.New("jsonnet is not supported by promobot; commit the YAML or JSON it generates, or exclude the file")

// IsManifestName reports whether a file's base name is one Argo CD reads in
// a directory source: *.yaml, *.yml, *.json or *.jsonnet (case matters, as
// in Argo CD).
func IsManifestName(name string) bool {
	for _, ext := range []string{".yaml", ".yml", ".json", ".jsonnet"} {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return true
		}
	}
	return false
}

// Selects reports whether the file at rel (slash-separated, relative to the
// directory) is one the directory's render reads, as Argo CD decides: its
// name is a manifest's (IsManifestName), it is in the directory itself
// unless Recurse, it does not match Exclude, and it matches Include when
// Include is set. A pattern that does not compile matches nothing, as in
// Argo CD. Selects looks only at the name: a render also skips files that
// are not regular and refuses links that leave the repository.
func (d Directory) Selects(rel string) bool {
	rel = path.Clean(filepath.ToSlash(rel))
	if rel == "." || strings.HasPrefix(rel, "../") || rel == ".." {
		return false
	}
	if !d.Recurse && strings.Contains(rel, "/") {
		return false
	}
	if !IsManifestName(path.Base(rel)) {
		return false
	}
	if d.Exclude != "" {
		if ok, err := MatchGlob(d.Exclude, rel); err == nil && ok {
			return false
		}
	}
	if d.Include != "" {
		if ok, err := MatchGlob(d.Include, rel); err != nil || !ok {
			return false
		}
	}
	return true
}

// RenderDirectory renders the plain directory of manifests dir (relative to
// repoRoot) as Argo CD renders a directory source: every file d selects, in
// path order, YAML files split into their documents (empty ones skipped),
// JSON files as one object each, a List as its items. A YAML file that does
// not parse and does not look like a manifest (it lacks "apiVersion:",
// "kind:" or "metadata:") is skipped, as Argo CD skips a values file; one
// that looks like a manifest is an error. A Jsonnet file it would read is an
// error wrapping ErrJsonnet. The output is a YAML stream as Render prints
// it, one document per object, so the same code applies and diffs both.
//
// It runs in the same sandbox and worker processes as Render, under the
// same limits (opts.Limits, opts.Class): nothing is read outside repoRoot,
// a link that leaves the repository is an error wrapping
// ErrOutsideRepository naming it, links to directories are not followed
// (as Argo CD does not), and a file that is not regular is skipped. Errors
// are prefixed with dir. RenderDirectory is safe for concurrent use.
func RenderDirectory(ctx context.Context, repoRoot, dir string, d Directory, opts RenderOptions) ([]byte, error) {
	label := filepath.ToSlash(filepath.Clean(dir))
	repo, err := openRepo(repoRoot)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	root := repo.Dir()
	start, err := appDir(root, dir)
	if err == nil {
		_, err = resolveIn(repo, start)
	}
	repo.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	lim := opts.Limits.effective()
	return runWork(ctx, label, opts.Class, lim, workRequest{
		Root: root, Dir: start, Directory: &d,
		MaxObjects: lim.MaxObjects, MaxMemory: lim.MaxMemory,
	})
}

// runWork has a worker of class run req and turns its answer into the
// render or an error prefixed with label.
func runWork(ctx context.Context, label string, class Class, lim Limits, req workRequest) ([]byte, error) {
	p := poolFor(class)
	wk, err := p.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer func() { p.put(wk) }()
	resp, err := wk.render(ctx, req, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	switch resp.Kind {
	case respOK:
		return resp.Out, nil
	case respObjects:
		return nil, fmt.Errorf("%s: %w", label, &LimitError{Limit: LimitObjects, Limits: lim})
	case respRender:
		return nil, fmt.Errorf("%s: %w", label, workerError{msg: resp.Err, outside: resp.Outside})
	default:
		return nil, fmt.Errorf("%s: %w: render worker answered %d", label, ErrRender, resp.Kind)
	}
}

// ErrDirectory is wrapped by every error a directory render reports about
// the directory's files (a manifest that does not parse, a Jsonnet file).
var ErrDirectory = errors.New("directory render failed")

// dirReader reads a directory source inside the worker.
type dirReader struct {
	repo       *checkout.Repo
	d          Directory
	maxObjects int
	objs       []*unstructured.Unstructured
	tooMany    bool
}

// workDirectory runs one directory render in the worker.
func workDirectory(req workRequest) workResponse {
	fail := func(err error) workResponse {
		return workResponse{Kind: respRender, Err: err.Error(), Outside: errors.Is(err, ErrOutsideRepository)}
	}
	repo, err := checkout.Open(req.Root)
	if err != nil {
		return fail(err)
	}
	defer repo.Close()
	rel, ok := repo.Rel(req.Dir)
	if !ok {
		return fail(&checkout.EscapeError{Path: req.Dir})
	}
	real, err := repo.Resolve(rel)
	if err != nil {
		return fail(err)
	}
	if info, err := repo.Stat(real); err != nil || !info.IsDir() {
		return fail(fmt.Errorf("%w: %s is not a directory", ErrDirectory, rel))
	}
	r := &dirReader{repo: repo, d: *req.Directory, maxObjects: req.MaxObjects}
	if err := r.dir(real, ""); err != nil {
		return fail(err)
	}
	if r.tooMany {
		return workResponse{Kind: respObjects}
	}
	out, err := encodeObjects(r.objs)
	if err != nil {
		return fail(err)
	}
	return workResponse{Kind: respOK, Out: out}
}

// encodeObjects prints objects as a YAML stream, one document each.
func encodeObjects(objs []*unstructured.Unstructured) ([]byte, error) {
	var out bytes.Buffer
	for i, o := range objs {
		b, err := k8syaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%w: encode: %w", ErrDirectory, err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// dir reads the directory real (repository-relative, links resolved),
// which is rel below the source's directory.
func (r *dirReader) dir(real, rel string) error {
	entries, err := r.repo.ReadDir(real)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
	}
	for _, e := range entries {
		childRel := path.Join(rel, e.Name())
		childReal := path.Join(real, e.Name())
		if e.IsDir() {
			if r.d.Recurse {
				if err := r.dir(childReal, childRel); err != nil {
					return err
				}
			}
			continue
		}
		if !r.d.Selects(childRel) {
			continue
		}
		if err := r.file(childReal, childRel, e); err != nil {
			return err
		}
		if r.tooMany {
			return nil
		}
	}
	return nil
}

// file reads one selected file.
func (r *dirReader) file(real, rel string, e fs.DirEntry) error {
	target := real
	if e.Type()&fs.ModeSymlink != 0 {
		t, err := r.repo.Resolve(real)
		if err != nil {
			return err // an *EscapeError naming the link
		}
		target = t
	}
	info, err := r.repo.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a dangling link: Argo CD warns and goes on
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	if strings.HasSuffix(rel, ".jsonnet") {
		return fmt.Errorf("%w: %s: %w", ErrDirectory, rel, ErrJsonnet)
	}
	data, err := r.repo.ReadFile(target)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
	}
	objs, err := parseManifestFile(rel, data)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := r.add(o); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
		}
	}
	return nil
}

// add appends o, or its items when it is a List.
func (r *dirReader) add(o *unstructured.Unstructured) error {
	if o.IsList() {
		return o.EachListItem(func(item runtime.Object) error {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("list item of type %T", item)
			}
			return r.add(u)
		})
	}
	if o.GetKind() == "" || o.GetAPIVersion() == "" {
		return errors.New("an object has no kind or apiVersion: not a Kubernetes object")
	}
	if r.maxObjects > 0 && len(r.objs) >= r.maxObjects {
		r.tooMany = true
		return nil
	}
	r.objs = append(r.objs, o)
	return nil
}

// parseManifestFile reads the objects of one file as Argo CD does.
func parseManifestFile(rel string, data []byte) ([]*unstructured.Unstructured, error) {
	if strings.HasSuffix(rel, ".json") {
		var o unstructured.Unstructured
		if err := o.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
		}
		return []*unstructured.Unstructured{&o}, nil
	}
	objs, err := splitYAML(data)
	if err == nil {
		return objs, nil
	}
	if len(objs) > 0 || bytes.Contains(data, []byte("apiVersion:")) && bytes.Contains(data, []byte("kind:")) && bytes.Contains(data, []byte("metadata:")) {
		return nil, fmt.Errorf("%w: %s: %w", ErrDirectory, rel, err)
	}
	return nil, nil // some other YAML (a values file, say): not a manifest
}

// splitYAML decodes every non-empty document of a YAML (or JSON) stream,
// returning those before the first that fails with its error.
func splitYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var ext runtime.RawExtension
		if err := dec.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var o unstructured.Unstructured
		if err := k8syaml.Unmarshal(raw, &o); err != nil {
			return out, err
		}
		out = append(out, &o)
	}
}
