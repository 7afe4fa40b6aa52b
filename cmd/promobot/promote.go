package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/promoter"
)

// addPromoteCommands adds the local previews of the promoter: promote and
// diff.
func addPromoteCommands(root *cobra.Command) {
	root.AddCommand(newPromoteCommand(), newDiffCommand())
}

// promoteFlags are promobot promote's flags.
type promoteFlags struct {
	repoDir, from, to, app string
	write                  bool
	// revision is what a revision promotion pins (a commit of repoDir's
	// git repository); branch the default branch, for which apps count as
	// pinned; since the commit a fields promotion carries the change from.
	revision, branch, since string
}

func newPromoteCommand() *cobra.Command {
	var f promoteFlags
	cmd := &cobra.Command{
		Use:   "promote --from ENV --to ENV [--app NAME] [--write]",
		Short: "Plan a promotion on a local checkout: the image changes and the rendered diff",
		Long: `Plan promoting the images of one environment's overlays to the next, on a local
checkout, as /promote would: for each app of the pipeline step (or --app), the
images: entries of the source overlay are set in the target overlay's
kustomization, changing only those values. It prints the image changes and the
rendered diff comment the promotion pull request would carry.

Each step promotes with its strategy (.promobot.yaml pipeline[].strategy): for a
target Application pinned away from --branch (revision), --revision names the
commit the pin moves to, and the diff renders the target at both commits (git
archive); for fields, the change carried is the source overlay's from --since to
the work tree.

With --write the edit is made in place; nothing else in the file changes.
Prints "nothing to promote" and exits 0 when the target already runs the source's
images.`,
		Example: `  promobot promote --repo . --from staging --to production
  promobot promote --repo . --from staging --to production --app my-api-service --write
  promobot promote --repo . --from staging --to production --revision HEAD`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPromote(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.repoDir, "repo", ".", "the repository checkout")
	cmd.Flags().StringVar(&f.from, "from", "", "the source environment (required)")
	cmd.Flags().StringVar(&f.to, "to", "", "the target environment (required)")
	cmd.Flags().StringVar(&f.app, "app", "", "promote only this app (its base name or an Application name)")
	cmd.Flags().BoolVar(&f.write, "write", false, "edit the target kustomization files in place")
	cmd.Flags().StringVar(&f.revision, "revision", "", "revision strategy: the commit a pinned target's targetRevision moves to")
	cmd.Flags().StringVar(&f.branch, "branch", "main", "the default branch: a target app whose targetRevision names another revision is pinned")
	cmd.Flags().StringVar(&f.since, "since", "HEAD", "fields strategy: the commit the carried change starts from (the work tree is where it ends)")
	addRenderFlags(cmd)
	addCheckoutFlags(cmd)
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// runPromote is the local preview of /promote: the checkout at repoDir is
// the snapshot, the promoter's planner plans it, and the plans are
// printed with the diff comment the promotion pull request would carry,
// and written with --write.
func runPromote(ctx context.Context, out io.Writer, f promoteFlags) error {
	repoDir, from, to, app, write := f.repoDir, f.from, f.to, f.app, f.write
	snap, done, err := localSnapshot(ctx, f)
	if err != nil {
		return err
	}
	defer done()
	step, err := localStep(snap.Steps, from, to)
	if err != nil {
		return err
	}
	planned, err := promoter.PlanPromotion(snap, promoter.Selection{App: app, From: from, To: to})
	if errors.Is(err, promoter.ErrNothingSelected) {
		apps, _ := promoter.KnownNames([]gitops.Step{step})
		return fmt.Errorf("no app %q is promoted from %s to %s (apps: %s)", app, from, to, listOrNone(apps))
	}
	if err != nil {
		return err
	}
	var plans []promoter.Plan
	for _, pl := range planned {
		if pl.Err != nil {
			return pl.Err
		}
		if pl.Plan.Changed() {
			plans = append(plans, pl.Plan)
		}
	}
	if len(plans) == 0 {
		_, err := fmt.Fprintf(out, "nothing to promote: %s already runs the images of %s\n", to, from)
		return err
	}
	printPlans(out, plans)
	if err := printPlanDiffs(ctx, out, repoDir, snap, plans); err != nil {
		return err
	}
	if !write {
		return nil
	}
	return writePlans(out, repoDir, plans)
}

// localSnapshot is the snapshot of the work tree at f.repoDir, with what
// the revision and fields strategies need: the pinned commit (--revision)
// and the checkout of --since when a step carries fields. done removes
// what it made.
func localSnapshot(ctx context.Context, f promoteFlags) (promoter.Snapshot, func(), error) {
	snap, err := promoter.LoadSnapshot(f.repoDir)
	if err != nil {
		return promoter.Snapshot{}, nil, err
	}
	snap.DefaultBranch = f.branch
	if f.revision != "" {
		if snap.SourceCommit, err = gitOut(ctx, f.repoDir, "rev-parse", "--verify", f.revision+"^{commit}"); err != nil {
			return promoter.Snapshot{}, nil, fmt.Errorf("--revision %s: %w", f.revision, err)
		}
	}
	done := func() {}
	for _, s := range snap.Steps {
		if s.Strategy != gitops.StrategyFields {
			continue
		}
		before, err := archive(ctx, f.repoDir, f.since)
		if err != nil {
			return promoter.Snapshot{}, nil, fmt.Errorf("--since: %w", err)
		}
		snap.SourceBefore, done = before, func() { os.RemoveAll(before) }
		break
	}
	return snap, done, nil
}

// localStep is the pipeline step from → to, or an error naming what the
// pipeline has instead.
func localStep(steps []gitops.Step, from, to string) (gitops.Step, error) {
	envs := gitops.Environments(steps)
	for _, e := range []string{from, to} {
		if !slices.Contains(envs, e) {
			return gitops.Step{}, fmt.Errorf("no environment %q in the pipeline (environments: %s)", e, listOrNone(envs))
		}
	}
	step, ok := gitops.NextEnvironment(steps, from)
	if !ok || step.To != to {
		var flow []string
		for _, s := range steps {
			flow = append(flow, s.From+" → "+s.To)
		}
		return gitops.Step{}, fmt.Errorf("the pipeline does not promote %s to %s (steps: %s)", from, to, strings.Join(flow, ", "))
	}
	return step, nil
}

// printPlans prints each plan's image changes.
func printPlans(out io.Writer, plans []promoter.Plan) {
	for _, p := range plans {
		fmt.Fprintf(out, "%s: %s → %s (%s)\n", p.App, p.From(), p.To(), p.File)
		if r := p.Revision; r != nil {
			fmt.Fprintf(out, "  targetRevision: %s → %s\n", r.From, r.To)
		}
		for _, e := range p.Carried {
			if string(e.Before) != string(e.After) {
				fmt.Fprintf(out, "  carried: %s\n", e.Path)
			}
		}
		for _, c := range p.Changes {
			old := "(not set)"
			if c.From != (kustomize.Image{}) {
				old = c.From.Reference()
			}
			fmt.Fprintf(out, "  %s: %s → %s\n", c.Name, old, c.To.Reference())
		}
	}
}

// printPlanDiffs prints the diff comment of each plan, rendered in a copy
// of the checkout: the checkout is only written with --write.
func printPlanDiffs(ctx context.Context, out io.Writer, repoDir string, snap promoter.Snapshot, plans []promoter.Plan) error {
	scratch, err := copyCheckout(snap.Target)
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	ropts := kustomize.RenderOptions{EnableHelm: snap.Config.Render.Helm, Class: kustomize.ClassPreview}
	for _, p := range plans {
		renders, err := localRenders(ctx, repoDir, scratch, p, ropts)
		if err != nil {
			return err
		}
		c := promoter.PromotionDiff(renders, p, fmt.Sprintf("`%s` now (work tree)", p.To()), "this promotion", promoter.DiffOptions{})
		fmt.Fprintf(out, "\n%s", c.Body)
	}
	return nil
}

// localRenders renders plan's target before and after: in the scratch
// copy of the work tree with and without the edit, or for a revision plan
// at the two commits, each from git archive.
func localRenders(ctx context.Context, repoDir, scratch string, p promoter.Plan, ropts kustomize.RenderOptions) ([]diff.AppRender, error) {
	if p.Revision == nil {
		return promoter.RenderPlans(ctx, scratch, []promoter.Plan{p}, ropts), nil
	}
	var dirs [2]string
	for i, rev := range []string{p.Revision.From, p.Revision.To} {
		dir, err := archive(ctx, repoDir, rev)
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dirs[i] = dir
	}
	return []diff.AppRender{promoter.RenderRevision(ctx, dirs[0], dirs[1], p, ropts)}, nil
}

// writePlans writes each plan's edited kustomization into the checkout,
// through its os.Root: never through a link out of the repository.
func writePlans(out io.Writer, repoDir string, plans []promoter.Plan) error {
	co, err := checkout.Open(repoDir)
	if err != nil {
		return err
	}
	defer co.Close()
	for _, p := range plans {
		for _, e := range p.Edits() {
			if err := co.CreateFile(e.Path, e.After); err != nil {
				return fmt.Errorf("%s write: %w", e.Path, err)
			}
			fmt.Fprintf(out, "\nwrote %s\n", e.Path)
		}
	}
	return nil
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

func newDiffCommand() *cobra.Command {
	var repoDir, base, head string
	cmd := &cobra.Command{
		Use:   "diff --base REF [--head REF]",
		Short: "Print the rendered diff comment a pull request from base to head would get",
		Long: `Print the exact comment body promobot posts on a pull request from REF --base to
--head (default: the work tree, with uncommitted and untracked files): for every
app whose rendered output the change can affect, the manifests rendered at the
merge base and at the head, one diff per changed resource, Secret values
replaced by fingerprints, under GitHub's comment size limit. The repository's
.promobot.yaml is read from the base side. REFs are read with git from the
checkout at --repo.`,
		Example: `  promobot diff --repo . --base main
  promobot diff --repo . --base main --head my-branch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiff(cmd.Context(), cmd.OutOrStdout(), repoDir, base, head)
		},
	}
	cmd.Flags().StringVar(&repoDir, "repo", ".", "the repository checkout (a git work tree)")
	cmd.Flags().StringVar(&base, "base", "", "the branch or commit the pull request targets (required)")
	cmd.Flags().StringVar(&head, "head", "", "the branch or commit of the pull request (default: the work tree)")
	addRenderFlags(cmd)
	addCheckoutFlags(cmd)
	_ = cmd.MarkFlagRequired("base")
	return cmd
}

func runDiff(ctx context.Context, out io.Writer, repoDir, base, head string) error {
	baseSHA, err := gitOut(ctx, repoDir, "rev-parse", "--verify", "--end-of-options", base+"^{commit}")
	if err != nil {
		return fmt.Errorf("--base %s: %w", base, err)
	}
	headRef := "HEAD"
	if head != "" {
		headRef = head
	}
	headSHA, err := gitOut(ctx, repoDir, "rev-parse", "--verify", "--end-of-options", headRef+"^{commit}")
	if err != nil {
		return fmt.Errorf("--head %s: %w", headRef, err)
	}
	mergeBase, err := gitOut(ctx, repoDir, "merge-base", baseSHA, headSHA)
	if err != nil {
		return fmt.Errorf("%s and %s have no common ancestor: %w", base, headRef, err)
	}
	baseDir, err := archive(ctx, repoDir, mergeBase)
	if err != nil {
		return err
	}
	defer os.RemoveAll(baseDir)

	var changed []string
	headSide := promoter.Side{}
	if head != "" {
		dir, err := archive(ctx, repoDir, headSHA)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		headSide = promoter.Side{Root: dir, Label: fmt.Sprintf("this pull request (%s)", markdown.ShortSHA(headSHA))}
		names, err := gitOut(ctx, repoDir, "diff", "--name-only", "--no-renames", "-z", mergeBase, headSHA)
		if err != nil {
			return err
		}
		changed = splitNUL(names)
	} else {
		top, err := gitOut(ctx, repoDir, "rev-parse", "--show-toplevel")
		if err != nil {
			return err
		}
		headSide = promoter.Side{Root: top, Label: "this pull request (work tree)"}
		names, err := gitOut(ctx, repoDir, "diff", "--name-only", "--no-renames", "-z", mergeBase)
		if err != nil {
			return err
		}
		untracked, err := gitOut(ctx, repoDir, "ls-files", "--others", "--exclude-standard", "--full-name", "-z")
		if err != nil {
			return err
		}
		changed = append(splitNUL(names), splitNUL(untracked)...)
	}
	baseSide := promoter.Side{Root: baseDir, Label: fmt.Sprintf("`%s` (%s)", strings.ReplaceAll(base, "`", "'"), markdown.ShortSHA(mergeBase))}
	c, _, err := promoter.PullRequestDiff(ctx, baseSide, headSide, changed, promoter.DiffOptions{})
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, c.Body)
	return err
}

// gitOut runs git in dir and returns its trimmed output.
func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return strings.TrimRight(string(out), "\n"), nil
}

func splitNUL(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "\x00") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// archive writes the tree of commit (from `git archive`) into a new
// temporary directory, under the same rules as a GitHub checkout
// (checkout.UnpackArchive); the caller removes it.
func archive(ctx context.Context, repoDir, commit string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", repoDir, "archive", "--format=tar", commit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	co, xerr := checkout.UnpackArchive(stdout, checkout.Options{})
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if xerr == nil {
		defer co.Close()
	}
	if werr != nil {
		if xerr == nil {
			_ = co.Remove()
		}
		return "", fmt.Errorf("git archive %s: %s", markdown.ShortSHA(commit), strings.TrimSpace(stderr.String()))
	}
	if xerr != nil {
		return "", fmt.Errorf("git archive %s: %w", markdown.ShortSHA(commit), xerr)
	}
	return co.Dir(), nil
}

// copyCheckout copies a checkout, without its .git directory, into a new
// temporary directory; the caller removes it. Links that leave the
// repository are refused in the copy as in a GitHub checkout.
func copyCheckout(src string) (string, error) {
	co, err := checkout.CopyDir(src, checkout.Options{})
	if err != nil {
		return "", err
	}
	dir := co.Dir()
	if err := co.Close(); err != nil {
		_ = co.Remove()
		return "", err
	}
	return dir, nil
}
