package story

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// gitDiffNames lists the paths that differ between two commits of a bare
// repository.
func gitDiffNames(ctx context.Context, repoPath, base, head string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", repoPath, "diff", "--name-only", base, head).Output()
	if err != nil {
		return nil, fmt.Errorf("git diff %s..%s: %w", base, head, err)
	}
	return strings.Fields(string(out)), nil
}
