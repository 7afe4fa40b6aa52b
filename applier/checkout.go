package applier

import (
	"context"
	"errors"
	"fmt"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
)

// fetchCheckout downloads repo at sha with one tarball request and unpacks
// it into a new temporary directory. The caller removes the directory.
func fetchCheckout(ctx context.Context, gh GitHub, repo Repo, sha string) (string, error) {
	rc, err := gh.Tarball(ctx, repo, sha)
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(sha), err)
	}
	defer rc.Close()
	co, err := checkout.Unpack(rc, checkout.Options{})
	if errors.Is(err, checkout.ErrTooLarge) {
		// No retry makes it smaller.
		return "", events.Permanent(fmt.Errorf("%s@%s tarball: %w", repo, short(sha), err))
	}
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(sha), err)
	}
	// The checkout is read through its own os.Root by every reader
	// (gitops.LoadDir, the kustomize sandbox, the promotion plan); links
	// that leave it were refused while unpacking.
	dir := co.Dir()
	if err := co.Close(); err != nil {
		_ = co.Remove()
		return "", fmt.Errorf("%s tarball: %w", repo, err)
	}
	return dir, nil
}

// reportCheckoutError fails the commit's promobot status with why the
// repository could not be checked out (over the operator's checkout
// limits): nothing of it is applied.
func (a *Applier) reportCheckoutError(ctx context.Context, gh GitHub, t Target, err error) {
	_ = gh.CreateStatus(ctx, t.Repo, t.Commit, github.Status{State: "failure", Context: "promobot", Description: clip("checkout: "+err.Error(), 140)})
	a.fact(ctx, t.Repo, "apply", "failed", gitops.App{}, Outcome{Commit: t.Commit, State: "failed", Error: err.Error()})
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
