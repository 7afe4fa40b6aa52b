package main

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// addLocalCommands adds the commands that work on a local checkout.
func addLocalCommands(root *cobra.Command) {
	root.AddCommand(newRenderCommand(), newSyncCommand())
	root.AddCommand(newSetupCommand())
	addPromoteCommands(root)
}

func newRenderCommand() *cobra.Command {
	var repoDir, app string
	cmd := &cobra.Command{
		Use:   "render (--app NAME | PATH)",
		Short: "Print what the applier would apply for an app or an overlay of a local checkout",
		Long: `Render an app (by its Application name) or an overlay (by its path relative to the
repository root) of a local checkout, under the same sandbox the applier uses:
no exec or container plugins, no remote bases, nothing read outside the repository,
kustomize's helmCharts only if .promobot.yaml enables them. For a kustomization the
output is what "kustomize build" prints; for a Helm chart of the repository, what
"helm template" prints with Argo CD's arguments (release name, namespace, value
files); for a plain directory, the objects its files hold (as Argo CD reads them:
recurse, include, exclude); for a multi-source app, each source's objects in turn.`,
		Example: `  promobot render --repo . --app my-api-service-staging
  promobot render --repo . kustomize/overlays/production`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (app == "") == (len(args) == 0) {
				return fmt.Errorf("name an app with --app or an overlay PATH, not both")
			}
			ropts := kustomize.RenderOptions{Class: kustomize.ClassApply}
			repo, err := render.LoadDir(cmd.Context(), repoDir, nil, ropts)
			if err != nil {
				return err
			}
			ropts.EnableHelm = repo.Config.Render.Helm
			var target gitops.App
			if app != "" {
				a, ok := repo.App(app)
				if !ok {
					// The notes say why an Application is not an app:
					// refused, a root, or in a root that did not render.
					var why strings.Builder
					for _, n := range repo.Notes {
						why.WriteString("\n  " + n.String())
					}
					return fmt.Errorf("no app %q in %s (apps: %s)%s", app, repoDir, strings.Join(repo.AppNames(), ", "), why.String())
				}
				target = a
			} else {
				target = gitops.App{Path: path.Clean(filepath.ToSlash(args[0]))}
			}
			out, err := render.App(cmd.Context(), repoDir, target, ropts)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&repoDir, "repo", ".", "the repository checkout")
	cmd.Flags().StringVar(&app, "app", "", "the Application to render")
	addRenderFlags(cmd)
	return cmd
}
