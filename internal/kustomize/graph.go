package kustomize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/promobot/promobot/internal/checkout"
)

// ErrRemoteReference is wrapped by every error about a reference that would be
// fetched over the network (a git URL or an HTTP(S) file).
var ErrRemoteReference = errors.New("remote reference: only files of this repository may be used")

// ErrAbsolutePath is wrapped by every error about an absolute path in a
// kustomization: a repository checkout can live anywhere, so only relative
// paths mean the same thing on every machine.
var ErrAbsolutePath = errors.New("absolute path: use a path relative to the kustomization")

// ErrPluginNotAllowed is wrapped by every error about a generator, transformer
// or validator that is not one of kustomize's built-in plugins (exec, Go and
// container plugins never run), or that promobot refuses to run.
var ErrPluginNotAllowed = errors.New("plugin not allowed: only kustomize's built-in generators and transformers run")

// ErrNoKustomization is wrapped when a directory that must hold a
// kustomization holds none of the accepted file names.
var ErrNoKustomization = errors.New("no kustomization file (kustomization.yaml, kustomization.yml or Kustomization)")

// ReferenceError is a reference in a kustomization that the sandbox refuses
// or cannot follow. Callers branch on its cause with errors.Is
// (ErrRemoteReference, ErrOutsideRepository, ErrAbsolutePath,
// ErrPluginNotAllowed, ErrNoKustomization).
type ReferenceError struct {
	// File is the repository-relative, slash-separated file holding the
	// reference (a kustomization file or a plugin configuration).
	File string
	// Field names where the reference sits, e.g. "resources" or
	// "configMapGenerator.files".
	Field string
	// Ref is the reference as written.
	Ref string
	// Err is the cause.
	Err error
}

// Error names the file, the field and the reference, e.g.
// `kustomize/overlays/staging/kustomization.yaml: resources "../../../../etc": path ...: outside the repository`.
func (e *ReferenceError) Error() string {
	return fmt.Sprintf("%s: %s %q: %v", e.File, e.Field, e.Ref, e.Err)
}

// Unwrap returns the cause.
func (e *ReferenceError) Unwrap() error { return e.Err }

// FindKustomization returns which of the file names kustomize accepts
// (kustomization.yaml, kustomization.yml, Kustomization) exists in dir. It
// returns an error wrapping ErrNoKustomization when there is none, and an error
// when there are several, as kustomize refuses that too.
func FindKustomization(dir string) (string, error) {
	name, err := findName(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return name, nil
}

// FindKustomizationIn is FindKustomization for the repository-relative,
// slash-separated directory dir of a checkout: the files are looked up
// through its os.Root, and one whose symbolic link leaves the repository is
// an error naming it.
func FindKustomizationIn(repo *checkout.Repo, dir string) (string, error) {
	name, err := findNameIn(repo, dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return name, nil
}

// findName is FindKustomization with errors that do not name dir.
func findName(dir string) (string, error) {
	repo, err := checkout.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", ErrNoKustomization
		}
		return "", err
	}
	defer repo.Close()
	return findNameIn(repo, ".")
}

// findNameIn is FindKustomizationIn with errors that do not name dir.
func findNameIn(repo *checkout.Repo, dir string) (string, error) {
	var found []string
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		info, err := repo.Stat(path.Join(dir, name))
		if errors.Is(err, ErrOutsideRepository) {
			return "", err
		}
		if err == nil && info.Mode().IsRegular() {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return "", ErrNoKustomization
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("several kustomization files (%s); kustomize accepts one", strings.Join(found, ", "))
	}
}

// IsKustomizationFile reports whether the base name of p is one of the file
// names kustomize accepts for a kustomization.
func IsKustomizationFile(p string) bool {
	base := path.Base(filepath.ToSlash(p))
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if base == name {
			return true
		}
	}
	return false
}

// Dependencies returns every repository file the render of the kustomization
// in directory dir (relative to repoRoot) can read, found by walking the
// kustomization graph without rendering: kustomization files, resources,
// bases, components, patches, generator sources, replacements, CRDs,
// configurations, OpenAPI schemas, generator/transformer/validator
// configurations and Helm chart files. Paths are relative to repoRoot,
// slash-separated, sorted and unique.
//
// A referenced path that does not exist is listed as written (adding it would
// change the render); a directory reference that holds no kustomization is
// listed as the directory. A file reached through a symbolic link is listed
// under both names. Use Affected to match the result against changed files.
//
// Remote references, absolute paths and paths that leave the repository are
// errors (*ReferenceError), since the render refuses them too. Dependencies
// only reads kustomization and plugin configuration files, so it is cheap
// enough to run for every app on every push. It is safe for concurrent use.
func Dependencies(repoRoot, dir string) ([]string, error) {
	w, err := walk(repoRoot, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.ToSlash(filepath.Clean(dir)), err)
	}
	return w.list(), nil
}

// Affected reports whether a change to any of the changed paths (relative to
// the repository root, slash-separated) can change a render whose
// Dependencies are deps. A path matches when it equals a dependency, when it
// is a directory (or a link to one) holding a dependency, or when it lies in a
// dependency that is a directory.
func Affected(deps, changed []string) bool {
	for _, c := range changed {
		c = strings.TrimSuffix(path.Clean(filepath.ToSlash(c)), "/")
		for _, d := range deps {
			if c == d || strings.HasPrefix(d, c+"/") || strings.HasPrefix(c, d+"/") {
				return true
			}
		}
	}
	return false
}

// walker follows a kustomization graph through the repository checkout's
// os.Root, confined to the repository root.
type walker struct {
	root    string // the checkout's directory, absolute, symlinks resolved
	repo    *checkout.Repo
	files   map[string]struct{}
	visited map[string]struct{}
}

// walk checks and records the graph of the kustomization in dir, relative to
// repoRoot. The returned walker's repo is closed.
func walk(repoRoot, dir string) (*walker, error) {
	repo, err := openRepo(repoRoot)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	root := repo.Dir()
	start, err := appDir(root, dir)
	if err != nil {
		return nil, err
	}
	real, err := resolveIn(repo, start)
	if err != nil {
		return nil, fmt.Errorf("kustomization path: %w", err)
	}
	w := &walker{root: root, repo: repo, files: map[string]struct{}{}, visited: map[string]struct{}{}}
	if _, err := w.findIn(real); err != nil {
		return nil, err
	}
	if err := w.kustomization(start, real, "", "", ""); err != nil {
		return nil, err
	}
	return w, nil
}

// appDir turns the repository-relative directory of an app into an absolute
// path inside root.
func appDir(root, dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	if filepath.IsAbs(dir) || strings.HasPrefix(filepath.ToSlash(dir), "/") {
		return "", fmt.Errorf("kustomization path: %w", ErrAbsolutePath)
	}
	abs := filepath.Join(root, filepath.FromSlash(dir))
	if !within(root, abs) {
		return "", fmt.Errorf("kustomization path: %w", ErrOutsideRepository)
	}
	return abs, nil
}

func (w *walker) list() []string {
	out := make([]string, 0, len(w.files))
	for f := range w.files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// rel returns the slash-separated path of abs relative to the root.
func (w *walker) rel(abs string) string {
	r, err := filepath.Rel(w.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

// add records abs (lexical, inside root) and, when it differs, the path it
// resolves to.
func (w *walker) add(abs, real string) {
	w.files[w.rel(abs)] = struct{}{}
	if real != "" && real != abs {
		w.files[w.rel(real)] = struct{}{}
	}
}

// local checks a path reference written in file (absolute) under field, and
// returns the lexical absolute path it names (joined to base) and the path it
// resolves to. A reference that may name a kustomization directory (gitURLs)
// is remote when kustomize's git URL parser could accept it, even if a local
// file of that name exists: krusty tries a clone whenever reading it as a
// file fails, e.g. on malformed YAML.
func (w *walker) local(file, field, ref, base string, gitURLs bool) (lexical, real string, err error) {
	fail := func(cause error) error {
		return &ReferenceError{File: w.rel(file), Field: field, Ref: ref, Err: cause}
	}
	if isURL(ref) || (gitURLs && isRemote(ref)) {
		return "", "", fail(ErrRemoteReference)
	}
	if filepath.IsAbs(ref) {
		return "", "", fail(ErrAbsolutePath)
	}
	lexical = filepath.Join(base, ref)
	real, err = resolveIn(w.repo, lexical)
	if err != nil {
		return "", "", fail(err)
	}
	return lexical, real, nil
}

// kustomization walks the kustomization in directory dir (lexical) whose real
// location is realDir. pluginBase is non-empty when the kustomization is
// listed under generators, transformers or validators: its resources are then
// plugin configurations whose paths resolve against pluginBase, the
// kustomization that lists the plugins. from and field name the reference
// that led here, for errors.
func (w *walker) kustomization(dir, realDir, pluginBase, from, field string) error {
	file, k, err := w.load(dir, realDir, pluginBase, from, field)
	if err != nil || k == nil {
		return err
	}
	for _, r := range k.Resources {
		if err := w.resource(file, "resources", r, realDir, pluginBase); err != nil {
			return err
		}
	}
	for _, c := range k.Components {
		lexical, real, err := w.local(file, "components", c, realDir, true)
		if err != nil {
			return err
		}
		if err := w.directory(file, "components", lexical, real, pluginBase); err != nil {
			return err
		}
	}
	for _, f := range fileRefs(k) {
		if err := w.file(file, f.field, f.ref, realDir); err != nil {
			return err
		}
	}
	for _, g := range k.ConfigMapGenerator {
		if err := w.kvSources(file, "configMapGenerator", g.KvPairSources, realDir); err != nil {
			return err
		}
	}
	for _, g := range k.SecretGenerator {
		if err := w.kvSources(file, "secretGenerator", g.KvPairSources, realDir); err != nil {
			return err
		}
	}
	if err := w.helm(file, realDir, k.HelmGlobals, k.HelmCharts); err != nil {
		return err
	}
	for _, p := range []struct {
		field   string
		entries []string
	}{{"generators", k.Generators}, {"transformers", k.Transformers}, {"validators", k.Validators}} {
		for _, entry := range p.entries {
			if err := w.plugin(file, p.field, entry, realDir); err != nil {
				return err
			}
		}
	}
	return nil
}

// load finds, records and parses the kustomization file in dir (lexical;
// realDir is its real location), and returns its real path and contents,
// or a nil kustomization when the walk saw it already with this
// pluginBase.
func (w *walker) load(dir, realDir, pluginBase, from, field string) (string, *types.Kustomization, error) {
	name, err := w.findIn(realDir)
	if err != nil {
		return "", nil, &ReferenceError{File: w.rel(from), Field: field, Ref: w.rel(dir), Err: err}
	}
	file, err := resolveIn(w.repo, filepath.Join(realDir, name))
	if err != nil {
		return "", nil, &ReferenceError{File: w.rel(filepath.Join(dir, name)), Field: "kustomization file", Ref: name, Err: err}
	}
	w.add(filepath.Join(dir, name), file)
	w.add(filepath.Join(realDir, name), "")
	key := realDir + "\x00" + pluginBase
	if _, seen := w.visited[key]; seen {
		return file, nil, nil
	}
	w.visited[key] = struct{}{}

	data, err := w.read(file)
	if err != nil {
		return "", nil, err
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return "", nil, fmt.Errorf("%s parse: %w", w.rel(file), err)
	}
	// Raw fields before FixKustomization folds them, for the plugin check.
	if pluginBase != "" {
		if err := onlyResources(k); err != nil {
			return "", nil, &ReferenceError{File: w.rel(from), Field: field, Ref: w.rel(dir), Err: err}
		}
	}
	k.FixKustomization()
	return file, &k, nil
}

// fileRef is a file a kustomization field names.
type fileRef struct{ field, ref string }

// fileRefs lists the files k's fields name (CRDs, configurations, the
// OpenAPI schema, patches, replacements), by field.
func fileRefs(k *types.Kustomization) []fileRef {
	var files []fileRef
	for _, c := range k.Crds {
		files = append(files, fileRef{"crds", c})
	}
	for _, c := range k.Configurations {
		files = append(files, fileRef{"configurations", c})
	}
	if p, ok := k.OpenAPI["path"]; ok {
		files = append(files, fileRef{"openapi.path", p})
	}
	for _, p := range k.Patches {
		if p.Path != "" {
			files = append(files, fileRef{"patches.path", p.Path})
		}
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field, so the walk must too.
	for _, p := range k.PatchesJson6902 {
		if p.Path != "" {
			files = append(files, fileRef{"patchesJson6902.path", p.Path})
		}
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field, so the walk must too.
	for _, p := range k.PatchesStrategicMerge {
		if !looksInline(string(p)) {
			files = append(files, fileRef{"patchesStrategicMerge", string(p)})
		}
	}
	for _, r := range k.Replacements {
		if r.Path != "" {
			files = append(files, fileRef{"replacements.path", r.Path})
		}
	}
	return files
}

// onlyResources refuses every field but resources in a kustomization listed
// under generators, transformers or validators: its transformations would
// rewrite plugin configurations, and so could point them at remote or
// outside files that no walk can see before the render.
func onlyResources(k types.Kustomization) error {
	probe := k
	probe.TypeMeta = types.TypeMeta{}
	probe.MetaData = nil
	probe.Resources = nil
	//lint:ignore SA1019 bases are resources to kustomize.
	probe.Bases = nil
	rest, err := json.Marshal(probe)
	if err != nil {
		return err
	}
	if string(rest) != "{}" {
		return fmt.Errorf("%w: a kustomization listed under generators, transformers or validators may only list resources", ErrPluginNotAllowed)
	}
	return nil
}

// findIn returns the kustomization file name in realDir.
func (w *walker) findIn(realDir string) (string, error) {
	info, err := w.stat(realDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", ErrNoKustomization
		}
		return "", err
	}
	if !info.IsDir() {
		return "", fmt.Errorf("not a directory: %w", ErrNoKustomization)
	}
	return findNameIn(w.repo, w.rel(realDir))
}

// stat describes real, a resolved absolute path inside the repository,
// through the checkout's os.Root.
func (w *walker) stat(real string) (fs.FileInfo, error) {
	return w.repo.Root().Stat(w.rel(real))
}

// read reads real, a resolved absolute path inside the repository, through
// the checkout's os.Root.
func (w *walker) read(real string) ([]byte, error) {
	data, err := w.repo.Root().ReadFile(w.rel(real))
	if err != nil {
		return nil, fmt.Errorf("%s read: %w", w.rel(real), err)
	}
	return data, nil
}

// resource follows a resources entry: a file, or a directory holding a
// kustomization.
func (w *walker) resource(file, field, ref, base, pluginBase string) error {
	real, err := w.follow(file, field, ref, base, pluginBase)
	if err != nil || real == "" || pluginBase == "" {
		return err
	}
	return w.pluginConfigFile(real, pluginBase)
}

// follow resolves ref, a file or a directory named by field of file, walks
// it when it is a directory holding a kustomization, and records it
// otherwise. It returns the real path of an existing file ("" for a
// directory or a missing path), for callers that read it.
func (w *walker) follow(file, field, ref, base, pluginBase string) (string, error) {
	lexical, real, err := w.local(file, field, ref, base, true)
	if err != nil {
		return "", err
	}
	info, err := w.stat(real)
	switch {
	case err != nil:
		w.add(lexical, real)
		return "", nil
	case info.IsDir():
		return "", w.directory(file, field, lexical, real, pluginBase)
	}
	w.add(lexical, real)
	return real, nil
}

// pluginConfigFile reads the plugin configuration file at real and walks
// the paths it names against pluginBase.
func (w *walker) pluginConfigFile(real, pluginBase string) error {
	data, err := w.read(real)
	if err != nil {
		return err
	}
	return w.pluginConfig(real, data, pluginBase)
}

// directory follows a reference to a directory that must hold a
// kustomization. A missing directory, or one without a kustomization, is
// recorded as the directory itself.
func (w *walker) directory(file, field, lexical, real, pluginBase string) error {
	if _, err := w.findIn(real); errors.Is(err, ErrNoKustomization) {
		w.add(lexical, real)
		return nil
	}
	return w.kustomization(lexical, real, pluginBase, file, field)
}

// file records a plain file reference.
func (w *walker) file(file, field, ref, base string) error {
	lexical, real, err := w.local(file, field, ref, base, false)
	if err != nil {
		return err
	}
	w.add(lexical, real)
	return nil
}

// kvSources records the files of a ConfigMap or Secret generator.
func (w *walker) kvSources(file, field string, s types.KvPairSources, base string) error {
	for _, src := range s.FileSources {
		p := fileSourcePath(src)
		if err := w.file(file, field+".files", p, base); err != nil {
			return err
		}
	}
	envs := s.EnvSources
	if s.EnvSource != "" {
		envs = append(envs, s.EnvSource)
	}
	for _, e := range envs {
		if err := w.file(file, field+".envs", e, base); err != nil {
			return err
		}
	}
	return nil
}

// fileSourcePath returns the path of a generator file source, "path" or
// "key=path".
func fileSourcePath(src string) string {
	if i := strings.Index(src, "="); i >= 0 {
		return src[i+1:]
	}
	return src
}

// helm records the chart files and values files of helmCharts. Charts pulled
// from a repository are remote references.
func (w *walker) helm(file, base string, globals *types.HelmGlobals, charts []types.HelmChart) error {
	if len(charts) == 0 {
		return nil
	}
	home := types.HelmDefaultHome
	if globals != nil {
		if globals.ConfigHome != "" {
			return &ReferenceError{File: w.rel(file), Field: "helmGlobals.configHome", Ref: globals.ConfigHome,
				Err: fmt.Errorf("%w: helm may not write outside its temporary directory", ErrPluginNotAllowed)}
		}
		if globals.ChartHome != "" {
			home = globals.ChartHome
		}
	}
	for _, c := range charts {
		if c.Repo != "" {
			return &ReferenceError{File: w.rel(file), Field: "helmCharts.repo", Ref: c.Repo, Err: ErrRemoteReference}
		}
	}
	if err := w.chartHome(file, "helmGlobals.chartHome", home, base, charts); err != nil {
		return err
	}
	for _, c := range charts {
		if c.ValuesFile != "" {
			if err := w.file(file, "helmCharts.valuesFile", c.ValuesFile, base); err != nil {
				return err
			}
		}
		for _, v := range c.AdditionalValuesFiles {
			if err := w.file(file, "helmCharts.additionalValuesFiles", v, base); err != nil {
				return err
			}
		}
	}
	return nil
}

// chartHome checks and records a Helm chart home and the charts in it: helm
// reads charts from disk itself, around the sandbox file system.
func (w *walker) chartHome(file, field, home, base string, charts []types.HelmChart) error {
	lexical, real, err := w.local(file, field, home, base, false)
	if err != nil {
		return err
	}
	w.add(lexical, real)
	for _, c := range charts {
		if _, err := resolveIn(w.repo, filepath.Join(real, c.Name)); err != nil || c.Name == "" || strings.ContainsAny(c.Name, `/\`) || c.Name == ".." {
			return &ReferenceError{File: w.rel(file), Field: "helmCharts.name", Ref: c.Name, Err: ErrOutsideRepository}
		}
	}
	return w.tree(real)
}

// tree records every file below dir (a chart), refusing links that leave the
// repository: helm reads charts from disk itself, around the sandbox.
func (w *walker) tree(dir string) error {
	if _, err := w.stat(dir); err != nil {
		return nil
	}
	return fs.WalkDir(w.repo.FS(), w.rel(dir), func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		p := w.repo.Abs(name)
		real, err := resolveIn(w.repo, p)
		if err != nil {
			return &ReferenceError{File: w.rel(p), Field: "helm chart", Ref: w.rel(p), Err: err}
		}
		if !d.IsDir() {
			w.add(p, real)
		}
		return nil
	})
}

// plugin follows a generators, transformers or validators entry: an inline
// configuration, a configuration file, or a directory of them.
func (w *walker) plugin(file, field, entry, base string) error {
	if looksInline(entry) {
		return w.pluginConfig(file, []byte(entry), base)
	}
	real, err := w.follow(file, field, entry, base, base)
	if err != nil || real == "" {
		return err
	}
	return w.pluginConfigFile(real, base)
}

// pluginPathFields lists, per built-in plugin kind, the fields that name files
// the plugin loads (and that kustomize would fetch when they are URLs).
var pluginPathFields = map[string][][]string{
	"PatchTransformer":               {{"path"}},
	"PatchJson6902Transformer":       {{"path"}},
	"PatchStrategicMergeTransformer": {{"paths", "*"}},
	"ConfigMapGenerator":             {{"files", "*"}, {"envs", "*"}, {"env"}},
	"SecretGenerator":                {{"files", "*"}, {"envs", "*"}, {"env"}},
	"ReplacementTransformer":         {{"replacements", "*", "path"}},
	"ValueAddTransformer":            {{"targetFilePath"}},
	"HelmChartInflationGenerator":    {{"valuesFile"}, {"additionalValuesFiles", "*"}},
}

// pluginConfig checks the plugin configurations in data (read from file):
// only built-in plugins, and only local files inside the repository, which
// are recorded. Paths resolve against base, the kustomization that lists the
// plugins, as kustomize resolves them.
func (w *walker) pluginConfig(file string, data []byte, base string) error {
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(string(data)), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return fmt.Errorf("%s parse plugin configuration: %w", w.rel(file), err)
	}
	for _, n := range nodes {
		kind := n.GetKind()
		apiVersion := n.GetApiVersion()
		if apiVersion != konfig.BuiltinPluginApiVersion {
			return &ReferenceError{File: w.rel(file), Field: "apiVersion", Ref: apiVersion + "/" + kind, Err: ErrPluginNotAllowed}
		}
		if kind == "HelmChartInflationGenerator" {
			if repo, _ := n.GetString("repo"); repo != "" {
				return &ReferenceError{File: w.rel(file), Field: kind + ".repo", Ref: repo, Err: ErrRemoteReference}
			}
			if home, _ := n.GetString("configHome"); home != "" {
				return &ReferenceError{File: w.rel(file), Field: kind + ".configHome", Ref: home,
					Err: fmt.Errorf("%w: helm may not write outside its temporary directory", ErrPluginNotAllowed)}
			}
			home, _ := n.GetString("chartHome")
			if home == "" {
				home = types.HelmDefaultHome
			}
			name, _ := n.GetString("name")
			if err := w.chartHome(file, kind+".chartHome", home, base, []types.HelmChart{{Name: name}}); err != nil {
				return err
			}
		}
		for _, fieldPath := range pluginPathFields[kind] {
			for _, ref := range stringsAt(n.YNode(), fieldPath) {
				field := kind + "." + strings.Join(fieldPath, ".")
				if kind == "ConfigMapGenerator" || kind == "SecretGenerator" {
					if fieldPath[0] == "files" {
						ref = fileSourcePath(ref)
					}
				}
				if kind == "PatchStrategicMergeTransformer" && looksInline(ref) {
					continue
				}
				if err := w.file(file, field, ref, base); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stringsAt returns the scalar values at fieldPath below n; "*" walks every
// item of a sequence.
func stringsAt(n *yaml.Node, fieldPath []string) []string {
	if n == nil {
		return nil
	}
	if len(fieldPath) == 0 {
		if n.Kind == yaml.ScalarNode && n.Value != "" {
			return []string{n.Value}
		}
		return nil
	}
	head, rest := fieldPath[0], fieldPath[1:]
	if head == "*" {
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		var out []string
		for _, item := range n.Content {
			out = append(out, stringsAt(item, rest)...)
		}
		return out
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == head {
			return stringsAt(n.Content[i+1], rest)
		}
	}
	return nil
}

// looksInline reports whether a patchesStrategicMerge, generators,
// transformers or validators entry is YAML content rather than a path, the way
// kustomize decides: content parses as one or more YAML mappings.
func looksInline(s string) bool {
	if !strings.ContainsAny(s, "\n:{") {
		return false
	}
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(s), OmitReaderAnnotations: true}).Read()
	if err != nil || len(nodes) == 0 {
		return false
	}
	for _, n := range nodes {
		if n.YNode().Kind != yaml.MappingNode {
			return false
		}
	}
	return true
}

// scpUser matches the user@ prefix of an SCP-style git URL.
var scpUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize would fetch ref over the network: an
// HTTP(S) file (net/http) or anything its git URL parser could accept (cloned
// by running git). It errs on the side of remote: any URL scheme, an SCP-style
// user@host prefix, a github.com/ or github.com: prefix, or go-getter's git::.
func isRemote(ref string) bool {
	if isURL(ref) {
		return true
	}
	s := strings.ToLower(strings.TrimSpace(ref))
	s = strings.TrimPrefix(s, "git::")
	switch {
	case scpUser.MatchString(s):
		return true
	case strings.HasPrefix(s, "github.com/"), strings.HasPrefix(s, "github.com:"):
		return true
	}
	return false
}

// isURL reports whether ref has a URL scheme (kustomize fetches http and
// https files, and clones ssh, file, http and https git URLs).
func isURL(ref string) bool {
	s := strings.ToLower(strings.TrimSpace(ref))
	s = strings.TrimPrefix(s, "git::")
	return strings.Contains(s, "://")
}
