package doctor

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// Destinations resolves apps to the operator's clusters as promobot's
// applier does (the applier's cluster resolver, in promobot doctor).
type Destinations interface {
	// Cluster names the operator cluster app of repo ("owner/name")
	// applies to, or says why it applies nowhere.
	Cluster(repo string, app gitops.App, cfg *gitops.Config) (string, error)
	// ForGenerator is what repo's ApplicationSets' cluster generator sees.
	ForGenerator(repo string) []appset.Cluster
}

// AppsOptions make CheckGitHub render each repository's apps at its
// default branch, in the applier's sandbox, and collect what they write
// to each cluster (Writes), for CheckCluster's RBAC check.
type AppsOptions struct {
	Destinations Destinations
	// MaxRepos bounds the repositories rendered (default 20), MaxApps the
	// apps rendered per repository (default 100) and Timeout the whole
	// rendering (default 2 minutes). What is left out is said in the
	// repository's check.
	MaxRepos int
	MaxApps  int
	Timeout  time.Duration
}

// Object is one kind of object an app renders, and its namespace (the
// app's destination namespace when the object names none; "" when it
// names none and neither does the app).
type Object struct {
	Group, Version, Kind, Namespace string
}

// Writes maps an operator cluster's name to what the apps applying there
// render.
type Writes map[string]map[Object]bool

func (w Writes) add(cluster string, o Object) {
	if w[cluster] == nil {
		w[cluster] = map[Object]bool{}
	}
	w[cluster][o] = true
}

// appsRun is the rendering of one CheckGitHub: its bounds and what it
// collected.
type appsRun struct {
	opts     AppsOptions
	deadline time.Time
	repos    int
	writes   Writes
}

func newAppsRun(o *AppsOptions) *appsRun {
	if o == nil || o.Destinations == nil {
		return nil
	}
	r := &appsRun{opts: *o, writes: Writes{}}
	if r.opts.MaxRepos <= 0 {
		r.opts.MaxRepos = 20
	}
	if r.opts.MaxApps <= 0 {
		r.opts.MaxApps = 100
	}
	if r.opts.Timeout <= 0 {
		r.opts.Timeout = 2 * time.Minute
	}
	r.deadline = time.Now().Add(r.opts.Timeout)
	return r
}

// check renders the apps of r's repository at its default branch and
// adds what they write to run.writes.
func (run *appsRun) check(ctx context.Context, ic *github.InstallationClient, r *gh.Repository) Check {
	repo := github.Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName()}
	name := repo.String() + " apps"
	run.repos++
	if run.repos > run.opts.MaxRepos {
		return warn(name, fmt.Sprintf("not rendered: doctor renders the first %d repositories", run.opts.MaxRepos),
			"run promobot render --repo CHECKOUT --app NAME for its apps")
	}
	if time.Now().After(run.deadline) {
		return warn(name, fmt.Sprintf("not rendered: the %s for rendering had passed", run.opts.Timeout),
			"give doctor more time (--render-timeout) or run promobot render --repo CHECKOUT --app NAME for its apps")
	}
	ctx, cancel := context.WithDeadline(ctx, run.deadline)
	defer cancel()
	branch := r.GetDefaultBranch()
	dir, err := checkout.Fetch(ctx, repo.String()+"@"+branch, func(ctx context.Context) (io.ReadCloser, error) {
		return ic.Tarball(ctx, repo, branch)
	})
	if err != nil {
		return fail(name, err.Error(), "check the installation can read contents of "+repo.String())
	}
	defer os.RemoveAll(dir)
	loaded, err := render.LoadDirWith(ctx, dir, gitops.LoadOptions{
		RepoURLs: []string{r.GetHTMLURL(), r.GetCloneURL(), r.GetSSHURL()},
		Clusters: run.opts.Destinations.ForGenerator(repo.String()),
	}, kustomize.RenderOptions{Class: kustomize.ClassApply})
	if err != nil {
		return fail(name, fmt.Sprintf("not loaded on %s: %v", branch, err), "fix "+gitops.ConfigFile+" and the Applications on "+branch)
	}
	return run.renderApps(ctx, name, repo.String(), loaded)
}

// renderApps renders each app as the applier does and records, per
// destination cluster, what it writes.
func (run *appsRun) renderApps(ctx context.Context, name, repo string, loaded *gitops.Repository) Check {
	apps := loaded.Apps
	var skipped string
	if len(apps) > run.opts.MaxApps {
		skipped = fmt.Sprintf("; %d more not rendered (doctor renders %d per repository)", len(apps)-run.opts.MaxApps, run.opts.MaxApps)
		apps = apps[:run.opts.MaxApps]
	}
	perCluster := map[string]int{}
	var problems []string
	for _, app := range apps {
		cluster, err := run.opts.Destinations.Cluster(repo, app, loaded.Config)
		if err != nil {
			problems = append(problems, fmt.Sprintf("app %s: %v", app.Name, err))
			continue
		}
		objs, err := renderObjects(ctx, loaded, app)
		if err != nil {
			problems = append(problems, fmt.Sprintf("app %s: %v", app.Name, err))
			continue
		}
		perCluster[cluster]++
		for _, o := range objs {
			run.writes.add(cluster, o)
		}
	}
	if len(problems) > 0 {
		return fail(name, strings.Join(problems, "; ")+skipped,
			"fix each app's overlay (promobot render --repo CHECKOUT --app NAME shows the error) or map its destination to an operator cluster (clusters: in "+gitops.ConfigFile+")")
	}
	if len(apps) == 0 {
		return ok(name, "no apps")
	}
	var where []string
	for _, c := range slices.Sorted(maps.Keys(perCluster)) {
		where = append(where, fmt.Sprintf("%d → %s", perCluster[c], c))
	}
	found := fmt.Sprintf("%d rendered: %s%s", len(apps), strings.Join(where, ", "), skipped)
	if skipped != "" {
		return warn(name, found, "check the apps left out with promobot render")
	}
	return ok(name, found)
}

// renderObjects renders app in the sandbox, as the applier does, and
// returns the kinds of what it writes: its objects, and the destination
// namespace when the app creates it.
func renderObjects(ctx context.Context, repo *gitops.Repository, app gitops.App) ([]Object, error) {
	rendered, err := render.App(ctx, repo.Root, app, kustomize.RenderOptions{EnableHelm: repo.Config.Render.Helm, Class: kustomize.ClassApply})
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", app.Path, err)
	}
	objs, err := kustomize.Objects(rendered)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", app.Path, err)
	}
	var out []Object
	if app.CreateNamespace && app.DestNamespace != "" {
		out = append(out, Object{Version: "v1", Kind: "Namespace"})
	}
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		ns := u.GetNamespace()
		if ns == "" {
			ns = app.DestNamespace
		}
		out = append(out, Object{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: ns})
	}
	return out, nil
}

// Objects lists what the apps applying to cluster render, in a stable
// order (none when no app applies there).
func (w Writes) Objects(cluster string) []Object {
	set := w[cluster]
	out := make([]Object, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Version < b.Version
	})
	return out
}
