package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/promobot/promobot/internal/appset"
)

// DefaultArgoNamespace is the namespace of an Application manifest that does
// not set metadata.namespace.
const DefaultArgoNamespace = "argocd"

// InClusterServer is the destination server Argo CD uses for the cluster it
// runs in.
const InClusterServer = "https://kubernetes.default.svc"

// maxManifestSize bounds the Application files read; a larger file is
// skipped with a note rather than read into memory.
const maxManifestSize = 1 << 20

// App is one deployable app declared by an Argo CD Application manifest.
type App struct {
	// Name is the Application's metadata.name.
	Name string
	// Namespace is the Application's own namespace (Argo CD's, default
	// "argocd"), not the namespace it deploys to.
	Namespace string
	// RepoURL, Path and TargetRevision are the Application's primary
	// source: its only one, or the first of its Sources that renders
	// objects. Path is clean and relative to the repository root ("." for
	// the root).
	RepoURL        string
	Path           string
	TargetRevision string
	// Sources are all of the Application's sources, in order: spec.source,
	// or every entry of spec.sources (all of them this repository). A
	// multi-source app renders as its Rendered sources' renders
	// concatenated.
	Sources []Source
	// Server and DestName identify the destination cluster (Argo CD allows
	// either); DestNamespace is the namespace the app deploys to.
	Server        string
	DestName      string
	DestNamespace string
	// Automated is set when spec.syncPolicy.automated is present and not
	// disabled; Prune and SelfHeal are its settings.
	Automated bool
	Prune     bool
	SelfHeal  bool
	// CreateNamespace is syncOptions CreateNamespace=true.
	CreateNamespace bool
	// SyncOptions are spec.syncPolicy.syncOptions as written
	// ("Replace=true", "PruneLast=true", ...); the applier reads them.
	SyncOptions []string
	// IgnoreDifferences are spec.ignoreDifferences: fields drift detection
	// and self-heal leave alone.
	IgnoreDifferences []IgnoreDifference
	// Environment is the app's environment: apps.<name>.environment from
	// .promobot.yaml, else inferred (see InferEnvironment). Empty when
	// nothing names one.
	Environment string
	// Apply is false when .promobot.yaml turns applying off for the app.
	Apply bool
	// File is the repository-relative path of the manifest declaring it.
	// For an Application read from the render of a root (a kustomization
	// or a Helm chart), File is that root's directory and Root is set.
	File string
	// Root is the directory of the rendered App of Apps root that declared
	// the app, or "" when a manifest file in the repository declares it.
	Root string
	// Set is the name of the ApplicationSet that generated the app (File
	// is the set's file), or "". SetReads are what the set's git
	// generators read: a change there can add, remove or change its apps.
	Set      string
	SetReads appset.Reads
}

// String returns "Name" or, outside the default Argo CD namespace,
// "Namespace/Name".
func (a App) String() string {
	if a.Namespace == "" || a.Namespace == DefaultArgoNamespace {
		return a.Name
	}
	return a.Namespace + "/" + a.Name
}

// NoteKind classifies a Note.
type NoteKind string

// Note kinds.
const (
	// NoteInvalid: a file or manifest that could not be understood.
	NoteInvalid NoteKind = "invalid"
	// NoteForeignRepo: an Application whose source is another repository.
	NoteForeignRepo NoteKind = "foreign-repo"
	// NoteRoot: an App of Apps root, which deploys Application manifests
	// rather than workloads and is not applied as a child.
	NoteRoot NoteKind = "root"
	// NoteDuplicate: a second Application with the same namespace and name.
	NoteDuplicate NoteKind = "duplicate"
	// NoteUnsupported: a manifest promobot understands but cannot act on
	// (an ApplicationSet generator that reads another system, several
	// sources from this repository).
	NoteUnsupported NoteKind = "unsupported"
	// NoteConfig: .promobot.yaml says something about an app that does not
	// exist.
	NoteConfig NoteKind = "config"
)

// Note explains why a manifest did not become an App. Notes are for logs
// and status summaries; they are never errors.
type Note struct {
	Kind NoteKind
	// File is the repository-relative file the note is about.
	File string
	// App is the Application's name when known.
	App string
	// Message says what happened, in words for a platform engineer.
	Message string
}

// String formats the note as "file: app: message".
func (n Note) String() string {
	s := n.File
	if n.App != "" {
		s += ": " + n.App
	}
	return s + ": " + n.Message
}

// DiscoverOptions tunes DiscoverApps.
type DiscoverOptions struct {
	// AppsDir is the directory searched, relative to the root of the fs.FS.
	// Empty means Config.AppsDir, then DefaultAppsDir.
	AppsDir string
	// RepoURLs are the URLs of the repository being processed (clone URL,
	// SSH URL, HTML URL...). Applications whose repoURL is none of them,
	// after normalisation (scheme, user, ".git", trailing "/" and case are
	// ignored), are skipped with a NoteForeignRepo. Empty accepts every
	// repoURL, which is what a local checkout without a known remote wants.
	RepoURLs []string
	// Config is the repository's .promobot.yaml, or nil.
	Config *Config
	// Render, when set, renders a root that is not a plain directory of
	// manifests: an apps directory that is a kustomization or a Helm chart,
	// or a nested root of such a kind. Argo CD reads the Applications of a
	// root from its render; without Render, an apps directory is read as
	// plain manifests whatever it is, and nested roots that need a render
	// are noted, not followed.
	Render RenderFunc
	// MaxDepth bounds how deep nested roots are followed (an Application
	// whose source holds more Applications is one level down); 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// Clusters are the operator's clusters, for the cluster generator of
	// ApplicationSets; nil means the cluster promobot runs in alone.
	Clusters []appset.Cluster
}

// argoApp is the part of an Argo CD Application promobot reads.
type argoApp struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		Source      *argoSource  `yaml:"source"`
		Sources     []argoSource `yaml:"sources"`
		Destination struct {
			Server    string `yaml:"server"`
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"destination"`
		SyncPolicy struct {
			Automated *struct {
				Prune    bool  `yaml:"prune"`
				SelfHeal bool  `yaml:"selfHeal"`
				Enabled  *bool `yaml:"enabled"`
			} `yaml:"automated"`
			SyncOptions []string `yaml:"syncOptions"`
		} `yaml:"syncPolicy"`
		IgnoreDifferences []IgnoreDifference `yaml:"ignoreDifferences"`
	} `yaml:"spec"`
}

type found struct {
	app App
	// depth is how many roots down the Application was found: 0 for the
	// apps directory's own.
	depth int
}

// DiscoverApps finds the Argo CD Applications (apiVersion
// argoproj.io/v1alpha1, kind Application) in every .yaml, .yml and .json
// file under the apps directory of fsys, recursively; a file may hold
// several YAML documents. Other kinds are ignored.
//
// An App of Apps root (an Application whose source path is the apps
// directory, an ancestor of it, or any directory holding Application
// manifests) is not returned as a deployable app but as a NoteRoot. So are
// Applications of other repositories (NoteForeignRepo), invalid manifests
// (NoteInvalid, naming the file) and duplicates. A missing apps directory
// yields no apps and a note. The error is for failures of fsys itself.
//
// Apps are returned sorted by Namespace, then Name. DiscoverApps is safe
// for concurrent use if fsys is.
func DiscoverApps(fsys fs.FS, opts DiscoverOptions) ([]App, []Note, error) {
	dir := opts.AppsDir
	if dir == "" && opts.Config != nil {
		dir = opts.Config.AppsDir
	}
	if dir == "" {
		dir = DefaultAppsDir
	}
	if err := checkRepoDir(dir); err != nil {
		return nil, nil, fmt.Errorf("apps dir: %w", err)
	}
	dir = path.Clean(dir)
	if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
		return nil, []Note{{Kind: NoteInvalid, File: dir, Message: "apps directory not found; no Application manifests to read"}}, nil
	}
	w := &manifestWalk{fsys: fsys, dir: dir, manifestDirs: map[string]bool{}, roots: map[string]bool{dir: true}, render: opts.Render}
	w.sets = setEnv(fsys, opts)
	if err := w.readAppsDir(); err != nil {
		return nil, nil, err
	}
	w.followNested(opts.MaxDepth)
	apps, notes := w.deployable(opts)
	notes = append(w.notes, notes...)
	notes = append(notes, unmatchedConfig(opts.Config, apps)...)
	sort.SliceStable(apps, func(i, j int) bool {
		if apps[i].Namespace != apps[j].Namespace {
			return apps[i].Namespace < apps[j].Namespace
		}
		return apps[i].Name < apps[j].Name
	})
	return apps, notes, nil
}

// manifestWalk reads the Application manifests under the apps directory.
type manifestWalk struct {
	fsys fs.FS
	dir  string
	all  []found
	// manifestDirs are the directories holding Application manifests.
	manifestDirs map[string]bool
	notes        []Note
	// roots are the roots whose Applications were read.
	roots  map[string]bool
	render RenderFunc
	// depth is the depth of the Applications being read.
	depth int
	// sets is what ApplicationSets' generators read; setsDeadline ends
	// their generation, setsTimeout after the first began.
	sets         appset.Env
	setsDeadline time.Time
}

// visit is the fs.WalkDirFunc reading one manifest file.
func (w *manifestWalk) visit(p string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if d.IsDir() {
		if p != w.dir && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		return nil
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".json":
	default:
		return nil
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	if info.Size() > maxManifestSize {
		w.notes = append(w.notes, Note{Kind: NoteInvalid, File: p, Message: fmt.Sprintf("file is larger than %d bytes; not read", maxManifestSize)})
		return nil
	}
	data, err := fs.ReadFile(w.fsys, p)
	if err != nil {
		return err
	}
	w.add(p, "", data)
	return nil
}

// deployable keeps the Applications found that promobot deploys, noting
// why it leaves out the others (App of Apps roots, other repositories,
// duplicates).
func (w *manifestWalk) deployable(opts DiscoverOptions) ([]App, []Note) {
	repos := map[string]bool{}
	for _, u := range opts.RepoURLs {
		repos[NormalizeRepoURL(u)] = true
	}
	seen := map[string]string{}
	var apps []App
	var notes []Note
	for _, f := range w.all {
		a := f.app
		if root, ok := rootSource(a, w.dir, w.manifestDirs); ok {
			notes = append(notes, Note{Kind: NoteRoot, File: a.File, App: a.Name, Message: fmt.Sprintf("App of Apps root (source path %s holds Application manifests); not applied as a child", root)})
			continue
		}
		if note := foreignSource(a, repos); note != nil {
			notes = append(notes, *note)
			continue
		}
		for i := range a.Sources {
			a.Sources[i].Kind = detectKind(w.fsys, a.Sources[i])
		}
		id := a.Namespace + "/" + a.Name
		if first, dup := seen[id]; dup {
			notes = append(notes, Note{Kind: NoteDuplicate, File: a.File, App: a.Name, Message: fmt.Sprintf("Application %s is already declared in %s; skipped", id, first)})
			continue
		}
		seen[id] = a.File
		a.Environment = InferEnvironment(a, opts.Config)
		a.Apply = opts.Config.ApplyEnabled(a.Name)
		apps = append(apps, a)
	}
	return apps, notes
}

// unmatchedConfig notes the apps of .promobot.yaml that name no
// Application.
func unmatchedConfig(cfg *Config, apps []App) []Note {
	if cfg == nil {
		return nil
	}
	names := map[string]bool{}
	for _, a := range apps {
		names[a.Name] = true
	}
	var notes []Note
	for _, name := range slices.Sorted(maps.Keys(cfg.Apps)) {
		if !names[name] {
			notes = append(notes, Note{Kind: NoteConfig, File: ConfigFile, App: name, Message: "apps." + name + " matches no Application"})
		}
	}
	return notes
}

// rootSource returns the path of the first source of a that deploys
// Application manifests (see isRoot).
func rootSource(a App, appsDir string, manifestDirs map[string]bool) (string, bool) {
	for _, src := range a.Rendered() {
		recurse := src.Directory != nil && src.Directory.Recurse
		if isRoot(src.Path, recurse, appsDir, manifestDirs) {
			return src.Path, true
		}
	}
	return "", false
}

// foreignSource notes an App with a source in another repository than
// repos (none when repos is empty).
func foreignSource(a App, repos map[string]bool) *Note {
	if len(repos) == 0 {
		return nil
	}
	for i, src := range a.Sources {
		if repos[NormalizeRepoURL(src.RepoURL)] {
			continue
		}
		msg := fmt.Sprintf("source %s is another repository; skipped", src.RepoURL)
		if len(a.Sources) > 1 {
			msg = fmt.Sprintf("source %d of %d (%s) is another repository; promobot applies a multi-source Application only when every source is this repository; skipped", i+1, len(a.Sources), src.RepoURL)
		}
		return &Note{Kind: NoteForeignRepo, File: a.File, App: a.Name, Message: msg}
	}
	return nil
}

func hasNote(notes []Note, k NoteKind) bool {
	for _, n := range notes {
		if n.Kind == k {
			return true
		}
	}
	return false
}

// isRoot reports whether an app with source path p deploys Application
// manifests: p is the apps directory or one of its ancestors, or p holds
// manifests (anywhere below it when the source recurses).
func isRoot(p string, recurse bool, appsDir string, manifestDirs map[string]bool) bool {
	if p == appsDir || p == "." || strings.HasPrefix(appsDir, p+"/") {
		return true
	}
	for d := range manifestDirs {
		if d == p || (recurse && strings.HasPrefix(d, p+"/")) {
			return true
		}
	}
	return false
}

// parseManifests reads every YAML document of one file and returns its
// Applications, with notes for what could not be read. sets generates the
// Applications of an ApplicationSet document; nil notes it as unsupported.
func parseManifests(file string, data []byte, sets setGenerator) ([]found, []Note) {
	var apps []found
	var notes []Note
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			notes = append(notes, Note{Kind: NoteInvalid, File: file, Message: fmt.Sprintf("not valid YAML (document %d): %s", doc, strings.TrimPrefix(err.Error(), "yaml: "))})
			break // the decoder cannot resume after a syntax error
		}
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		_ = n.Decode(&head) // a type mismatch leaves fields empty: not an Application
		if !strings.HasPrefix(head.APIVersion, "argoproj.io/") {
			continue
		}
		switch head.Kind {
		case "Application":
		case "ApplicationSet":
			if sets != nil {
				setApps, setNotes := sets(file, &n)
				apps, notes = append(apps, setApps...), append(notes, setNotes...)
				continue
			}
			name := head.Metadata.Name
			if CheckAppName(name) != nil {
				name = ""
			}
			notes = append(notes, Note{Kind: NoteUnsupported, File: file, App: name, Message: "ApplicationSet is not supported; declare each Application"})
			continue
		default:
			continue
		}
		a, note := appFromNode(file, &n)
		if note != nil {
			notes = append(notes, *note)
			continue
		}
		apps = append(apps, a)
	}
	return apps, notes
}

func appFromNode(file string, n *yaml.Node) (found, *Note) {
	var m argoApp
	if err := n.Decode(&m); err != nil {
		return found{}, &Note{Kind: NoteInvalid, File: file, Message: "invalid Application: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	name := m.Metadata.Name
	bad := func(format string, args ...any) (found, *Note) {
		return found{}, &Note{Kind: NoteInvalid, File: file, App: name, Message: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return bad("Application has no metadata.name")
	}
	if err := CheckAppName(name); err != nil {
		// The name is not repeated raw: it may hold anything, and notes
		// reach logs, statuses and comments.
		return found{}, &Note{Kind: NoteInvalid, File: file, Message: err.Error()}
	}
	srcs, note := appSources(file, name, m.Spec.Source, m.Spec.Sources)
	if note != nil {
		return found{}, note
	}
	src := srcs[0]
	for _, s := range srcs {
		if s.Kind != SourceValues {
			src = s
			break
		}
	}
	d := m.Spec.Destination
	if d.Server == "" && d.Name == "" {
		return bad("Application has neither spec.destination.server nor spec.destination.name")
	}
	a := App{
		Name:           name,
		Namespace:      m.Metadata.Namespace,
		RepoURL:        src.RepoURL,
		Path:           src.Path,
		TargetRevision: src.TargetRevision,
		Sources:        srcs,
		Server:         strings.TrimSuffix(d.Server, "/"),
		DestName:       d.Name,
		DestNamespace:  d.Namespace,
		File:           file,
	}
	if a.Namespace == "" {
		a.Namespace = DefaultArgoNamespace
	}
	if au := m.Spec.SyncPolicy.Automated; au != nil && (au.Enabled == nil || *au.Enabled) {
		a.Automated, a.Prune, a.SelfHeal = true, au.Prune, au.SelfHeal
	}
	for _, o := range m.Spec.SyncPolicy.SyncOptions {
		k, v, _ := strings.Cut(o, "=")
		if strings.TrimSpace(k) == "CreateNamespace" && strings.EqualFold(strings.TrimSpace(v), "true") {
			a.CreateNamespace = true
		}
	}
	a.SyncOptions = m.Spec.SyncPolicy.SyncOptions
	for _, d := range m.Spec.IgnoreDifferences {
		if len(d.JQPathExpressions) > 0 {
			// Ignoring the rule would let self-heal take back fields the
			// team asked promobot to leave alone.
			return found{}, &Note{Kind: NoteUnsupported, File: file, App: name,
				Message: "spec.ignoreDifferences jqPathExpressions are not supported (promobot evaluates no jq); use jsonPointers or managedFieldsManagers"}
		}
	}
	a.IgnoreDifferences = m.Spec.IgnoreDifferences
	return found{app: a}, nil
}

// envName is what an environment inferred from a directory looks like.
var envName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// maxAppName is the longest name Kubernetes gives an object (a DNS-1123
// subdomain).
const maxAppName = 253

// dns1123Subdomain is a DNS-1123 subdomain: lower-case alphanumeric labels
// with inner '-', joined by '.'.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// CheckAppName reports whether name can be an Application's metadata.name:
// Argo CD, like every Kubernetes object name, requires a DNS-1123
// subdomain (lower-case letters, digits, '-' and '.', starting and ending
// with a letter or digit, at most 253 characters). The error quotes the
// name with Go escapes, so that it is safe to print anywhere.
func CheckAppName(name string) error {
	if len(name) > maxAppName || !dns1123Subdomain.MatchString(name) {
		q := name
		if len(q) > 80 {
			q = q[:80] + "…"
		}
		return fmt.Errorf("metadata.name %s is not a valid Application name: Argo CD requires a DNS-1123 subdomain "+
			"(lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most %d characters)", strconv.Quote(q), maxAppName)
	}
	return nil
}

// NormalizeRepoURL reduces a Git URL to "host/owner/repo" in lower case, so
// that https://github.com/Org/Repo.git, git@github.com:org/repo and
// ssh://git@github.com/org/repo compare equal. Ports are dropped.
func NormalizeRepoURL(u string) string {
	s := strings.TrimSpace(u)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if at := strings.LastIndex(strings.SplitN(s, "/", 2)[0], "@"); at >= 0 {
			s = s[at+1:]
		}
		host, rest, _ := strings.Cut(s, "/")
		if h, _, ok := strings.Cut(host, ":"); ok {
			host = h
		}
		s = host + "/" + rest
	} else if at := strings.Index(s, "@"); at >= 0 && strings.Contains(s[at:], ":") {
		// scp-like: git@github.com:org/repo.git
		host, rest, _ := strings.Cut(s[at+1:], ":")
		s = host + "/" + strings.TrimPrefix(rest, "/")
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, ".git")
	return strings.ToLower(strings.TrimRight(s, "/"))
}

// InferEnvironment returns app's environment. In order:
//  1. apps.<name>.environment in cfg;
//  2. the destination namespace, when it is an environment word (see
//     EnvironmentRank) or ends with "-<word>" ("shop-staging" → staging);
//  3. the source directory's name, when its parent is "overlays", "envs"
//     or "environments" (kustomize/overlays/qa-eu → qa-eu), or when it is
//     an environment word;
//  4. the app name's "-<word>" suffix (my-api-production → production).
//
// It returns "" when none applies; such an app takes no part in a derived
// pipeline.
func InferEnvironment(app App, cfg *Config) string {
	if cfg != nil {
		if o, ok := cfg.Apps[app.Name]; ok && o.Environment != "" {
			return o.Environment
		}
	}
	if e := envWord(app.DestNamespace); e != "" {
		return e
	}
	if app.Path != "" && app.Path != "." {
		base := path.Base(app.Path)
		switch path.Base(path.Dir(app.Path)) {
		case "overlays", "envs", "environments":
			// A directory may be named anything; only a name that reads
			// as one (letters, digits, '.', '_', '-') is an environment.
			if e := strings.ToLower(base); envName.MatchString(e) {
				return e
			}
		}
		if _, ok := EnvironmentRank(base); ok {
			return strings.ToLower(base)
		}
	}
	return envSuffix(app.Name)
}

// envWord returns s when it is an environment word, the word after its last
// "-" when that is one, or "".
func envWord(s string) string {
	s = strings.ToLower(s)
	if _, ok := EnvironmentRank(s); ok {
		return s
	}
	return envSuffix(s)
}

func envSuffix(s string) string {
	s = strings.ToLower(s)
	for w := range envRanks {
		if strings.HasSuffix(s, "-"+w) {
			// prefer the longest match: "pre-prod" over "prod"
			best := w
			for w2 := range envRanks {
				if len(w2) > len(best) && strings.HasSuffix(s, "-"+w2) {
					best = w2
				}
			}
			return best
		}
	}
	return ""
}

var envRanks = map[string]int{
	"local": 5, "sandbox": 8,
	"dev": 10, "develop": 10, "development": 10,
	"test": 20, "testing": 20,
	"int": 25, "integration": 25,
	"qa":    30,
	"uat":   35,
	"stage": 40, "staging": 40, "stg": 40,
	"preprod": 50, "pre-prod": 50, "preproduction": 50, "pre-production": 50,
	"prod": 60, "production": 60, "prd": 60, "live": 60,
}

// EnvironmentRank orders well-known environment names from the first to
// the last stage of a pipeline: local < sandbox < dev < test < integration
// < qa < uat < staging < preprod < production (with common spellings:
// development, stage, stg, pre-prod, prod, prd, live...). ok is false for
// a name it does not know.
func EnvironmentRank(env string) (rank int, ok bool) {
	rank, ok = envRanks[strings.ToLower(env)]
	return rank, ok
}

// IgnoreDifference is one entry of an Application's spec.ignoreDifferences:
// the objects it matches (an empty Group, Name or Namespace matches any) and
// the fields of them to ignore.
type IgnoreDifference struct {
	Group     string `yaml:"group"`
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	// JSONPointers are RFC 6901 pointers, e.g. "/spec/replicas".
	JSONPointers []string `yaml:"jsonPointers"`
	// JQPathExpressions are refused: promobot evaluates no jq.
	JQPathExpressions []string `yaml:"jqPathExpressions"`
	// ManagedFieldsManagers ignore every field these field managers own
	// in the live object.
	ManagedFieldsManagers []string `yaml:"managedFieldsManagers"`
}
