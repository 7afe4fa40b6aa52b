package gitops

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/promobot/promobot/internal/kustomize"
)

// SourceKind is how Argo CD renders a source: the tool it runs on the
// source's path.
type SourceKind string

// Source kinds.
const (
	// SourceKustomize is a kustomization, rendered as `kustomize build`.
	SourceKustomize SourceKind = "kustomize"
	// SourceHelm is a Helm chart kept in the repository, rendered as Argo CD
	// runs `helm template`.
	SourceHelm SourceKind = "helm"
	// SourceDirectory is a plain directory of YAML and JSON manifests.
	// Jsonnet files in it are refused when rendered: promobot does not
	// evaluate Jsonnet.
	SourceDirectory SourceKind = "directory"
	// SourceValues is a source that only provides Helm value files to the
	// other sources of its Application (a ref: without a path); it renders
	// nothing.
	SourceValues SourceKind = "values"
)

// Source is one source of an Application, as Argo CD renders it.
type Source struct {
	// Kind is how the source renders: an explicit directory:, helm: or
	// kustomize: block wins; else, as Argo CD detects it, a kustomization
	// file (kustomization.yaml, kustomization.yml or Kustomization) directly
	// in Path makes it Kustomize, a Chart.yaml there makes it Helm, and
	// anything else is a plain directory.
	Kind SourceKind
	// RepoURL and TargetRevision are the source's repository and revision.
	RepoURL        string
	TargetRevision string
	// Path is clean and relative to the repository root ("." for the
	// root); empty only for a SourceValues source.
	Path string
	// Ref names the source for the $<ref>/... value files of the
	// Application's Helm sources.
	Ref string
	// Directory is the directory: block, or nil.
	Directory *DirectorySource
	// Helm is the helm: block, or nil.
	Helm *HelmSource
}

// DirectorySource is Argo CD's spec.source.directory.
type DirectorySource struct {
	// Recurse reads subdirectories too.
	Recurse bool `yaml:"recurse"`
	// Include and Exclude are glob patterns matched against a file's path
	// relative to the source's path (kustomize.MatchGlob).
	Include string `yaml:"include"`
	Exclude string `yaml:"exclude"`
}

// Selection returns the files a render of the directory reads.
func (d *DirectorySource) Selection() kustomize.Directory {
	if d == nil {
		return kustomize.Directory{}
	}
	return kustomize.Directory{Recurse: d.Recurse, Include: d.Include, Exclude: d.Exclude}
}

// HelmSource is Argo CD's spec.source.helm, as written in the Application.
// It is a model only: rendering it is the Helm renderer's job.
type HelmSource struct {
	// ValueFiles are relative to the chart's path, or "$<ref>/path" for a
	// file at path from the root of the repository of the ref source named
	// <ref> (see App.ValueFile).
	ValueFiles []string `yaml:"valueFiles"`
	// IgnoreMissingValueFiles skips value files that do not exist.
	IgnoreMissingValueFiles bool `yaml:"ignoreMissingValueFiles"`
	// Values is a YAML document of values, as a string.
	Values string `yaml:"values"`
	// ValuesObject is values as a YAML mapping; it wins over Values.
	ValuesObject map[string]any `yaml:"valuesObject"`
	// Parameters are --set (or --set-string with ForceString) values.
	Parameters []HelmParameter `yaml:"parameters"`
	// FileParameters are --set-file values.
	FileParameters []HelmFileParameter `yaml:"fileParameters"`
	// ReleaseName is the release's name; empty means the Application's
	// name.
	ReleaseName string `yaml:"releaseName"`
	// SkipCrds leaves out the chart's crds/ directory.
	SkipCrds bool `yaml:"skipCrds"`
	// Namespace, when set, overrides the destination namespace for the
	// render.
	Namespace string `yaml:"namespace"`
}

// HelmParameter is one --set (or --set-string) value.
type HelmParameter struct {
	// Name is the value's path, as --set takes it ("image.tag").
	Name string `yaml:"name"`
	// Value is the value, as written.
	Value string `yaml:"value"`
	// ForceString sets the value as a string (--set-string).
	ForceString bool `yaml:"forceString"`
}

// HelmFileParameter is one --set-file value: the file at Path, relative to
// the chart's path.
type HelmFileParameter struct {
	// Name is the value's path, as --set-file takes it.
	Name string `yaml:"name"`
	// Path is the file whose content is the value (see App.ValueFile).
	Path string `yaml:"path"`
}

// Rendered returns the sources that render objects, in order: every
// source but SourceValues ones.
func (a App) Rendered() []Source {
	var out []Source
	for _, s := range a.Sources {
		if s.Kind != SourceValues {
			out = append(out, s)
		}
	}
	return out
}

// ValueFile returns the repository-relative path of a Helm value file (or
// file parameter) of src, an App's source, as Argo CD resolves it:
// "$<ref>/p" is p from the repository's root, where <ref> must name one of
// the App's sources (they are all this repository); an absolute path is
// from the repository's root too; anything else is relative to src.Path.
// The error is for an unknown ref and for a path that leaves the
// repository.
func (a App) ValueFile(src Source, file string) (string, error) {
	p := path.Join(src.Path, file)
	if path.IsAbs(file) {
		p = path.Clean(strings.TrimLeft(file, "/"))
	}
	if ref, rest, ok := strings.Cut(file, "/"); ok && strings.HasPrefix(ref, "$") {
		found := false
		for _, s := range a.Sources {
			if s.Ref != "" && "$"+s.Ref == ref {
				found = true
				break
			}
		}
		if !found {
			return "", fmt.Errorf("value file %s: no source has ref %s", file, strings.TrimPrefix(ref, "$"))
		}
		p = path.Clean(rest)
	}
	if p == ".." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("value file %s: %w", file, kustomize.ErrOutsideRepository)
	}
	return p, nil
}

// argoSource is one source of an Application as written.
type argoSource struct {
	RepoURL        string           `yaml:"repoURL"`
	Path           string           `yaml:"path"`
	TargetRevision string           `yaml:"targetRevision"`
	Chart          string           `yaml:"chart"`
	Ref            string           `yaml:"ref"`
	Directory      *DirectorySource `yaml:"directory"`
	Helm           *HelmSource      `yaml:"helm"`
	Kustomize      yaml.Node        `yaml:"kustomize"`
	Plugin         yaml.Node        `yaml:"plugin"`
}

// explicitKind is the kind an explicit block sets, "" for none. Several
// blocks are an error, with Argo CD's words.
func (s argoSource) explicitKind() (SourceKind, error) {
	var kinds []SourceKind
	var names []string
	if present(&s.Kustomize) {
		kinds, names = append(kinds, SourceKustomize), append(names, "Kustomize")
	}
	if s.Helm != nil {
		kinds, names = append(kinds, SourceHelm), append(names, "Helm")
	}
	if s.Directory != nil {
		kinds, names = append(kinds, SourceDirectory), append(names, "Directory")
	}
	if present(&s.Plugin) {
		kinds, names = append(kinds, "plugin"), append(names, "Plugin")
	}
	switch len(kinds) {
	case 0:
		return "", nil
	case 1:
		return kinds[0], nil
	default:
		return "", fmt.Errorf("multiple application sources defined: %s", strings.Join(names, ","))
	}
}

// present reports whether a block was written with a value (null is
// absent, as in Argo CD's JSON).
func present(n *yaml.Node) bool {
	return n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// mappingKeys returns the keys of a YAML mapping, at most 5, or none when n
// is not one.
func mappingKeys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(n.Content) && len(keys) < 5; i += 2 {
		keys = append(keys, strconv.Quote(n.Content[i].Value))
	}
	return keys
}

// sourceFrom checks one written source and returns it (Kind is the
// explicit kind, or "" to detect). note is set when the source keeps the
// Application from being applied.
func sourceFrom(file, app string, i, n int, s argoSource) (Source, *Note) {
	which := "source"
	if n > 1 {
		which = fmt.Sprintf("source %d of %d", i+1, n)
	}
	bad := func(kind NoteKind, format string, args ...any) (Source, *Note) {
		return Source{}, &Note{Kind: kind, File: file, App: app, Message: fmt.Sprintf(format, args...)}
	}
	kind, err := s.explicitKind()
	if err != nil {
		return bad(NoteInvalid, "%s: %v", which, err)
	}
	if kind == "plugin" {
		return bad(NoteUnsupported, "%s uses a Config Management Plugin (plugin:); promobot runs no plugin, it renders Kustomize, plain directories and Helm charts of this repository in its sandbox", which)
	}
	if keys := mappingKeys(&s.Kustomize); len(keys) > 0 {
		return bad(NoteUnsupported, "%s sets kustomize: options (%s), which promobot does not apply; put them in the kustomization file", which, strings.Join(keys, ", "))
	}
	if s.Chart != "" {
		return bad(NoteForeignRepo, "%s is Helm chart %s from %s; promobot renders only what this repository holds; skipped", which, s.Chart, s.RepoURL)
	}
	if s.RepoURL == "" {
		return bad(NoteInvalid, "Application has no spec.source.repoURL")
	}
	if s.Ref != "" && !refName.MatchString(s.Ref) {
		return bad(NoteInvalid, "%s: ref %q is not a valid name", which, s.Ref)
	}
	out := Source{Kind: kind, RepoURL: s.RepoURL, TargetRevision: s.TargetRevision, Ref: s.Ref, Directory: s.Directory, Helm: s.Helm}
	if strings.TrimSpace(s.Path) == "" && s.Ref != "" && n > 1 {
		out.Kind = SourceValues
		return out, nil
	}
	p := strings.TrimPrefix(strings.TrimSpace(s.Path), "/")
	if p == "" {
		p = "."
	}
	if err := checkRepoDir(p); err != nil {
		return bad(NoteInvalid, "%s path: %v", which, err)
	}
	out.Path = path.Clean(p)
	return out, nil
}

// detectKind sets the kind of a source with a path and no explicit block,
// from what its directory holds, as Argo CD's discovery does: the entries
// directly in the path are read in name order, a name ending in Chart.yaml
// makes it Helm and a kustomization file name makes it Kustomize, the last
// one read winning (so a kustomization wins over a Chart.yaml); with
// neither, it is a plain directory.
func detectKind(fsys fs.FS, s Source) SourceKind {
	if s.Kind != "" {
		return s.Kind
	}
	kind := SourceDirectory
	entries, err := fs.ReadDir(fsys, s.Path)
	if err != nil {
		return kind
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch name := e.Name(); {
		case strings.HasSuffix(name, "Chart.yaml"):
			kind = SourceHelm
		case kustomize.IsKustomizationFile(name):
			kind = SourceKustomize
		}
	}
	return kind
}

// refName is what a ref: may be: it is written as $<ref>/ in value files.
var refName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// maxSources bounds how many sources one Application may list.
const maxSources = 32

// appSources checks an Application's sources: spec.sources when it has
// any (Argo CD then ignores spec.source), else spec.source. The result has
// at least one source that renders. note says why the Application cannot
// be applied.
func appSources(file, app string, single *argoSource, multi []argoSource) ([]Source, *Note) {
	invalid := func(format string, args ...any) ([]Source, *Note) {
		return nil, &Note{Kind: NoteInvalid, File: file, App: app, Message: fmt.Sprintf(format, args...)}
	}
	written := multi
	if len(written) == 0 {
		if single == nil {
			return invalid("Application has no spec.source")
		}
		written = []argoSource{*single}
	}
	if len(written) > maxSources {
		return invalid("Application has %d sources; promobot reads at most %d", len(written), maxSources)
	}
	srcs := make([]Source, 0, len(written))
	refs := map[string]bool{}
	for i, w := range written {
		src, note := sourceFrom(file, app, i, len(written), w)
		if note != nil {
			return nil, note
		}
		if src.Ref != "" {
			if refs[src.Ref] {
				return invalid("ref %s names two sources", src.Ref)
			}
			refs[src.Ref] = true
		}
		srcs = append(srcs, src)
	}
	a := App{Sources: srcs}
	rendered := a.Rendered()
	if len(rendered) == 0 {
		return invalid("none of its %d sources has a path to render (a ref: source only provides value files)", len(srcs))
	}
	rev := revisionOf(rendered[0].TargetRevision)
	for _, s := range srcs {
		if revisionOf(s.TargetRevision) != rev {
			return nil, &Note{Kind: NoteUnsupported, File: file, App: app, Message: fmt.Sprintf(
				"its sources name different revisions (%q and %q); promobot deploys one revision of the repository per app", rendered[0].TargetRevision, s.TargetRevision)}
		}
		if s.Helm == nil {
			continue
		}
		files := slices.Clone(s.Helm.ValueFiles)
		for _, fp := range s.Helm.FileParameters {
			files = append(files, fp.Path)
		}
		for _, f := range files {
			if _, err := a.ValueFile(s, f); err != nil {
				return invalid("%v", err)
			}
		}
	}
	return srcs, nil
}

// revisionOf is a targetRevision with the default branch's spellings
// ("" and HEAD) made one.
func revisionOf(rev string) string {
	if rev == "" {
		return "HEAD"
	}
	return rev
}
