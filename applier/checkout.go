package applier

import (
	"context"
	"fmt"

	"github.com/promobot/promobot/internal/checkout"
)

// fetchCheckout downloads repo at sha with one tarball request and unpacks
// it into a new temporary directory. The caller removes the directory.
func fetchCheckout(ctx context.Context, gh GitHub, repo Repo, sha string) (string, error) {
	rc, err := gh.Tarball(ctx, repo, sha)
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(sha), err)
	}
	defer rc.Close()
	dir, err := checkout.Unpack(rc)
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(sha), err)
	}
	return dir, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
