package promoter

import (
	"context"
	"errors"
	"fmt"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/checkout"
)

// fetchCheckout downloads repo at ref with one tarball request and unpacks
// it into a new temporary directory. The caller removes the directory.
func fetchCheckout(ctx context.Context, gh Reader, repo Repo, ref string) (string, error) {
	rc, err := gh.Tarball(ctx, repo, ref)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	co, err := checkout.Unpack(rc, checkout.Options{})
	if errors.Is(err, checkout.ErrTooLarge) {
		// No retry makes it smaller: the command's failure reply says why.
		return "", events.Permanent(fmt.Errorf("%s@%s tarball: %w", repo, short(ref), err))
	}
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(ref), err)
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

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
