package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/project"
)

// permissionFeatures names the feature each of appPermissions serves, for
// doctor's "missing permission" lines.
var permissionFeatures = map[string]string{
	"contents":      "reading overlays and committing promotion branches",
	"pull_requests": "opening and updating promotion PRs",
	"issues":        "answering /promote, /freeze and /rollback comments",
	"statuses":      "commit statuses of applies",
	"checks":        "check runs of renders and gates",
	"merge_queues":  "applying merge queue groups",
	"deployments":   "GitHub Deployments of each environment",
	"metadata":      "reading repositories at all",
}

type doctorFlags struct {
	githubURL      string
	appID          int64
	privateKeyFile string
	webhookSecrets []string
	kubeconfig     string
	kubeContext    string
	clusters       []string
	projectsFile   string
	namespace      string
	natsURL        string
	dataDir        string
	nats           natsClientFlags
	redeliver      bool
	webhookURL     string
	maxRepos       int
	maxApps        int
	renderTimeout  time.Duration
	json           bool
}

func newDoctorCommand() *cobra.Command {
	f := &doctorFlags{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the GitHub App, its installations and the clusters, and say what to fix",
		Long: `doctor checks, with the credentials promobot serve uses, what a working
promobot needs: the App's permissions, its webhook URL (https, ending in
/webhook, --webhook-url if given), content type (json) and events, the webhook secret
(and whether the latest delivery was refused for its signature), each
installation's repositories and their .promobot.yaml on the default branch,
each repository's apps rendered at its default branch as the applier
renders them, each cluster's reachability and RBAC (SelfSubjectAccessReviews
for get, list, create, patch and delete of every resource the apps applying
there render) and, with --nats-url, the bus: its streams'
sizes against their limits and each consumer's lag.

Each check prints ok, warn or fail with what it found and what to fix.
The exit code is 0 only if every check is ok, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.githubURL, "github-url", "https://api.github.com/", "GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3/)")
	fl.Int64Var(&f.appID, "app-id", 0, "GitHub App id (or $PROMOBOT_APP_ID)")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "GitHub App private key PEM file (or $PROMOBOT_PRIVATE_KEY)")
	fl.StringArrayVar(&f.webhookSecrets, "webhook-secret-file", nil, "file holding the webhook secret(s), one per line (repeatable)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster promobot runs in")
	fl.StringVar(&f.kubeContext, "kube-context", "", "context of --kubeconfig to use (default: its current context)")
	fl.StringArrayVar(&f.clusters, "cluster-kubeconfig", nil, "SERVER=KUBECONFIG[#CONTEXT]: a destination cluster's credentials (repeatable)")
	fl.StringVar(&f.projectsFile, "projects-file", "", "the operator's projects file; its clusters are checked too")
	fl.StringVar(&f.namespace, "namespace", "default", "namespace the RBAC check asks about deployments in when the apps could not be rendered")
	fl.StringVar(&f.natsURL, "nats-url", "", "NATS server URL of promobot's bus; its streams' sizes and consumer lag are checked (default: not checked)")
	fl.StringVar(&f.dataDir, "data-dir", "promobot-data", "data directory of the promobot serve whose embedded NATS to check (its credentials are there)")
	f.nats.register(fl, true)
	fl.BoolVar(&f.redeliver, "redeliver", false, "ask GitHub to deliver the latest webhook delivery again and judge the webhook secret by promobot serve's answer to it")
	fl.StringVar(&f.webhookURL, "webhook-url", "", "the webhook URL the App should have (default: any https URL ending in "+webhookPath+")")
	fl.IntVar(&f.maxRepos, "max-repos", 20, "repositories whose apps are rendered for the clusters' RBAC check")
	fl.IntVar(&f.maxApps, "max-apps", 100, "apps rendered per repository for the clusters' RBAC check")
	fl.DurationVar(&f.renderTimeout, "render-timeout", 2*time.Minute, "bound on rendering every repository's apps")
	fl.BoolVar(&f.json, "json", false, "print the checks as JSON")
	return cmd
}

func runDoctor(cmd *cobra.Command, f *doctorFlags) error {
	ctx := cmd.Context()
	rep := &doctor.Report{}
	checks, writes := f.githubChecks(ctx)
	rep.Add(checks...)
	clusters, err := f.clusterList()
	if err != nil {
		rep.Add(doctor.Check{Name: "clusters", Status: doctor.Fail, Found: err.Error(), Fix: "fix the cluster flags or the projects file"})
	}
	for _, c := range clusters {
		if writes != nil {
			c.Rendered, c.Objects = true, writes.Objects(c.Name)
		}
		rep.Add(doctor.CheckCluster(ctx, c)...)
	}
	if f.natsURL != "" {
		rep.Add(f.busChecks(ctx)...)
	}
	out := cmd.OutOrStdout()
	if f.json {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteText(out)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return exitError{code: 1, err: errors.New("some checks did not pass")}
	}
	return nil
}

func (f *doctorFlags) githubChecks(ctx context.Context) ([]doctor.Check, doctor.Writes) {
	appID := f.appID
	if appID == 0 {
		fmt.Sscan(os.Getenv(envAppID), &appID)
	}
	key, err := loadPrivateKey(f.privateKeyFile)
	if err != nil || appID == 0 {
		found := "no --app-id"
		if err != nil {
			found = err.Error()
		}
		return []doctor.Check{{Name: "github app", Status: doctor.Fail, Found: found, Fix: "pass --app-id and --private-key-file as for promobot serve"}}, nil
	}
	base := f.githubURL
	if strings.TrimSuffix(base, "/") == "https://api.github.com" {
		base = ""
	}
	secrets, secretErr := loadWebhookSecrets(f.webhookSecrets)
	return doctor.CheckGitHub(ctx, doctor.GitHubOptions{
		BaseURL: base, AppID: appID, PrivateKey: key,
		Permissions: appPermissions, Features: permissionFeatures, Events: appEvents,
		WebhookSecrets: secrets, SecretErr: secretErr, Redeliver: f.redeliver,
		WebhookPath: webhookPath, WebhookURL: f.webhookURL, Apps: f.apps(),
	})
}

// apps renders the repositories' apps and resolves their clusters with
// the applier's resolver, built from the same flags as promobot serve's;
// nil (no rendering) when those flags do not build one, which the
// clusters check reports.
func (f *doctorFlags) apps() *doctor.AppsOptions {
	af := &applierFlags{kubeconfig: f.kubeconfig, kubeContext: f.kubeContext, clusters: f.clusters, projectsFile: f.projectsFile}
	clusters, err := af.resolver(slog.New(slog.DiscardHandler))
	if err != nil {
		return nil
	}
	return &doctor.AppsOptions{Destinations: destinations{clusters}, MaxRepos: f.maxRepos, MaxApps: f.maxApps, Timeout: f.renderTimeout}
}

// destinations is the applier's cluster resolver as doctor asks it.
type destinations struct{ c *applier.Clusters }

func (d destinations) Cluster(repo string, app gitops.App, cfg *gitops.Config) (string, error) {
	dest, err := d.c.For(repo, app, cfg)
	if err != nil {
		return "", err
	}
	return dest.ID.Name, nil
}

func (d destinations) ForGenerator(repo string) []appset.Cluster { return d.c.ForGenerator(repo) }

// clusterList is every cluster the flags name.
func (f *doctorFlags) clusterList() ([]doctor.Cluster, error) {
	var out []doctor.Cluster
	add := func(name, file, ctxName string) error {
		rc, err := cluster.RESTConfigFor(cluster.Credentials{KubeconfigPath: file, Context: ctxName})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		out = append(out, doctor.Cluster{Name: name, Config: rc, Namespace: f.namespace})
		return nil
	}
	if f.kubeconfig != "" {
		if err := add(gitops.InClusterName, f.kubeconfig, f.kubeContext); err != nil {
			return out, err
		}
	} else if rc, err := rest.InClusterConfig(); err == nil {
		// As promobot serve: in a pod, the cluster it runs in.
		out = append(out, doctor.Cluster{Name: gitops.InClusterName, Config: rc, Namespace: f.namespace})
	}
	for _, c := range f.clusters {
		server, kc, ok := strings.Cut(c, "=")
		if !ok || server == "" || kc == "" {
			return out, fmt.Errorf("--cluster-kubeconfig %q: want SERVER=KUBECONFIG[#CONTEXT]", c)
		}
		file, ctxName, _ := strings.Cut(kc, "#")
		if err := add(server, file, ctxName); err != nil {
			return out, err
		}
	}
	if f.projectsFile != "" {
		ps, err := project.Load(f.projectsFile, f.namespace)
		if err != nil {
			return out, fmt.Errorf("--projects-file: %w", err)
		}
		for _, c := range ps.Clusters() {
			if err := add(c.Name, c.Kubeconfig, c.Context); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// busChecks connects to --nats-url as promobot events tail does and checks
// promobot's streams.
func (f *doctorFlags) busChecks(ctx context.Context) []doctor.Check {
	failed := func(err error) []doctor.Check {
		return []doctor.Check{{Name: "bus", Status: doctor.Fail, Found: err.Error(),
			Fix: "check --nats-url and its credentials (promobot serve's embedded NATS: --data-dir of that serve)"}}
	}
	auth, err := f.nats.options(f.natsURL, f.dataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return failed(err)
	}
	nc, err := nats.Connect(f.natsURL, append([]nats.Option{nats.Name("promobot doctor"), nats.Timeout(5 * time.Second)}, auth...)...)
	if err != nil {
		return failed(fmt.Errorf("nats %s connect: %w", redactURL(f.natsURL), err))
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return failed(fmt.Errorf("nats %s jetstream: %w", redactURL(f.natsURL), err))
	}
	return doctor.CheckBus(ctx, js, []string{events.StreamGitHub, events.StreamFacts})
}
