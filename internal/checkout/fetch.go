package checkout

import (
	"context"
	"fmt"
	"io"
)

// Fetch checks a repository out with one request: open returns its
// GitHub-style tarball (the installation client's Tarball), which is
// unpacked, with the process's limits, into a new temporary directory
// whose path is returned; the caller removes it. name, such as
// "acme/gitops@1a2b3c4", names the checkout in errors. An archive over the
// limits is an error wrapping ErrTooLarge, which no retry changes.
//
// The directory is closed before it is returned: every reader
// (gitops.LoadDir, the kustomize sandbox, the promotion plan) opens it
// through its own os.Root, and links that leave it were refused while
// unpacking.
func Fetch(ctx context.Context, name string, open func(context.Context) (io.ReadCloser, error)) (string, error) {
	rc, err := open(ctx)
	if err != nil {
		return "", fmt.Errorf("%s tarball: %w", name, err)
	}
	defer rc.Close()
	co, err := Unpack(rc, Options{})
	if err != nil {
		return "", fmt.Errorf("%s tarball: %w", name, err)
	}
	dir := co.Dir()
	if err := co.Close(); err != nil {
		_ = co.Remove()
		return "", fmt.Errorf("%s tarball: %w", name, err)
	}
	return dir, nil
}
