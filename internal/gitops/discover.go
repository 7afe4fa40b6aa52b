package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// RenderFunc renders src, a source of app (a kustomization, a Helm chart or
// a plain directory of this repository, Kind set), as the apps of the
// repository are rendered, returning a YAML stream: app gives a Helm
// source its release name, namespace and values. Discovery calls it for
// roots only. For the apps directory, app is the root Application as Argo
// CD's examples declare it: named after the directory, in the argocd
// namespace, deploying there.
type RenderFunc func(app App, src Source) ([]byte, error)

// DefaultMaxDepth is how many levels of nested App of Apps roots discovery
// follows below the apps directory.
const DefaultMaxDepth = 4

// add reads the Applications of one file (or, with root set, of the render
// of the root directory file) at the current depth.
func (w *manifestWalk) add(file, root string, data []byte) {
	apps, fileNotes := parseManifests(file, data, w.generateSet)
	w.notes = append(w.notes, fileNotes...)
	if len(apps) > 0 || hasNote(fileNotes, NoteUnsupported) || holdsSet(data) {
		dir := path.Dir(file)
		if root != "" {
			dir = root
		}
		w.manifestDirs[dir] = true
	}
	for i := range apps {
		apps[i].depth = w.depth
		apps[i].app.Root = root
	}
	w.all = append(w.all, apps...)
}

// readAppsDir reads the Applications of the apps directory: from its
// render when it is a kustomization or a Helm chart and discovery can
// render, else from every manifest file below it, as plain manifests.
func (w *manifestWalk) readAppsDir() error {
	kind := detectKind(w.fsys, Source{Path: w.dir})
	switch {
	case kind != SourceDirectory && w.render != nil:
		src := Source{Kind: kind, Path: w.dir}
		root := App{Name: path.Base(w.dir), Namespace: DefaultArgoNamespace, DestNamespace: DefaultArgoNamespace,
			Path: w.dir, Sources: []Source{src}}
		w.renderRoot(root, src)
		return nil
	case kind == SourceHelm:
		// Its templates are not manifests: reading them as such would
		// make Applications of template text.
		w.notes = append(w.notes, Note{Kind: NoteInvalid, File: w.dir,
			Message: "the apps directory is a Helm chart, which discovery cannot render here; no Application is read"})
		return nil
	}
	if err := fs.WalkDir(w.fsys, w.dir, w.visit); err != nil {
		return fmt.Errorf("apps dir %s walk: %w", w.dir, err)
	}
	return nil
}

// renderRoot reads the Applications of the render of src, a root source of
// app.
func (w *manifestWalk) renderRoot(app App, src Source) {
	out, err := w.render(app, src)
	if err != nil {
		name := app.Name
		if src.Path == w.dir {
			name = "" // the apps directory's own
		}
		w.notes = append(w.notes, Note{Kind: NoteInvalid, File: src.Path, App: name,
			Message: fmt.Sprintf("App of Apps root (%s) does not render, so none of its Applications is read: %v", src.Kind, err)})
		w.manifestDirs[src.Path] = true
		return
	}
	w.add(src.Path, src.Path, out)
	w.manifestDirs[src.Path] = true
}

// followNested reads the Applications of nested roots, level by level: an
// Application found whose source holds Applications (see holdsApps) is a
// root too, and the Applications its source renders are read one level
// down, to maxDepth levels (DefaultMaxDepth when 0). A root below that is
// noted, not followed. Each root is read once, so a cycle ends.
func (w *manifestWalk) followNested(maxDepth int) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	for next := 0; next < len(w.all); next++ {
		f := w.all[next]
		if _, ok := rootSource(f.app, w.dir, w.manifestDirs); ok {
			continue // its Applications are read already
		}
		for _, src := range f.app.Rendered() {
			src.Kind = detectKind(w.fsys, src)
			if !w.holdsApps(src) || w.roots[src.Path] {
				continue
			}
			w.roots[src.Path] = true
			w.manifestDirs[src.Path] = true
			if f.depth+1 > maxDepth {
				w.notes = append(w.notes, Note{Kind: NoteRoot, File: f.app.File, App: f.app.Name,
					Message: fmt.Sprintf("nested App of Apps root %s is more than %d levels below the apps directory; its Applications are not read", src.Path, maxDepth)})
				continue
			}
			w.depth = f.depth + 1
			w.readNested(f.app, src)
		}
	}
}

// readNested reads the Applications of the nested root src, a source of
// app.
func (w *manifestWalk) readNested(app App, src Source) {
	if src.Kind != SourceDirectory {
		if w.render == nil {
			w.notes = append(w.notes, Note{Kind: NoteRoot, File: src.Path, App: app.Name,
				Message: fmt.Sprintf("nested App of Apps root %s is a %s source, which discovery cannot render here; its Applications are not read", src.Path, src.Kind)})
			return
		}
		w.renderRoot(app, src)
		return
	}
	err := w.eachSelected(src, func(p string) error {
		data, err := w.readManifest(p)
		if err != nil || data == nil {
			return err
		}
		w.add(p, "", data)
		return nil
	})
	if err != nil {
		w.notes = append(w.notes, Note{Kind: NoteInvalid, File: src.Path, App: app.Name,
			Message: fmt.Sprintf("nested App of Apps root %s could not be read: %v", src.Path, err)})
	}
}

// holdsApps reports whether the source of an Application deploys
// Application manifests, so that it is a root: for a plain directory, one
// of the files it reads declares one; for a kustomization, one of the
// manifest files beside it does; for a Helm chart, one of its templates
// names the kind. What cannot be read holds none: the render reports it.
func (w *manifestWalk) holdsApps(src Source) bool {
	holds := false
	check := func(p string) error {
		data, err := w.readManifest(p)
		if err != nil || data == nil || !bytes.Contains(data, []byte("argoproj.io/")) {
			return nil
		}
		if src.Kind == SourceHelm {
			holds = holds || bytes.Contains(data, []byte("argoproj.io/")) && bytes.Contains(data, []byte("Application"))
			return nil
		}
		apps, notes := parseManifests(p, data, nil)
		holds = holds || len(apps) > 0 || hasNote(notes, NoteUnsupported)
		return nil
	}
	switch src.Kind {
	case SourceDirectory:
		_ = w.eachSelected(src, check)
	case SourceHelm:
		_ = w.eachSelected(Source{Path: path.Join(src.Path, "templates"), Directory: &DirectorySource{Recurse: true}}, check)
	default:
		_ = w.eachSelected(Source{Path: src.Path}, check)
	}
	return holds
}

// eachSelected calls fn with the repository path of each file a plain
// directory source reads.
func (w *manifestWalk) eachSelected(src Source, fn func(p string) error) error {
	sel := src.Directory.Selection()
	err := fs.WalkDir(w.fsys, src.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := below(src.Path, p)
		if d.IsDir() {
			if p != src.Path && !sel.Recurse {
				return fs.SkipDir
			}
			return nil
		}
		if !sel.Selects(rel) {
			return nil
		}
		return fn(p)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s walk: %w", src.Path, err)
	}
	return nil
}

// readManifest reads a manifest file, or nil with a note when it is too
// large.
func (w *manifestWalk) readManifest(p string) ([]byte, error) {
	info, err := fs.Stat(w.fsys, p)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil
	}
	if info.Size() > maxManifestSize {
		w.notes = append(w.notes, Note{Kind: NoteInvalid, File: p, Message: fmt.Sprintf("file is larger than %d bytes; not read", maxManifestSize)})
		return nil, nil
	}
	data, err := fs.ReadFile(w.fsys, p)
	if err != nil {
		return nil, err
	}
	return data, nil
}
