package gitops

import (
	"fmt"
	"path"
	"strings"
)

// Affected returns the apps whose rendered output can depend on any of the
// changed files, in the order of apps. changed and the paths deps returns are
// relative to the repository root ("./" and a leading "/" are ignored); a
// deps entry ending in "/" stands for every file below that directory.
//
// An app is affected when:
//   - a changed file is one of deps(app.Path) (its kustomization graph:
//     resources, bases, components, patches, generators' files...);
//   - its own Application manifest (app.File) changed;
//   - .promobot.yaml changed (it can change how every app is rendered and
//     applied).
//
// deps is called once per distinct app path. When deps fails for an app (a
// broken kustomization, say), the app counts as affected whenever anything
// changed: rendering it is how its owner learns what is wrong, and skipping
// it could leave a fix undeployed. The error is for a changed path that
// points outside the repository.
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
	all := set[ConfigFile]
	type depSet struct {
		files map[string]bool
		dirs  []string
		err   error
	}
	cache := map[string]*depSet{}
	var out []App
	for _, a := range apps {
		if all {
			out = append(out, a)
			continue
		}
		if f, err := repoPath(a.File); err == nil && a.File != "" && set[f] {
			out = append(out, a)
			continue
		}
		ds, ok := cache[a.Path]
		if !ok {
			ds = &depSet{files: map[string]bool{}}
			files, err := deps(a.Path)
			ds.err = err
			for _, f := range files {
				isDir := strings.HasSuffix(f, "/")
				p, perr := repoPath(f)
				if perr != nil {
					continue // outside the repository: no change of ours can touch it
				}
				if isDir {
					ds.dirs = append(ds.dirs, p)
				} else {
					ds.files[p] = true
				}
			}
			cache[a.Path] = ds
		}
		if ds.err != nil || touches(set, ds.files, ds.dirs) {
			out = append(out, a)
		}
	}
	return out, nil
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
