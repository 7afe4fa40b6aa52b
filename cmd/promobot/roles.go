package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/project"
	"github.com/promobot/promobot/promoter"
)

// appCredentials identify the GitHub App the applier and promoter act as.
type appCredentials struct {
	id      int64
	key     []byte
	baseURL string
	// slug is the App's slug; empty means ask GitHub.
	slug string
}

// applierFlags configure the applier role.
type applierFlags struct {
	kubeconfig    string
	kubeContext   string
	clusters      []string
	projectsFile  string
	namespace     string
	driftInterval time.Duration
	healthTimeout time.Duration
	concurrency   int
	// frozenRollback lets the merge of a rollback pull request apply to
	// a frozen environment.
	frozenRollback bool
}

func (a *applierFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster promobot runs in (default: in-cluster credentials); apps whose destination is https://kubernetes.default.svc are applied here")
	fl.StringVar(&a.kubeContext, "kube-context", "", "context of --kubeconfig to use (default: its current context)")
	fl.StringArrayVar(&a.clusters, "cluster-kubeconfig", nil, "SERVER=KUBECONFIG[#CONTEXT]: credentials for a destination server or name, an operator cluster named SERVER (repeatable)")
	fl.StringVar(&a.projectsFile, "projects-file", "", "the operator's projects file: which repositories may deploy to which clusters, namespaces and cluster-scoped kinds (default: every repository, every cluster, any namespace but promobot's own and kube-*, Namespaces only)")
	fl.StringVar(&a.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "the namespace promobot runs in, never a destination unless a project names it exactly (default $POD_NAMESPACE)")
	fl.DurationVar(&a.driftInterval, "drift-interval", 5*time.Minute, "how often live objects are compared with the last render; apps with selfHeal are re-applied (0 turns it off)")
	fl.DurationVar(&a.healthTimeout, "health-timeout", 2*time.Minute, "how long an apply waits for the app's objects to become healthy")
	fl.IntVar(&a.concurrency, "applier-concurrency", 4, "pushes handled at once (applies of one app never overlap)")
	fl.BoolVar(&a.frozenRollback, "frozen-allows-rollback", false, "apply the merge of a /rollback pull request (branch promobot/rollback/<app>/<env>) to its environment even while /freeze holds it")
}

// clusters builds the cluster resolver from the flags.
func (a *applierFlags) resolver(log *slog.Logger) (*applier.Clusters, error) {
	var home *rest.Config
	switch {
	case a.kubeconfig != "":
		rc, err := cluster.RESTConfigFor(cluster.Credentials{KubeconfigPath: a.kubeconfig, Context: a.kubeContext})
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		home = rc
	default:
		if rc, err := rest.InClusterConfig(); err == nil {
			home = rc
		} else {
			log.Info("not running in a cluster and no --kubeconfig: apps for https://kubernetes.default.svc cannot be applied")
		}
	}
	static := map[string]*rest.Config{}
	for _, c := range a.clusters {
		server, kc, ok := strings.Cut(c, "=")
		if !ok || server == "" || kc == "" {
			return nil, fmt.Errorf("--cluster-kubeconfig %q: want SERVER=KUBECONFIG[#CONTEXT]", c)
		}
		file, ctxName, _ := strings.Cut(kc, "#")
		rc, err := cluster.RESTConfigFor(cluster.Credentials{KubeconfigPath: file, Context: ctxName})
		if err != nil {
			return nil, fmt.Errorf("--cluster-kubeconfig %s: %w", server, err)
		}
		static[server] = rc
	}
	projects := project.Default(a.namespace)
	var defined []applier.OperatorCluster
	if a.projectsFile != "" {
		ps, err := project.Load(a.projectsFile, a.namespace)
		if err != nil {
			return nil, fmt.Errorf("--projects-file: %w", err)
		}
		projects = ps
		for _, c := range ps.Clusters() {
			rc, err := cluster.RESTConfigFor(cluster.Credentials{KubeconfigPath: c.Kubeconfig, Context: c.Context})
			if err != nil {
				return nil, fmt.Errorf("--projects-file: cluster %s: %w", c.Name, err)
			}
			defined = append(defined, applier.OperatorCluster{Name: c.Name, Server: c.Server, Config: rc})
		}
	}
	return applier.NewClusters(home, static).WithProjects(projects, defined), nil
}

func newApplierRole(ctx context.Context, bus *events.Bus, gh *githubApp, f *applierFlags, log *slog.Logger) (func(context.Context) error, error) {
	clusters, err := f.resolver(log)
	if err != nil {
		return nil, err
	}
	a, err := applier.New(ctx, applier.Options{
		HealthTimeout:        f.healthTimeout,
		DriftInterval:        f.driftInterval,
		Concurrency:          f.concurrency,
		FrozenAllowsRollback: f.frozenRollback,
		Logger:               log.With("role", roleApplier),
	}, bus, applierInstallations{gh}, clusters)
	if err != nil {
		return nil, err
	}
	return a.Run, nil
}

// applierInstallations gives the applier its GitHub API per installation.
type applierInstallations struct{ app *githubApp }

func (i applierInstallations) GitHub(ctx context.Context, id int64) (applier.GitHub, error) {
	c, err := i.app.app.Installation(ctx, id)
	if err != nil {
		return applier.GitHub{}, err
	}
	return applier.GitHub{RepoReader: c, Reporter: c}, nil
}

// promoterInstallations gives the promoter its GitHub API per installation.
type promoterInstallations struct{ app *githubApp }

func (i promoterInstallations) GitHub(ctx context.Context, id int64) (promoter.GitHub, error) {
	ic, err := i.app.app.Installation(ctx, id)
	if err != nil {
		return nil, err
	}
	return ic, nil
}

// appSlug returns the App's slug, which names its bot user: the promoter
// ignores its own comments and finds its sticky ones by it. --app-slug
// gives it; else it is read from GitHub, whose transient failures the
// client retries; GitHub may also be unreachable for longer at start, and
// deliveries wait on the bus meanwhile. ok is false when ctx ended first.
func appSlug(ctx context.Context, gapp *githubApp, log *slog.Logger) (slug string, ok bool) {
	slug = gapp.creds.slug
	for wait := time.Second; slug == ""; wait = min(2*wait, time.Minute) {
		var err error
		if slug, err = gapp.app.Slug(ctx); err == nil {
			break
		}
		log.Warn("cannot read the App from GitHub yet; retrying (set --app-slug to skip this)", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return "", false
		case <-time.After(wait):
		}
	}
	return slug, true
}

func newPromoterRole(ctx context.Context, bus *events.Bus, gapp *githubApp, log *slog.Logger) (func(context.Context) error, error) {
	log = log.With("role", rolePromoter)
	return func(ctx context.Context) error {
		slug, ok := appSlug(ctx, gapp, log)
		if !ok {
			return nil
		}
		p, err := promoter.New(ctx, promoter.Options{AppSlug: slug, Logger: log}, bus, promoterInstallations{gapp})
		if err != nil {
			return err
		}
		return p.Run(ctx)
	}, nil
}
