package image_test

import (
	"os"
	"path/filepath"
	"testing"
)

// freezeConfig holds promotions to production back in a window local to
// Europe/Berlin (long past, so it holds nothing back now): the image has no
// /usr/share/zoneinfo, so the zone must come from the binary.
const freezeConfig = `pipeline:
- from: staging
  to: production
  gates:
    freeze:
    - {start: "2020-12-24T00:00", end: "2020-12-27T00:00", timezone: Europe/Berlin, reason: holidays}
`

// testTimeZones plans a promotion in the container on a repository whose
// .promobot.yaml names a time zone.
func testTimeZones(t *testing.T, p podman, image, root string) {
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS(filepath.Join(root, "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".promobot.yaml"), []byte(freezeConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// The container's user 65532 reads the repository.
	if err := os.Chmod(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	out := p.must(t, "run", "--rm", "--volume", repo+":/repo:ro", image,
		"promote", "--repo", "/repo", "--from", "staging", "--to", "production")
	if want := "nothing to promote: production already runs the images of staging\n"; out != want {
		t.Errorf("promobot promote in the image: %q, want %q", out, want)
	}
}
