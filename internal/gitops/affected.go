package gitops

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Affected returns the apps whose rendered output can depend on any of the
// changed files, in the order of apps. changed and the paths deps returns are
// relative to the repository root ("./" and a leading "/" are ignored); a
// deps entry ending in "/" stands for every file below that directory.
//
// An app is affected when one of its sources (App.Sources; an App without
// Sources is one kustomization at App.Path) can change:
//   - a kustomization: a changed file is one of deps(path) (its
//     kustomization graph: resources, bases, components, patches,
//     generators' files...);
//   - a plain directory: a changed file below its path is one the
//     directory reads (recurse, include and exclude, as
//     DirectorySource.Selection decides);
//   - a Helm chart: a changed file is below the chart's path, or is one of
//     its value files or file parameters ($<ref>/ files included);
//
// or when its own Application manifest (app.File) changed, or
// .promobot.yaml changed (it can change how every app is rendered and
// applied). An app declared by a rendered root (App.Root) is affected by
// any change below that root, where its manifest lives. An app an
// ApplicationSet generated (App.Set) is affected by a change to its set's
// file and to what its set's git generators read (App.SetReads).
//
// deps is called once per distinct kustomization path. When deps fails for
// an app (a broken kustomization, say), the app counts as affected whenever
// anything changed: rendering it is how its owner learns what is wrong, and
// skipping it could leave a fix undeployed. The error is for a changed path
// that points outside the repository.
func Affected(apps []App, changed []string, deps func(path string) ([]string, error)) ([]App, error) {
	if len(changed) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(changed))
	for _, c := range changed {
		p, err := repoPath(c)
		if err != nil {
			return nil, err
		}
		set[p] = true
	}
	if set[ConfigFile] {
		return apps, nil
	}
	g := &graphs{deps: deps, cache: map[string]*depSet{}}
	sets := setSources(apps)
	var out []App
	for _, a := range apps {
		if f, err := repoPath(a.File); err == nil && a.File != "" && set[f] {
			out = append(out, a)
			continue
		}
		if a.Root != "" && touches(set, nil, []string{a.Root}) {
			out = append(out, a)
			continue
		}
		if a.Set != "" && setTouched(a, set, sets[a.File+"#"+a.Set]) {
			out = append(out, a)
			continue
		}
		srcs := a.Rendered()
		if len(a.Sources) == 0 {
			srcs = []Source{{Kind: SourceKustomize, Path: a.Path}}
		}
		for _, src := range srcs {
			if g.sourceAffected(a, src, set) {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

// setTouched reports whether a change in set can change the apps of a's
// ApplicationSet: a file its files generators read, or a file in a
// directory its directories generators match that is not the source of
// one of its apps (sources, which holds them): a new directory, whose app
// may render from elsewhere. A change in an app's own directory affects
// that app through its source, not the set's.
func setTouched(a App, set, sources map[string]bool) bool {
	for c := range set {
		if a.SetReads.File(c) {
			return true
		}
		if d, ok := a.SetReads.Dir(c); ok && !sources[d] {
			return true
		}
	}
	return false
}

// setSources returns the source paths of the apps of each ApplicationSet,
// keyed by the set's file and name.
func setSources(apps []App) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, a := range apps {
		if a.Set == "" {
			continue
		}
		k := a.File + "#" + a.Set
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		for _, src := range a.Rendered() {
			out[k][src.Path] = true
		}
	}
	return out
}

// depSet is what a kustomization's render reads.
type depSet struct {
	files map[string]bool
	dirs  []string
	err   error
}

// graphs caches the kustomization graphs of one Affected call.
type graphs struct {
	deps  func(path string) ([]string, error)
	cache map[string]*depSet
}

// sourceAffected reports whether a change in set can change src's render.
func (g *graphs) sourceAffected(a App, src Source, set map[string]bool) bool {
	switch src.Kind {
	case SourceDirectory:
		sel := src.Directory.Selection()
		for c := range set {
			if rel, ok := below(src.Path, c); ok && sel.Selects(rel) {
				return true
			}
		}
		return false
	case SourceHelm:
		if touches(set, nil, []string{src.Path}) {
			return true
		}
		if src.Helm == nil {
			return false
		}
		files := slices.Clone(src.Helm.ValueFiles)
		for _, fp := range src.Helm.FileParameters {
			files = append(files, fp.Path)
		}
		for _, f := range files {
			if p, err := a.ValueFile(src, f); err == nil && set[p] {
				return true
			}
		}
		return false
	default:
		ds := g.kustomization(src.Path)
		return ds.err != nil || touches(set, ds.files, ds.dirs)
	}
}

// kustomization returns the graph of the kustomization at p.
func (g *graphs) kustomization(p string) *depSet {
	if ds, ok := g.cache[p]; ok {
		return ds
	}
	ds := &depSet{files: map[string]bool{}}
	files, err := g.deps(p)
	ds.err = err
	for _, f := range files {
		isDir := strings.HasSuffix(f, "/")
		rp, perr := repoPath(f)
		if perr != nil {
			continue // outside the repository: no change of ours can touch it
		}
		if isDir {
			ds.dirs = append(ds.dirs, rp)
		} else {
			ds.files[rp] = true
		}
	}
	g.cache[p] = ds
	return ds
}

// below returns c relative to dir when c is below dir.
func below(dir, c string) (string, bool) {
	if dir == "." {
		return c, true
	}
	rel, ok := strings.CutPrefix(c, dir+"/")
	return rel, ok
}

func touches(changed, files map[string]bool, dirs []string) bool {
	for c := range changed {
		if files[c] {
			return true
		}
		for _, d := range dirs {
			if d == "." || strings.HasPrefix(c, d+"/") {
				return true
			}
		}
	}
	return false
}

// repoPath cleans a repository-relative path.
func repoPath(p string) (string, error) {
	c := path.Clean(strings.TrimLeft(strings.ReplaceAll(p, `\`, "/"), "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("changed path %q is outside the repository", p)
	}
	return c, nil
}
