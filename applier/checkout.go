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
	co, err := checkout.Unpack(rc, checkout.Options{})
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

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
