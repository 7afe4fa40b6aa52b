// Command promobot is a GitHub App that turns a GitOps repository into the
// single source of truth for every cluster: merging a PR deploys it, and
// commenting /promote on a PR opens the promotion PR to the next
// environment.
//
// This file only wires subcommands; each lives in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// controller-runtime (under the applier's cluster client) logs through
	// logr; without a logger it prints a warning with a stack trace.
	ctrllog.SetLogger(logr.Discard())
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "promobot",
		Short: "GitOps promotion bot: merging a PR deploys it, /promote opens the promotion PR",
		Long: `promobot is a GitHub App for GitOps repositories laid out as Argo CD "App of Apps"
manifests under apps/ with a Kustomize base and one overlay per environment.

  - GitHub sends webhooks to "promobot serve", which verifies and stores each one
    on a durable event bus (NATS JetStream, embedded by default).
  - The applier syncs the overlays a merge changed to the clusters (server-side
    apply, prune, health, self-heal) and reports back on the commit.
  - The promoter answers "/promote" on a PR: it bumps the image tags in the next
    environment's kustomization and opens one promotion PR with a rendered diff.

New here? "promobot setup --help" registers the GitHub App; "promobot serve --help"
runs it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(newServeCommand(), newEventsCommand(), newDoctorCommand())
	addLocalCommands(root)
	root.SetErr(os.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	wrapErrors(root)
	return root
}

// wrapErrors prints a command's error once, plainly, on stderr.
func wrapErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		wrapErrors(sub)
	}
	if c.RunE == nil {
		return
	}
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "promobot %s: %v\n", cmd.Name(), err)
		}
		return err
	}
}

// newLogger returns the process logger: JSON lines (for log collectors) or
// text (for people), at the given level.
func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want json or text", format)
	}
}
