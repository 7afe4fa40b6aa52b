package promoter

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
	"github.com/promobot/promobot/promoter/prbody"
)

// Plan is one app's promotion from an environment to the next: the target
// overlay's kustomization before and after its images are set to the
// source overlay's.
type Plan struct {
	// App is the app's base name (my-api-service for my-api-service-staging
	// and my-api-service-production).
	App string
	// Step is the pipeline step; Pair the two apps it moves.
	Step gitops.Step
	Pair gitops.Pair
	// File is the target kustomization, relative to the repository root
	// and slash-separated (any name kustomize accepts).
	File string
	// Before and After are the target kustomization's bytes; After differs
	// from Before only in the images: values that change.
	Before, After []byte
	// Images are the source overlay's images: entries, set in the target.
	Images []kustomize.Image
	// Changes are what the edit changed; empty when the target already
	// runs the source's images.
	Changes []kustomize.ImageChange
	// Strategy is how the promotion carries the change (gitops.Strategy*).
	Strategy string
	// Revision is set for a revision promotion: File is then the target's
	// Application manifest, and After moves its targetRevision.
	Revision *prbody.Revision
	// Carried are the overlay files a fields promotion carries besides
	// the kustomization (see Edits).
	Carried []FileEdit
	// Rollback is set when the plan rolls the target back (/rollback)
	// rather than promoting into it.
	Rollback *prbody.Rollback
}

// From and To are the plan's environments.
func (p Plan) From() string { return p.Step.From }

// To is the target environment.
func (p Plan) To() string { return p.Step.To }

// Changed reports whether the promotion changes the target.
func (p Plan) Changed() bool {
	switch p.Strategy {
	case gitops.StrategyRevision:
		return p.Revision != nil && p.Revision.From != p.Revision.To
	case gitops.StrategyFields:
		return len(p.Edits()) > 0
	}
	return len(p.Changes) > 0
}

// Branch is the stable branch of the promotion: a later promotion of the
// same app to the same environment updates it.
func (p Plan) Branch() string {
	if p.Rollback != nil {
		return "promobot/rollback/" + p.App + "/" + p.To()
	}
	return BranchFor(p.App, p.To())
}

// labels are the pull request's labels.
func (p Plan) labels() []string {
	if p.Rollback != nil {
		return []string{"rollback", "env/" + p.To()}
	}
	return []string{"promotion", "env/" + p.To()}
}

// BranchFor is the promotion branch of app into env.
func BranchFor(app, env string) string { return "promobot/promote/" + app + "/" + env }

// BranchPrefix starts every promotion branch.
const BranchPrefix = "promobot/promote/"

// promotion describes the plan for prbody: the image table and the
// hidden block.
func (p Plan) promotion() prbody.Promotion {
	pr := prbody.Promotion{App: p.App, From: p.From(), To: p.To(), Revision: p.Revision, Rollback: p.Rollback}
	byName := map[string]kustomize.ImageChange{}
	for _, c := range p.Changes {
		byName[c.Name] = c
	}
	for _, img := range p.Images {
		c, ok := byName[img.Name]
		if !ok {
			continue
		}
		pr.Images = append(pr.Images, prbody.Image{Name: img.Name, From: refOf(c.From), To: refOf(c.To)})
	}
	return pr
}

func refOf(i kustomize.Image) prbody.Ref {
	return prbody.Ref{NewName: i.NewName, NewTag: i.NewTag, Digest: i.Digest}
}

// ErrNoImages is wrapped when a source overlay has no images: entries, so
// there is nothing a promotion could copy.
var ErrNoImages = errors.New("no images: entries")

// PlanPair plans promoting pair of step: source is the source overlay's
// kustomization file (at the commit promoted), targetRoot the checkout
// holding the target overlay as the target runs it now. It reads only the
// target's kustomization.
func PlanPair(step gitops.Step, pair gitops.Pair, source []byte, targetRoot string) (Plan, error) {
	p := Plan{App: pair.Base, Step: step, Pair: pair}
	imgs, err := kustomize.ReadImages(source)
	if err != nil {
		return p, fmt.Errorf("%s (%s): %w", pair.From.Name, pair.From.Path, err)
	}
	if len(imgs) == 0 {
		return p, fmt.Errorf("%s (%s): %w", pair.From.Name, pair.From.Path, ErrNoImages)
	}
	// Keep the first entry of each name, as kustomize applies it.
	seen := map[string]bool{}
	for _, img := range imgs {
		if !seen[img.Name] {
			seen[img.Name] = true
			p.Images = append(p.Images, img)
		}
	}
	repo, err := checkout.Open(targetRoot)
	if err != nil {
		return p, err
	}
	defer repo.Close()
	p.File, p.Before, err = readKustomization(repo, pair.To)
	if err != nil {
		return p, err
	}
	p.After, p.Changes, err = kustomize.SetImages(p.Before, p.Images)
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.File, err)
	}
	return p, nil
}

// ErrNoCommit is wrapped when a revision promotion has no commit to pin
// (a local checkout promoted without --revision).
var ErrNoCommit = errors.New("a revision promotion pins a commit, and none is given")

// PlanRevision plans promoting pair of step by moving the target
// Application's pin (its targetRevision) to commit, the commit the source
// environment runs: the target then deploys the repository's whole tree
// at that commit. It reads only the target's Application manifest in
// targetRoot, and edits only its targetRevision's value.
func PlanRevision(step gitops.Step, pair gitops.Pair, commit, targetRoot string) (Plan, error) {
	p := Plan{App: pair.Base, Step: step, Pair: pair, Strategy: gitops.StrategyRevision, File: pair.To.File}
	if commit == "" {
		return p, fmt.Errorf("%s: %w", pair.To.Name, ErrNoCommit)
	}
	repo, err := checkout.Open(targetRoot)
	if err != nil {
		return p, err
	}
	defer repo.Close()
	if p.Before, err = repo.ReadFile(p.File); err != nil {
		return p, fmt.Errorf("%s (%s): %w", pair.To.Name, p.File, err)
	}
	var old string
	if p.After, old, err = kustomize.SetTargetRevision(p.Before, pair.To.Name, commit); err != nil {
		return p, fmt.Errorf("%s: %w", p.File, err)
	}
	p.Revision = &prbody.Revision{From: old, To: commit}
	return p, nil
}

// ReadSourceKustomization reads the kustomization file of an app's
// overlay in a checkout.
func ReadSourceKustomization(root string, app gitops.App) ([]byte, error) {
	repo, err := checkout.Open(root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	_, raw, err := readKustomization(repo, app)
	return raw, err
}

// readKustomization reads the kustomization file of app's overlay, through
// the checkout's os.Root: a file that is a symbolic link out of the
// repository is an error naming it, and none of its bytes are read.
func readKustomization(repo *checkout.Repo, app gitops.App) (file string, raw []byte, err error) {
	name, err := kustomize.FindKustomizationIn(repo, app.Path)
	if err != nil {
		return "", nil, fmt.Errorf("%s (%s): %w", app.Name, app.Path, errors.Unwrap(err))
	}
	file = path.Join(app.Path, name)
	raw, err = repo.ReadFile(file)
	if errors.Is(err, checkout.ErrOutsideRepository) {
		return "", nil, fmt.Errorf("%s (%s): %w", app.Name, app.Path, err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s read: %w", file, err)
	}
	return file, raw, nil
}

// Selection says which pairs of a pipeline a promotion moves.
type Selection struct {
	// App limits the promotion to one app: its base name or the name of
	// one of its Applications. Empty: every app Changed selects.
	App string
	// To names the target environment; empty: the next environment of
	// each selected app's source environment.
	To string
	// From names the source environment (the local preview's --from);
	// empty: any.
	From string
	// Changed are the files the promoted change touched (nil: unknown).
	// Without App, only pairs whose source app they affect are selected.
	Changed []string
}

// ErrNothingSelected is wrapped when a selection matches no pair.
var ErrNothingSelected = errors.New("nothing to promote")

// Select returns the pipeline pairs sel moves, each with its step, in
// pipeline order. root is the checkout at the promoted commit, used to
// match Changed against the source apps' kustomization graphs.
func Select(steps []gitops.Step, sel Selection, root string) ([]gitops.Step, []gitops.Pair, error) {
	var affected map[string]bool
	if sel.App == "" && sel.Changed != nil {
		var sources []gitops.App
		for _, s := range steps {
			for _, p := range s.Pairs {
				sources = append(sources, p.From)
			}
		}
		apps, err := gitops.Affected(sources, sel.Changed, func(p string) ([]string, error) {
			return kustomize.Dependencies(root, p)
		})
		if err != nil {
			return nil, nil, err
		}
		affected = map[string]bool{}
		for _, a := range apps {
			affected[a.Name] = true
		}
	}
	var outSteps []gitops.Step
	var outPairs []gitops.Pair
	matchesApp := func(p gitops.Pair) bool {
		return strings.EqualFold(sel.App, p.Base) || strings.EqualFold(sel.App, p.From.Name) || strings.EqualFold(sel.App, p.To.Name)
	}
	for _, s := range steps {
		if sel.To != "" && s.To != sel.To {
			continue
		}
		if sel.From != "" && s.From != sel.From {
			continue
		}
		for _, p := range s.Pairs {
			switch {
			case sel.App != "" && !matchesApp(p):
				continue
			case sel.App == "" && affected != nil && !affected[p.From.Name]:
				continue
			}
			outSteps = append(outSteps, s)
			outPairs = append(outPairs, p)
		}
	}
	if sel.App != "" && sel.To == "" && len(outPairs) > 1 {
		// "/promote my-api" where my-api is in several steps (dev →
		// staging → production): the step out of the environment the
		// change touched, else the first.
		i := 0
		if sel.Changed != nil {
			for j, p := range outPairs {
				deps, err := kustomize.Dependencies(root, p.From.Path)
				if err == nil && kustomize.Affected(deps, sel.Changed) {
					i = j
					break
				}
			}
		}
		outSteps, outPairs = outSteps[i:i+1], outPairs[i:i+1]
	}
	if len(outPairs) == 0 {
		return nil, nil, ErrNothingSelected
	}
	return outSteps, outPairs, nil
}

// KnownNames lists what commands may name: every pair's base name and its
// Applications' names, and every environment of the pipeline.
func KnownNames(steps []gitops.Step) (apps, envs []string) {
	seen := map[string]bool{}
	for _, s := range steps {
		for _, p := range s.Pairs {
			for _, n := range []string{p.Base, p.From.Name, p.To.Name} {
				if !seen[n] {
					seen[n] = true
					apps = append(apps, n)
				}
			}
		}
	}
	sort.Strings(apps)
	envs = gitops.Environments(steps)
	if apps == nil {
		apps = []string{}
	}
	if envs == nil {
		envs = []string{}
	}
	return apps, envs
}

// writeEdits writes each edit's After (or, restoring, its Before; a file
// that did not exist is removed) through the checkout's os.Root.
func writeEdits(repo *checkout.Repo, edits []FileEdit, after bool) error {
	for _, e := range edits {
		content := e.Before
		if after {
			content = e.After
		}
		var err error
		if content == nil && !after {
			err = repo.RemoveFile(e.Path)
		} else {
			err = repo.CreateFile(e.Path, content)
		}
		if err != nil {
			return fmt.Errorf("%s write: %w", e.Path, err)
		}
	}
	return nil
}

// RenderRevision renders a revision plan's target overlay at the pin it
// runs now (a checkout of it in before) and at the pin it moves to (a
// checkout of the commit promoted in after), for the diff comment.
func RenderRevision(ctx context.Context, before, after string, p Plan, opts kustomize.RenderOptions) diff.AppRender {
	ar := diff.AppRender{App: p.Pair.To.Name, Environment: p.To()}
	ar.Before, ar.BeforeErr = render.App(ctx, before, p.Pair.To, opts)
	ar.After, ar.AfterErr = render.App(ctx, after, p.Pair.To, opts)
	return ar
}

// RenderPlans renders each plan's target overlay before and after the
// edit, for the diff comment. root must be a scratch checkout: the edited
// kustomization is written there for the render and the original bytes
// put back afterwards.
func RenderPlans(ctx context.Context, root string, plans []Plan, opts kustomize.RenderOptions) []diff.AppRender {
	var out []diff.AppRender
	repo, err := checkout.Open(root)
	for _, p := range plans {
		ar := diff.AppRender{App: p.Pair.To.Name, Environment: p.To()}
		if err != nil {
			ar.BeforeErr, ar.AfterErr = err, err
			out = append(out, ar)
			continue
		}
		ar.Before, ar.BeforeErr = render.App(ctx, root, p.Pair.To, opts)
		// Written through the checkout's os.Root: a file that became a
		// link out of the repository is refused, not followed.
		edits := p.Edits()
		if err := writeEdits(repo, edits, true); err != nil {
			ar.AfterErr = err
		} else {
			ar.After, ar.AfterErr = render.App(ctx, root, p.Pair.To, opts)
		}
		if err := writeEdits(repo, edits, false); err != nil && ar.AfterErr == nil {
			ar.AfterErr = fmt.Errorf("restore: %w", err)
		}
		out = append(out, ar)
	}
	if repo != nil {
		repo.Close()
	}
	return out
}

// PromotionDiff is the sticky diff comment of plan's promotion pull
// request, from RenderPlans' renders of it; beforeLabel and afterLabel
// name the two sides.
func PromotionDiff(renders []diff.AppRender, plan Plan, beforeLabel, afterLabel string, opts DiffOptions) diff.Comment {
	return diff.Render(renders, diff.Options{
		Key:            PromotionDiffKey(plan.App, plan.To()),
		Title:          fmt.Sprintf("Rendered manifests: %s in %s", plan.App, plan.To()),
		BeforeLabel:    beforeLabel,
		AfterLabel:     afterLabel,
		FingerprintKey: opts.FingerprintKey,
		Limit:          opts.Limit,
		Footer:         renderFooter,
	})
}
