package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"

	"github.com/promobot/promobot/internal/checkout"
)

// DefaultKubeVersion is the Kubernetes version templates see
// (.Capabilities.KubeVersion) when Options.KubeVersion is empty: the version
// of the Kubernetes libraries promobot is built with, which is also what the
// helm binary of promobot's test harness reports.
const DefaultKubeVersion = "v1.37.0"

// Options are an Application's Helm source (spec.source.helm) and the facts
// of its destination that `helm template` is given.
type Options struct {
	// ReleaseName is the release's name (.Release.Name); Argo CD's default,
	// and so the caller's, is the Application's name. Required.
	ReleaseName string
	// Namespace is the destination namespace (.Release.Namespace);
	// "default" when empty, as helm's.
	Namespace string
	// ValueFiles are helm's -f files, in order: relative to the chart
	// directory, or to the repository root when they start with "/", or
	// "$<ref>/<path>" for a file of the repository of a `ref:` source
	// (see Refs). A file outside its repository is refused; URLs are
	// refused.
	ValueFiles []string
	// IgnoreMissingValueFiles skips value files that do not exist instead
	// of failing the render.
	IgnoreMissingValueFiles bool
	// Values is spec.source.helm.values, a YAML document applied after the
	// value files. ValuesObject takes its place when set, as in Argo CD.
	Values string
	// ValuesObject is spec.source.helm.valuesObject.
	ValuesObject map[string]any
	// Parameters are helm's --set (or --set-string with ForceString),
	// applied after the values: all --set first, then all --set-string.
	Parameters []Parameter
	// FileParameters are helm's --set-file, applied last. Each Path is
	// resolved as a value file is.
	FileParameters []FileParameter
	// SkipCrds leaves out the chart's crds/ directory (helm template
	// without --include-crds); Argo CD includes them by default.
	SkipCrds bool
	// SkipTests leaves out test hooks (helm template --skip-tests).
	SkipTests bool
	// SkipSchemaValidation does not check the values against the chart's
	// values.schema.json.
	SkipSchemaValidation bool
	// KubeVersion is the destination cluster's version, e.g. "1.37.2" or
	// "v1.37.2"; DefaultKubeVersion when empty.
	KubeVersion string
	// APIVersions are the destination cluster's API versions
	// ("apps/v1", "apps/v1/Deployment"), added to helm's defaults as
	// --api-versions does.
	APIVersions []string
	// Env is the Application's build environment (ARGOCD_APP_NAME,
	// ARGOCD_APP_NAMESPACE, ARGOCD_APP_REVISION, KUBE_VERSION, ...). As
	// in Argo CD, its variables are substituted into the paths of value
	// files (not "$<ref>/" ones) and file parameters and into the values
	// of parameters: $NAME and ${NAME}, "" when unset; $$ is a "$".
	Env map[string]string
	// Refs maps the name of each `ref:` source of a multi-source
	// Application to the root directory of its repository checkout, for
	// "$<name>/..." value files and file parameters.
	Refs map[string]string
}

// Parameter is one spec.source.helm.parameters entry.
type Parameter struct {
	// Name is the value's path, as helm's --set takes it ("image.tag").
	Name string
	// Value is the value. Commas are taken literally, as Argo CD escapes
	// them, unless the value is a helm list ("{a,b}").
	Value string
	// ForceString sets the value as a string (--set-string).
	ForceString bool
}

// FileParameter is one spec.source.helm.fileParameters entry: the value
// at Name is the content of the file at Path (--set-file).
type FileParameter struct {
	Name string
	Path string
}

// ErrRefused is wrapped by every error about something the sandbox does
// not allow: a remote or OCI chart, a dependency that is not vendored, a
// lookup, a file outside the repository (which also wraps
// checkout.ErrOutsideRepository).
var ErrRefused = errors.New("refused")

// ErrRender is wrapped by every error helm itself reports for a chart that
// passed the sandbox checks (a chart or values file that does not parse, a
// template error, a panic inside helm).
var ErrRender = errors.New("helm template failed")

// errLookup is what a template's lookup call fails with.
var errLookup = errors.New("lookup is not allowed: promobot renders without a cluster")

// Render renders the chart in directory chartPath (relative to repoRoot,
// slash- or OS-separated) with opts, as Argo CD renders a Helm source by
// running `helm template <release> <chart> --namespace <ns> --kube-version
// <v> --api-versions ... --include-crds -f <valueFiles>... -f <values>
// --set ... --set-string ... --set-file ...`, and returns what that command
// prints, byte for byte: the manifests, then the hooks (with their
// helm.sh/hook annotations, for the applier to run), each after a
// "# Source:" comment, as one multi-document YAML stream.
//
// It renders in-process with Helm's install action (dry run, client only),
// inside promobot's sandbox (see the package documentation). Refusals wrap
// ErrRefused and name what was refused; helm's own failures wrap ErrRender.
// Both are prefixed with chartPath.
//
// helm cannot be interrupted: when ctx ends, Render returns ctx's error at
// once and the render finishes in the background. Bound it in time and
// memory by running it in a worker process. Render is safe for concurrent
// use.
func Render(ctx context.Context, repoRoot, chartPath string, opts Options) ([]byte, error) {
	label := filepath.ToSlash(filepath.Clean(chartPath))
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if err := refuseRemote(chartPath); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A panic here would end the process: helm's is an error of the
		// render.
		defer func() {
			if r := recover(); r != nil {
				done <- result{nil, fmt.Errorf("%w: helm panicked: %v", ErrRender, r)}
			}
		}()
		out, err := render(repoRoot, chartPath, opts)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", label, r.err)
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", label, ctx.Err())
	}
}

// refuseRemote refuses a chart that is not a directory of the repository.
func refuseRemote(chartPath string) error {
	if strings.Contains(chartPath, "://") {
		return fmt.Errorf("chart %q: %w: promobot renders charts kept in the repository only; remote and OCI charts are never fetched", chartPath, ErrRefused)
	}
	return nil
}

// render loads the chart and its values through the sandbox and runs helm.
func render(repoRoot, chartPath string, opts Options) ([]byte, error) {
	if opts.ReleaseName == "" {
		return nil, errors.New("helm release name is empty")
	}
	repo, err := checkout.Open(repoRoot)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	dir, err := repo.Resolve(filepath.ToSlash(filepath.Clean(chartPath)))
	if err != nil {
		return nil, fmt.Errorf("chart directory: %w", refused(err))
	}
	chrt, err := loadChart(repo, dir)
	if err != nil {
		return nil, err
	}
	refs, err := openRefs(opts.Refs)
	if err != nil {
		return nil, err
	}
	defer refs.close()
	vals, err := values(&sources{repo: repo, chartDir: dir, refs: refs, env: opts.Env}, opts)
	if err != nil {
		return nil, err
	}
	return template(chrt, vals, opts)
}

// refused marks an escape from the repository as a sandbox refusal.
func refused(err error) error {
	if errors.Is(err, checkout.ErrOutsideRepository) && !errors.Is(err, ErrRefused) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// newInstall returns helm's install action set up as `helm template` sets
// it up, with Argo CD's arguments from opts.
func newInstall(opts Options) (*action.Install, error) {
	cfg := &action.Configuration{
		// Only lookup reaches for a cluster, and finds none (noCluster).
		RESTClientGetter: noCluster{},
		Log:              func(string, ...any) {},
	}
	inst := action.NewInstall(cfg)
	inst.DryRun = true
	// "server" is the only dry-run mode in which helm gives templates the
	// RESTClientGetter's lookup, which is how lookup is refused rather than
	// answered with nothing. ClientOnly still keeps every other step off
	// the cluster: capabilities are opts', the kube client only prints.
	inst.DryRunOption = "server"
	inst.ClientOnly = true
	inst.Replace = true
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = opts.Namespace
	if inst.Namespace == "" {
		inst.Namespace = "default"
	}
	inst.IncludeCRDs = !opts.SkipCrds
	inst.SkipSchemaValidation = opts.SkipSchemaValidation
	inst.APIVersions = chartutil.VersionSet(opts.APIVersions)
	kv := opts.KubeVersion
	if kv == "" {
		kv = DefaultKubeVersion
	}
	parsed, err := chartutil.ParseKubeVersion(kv)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", kv, err)
	}
	inst.KubeVersion = parsed
	return inst, nil
}

// template runs helm's install action on the loaded chart and prints what
// `helm template` prints.
func template(chrt *chart.Chart, vals map[string]any, opts Options) ([]byte, error) {
	switch chrt.Metadata.Type {
	case "", "application":
	default:
		return nil, fmt.Errorf("%w: %s charts are not installable", ErrRender, chrt.Metadata.Type)
	}
	if err := checkDependencies(chrt); err != nil {
		return nil, err
	}
	inst, err := newInstall(opts)
	if err != nil {
		return nil, err
	}
	rel, err := inst.RunWithContext(context.Background(), chrt, vals)
	if err != nil {
		if strings.Contains(err.Error(), errLookup.Error()) {
			return nil, fmt.Errorf("%w: %w: %w", ErrRefused, errLookup, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrRender, err)
	}
	return printRelease(rel, opts.SkipTests), nil
}

// printRelease writes a release as `helm template` prints it.
func printRelease(rel *release.Release, skipTests bool) []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, strings.TrimSpace(rel.Manifest))
	for _, h := range rel.Hooks {
		if skipTests && isTestHook(h) {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.Bytes()
}

// isTestHook reports whether h runs on `helm test`.
func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

// checkDependencies refuses a chart whose Chart.yaml lists a dependency
// that is not vendored in its charts/ directory, as `helm template` does
// (for the chart itself, not its subcharts), naming the dependency and its
// repository: promobot never downloads one.
func checkDependencies(c *chart.Chart) error {
	have := map[string]bool{}
	for _, d := range c.Dependencies() {
		have[d.Name()] = true
	}
	for _, req := range c.Metadata.Dependencies {
		if have[req.Name] {
			continue
		}
		where := "repository " + req.Repository
		if req.Repository == "" {
			where = "no repository"
		}
		return fmt.Errorf("chart %s: dependency %s (%s) is not vendored in charts/: %w: promobot renders dependencies from the chart's charts/ directory and never downloads them (run `helm dependency build` and commit charts/)",
			c.Name(), req.Name, where, ErrRefused)
	}
	return nil
}
