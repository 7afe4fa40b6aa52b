package promoter

import (
	"context"
	"fmt"

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
	dir, err := checkout.Unpack(rc)
	if err != nil {
		return "", fmt.Errorf("%s@%s tarball: %w", repo, short(ref), err)
	}
	return dir, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
