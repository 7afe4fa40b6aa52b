package promoter

import (
	"context"
	"errors"
	"io"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/markdown"
)

// fetchCheckout downloads repo at ref with one tarball request and unpacks
// it into a new temporary directory (checkout.Fetch). The caller removes
// the directory.
func fetchCheckout(ctx context.Context, gh Reader, repo Repo, ref string) (string, error) {
	dir, err := checkout.Fetch(ctx, repo.String()+"@"+markdown.ShortSHA(ref), func(ctx context.Context) (io.ReadCloser, error) {
		return gh.Tarball(ctx, repo, ref)
	})
	if errors.Is(err, checkout.ErrTooLarge) {
		// No retry makes it smaller: the command's failure reply says why.
		return "", events.Permanent(err)
	}
	return dir, err
}
