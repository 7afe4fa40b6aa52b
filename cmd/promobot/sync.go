package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/promobot/promobot/applier"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

type syncFlags struct {
	repo      string
	apps      []string
	cluster   string
	natsURL   string
	dataDir   string
	nats      natsClientFlags
	appID     int64
	keyFile   string
	githubURL string
	applier   applierFlags
}

func newSyncCommand() *cobra.Command {
	f := &syncFlags{}
	cmd := &cobra.Command{
		Use:   "sync --repo OWNER/NAME",
		Short: "Render and apply every app of a repository from its default branch (disaster recovery)",
		Long: `Render and apply every app (or --app, or the apps of --cluster) of a repository from
the head of its default branch, with a progress line per app. This is what runs
when the App is installed on a repository, and how a new, empty cluster is
rebuilt from the repository.

It acts as the GitHub App (--app-id and --private-key-file or $PROMOBOT_APP_ID and
$PROMOBOT_PRIVATE_KEY) and records what it applied on the event bus of a running
"promobot serve" (--nats-url), so the applier and the promoter's gates see it.
It exits non-zero when any app failed.`,
		Example: `  # rebuild the cluster in ~/.kube/config from my-org/cluster-config
  promobot sync --repo my-org/cluster-config --kubeconfig ~/.kube/config

  # only one app
  promobot sync --repo my-org/cluster-config --app my-api-service-production`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSync(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "repository as OWNER/NAME (required)")
	fl.StringSliceVar(&f.apps, "app", nil, "only these apps (repeatable)")
	fl.StringVar(&f.cluster, "cluster", "", "only apps whose destination is this server URL or cluster name")
	fl.StringVar(&f.natsURL, "nats-url", "nats://127.0.0.1:4222", "event bus of the running promobot serve")
	fl.StringVar(&f.dataDir, "data-dir", "promobot-data", "data directory of the promobot serve whose embedded NATS to use (its credentials are there)")
	f.nats.register(fl, true)
	fl.Int64Var(&f.appID, "app-id", 0, "GitHub App id (or $PROMOBOT_APP_ID)")
	fl.StringVar(&f.keyFile, "private-key-file", "", "GitHub App private key PEM file (or $PROMOBOT_PRIVATE_KEY)")
	fl.StringVar(&f.githubURL, "github-url", "https://api.github.com/", "GitHub REST API base URL")
	f.applier.register(fl)
	_ = fl.MarkHidden("drift-interval")
	_ = fl.MarkHidden("applier-concurrency")
	addRenderFlags(cmd)
	return cmd
}

func runSync(ctx context.Context, out io.Writer, f *syncFlags) error {
	owner, name, ok := strings.Cut(f.repo, "/")
	if !ok || owner == "" || name == "" {
		return fmt.Errorf("--repo %q: want OWNER/NAME", f.repo)
	}
	if f.appID == 0 {
		if v := os.Getenv(envAppID); v != "" {
			if _, err := fmt.Sscan(v, &f.appID); err != nil {
				return fmt.Errorf("$%s %q: not a number", envAppID, v)
			}
		}
	}
	if f.appID == 0 {
		return fmt.Errorf("no GitHub App id: set --app-id or $%s", envAppID)
	}
	key, err := loadPrivateKey(f.keyFile)
	if err != nil {
		return err
	}
	log, _ := newLogger("text", "warn")
	auth, err := f.nats.options(f.natsURL, f.dataDir, log)
	if err != nil {
		return err
	}
	opts := append([]nats.Option{nats.Name("promobot sync"), nats.Timeout(5 * time.Second)}, auth...)
	nc, err := nats.Connect(f.natsURL, opts...)
	if err != nil {
		return fmt.Errorf("nats %s connect: %w (sync records what it applies on the bus of a running promobot serve)", redactURL(f.natsURL), err)
	}
	defer nc.Close()
	bus, err := events.New(ctx, nc, events.Options{})
	if err != nil {
		return err
	}
	clusters, err := f.applier.resolver(log)
	if err != nil {
		return err
	}
	app, err := newGitHubApp(&appCredentials{id: f.appID, key: key, baseURL: f.githubURL}, log)
	if err != nil {
		return err
	}
	instID, err := app.app.RepoInstallation(ctx, github.Repo{Owner: owner, Name: name})
	if err != nil {
		return fmt.Errorf("%s: the App is not installed on it: %w", f.repo, err)
	}
	installations := applierInstallations{app}
	gh, err := installations.GitHub(ctx, instID)
	if err != nil {
		return err
	}
	a, err := applier.New(ctx, applier.Options{HealthTimeout: f.applier.healthTimeout, Logger: log}, bus, installations, clusters)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "syncing %s from its default branch\n", f.repo)
	start := time.Now()
	failed := 0
	outs, err := a.SyncHead(ctx, gh, applier.Target{Repo: applier.Repo{Owner: owner, Name: name}, Apps: f.apps, Cluster: f.cluster},
		func(done, total int, o applier.Outcome) {
			line := fmt.Sprintf("[%d/%d] %-32s %-8s %s", done, total, o.App, o.State, firstOf(o.Error, o.Summary))
			if o.State == "failed" {
				failed++
			}
			fmt.Fprintln(out, strings.TrimRight(line, " "))
		})
	if err != nil {
		return err
	}
	if len(outs) == 0 {
		return fmt.Errorf("%s: no app matched", f.repo)
	}
	fmt.Fprintf(out, "%d apps synced in %s, %d failed\n", len(outs), time.Since(start).Round(time.Millisecond), failed)
	if failed > 0 {
		return exitError{code: 2, err: fmt.Errorf("%d of %d apps failed", failed, len(outs))}
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
