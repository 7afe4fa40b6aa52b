package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// ResolveRevision returns the commit an Application's targetRevision
// names in repo: a branch, a tag or a commit SHA, as Argo CD resolves it
// (1 call; none for a full SHA, which names itself). A revision that
// names no commit wraps ErrNotFound.
func (i *InstallationClient) ResolveRevision(ctx context.Context, repo Repo, rev string) (string, error) {
	rev = strings.TrimPrefix(strings.TrimPrefix(rev, "refs/heads/"), "refs/tags/")
	if IsFullSHA(rev) {
		return strings.ToLower(rev), nil
	}
	c, _, err := i.c.Repositories.GetCommit(ctx, repo.Owner, repo.Name, rev, &gh.ListOptions{PerPage: 1})
	if err != nil {
		err = apiErr(err)
		var api *APIError
		if errors.As(err, &api) && (api.Status == http.StatusUnprocessableEntity || api.Status == http.StatusNotFound) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return "", fmt.Errorf("%s: resolve revision %q: %w", repo, rev, err)
	}
	return c.GetSHA(), nil
}

// IsFullSHA reports whether s is a full 40-character hex commit SHA.
func IsFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
