package promoter

import (
	"context"
	"os"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// Snapshot is what a promotion is planned on, read before planning and
// held as plain values: the repository at the head of its default branch
// (its pipeline, and the target environments' kustomizations as they run
// now) and the commit promoted (the source environments' images). The
// planner reads nothing else.
type Snapshot struct {
	// Target is the checkout at the default branch's head.
	Target string
	// Source is the checkout of the commit promoted; Target when the head
	// itself is promoted.
	Source string
	// Steps is the pipeline, from Target's .promobot.yaml and apps.
	Steps []gitops.Step
	// Config is Target's .promobot.yaml (or its defaults).
	Config *gitops.Config
	// SourceCommit is the commit promoted: what a revision promotion pins
	// ("" for a local checkout, which cannot be pinned).
	SourceCommit string
	// SourceBefore is the checkout of SourceCommit's first parent: the
	// source as it was before the change a fields promotion carries (""
	// when no step carries fields).
	SourceBefore string
	// DefaultBranch is the repository's default branch: a target app
	// whose targetRevision is another is pinned ("" when unknown).
	DefaultBranch string
}

// LoadSnapshot reads a local checkout as the snapshot of promoting its own
// source environments' images to its target environments (the snapshot
// `promobot promote` plans on). The error is for a checkout promobot
// cannot read or an invalid configuration or pipeline.
func LoadSnapshot(dir string) (Snapshot, error) {
	repo, err := render.LoadDir(context.Background(), dir, nil, kustomize.RenderOptions{})
	if err != nil {
		return Snapshot{}, err
	}
	steps, err := repo.Config.Pipeline(repo.Apps)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Target: dir, Source: dir, Steps: steps, Config: repo.Config}, nil
}

// world is the repository at the head of its default branch: where rules
// (.promobot.yaml) and the target environments' current state come from.
type world struct {
	head   github.ChangedCommit
	branch string
	// dir is a scratch checkout of head, removed by withWorld.
	dir  string
	repo *gitops.Repository
	// steps is the pipeline; err says why there is none (an invalid
	// .promobot.yaml, a pipeline naming an unknown environment).
	steps []gitops.Step
	err   error
}

// snapshot is the snapshot of promoting commit (checked out in source)
// on w.
func (w *world) snapshot(source, commit string) Snapshot {
	return Snapshot{Target: w.dir, Source: source, Steps: w.steps, Config: w.repo.Config, SourceCommit: commit, DefaultBranch: w.branch}
}

// withWorld reads the default branch's head (one commit read, one
// tarball) and the repository model at it, runs fn on it, and removes the
// checkout. It is the one place the repository is loaded: for a command
// once it is authorized, and for an auto-promotion.
func withWorld[T any](ctx context.Context, gh Reader, repo Repo, info github.RepoInfo, fn func(*world) (T, error)) (T, error) {
	var zero T
	head, err := gh.CommitChanges(ctx, repo, info.DefaultBranch)
	if err != nil {
		return zero, err
	}
	dir, err := fetchCheckout(ctx, gh, repo, head.SHA)
	if err != nil {
		return zero, err
	}
	defer os.RemoveAll(dir)
	w := &world{head: head, dir: dir, branch: info.DefaultBranch}
	w.repo, w.err = render.LoadDir(ctx, dir, info.URLs(), kustomize.RenderOptions{})
	if w.err == nil {
		w.steps, w.err = w.repo.Config.Pipeline(w.repo.Apps)
	}
	return fn(w)
}

// changedPaths are the paths c changed, nil (unknown: every app is
// considered) when GitHub listed its maximum of files for it.
func changedPaths(c github.ChangedCommit) []string {
	if c.Truncated {
		return nil
	}
	return c.Paths()
}
