package applier

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// source is what one app is applied from: the repository checked out at
// the commit the app deploys.
type source struct {
	// repo is the checkout the app renders from. For a pinned app it is
	// the pinned commit's tree with the configuration of the commit that
	// pinned it (the push's).
	repo *gitops.Repository
	// commit is the commit the app deploys.
	commit string
	// pin is a pinned app's targetRevision ("" when the app follows the
	// default branch).
	pin string
	// err says why a pinned app's revision could not be resolved or
	// checked out: the app fails without being applied.
	err error
}

// splitPinned separates the apps that follow the default branch from
// those pinned to another revision (gitops.App.Pinned).
func splitPinned(apps []gitops.App, branch string) (tracking, pinned []gitops.App) {
	for _, app := range apps {
		if app.Pinned(branch) {
			pinned = append(pinned, app)
		} else {
			tracking = append(tracking, app)
		}
	}
	return tracking, pinned
}

// manifestChanged keeps the apps whose Application manifest is among the
// changed files.
func manifestChanged(apps []gitops.App, changed []string) []gitops.App {
	var out []gitops.App
	for _, app := range apps {
		if slices.Contains(changed, app.File) {
			out = append(out, app)
		}
	}
	return out
}

// pinnedSources resolves each pinned app's targetRevision to a commit and
// checks every commit out once. cleanup removes the checkouts.
func (a *Applier) pinnedSources(ctx context.Context, gh RepoReader, t Target, head *gitops.Repository, apps []gitops.App) (map[string]source, func()) {
	sources := map[string]source{}
	byCommit := map[string]*gitops.Repository{}
	resolved := map[string]string{} // targetRevision → commit: one call per pin
	var dirs []string
	cleanup := func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	for _, app := range apps {
		src := source{pin: app.TargetRevision}
		if src.commit = resolved[app.TargetRevision]; src.commit == "" {
			src.commit, src.err = gh.ResolveRevision(ctx, t.Repo, app.TargetRevision)
			resolved[app.TargetRevision] = src.commit
		}
		if src.err != nil {
			src.err = fmt.Errorf("targetRevision %q: %w", app.TargetRevision, src.err)
			sources[app.Name] = src
			continue
		}
		if src.repo = byCommit[src.commit]; src.repo == nil {
			dir, err := fetchCheckout(ctx, gh, t.Repo, src.commit)
			if err != nil {
				src.err = fmt.Errorf("targetRevision %q (%s): %w", app.TargetRevision, markdown.ShortSHA(src.commit), err)
				sources[app.Name] = src
				continue
			}
			dirs = append(dirs, dir)
			src.repo = &gitops.Repository{Root: dir, Config: head.Config, HasConfig: head.HasConfig}
			byCommit[src.commit] = src.repo
		}
		sources[app.Name] = src
	}
	return sources, cleanup
}
