package promoter

import (
	"context"
	"fmt"
	"path"
	"sort"

	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// PullRequestDiffKey is the sticky-comment key of an ordinary pull
// request's rendered diff.
const PullRequestDiffKey = "pr"

// PromotionDiffKey is the sticky-comment key of a promotion pull
// request's rendered diff.
func PromotionDiffKey(app, env string) string { return "promotion/" + app + "/" + env }

// Side is one side of a rendered diff: a checkout and how the comment
// names it.
type Side struct {
	// Root is the checkout's directory.
	Root string
	// Label names the side in the comment, e.g. "`main` (1a2b3c4)".
	Label string
}

// DiffOptions shape a pull request's diff comment.
type DiffOptions struct {
	// RepoURLs are the repository's own URLs (Applications pointing at
	// other repositories are skipped); empty accepts any.
	RepoURLs []string
	// FingerprintKey keys Secret fingerprints (see diff.Options).
	FingerprintKey []byte
	// Limit is the comment's size budget (default diff.DefaultLimit).
	Limit int
	// ChangedUnknown, when set, says why the changed files are not all
	// known (GitHub lists at most 300 files of a comparison, or could not
	// compare): every app of either side is rendered, and the comment
	// says why. It is promobot's own Markdown.
	ChangedUnknown string
	// DefaultBranch is the branch merges deploy: target apps pinned away
	// from it are not changed by a merge.
	DefaultBranch string
}

// PullRequestDiff renders the diff comment of a change from base to head:
// every app whose rendered output the changed files can affect (on either
// side: an app added or removed by the change counts), rendered on both
// sides under the render sandbox. The repository's configuration
// (.promobot.yaml) is base's, so a change cannot alter the rules its own
// diff is made with. With opts.ChangedUnknown every app is rendered.
// Neither checkout is modified. The error is for a
// base whose configuration is invalid or a changed path outside the
// repository. n counts the apps rendered and the Application manifests
// the change touches that promobot cannot use (listed in the comment):
// with none, the comment says that no app renders differently, and there
// is nothing to tell the change's author.
func PullRequestDiff(ctx context.Context, base, head Side, changed []string, opts DiffOptions) (c diff.Comment, n int, err error) {
	baseRepo, err := render.LoadDir(ctx, base.Root, opts.RepoURLs, kustomize.RenderOptions{})
	if err != nil {
		return diff.Comment{}, 0, err
	}
	// Discover reads through the checkout's os.Root: an Application
	// manifest that is a symbolic link out of the repository is refused,
	// naming it.
	headApps, headNotes, err := render.Discover(ctx, head.Root, gitops.DiscoverOptions{RepoURLs: opts.RepoURLs, Config: baseRepo.Config}, kustomize.RenderOptions{})
	if err != nil {
		return diff.Comment{}, 0, err
	}
	notices := invalidManifests(headNotes, changed)
	deps := func(root string) func(string) ([]string, error) {
		return func(p string) ([]string, error) { return kustomize.Dependencies(root, p) }
	}
	beforeApps, afterApps := baseRepo.Apps, headApps
	footer := renderFooter
	if opts.ChangedUnknown != "" {
		footer = opts.ChangedUnknown + " Every app is rendered.\n\n" + renderFooter
	} else {
		if beforeApps, err = gitops.Affected(baseRepo.Apps, changed, deps(base.Root)); err != nil {
			return diff.Comment{}, 0, err
		}
		if afterApps, err = gitops.Affected(headApps, changed, deps(head.Root)); err != nil {
			return diff.Comment{}, 0, err
		}
	}
	ropts := kustomize.RenderOptions{EnableHelm: baseRepo.Config.Render.Helm, Class: kustomize.ClassPreview}
	renders := renderSides(ctx, base.Root, head.Root, beforeApps, afterApps, ropts)
	if len(renders) == 0 {
		return diff.Render(nil, diff.Options{
			Key: PullRequestDiffKey, BeforeLabel: base.Label, AfterLabel: head.Label,
			FingerprintKey: opts.FingerprintKey, Limit: opts.Limit, Notices: notices,
			Footer: "No app renders differently: the change touches no file an app's kustomization reads.",
		}), len(notices), nil
	}
	return diff.Render(renders, diff.Options{
		Key: PullRequestDiffKey, BeforeLabel: base.Label, AfterLabel: head.Label,
		FingerprintKey: opts.FingerprintKey, Limit: opts.Limit, Notices: notices,
		Footer: footer, Direct: promotedOnly(baseRepo, opts.DefaultBranch),
	}), len(renders) + len(notices), nil
}

// promotedOnly reports the apps a merge changes although promotions are
// how they should change: the target apps of the pipeline that follow the
// default branch (a pinned target moves only with its pin). nil when the
// pipeline has none.
func promotedOnly(repo *gitops.Repository, branch string) func(app, env string) bool {
	steps, err := repo.Config.Pipeline(repo.Apps)
	if err != nil {
		return nil
	}
	targets := map[string]bool{}
	for _, s := range steps {
		for _, p := range s.Pairs {
			if !p.To.Pinned(branch) {
				targets[p.To.Name] = true
			}
		}
	}
	if len(targets) == 0 {
		return nil
	}
	return func(app, _ string) bool { return targets[app] }
}

// renderSides renders each app of before (under baseRoot) and after (under
// headRoot), sorted by name: an app on one side only is rendered on that
// side.
func renderSides(ctx context.Context, baseRoot, headRoot string, before, after []gitops.App, ropts kustomize.RenderOptions) []diff.AppRender {
	type sides struct {
		before, after *gitops.App
	}
	byName := map[string]*sides{}
	for i := range before {
		a := &before[i]
		byName[a.Name] = &sides{before: a}
	}
	for i := range after {
		a := &after[i]
		if s, ok := byName[a.Name]; ok {
			s.after = a
		} else {
			byName[a.Name] = &sides{after: a}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var renders []diff.AppRender
	for _, n := range names {
		s := byName[n]
		ar := diff.AppRender{App: n}
		if s.before != nil {
			ar.Environment = s.before.Environment
			ar.Before, ar.BeforeErr = render.App(ctx, baseRoot, *s.before, ropts)
		}
		if s.after != nil {
			ar.Environment, ar.File = s.after.Environment, failureFile(*s.after)
			ar.After, ar.AfterErr = render.App(ctx, headRoot, *s.after, ropts)
		}
		renders = append(renders, ar)
	}
	return renders
}

// invalidManifests are the notices of the head's Application manifests
// that the change touches and that promobot cannot use (an invalid name,
// a manifest it cannot read): the change's author should hear of them
// where they look.
func invalidManifests(notes []gitops.Note, changed []string) []diff.Notice {
	touched := map[string]bool{}
	for _, p := range changed {
		touched[p] = true
	}
	var out []diff.Notice
	for _, n := range notes {
		if n.Kind == gitops.NoteInvalid && touched[n.File] {
			out = append(out, diff.Notice{File: n.File, Message: n.Message})
		}
	}
	return out
}

// renderFooter closes every diff comment.
const renderFooter = "<sub>Rendered by promobot with the sandboxed kustomize the applier uses; Secret values are shown as fingerprints.</sub>"

// headMovedOn reports whether pull request number's head is no longer
// head: a newer push moved it, so a diff of head is stale. GitHub does not
// deliver webhooks in order, and the synchronize delivery of an older head
// can be handled after the newer one; its diff must not replace the newer
// one's (the newer head's own delivery posts that).
func headMovedOn(ctx context.Context, gh Reader, repo Repo, number int, head string) (bool, error) {
	cur, err := gh.PullRequest(ctx, repo, number)
	if err != nil {
		return false, fmt.Errorf("%s#%d: read head: %w", repo, number, err)
	}
	return cur.HeadSHA != head, nil
}

// failureFile is the file a failed render of app points at: its
// kustomization or chart, else its Application manifest.
func failureFile(app gitops.App) string {
	for _, src := range app.Rendered() {
		switch src.Kind {
		case gitops.SourceKustomize:
			return path.Join(src.Path, "kustomization.yaml")
		case gitops.SourceHelm:
			return path.Join(src.Path, "Chart.yaml")
		}
	}
	return app.File
}
