package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	// Freeze windows name IANA time zones; embedding the database keeps
	// .promobot.yaml valid on hosts (distroless images) without zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
)

// ConfigFile is the repository-relative path of promobot's optional
// repository configuration. Callers read it from the repository's default
// branch, never from a pull request's head, so that a pull request cannot
// change the rules (who may promote, gates, cluster credentials) it is judged
// by. A change to this file affects every app (see Affected).
const ConfigFile = ".promobot.yaml"

// DefaultAppsDir is where Application manifests are looked for when neither
// the caller nor .promobot.yaml names another directory.
const DefaultAppsDir = "apps"

// DefaultDriftInterval is how often the applier compares live objects with
// the last render when .promobot.yaml does not say otherwise.
const DefaultDriftInterval = 5 * time.Minute

// minDriftInterval keeps a repository from turning drift detection into a
// load test of its clusters.
const minDriftInterval = time.Minute

// maxFreezeDuration bounds a cron freeze window; it also bounds the work
// FreezeWindow.Active does (one cron match per minute of the window).
const maxFreezeDuration = 31 * 24 * time.Hour

// Config is the content of .promobot.yaml, promobot's optional
// per-repository configuration. Every field is optional; a repository
// without the file behaves as DefaultConfig. The file is decoded strictly:
// an unknown field is an error naming the field and its line.
//
// A complete, commented example is internal/gitops/testdata/promobot.example.yaml.
type Config struct {
	// AppsDir is the repository-relative directory searched recursively for
	// Argo CD Application manifests. Default "apps".
	AppsDir string `yaml:"appsDir"`

	// Clusters maps an Application's spec.destination.server URL (or, for
	// Applications that use spec.destination.name, that name) to one of the
	// operator's clusters. Credentials are never the repository's: the
	// operator defines clusters (promobot serve --kubeconfig,
	// --cluster-kubeconfig, the projects file) and which repositories may
	// deploy to them. Without an entry a destination is found among the
	// operator's clusters by its server or name.
	Clusters map[string]Cluster `yaml:"clusters"`

	// Apps holds per-app overrides keyed by the Application's metadata.name.
	Apps map[string]AppOverride `yaml:"apps"`

	// Steps is the promotion pipeline (key "pipeline"), in order. Without
	// it the pipeline is derived from the apps' environments (see
	// Config.Pipeline).
	Steps []PipelineStep `yaml:"pipeline"`

	// Promoters lists who may run /promote besides users with write,
	// maintain or admin permission on the repository.
	Promoters Promoters `yaml:"promoters"`

	// Render controls how overlays are rendered.
	Render RenderOptions `yaml:"render"`

	// Prune widens what pruning may delete. By default Namespaces and
	// CustomResourceDefinitions are never pruned.
	Prune PruneOptions `yaml:"prune"`

	// Force makes server-side apply take ownership of fields another field
	// manager owns instead of reporting the conflict. Default false.
	Force bool `yaml:"force"`

	// Reporting chooses what promobot tells GitHub after a sync.
	Reporting ReportingOptions `yaml:"reporting"`

	// DriftInterval is how often live objects are compared with the last
	// render (and, for apps with selfHeal, re-applied). At least 1m; "0s"
	// turns drift detection off. Default 5m.
	DriftInterval Duration `yaml:"driftInterval"`
}

// ReportingOptions choose what a sync reports on GitHub besides its check
// run and the environments' Deployments.
type ReportingOptions struct {
	// CommitStatuses adds a commit status promobot/<app> per app synced,
	// for branch protection rules that require them. Default false: one
	// check run reports every app.
	CommitStatuses bool `yaml:"commitStatuses"`
}

// Cluster maps one destination to an operator's cluster. Exactly one of
// InCluster and Cluster is set.
type Cluster struct {
	// InCluster means the cluster promobot runs in (the operator's cluster
	// named "in-cluster").
	InCluster bool `yaml:"inCluster"`
	// Cluster is the name of one of the operator's clusters.
	Cluster string `yaml:"cluster"`
	// Kubeconfig and KubeconfigSecret are refused: a repository cannot
	// name credentials. They are decoded only to say so clearly.
	Kubeconfig       *KubeconfigFile   `yaml:"kubeconfig"`
	KubeconfigSecret *KubeconfigSecret `yaml:"kubeconfigSecret"`
}

// InClusterName is the operator's name for the cluster promobot runs in.
const InClusterName = "in-cluster"

// OperatorCluster returns the operator's cluster name the entry maps to.
func (c Cluster) OperatorCluster() string {
	if c.InCluster {
		return InClusterName
	}
	return c.Cluster
}

// KubeconfigFile is what older .promobot.yaml files used to name a
// kubeconfig file; it is refused.
type KubeconfigFile struct {
	File    string `yaml:"file"`
	Context string `yaml:"context"`
}

// KubeconfigSecret is what older .promobot.yaml files used to name a
// kubeconfig Secret; it is refused.
type KubeconfigSecret struct {
	Namespace string `yaml:"namespace"`
	Name      string `yaml:"name"`
	Key       string `yaml:"key"`
	Context   string `yaml:"context"`
}

// AppOverride changes how promobot treats one app.
type AppOverride struct {
	// Apply set to false stops the applier from applying the app; diffs and
	// promotions still work. Default true.
	Apply *bool `yaml:"apply"`
	// Environment overrides the environment inferred for the app.
	Environment string `yaml:"environment"`
	// AllowMassPrune lets one apply prune more than half of this app's
	// objects, as prune.allowMass does for every app. Default false.
	AllowMassPrune bool `yaml:"allowMassPrune"`
}

// PipelineStep is one promotion from an environment to the next.
type PipelineStep struct {
	// From is the source environment.
	From string `yaml:"from"`
	// To is the target environment.
	To string `yaml:"to"`
	// AutoPromote opens the promotion PR without a /promote comment once
	// From applied a commit that changed images and the gates pass.
	AutoPromote bool `yaml:"autoPromote"`
	// AutoMerge merges the promotion PR once its gates pass and the
	// checks branch protection requires on the default branch are green,
	// never bypassing the protection. Default false.
	AutoMerge bool `yaml:"autoMerge"`
	// MergeMethod is how AutoMerge merges (one of MergeMethods); empty:
	// the first the repository allows of merge, squash and rebase.
	MergeMethod string `yaml:"mergeMethod"`
	// Gates hold a promotion back until they pass.
	Gates Gates `yaml:"gates"`
	// Strategy is what a promotion carries from From to To (one of
	// Strategies). Empty: StrategyRevision when the target app is pinned
	// (its targetRevision is not the default branch), StrategyImages
	// otherwise.
	Strategy string `yaml:"strategy"`
	// Carry lists what a StrategyFields promotion carries: kustomization
	// fields (images, replicas, configMapGenerator, secretGenerator,
	// patches; a generator by name or a patch by path as kind/name) and
	// overlay files (file/<path relative to the overlay>).
	Carry []string `yaml:"carry"`
}

// The promotion strategies.
const (
	// StrategyImages sets the target overlay's images: to the source's.
	StrategyImages = "images"
	// StrategyRevision moves the target Application's targetRevision to
	// the commit the source environment runs: the whole tree is promoted.
	StrategyRevision = "revision"
	// StrategyFields carries the change the source overlay went through,
	// for the fields and files listed in Carry, onto the target overlay.
	StrategyFields = "fields"
)

// MergeMethods are the merge methods a pipeline step may name.
var MergeMethods = []string{"merge", "squash", "rebase"}

// Strategies are the strategies a pipeline step may name.
var Strategies = []string{StrategyImages, StrategyRevision, StrategyFields}

// Gates are the conditions a promotion waits for.
type Gates struct {
	// RequireHealthy requires the source environment to have applied the
	// source commit and to be healthy. Default true; use RequiresHealthy.
	RequireHealthy *bool `yaml:"requireHealthy"`
	// Soak is how long the source commit must have run in the source
	// environment before it may be promoted. Default 0.
	Soak Duration `yaml:"soak"`
	// Freeze lists windows during which no promotion into To happens.
	Freeze []FreezeWindow `yaml:"freeze"`
}

// RequiresHealthy reports whether the source environment must be applied
// and healthy before a promotion (true unless requireHealthy: false).
func (g Gates) RequiresHealthy() bool {
	return g.RequireHealthy == nil || *g.RequireHealthy
}

// Frozen returns the first freeze window active at t, if any.
func (g Gates) Frozen(t time.Time) (FreezeWindow, bool) {
	for _, w := range g.Freeze {
		if w.Active(t) {
			return w, true
		}
	}
	return FreezeWindow{}, false
}

// FreezeWindow is a period during which promotions are held back. It is
// either recurring (Cron and Duration: a window opens at every time the
// five-field cron expression matches and lasts Duration) or one-off (Start
// and End, as "2006-01-02T15:04" local to Timezone, or RFC 3339 with an
// offset).
type FreezeWindow struct {
	// Cron is a standard five-field cron expression (minute hour
	// day-of-month month day-of-week; names like mon or jan allowed).
	Cron string `yaml:"cron"`
	// Duration is how long a recurring window lasts (at most 31 days).
	Duration Duration `yaml:"duration"`
	// Start and End bound a one-off window; End is exclusive.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Timezone is an IANA time zone name such as Europe/Berlin. Default UTC.
	Timezone string `yaml:"timezone"`
	// Reason is shown in the reply when the window holds a promotion back.
	Reason string `yaml:"reason"`

	schedule   *cronSchedule
	loc        *time.Location
	start, end time.Time
}

// Active reports whether t falls inside the window. It is safe for
// concurrent use. A window that was not produced by ParseConfig is compiled
// on each call; an invalid one is never active (ParseConfig refuses it).
func (w FreezeWindow) Active(t time.Time) bool {
	if w.loc == nil {
		if err := w.compile(); err != nil {
			return false
		}
	}
	if w.schedule == nil {
		return !t.Before(w.start) && t.Before(w.end)
	}
	from := t.Add(-w.Duration.D())
	for s := t.Truncate(time.Minute); s.After(from); s = s.Add(-time.Minute) {
		if w.schedule.match(s.In(w.loc)) {
			return true
		}
	}
	return false
}

// String describes the window for a reply or help text, e.g.
// "weekend: 62h from each `0 18 * * fri` (Europe/Berlin)".
func (w FreezeWindow) String() string {
	tz := w.Timezone
	if tz == "" {
		tz = "UTC"
	}
	var s string
	if w.Cron != "" {
		s = fmt.Sprintf("%s from each `%s` (%s)", w.Duration, w.Cron, tz)
	} else {
		s = fmt.Sprintf("%s to %s (%s)", w.Start, w.End, tz)
	}
	if w.Reason != "" {
		s = w.Reason + ": " + s
	}
	return s
}

var localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func (w *FreezeWindow) compile() error {
	loc := time.UTC
	if w.Timezone != "" {
		l, err := time.LoadLocation(w.Timezone)
		if err != nil {
			return fmt.Errorf("unknown timezone %q (use an IANA name such as Europe/Berlin)", w.Timezone)
		}
		loc = l
	}
	switch {
	case w.Cron != "" && (w.Start != "" || w.End != ""):
		return errors.New("set either cron and duration, or start and end, not both")
	case w.Cron != "":
		s, err := parseCron(w.Cron)
		if err != nil {
			return fmt.Errorf("cron %q: %w", w.Cron, err)
		}
		if w.Duration <= 0 {
			return errors.New("a cron window needs a duration, e.g. duration: 62h")
		}
		if w.Duration.D() > maxFreezeDuration {
			return fmt.Errorf("duration %s is longer than %s", w.Duration, Duration(maxFreezeDuration))
		}
		w.schedule = s
	case w.Start != "" || w.End != "":
		if w.Duration != 0 {
			return errors.New("duration is only used with cron")
		}
		start, err := parseWhen(w.Start, loc)
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		end, err := parseWhen(w.End, loc)
		if err != nil {
			return fmt.Errorf("end: %w", err)
		}
		if !end.After(start) {
			return fmt.Errorf("end %s is not after start %s", w.End, w.Start)
		}
		w.start, w.end = start, end
	default:
		return errors.New("set cron and duration, or start and end")
	}
	w.loc = loc
	return nil
}

func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like 2025-12-24T00:00 or 2025-12-24T00:00:00+01:00", s)
}

// Promoters lists who may promote besides users with write, maintain or
// admin permission on the repository.
type Promoters struct {
	// Users are GitHub accounts, each named by its login and its numeric id
	// (`{login: alice, id: 583231}`). The id decides: when a user renames
	// their account the old login is free, and anyone may register it.
	Users []User `yaml:"users"`
	// Teams are "org/team-slug" names; the caller checks membership.
	Teams []string `yaml:"teams"`
}

// User is a GitHub account: its login (for people to read) and its id
// (what promobot matches).
type User struct {
	Login string `yaml:"login"`
	ID    int64  `yaml:"id"`
}

// UnmarshalYAML implements yaml.Unmarshaler. A bare login decodes with
// ID 0, which validation refuses with a message saying how to add the id.
func (u *User) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*u = User{Login: n.Value}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "login" && k != "id" {
				return fmt.Errorf("line %d: unknown field %q in a user (want login and id)", n.Content[i].Line, k)
			}
		}
		type plain User
		var p plain
		if err := n.Decode(&p); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*u = User(p)
		return nil
	}
	return fmt.Errorf("line %d: expected a user like {login: alice, id: 583231}", n.Line)
}

// AllowsUser reports whether the account with id is listed in Users. The
// login is not compared: it may have changed hands.
func (p Promoters) AllowsUser(id int64) bool {
	if id == 0 {
		return false
	}
	for _, u := range p.Users {
		if u.ID == id {
			return true
		}
	}
	return false
}

// RenderOptions controls rendering.
type RenderOptions struct {
	// Helm allows kustomize's helmCharts inflation. Default false.
	Helm bool `yaml:"helm"`
}

// PruneOptions widens what pruning may delete.
type PruneOptions struct {
	// Namespaces allows pruning Namespaces an app no longer renders.
	Namespaces bool `yaml:"namespaces"`
	// CRDs allows pruning CustomResourceDefinitions an app no longer renders.
	CRDs bool `yaml:"crds"`
	// AllowMass allows one apply to prune more than half of an app's
	// objects (apps of 4 objects or more). Default false: such a prune is
	// refused, the stale objects stay, and the app's status fails saying
	// so. A commit whose message has the line "promobot: allow-mass-prune"
	// allows it for its own apply.
	AllowMass bool `yaml:"allowMass"`
}

// Duration is a time.Duration written as a Go duration string ("30m",
// "1h30m"), plus a "d" unit for days ("2d").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, without trailing zero units
// ("30m", "1h30m", "62h").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration like 30m", n.Line)
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

var daysRe = regexp.MustCompile(`^(\d+)d(.*)$`)

func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if m := daysRe.FindStringSubmatch(s); m != nil {
		var n int
		fmt.Sscanf(m[1], "%d", &n)
		days = time.Duration(n) * 24 * time.Hour
		rest = m[2]
		if rest == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(rest)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a duration like 30m, 1h30m or 2d", s)
	}
	return days + v, nil
}

// DefaultConfig is the configuration of a repository without .promobot.yaml.
func DefaultConfig() *Config {
	return &Config{
		AppsDir:       DefaultAppsDir,
		DriftInterval: Duration(DefaultDriftInterval),
	}
}

// ApplyEnabled reports whether the applier should apply the named app (true
// unless apps.<name>.apply is false). A nil Config enables every app.
func (c *Config) ApplyEnabled(app string) bool {
	if c == nil {
		return true
	}
	o, ok := c.Apps[app]
	return !ok || o.Apply == nil || *o.Apply
}

// AllowsMassPrune reports whether .promobot.yaml lets one apply prune more
// than half of the named app's objects (prune.allowMass, or
// apps.<name>.allowMassPrune).
func (c *Config) AllowsMassPrune(app string) bool {
	if c == nil {
		return false
	}
	return c.Prune.AllowMass || c.Apps[app].AllowMassPrune
}

// ClusterFor returns the operator cluster mapping configured for app's
// destination, looked up by destination server URL, then by destination
// name.
func (c *Config) ClusterFor(app App) (Cluster, bool) {
	if c == nil {
		return Cluster{}, false
	}
	if app.Server != "" {
		if cl, ok := c.Clusters[app.Server]; ok {
			return cl, true
		}
		if cl, ok := c.Clusters[strings.TrimSuffix(app.Server, "/")]; ok {
			return cl, true
		}
	}
	if app.DestName != "" {
		if cl, ok := c.Clusters[app.DestName]; ok {
			return cl, true
		}
	}
	return Cluster{}, false
}

// ConfigError is a .promobot.yaml that cannot be used. Problems lists every
// problem found, each naming its line where known, so one reply can tell a
// user everything to fix.
type ConfigError struct {
	Problems []string
}

// Error implements error.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return ConfigFile + ": " + e.Problems[0]
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", ConfigFile, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// ParseConfig decodes and validates the content of .promobot.yaml. Unknown
// fields, duplicate keys, wrong types and invalid values are reported
// together in a *ConfigError. Empty content (or only comments) yields
// DefaultConfig. Fields not set keep their defaults.
func ParseConfig(data []byte) (*Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil
		}
		return nil, &ConfigError{Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Problems: []string{"only one YAML document is allowed"}}
	}
	if len(root.Content) == 0 || (root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null") {
		return cfg, nil
	}
	lines := map[string]int{}
	var problems []string
	checkFields(root.Content[0], configType, "", lines, &problems)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	if err := root.Content[0].Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				problems = append(problems, cleanTypeError(e))
			}
		} else {
			problems = append(problems, cleanTypeError(err.Error()))
		}
		return nil, &ConfigError{Problems: problems}
	}
	cfg.validate(lines, &problems)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

var typeErrRe = regexp.MustCompile(`cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into (\S+)`)

func cleanTypeError(s string) string {
	s = strings.TrimPrefix(s, "yaml: ")
	return typeErrRe.ReplaceAllStringFunc(s, func(m string) string {
		sm := typeErrRe.FindStringSubmatch(m)
		want := sm[3]
		switch {
		case strings.HasSuffix(want, "bool"):
			want = "true or false"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["), strings.HasPrefix(want, "gitops."), strings.HasPrefix(want, "*gitops."):
			want = "a mapping"
		case want == "string":
			want = "a string"
		}
		return fmt.Sprintf("%q is not %s", sm[2], want)
	})
}

var (
	loginRe   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	teamRe    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}/[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	envNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

func (c *Config) validate(lines map[string]int, problems *[]string) {
	add := func(p, format string, args ...any) {
		msg := p + ": " + fmt.Sprintf(format, args...)
		if l, ok := lineOf(lines, p); ok {
			msg = fmt.Sprintf("line %d: %s", l, msg)
		}
		*problems = append(*problems, msg)
	}
	if err := checkRepoDir(c.AppsDir); err != nil {
		add("appsDir", "%v", err)
	}
	c.validateClusters(add)
	for _, name := range slices.Sorted(maps.Keys(c.Apps)) {
		if e := c.Apps[name].Environment; e != "" && !envNameRe.MatchString(e) {
			add("apps."+name+".environment", "%q is not an environment name (lowercase letters, digits and -)", e)
		}
	}
	c.validatePipeline(add)
	c.validatePromoters(add)
	if d := c.DriftInterval.D(); d != 0 && d < minDriftInterval {
		add("driftInterval", "%s is shorter than %s (use 0s to turn drift detection off)", c.DriftInterval, Duration(minDriftInterval))
	}
}

// problemFunc records a problem of the configuration at a path such as
// "pipeline[0].from".
type problemFunc func(path, format string, args ...any)

// validateClusters checks the clusters map: each destination maps to one
// of the operator's clusters or to the one promobot runs in, never to
// credentials of the repository's.
func (c *Config) validateClusters(add problemFunc) {
	for _, server := range slices.Sorted(maps.Keys(c.Clusters)) {
		cl := c.Clusters[server]
		p := "clusters." + server
		if server == "" {
			add(p, "empty destination server")
		} else if strings.Contains(server, "://") {
			if u, err := url.Parse(server); err != nil || u.Host == "" {
				add(p, "%q is not a server URL like https://kubernetes.default.svc", server)
			}
		}
		const credentials = "a repository cannot name cluster credentials: the operator defines clusters " +
			"(promobot serve --cluster-kubeconfig or the projects file, --projects-file); map this destination to one with cluster: NAME"
		if cl.Kubeconfig != nil {
			add(p+".kubeconfig", credentials)
		}
		if cl.KubeconfigSecret != nil {
			add(p+".kubeconfigSecret", credentials)
		}
		switch {
		case cl.Kubeconfig != nil || cl.KubeconfigSecret != nil:
		case cl.InCluster && cl.Cluster != "":
			add(p, "set one of inCluster and cluster, not both")
		case !cl.InCluster && cl.Cluster == "":
			add(p, "set cluster: NAME (one of the operator's clusters) or inCluster: true")
		}
	}
}

// validatePipeline checks the promotion steps: named environments, one
// next environment each, no cycle, valid gates.
func (c *Config) validatePipeline(add problemFunc) {
	from := map[string]int{}
	to := map[string]int{}
	for i := range c.Steps {
		s := &c.Steps[i]
		p := fmt.Sprintf("pipeline[%d]", i)
		checkEnvName(add, p+".from", s.From, "missing source environment")
		checkEnvName(add, p+".to", s.To, "missing target environment")
		if s.From != "" && s.From == s.To {
			add(p, "promotes %s to itself", s.From)
		}
		if j, dup := from[s.From]; dup && s.From != "" {
			add(p+".from", "%s is already promoted by pipeline[%d]; one environment promotes to one next environment", s.From, j)
		}
		if j, dup := to[s.To]; dup && s.To != "" {
			add(p+".to", "%s is already the target of pipeline[%d]; one environment is promoted from one previous environment", s.To, j)
		}
		from[s.From], to[s.To] = i, i
		if s.Gates.Soak < 0 {
			add(p+".gates.soak", "negative soak")
		}
		for j := range s.Gates.Freeze {
			if err := s.Gates.Freeze[j].compile(); err != nil {
				add(fmt.Sprintf("%s.gates.freeze[%d]", p, j), "%v", err)
			}
		}
		validateStrategy(add, p, s)
	}
	if env, ok := pipelineCycle(c.Steps); ok {
		add("pipeline", "environment %s promotes back into itself", env)
	}
}

// checkEnvName records missing when env is empty, and a problem when it is
// not an environment name.
func checkEnvName(add problemFunc, p, env, missing string) {
	if env == "" {
		add(p, "%s", missing)
	} else if !envNameRe.MatchString(env) {
		add(p, "%q is not an environment name (lowercase letters, digits and -)", env)
	}
}

// validatePromoters checks the promoters' logins (with their account ids)
// and teams, and drops the @ they may be written with.
func (c *Config) validatePromoters(add problemFunc) {
	for i, u := range c.Promoters.Users {
		login := strings.TrimPrefix(u.Login, "@")
		switch {
		case !loginRe.MatchString(login):
			add(fmt.Sprintf("promoters.users[%d]", i), "%q is not a GitHub login", u.Login)
		case u.ID <= 0:
			add(fmt.Sprintf("promoters.users[%d]", i), "%s needs its account id: write {login: %s, id: <id>} "+
				"(the id is in https://api.github.com/users/%s); a login alone can be registered by someone else after a rename",
				login, login, login)
		}
		c.Promoters.Users[i].Login = login
	}
	for i, t := range c.Promoters.Teams {
		if !teamRe.MatchString(strings.TrimPrefix(t, "@")) {
			add(fmt.Sprintf("promoters.teams[%d]", i), "%q is not a team like my-org/release-managers", t)
		}
		c.Promoters.Teams[i] = strings.TrimPrefix(t, "@")
	}
}

// lineOf returns the line of path or of its nearest ancestor that has one.
func lineOf(lines map[string]int, p string) (int, bool) {
	for p != "" {
		if l, ok := lines[p]; ok {
			return l, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0, false
}

func pipelineCycle(steps []PipelineStep) (string, bool) {
	next := map[string]string{}
	for _, s := range steps {
		if _, ok := next[s.From]; !ok && s.From != s.To {
			next[s.From] = s.To
		}
	}
	for _, s := range steps {
		seen := map[string]bool{}
		for e := s.From; e != ""; e = next[e] {
			if seen[e] {
				return e, true
			}
			seen[e] = true
		}
	}
	return "", false
}

// checkRepoDir accepts a clean relative directory inside the repository.
func checkRepoDir(dir string) error {
	if dir == "" {
		return errors.New("empty directory")
	}
	if path.IsAbs(dir) || strings.HasPrefix(dir, `\`) {
		return fmt.Errorf("%q must be relative to the repository root", dir)
	}
	c := path.Clean(dir)
	if c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q is outside the repository", dir)
	}
	return nil
}
