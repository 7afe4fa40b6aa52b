package appset

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/kustomize"
)

// maxListed bounds the directories and files a git generator lists.
const maxListed = 200000

// Reads are the repository paths an ApplicationSet's git generators read.
type Reads struct {
	// Dirs are the path.Match patterns of the directories generators'
	// paths (includes and excludes): a directory matching one that is
	// added or removed changes the Applications generated.
	Dirs []string
	// Files are the files generators' glob patterns (matched as
	// kustomize.MatchGlob matches).
	Files []string
}

// Touches reports whether a change to the repository file changed (a
// repository-relative path) can change what the generators generate: it
// matches a files pattern, or lies in a directory matching a directories
// pattern.
func (r Reads) Touches(changed string) bool {
	_, ok := r.Dir(changed)
	return ok || r.File(changed)
}

// File reports whether changed matches a files pattern.
func (r Reads) File(changed string) bool {
	changed = path.Clean(strings.TrimLeft(changed, "/"))
	for _, p := range r.Files {
		if ok, _ := kustomize.MatchGlob(p, changed); ok {
			return true
		}
	}
	return false
}

// Dir returns the directory of changed (the nearest) that matches a
// directories pattern.
func (r Reads) Dir(changed string) (string, bool) {
	changed = path.Clean(strings.TrimLeft(changed, "/"))
	for d := path.Dir(changed); d != "." && d != "/"; d = path.Dir(d) {
		for _, p := range r.Dirs {
			if ok, _ := path.Match(p, d); ok {
				return d, true
			}
		}
	}
	return "", false
}

func (r *Reads) add(dirs, files []string) {
	for _, d := range dirs {
		if !slices.Contains(r.Dirs, d) {
			r.Dirs = append(r.Dirs, d)
		}
	}
	for _, f := range files {
		if !slices.Contains(r.Files, f) {
			r.Files = append(r.Files, f)
		}
	}
}

// pathItem is one entry of a git generator's directories or files.
type pathItem struct {
	Path    string `yaml:"path"`
	Exclude bool   `yaml:"exclude"`
}

// gitSpec is a git generator.
type gitSpec struct {
	RepoURL         string            `yaml:"repoURL"`
	Revision        string            `yaml:"revision"`
	Directories     []pathItem        `yaml:"directories"`
	Files           []pathItem        `yaml:"files"`
	Values          map[string]string `yaml:"values"`
	PathParamPrefix string            `yaml:"pathParamPrefix"`
}

// git is the git generator, reading this repository at the commit Files
// holds.
func (g *generation) git(spec *yaml.Node) ([]params, error) {
	var s gitSpec
	if err := spec.Decode(&s); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if g.env.SameRepo != nil && !g.env.SameRepo(s.RepoURL) {
		return nil, &refusal{kind: NoteForeignRepo, msg: fmt.Sprintf("repoURL %s is another repository; promobot reads git generators of this repository only, as it applies Applications of this repository only", quote(s.RepoURL))}
	}
	if !g.sameRevision(s.Revision) {
		return nil, refuse("revision %s is not the commit promobot processes (HEAD); promobot reads git generators at that commit only", quote(s.Revision))
	}
	if g.env.Files == nil {
		return nil, refuse("no repository to read")
	}
	for _, it := range append(slices.Clone(s.Directories), s.Files...) {
		if err := checkPattern(it.Path); err != nil {
			return nil, err
		}
	}
	switch {
	case len(s.Directories) > 0:
		return g.gitDirectories(s)
	case len(s.Files) > 0:
		return g.gitFiles(s)
	}
	return nil, refuse("a git generator needs directories or files")
}

// sameRevision reports whether rev names the commit Files holds.
func (g *generation) sameRevision(rev string) bool {
	if rev == "" || rev == "HEAD" {
		return true
	}
	names := g.env.Revisions
	if names == nil {
		names = []string{"main", "master"}
	}
	return slices.Contains(names, rev)
}

// checkPattern refuses a git generator path that could leave the
// repository: absolute, or with a ".." segment.
func checkPattern(p string) error {
	if p == "" {
		return refuse("a git generator path is empty")
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return refuse("git generator path %s is absolute; paths are relative to the repository's root", quote(p))
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return refuse("git generator path %s leaves the repository", quote(p))
	}
	return nil
}

// listRepo lists the repository's directories (without those whose name
// starts with ".", as Argo CD) and regular files, once.
func (g *generation) listRepo() error {
	if g.listed {
		return nil
	}
	err := fs.WalkDir(g.env.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e := g.ctx.Err(); e != nil {
			return e
		}
		if len(g.dirs)+len(g.files) > maxListed {
			return refuse("the repository has more than %d files and directories", maxListed)
		}
		switch {
		case p == ".":
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case d.IsDir():
			// Argo CD skips a hidden directory with all below it; its
			// files are still files of the repository.
			if !strings.HasPrefix(p, ".") && !strings.Contains(p, "/.") {
				g.dirs = append(g.dirs, p)
			}
		case d.Type().IsRegular():
			g.files = append(g.files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("repository list: %w", err)
	}
	g.listed = true
	return nil
}

// gitDirectories is the git directories generator: every directory that
// matches an include path (path.Match) and no exclude path.
func (g *generation) gitDirectories(s gitSpec) ([]params, error) {
	var pats []string
	for _, it := range s.Directories {
		if _, err := path.Match(it.Path, ""); err != nil {
			return nil, refuse("directories path %s: %v", quote(it.Path), err)
		}
		pats = append(pats, it.Path)
	}
	g.reads.add(pats, nil)
	if err := g.listRepo(); err != nil {
		return nil, err
	}
	var out []params
	for _, d := range g.dirs {
		in, ex := false, false
		for _, it := range s.Directories {
			if ok, _ := path.Match(it.Path, d); ok {
				in, ex = in || !it.Exclude, ex || it.Exclude
			}
		}
		if !in || ex {
			continue
		}
		p := g.pathParams(s.PathParamPrefix, d, "")
		if err := g.addValues(p, s.Values); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// gitFiles is the git files generator: every file matching an include
// pattern and no exclude pattern, in path order, read as YAML or JSON (an
// object, or a list of objects: one params set each).
func (g *generation) gitFiles(s gitSpec) ([]params, error) {
	var pats []string
	for _, it := range s.Files {
		if _, err := kustomize.MatchGlob(it.Path, ""); err != nil {
			return nil, refuse("files path %s: %v", quote(it.Path), err)
		}
		pats = append(pats, it.Path)
	}
	g.reads.add(nil, pats)
	if err := g.listRepo(); err != nil {
		return nil, err
	}
	var matched []string
	for _, f := range g.files {
		in, ex := false, false
		for _, it := range s.Files {
			if ok, _ := kustomize.MatchGlob(it.Path, f); ok {
				in, ex = in || !it.Exclude, ex || it.Exclude
			}
		}
		if in && !ex {
			matched = append(matched, f)
		}
	}
	sort.Strings(matched)
	var out []params
	for _, f := range matched {
		ps, err := g.fileParams(s, f)
		if err != nil {
			return nil, refuse("file %s: %v", f, err)
		}
		out = append(out, ps...)
		if len(out) > g.env.Limits.MaxApps {
			return nil, refuse("it generates more than %d params sets", g.env.Limits.MaxApps)
		}
	}
	return out, nil
}

// fileParams reads one file of a git files generator into params sets.
func (g *generation) fileParams(s gitSpec, f string) ([]params, error) {
	info, err := fs.Stat(g.env.Files, f)
	if err != nil {
		return nil, err
	}
	if info.Size() > g.env.Limits.MaxFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", errLimit, g.env.Limits.MaxFileBytes)
	}
	data, err := fs.ReadFile(g.env.Files, f)
	if err != nil {
		return nil, err
	}
	var objs []map[string]any
	var one map[string]any
	if err := sigsyaml.Unmarshal(data, &one); err == nil {
		objs = []map[string]any{one}
	} else if err := sigsyaml.Unmarshal(data, &objs); err != nil {
		return nil, errors.New("not a YAML or JSON object, nor a list of objects")
	}
	var out []params
	for _, o := range objs {
		var p params
		if g.goTemplate {
			p = params{}
			maps.Copy(p, o)
		} else {
			p = flatten(o)
		}
		maps.Copy(p, g.pathParams(s.PathParamPrefix, path.Dir(f), f))
		if err := g.addValues(p, s.Values); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// pathParams are the path params of a directory dir (and, for the files
// generator, its file): path, path.basename, path.basenameNormalized,
// path[n] (or path.segments for goTemplate), path.filename and
// path.filenameNormalized; under prefix when set.
func (g *generation) pathParams(prefix, dir, file string) params {
	if g.goTemplate {
		pp := map[string]any{"path": dir, "basename": path.Base(dir), "basenameNormalized": SanitizeName(path.Base(dir))}
		segs := []any{}
		for _, s := range strings.Split(dir, "/") {
			segs = append(segs, s)
		}
		pp["segments"] = segs
		if file != "" {
			pp["filename"] = path.Base(file)
			pp["filenameNormalized"] = SanitizeName(path.Base(file))
		}
		if prefix != "" {
			return params{prefix: map[string]any{"path": pp}}
		}
		return params{"path": pp}
	}
	name := "path"
	if prefix != "" {
		name = prefix + ".path"
	}
	p := params{name: dir, name + ".basename": path.Base(dir), name + ".basenameNormalized": SanitizeName(path.Base(dir))}
	if file != "" {
		p[name+".filename"] = path.Base(file)
		p[name+".filenameNormalized"] = SanitizeName(path.Base(file))
	}
	for i, s := range strings.Split(dir, "/") {
		if s != "" {
			p[name+"["+strconv.Itoa(i)+"]"] = s
		}
	}
	return p
}

// flatten flattens o into "a.b" keys with string values, as Argo CD's
// fasttemplate params of a file: nested maps and lists by key and index,
// scalars formatted with %v.
func flatten(o map[string]any) params {
	out := params{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(join(prefix, k), e)
			}
		case []any:
			for i, e := range v {
				walk(join(prefix, strconv.Itoa(i)), e)
			}
		default:
			out[prefix] = fmt.Sprintf("%v", v)
		}
	}
	for k, v := range o {
		walk(k, v)
	}
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
