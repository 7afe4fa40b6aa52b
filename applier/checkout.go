package applier

import (
	"context"
	"errors"
	"io"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/markdown"
)

// fetchCheckout downloads repo at sha with one tarball request and unpacks
// it into a new temporary directory (checkout.Fetch). The caller removes
// the directory.
func fetchCheckout(ctx context.Context, gh RepoReader, repo Repo, sha string) (string, error) {
	dir, err := checkout.Fetch(ctx, repo.String()+"@"+markdown.ShortSHA(sha), func(ctx context.Context) (io.ReadCloser, error) {
		return gh.Tarball(ctx, repo, sha)
	})
	if errors.Is(err, checkout.ErrTooLarge) {
		// No retry makes it smaller.
		return "", events.Permanent(err)
	}
	return dir, err
}

// reportCheckoutError fails the sync's check run with why the repository
// could not be checked out (over the operator's checkout limits): nothing
// of it is applied.
func (a *Applier) reportCheckoutError(ctx context.Context, gh GitHub, t Target, err error) {
	a.failSync(ctx, gh, t, "checkout", err)
}
