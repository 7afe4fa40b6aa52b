package promoter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/kustomize"
)

// copyDir copies the fixture directory src to a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestPlanHelmPromotion: promoting the Helm app of the Argo CD example
// repository sets production's image.tag to staging's in
// values-production.yaml, changing only the tag's bytes, and the rendered
// diff shows production's Deployment moving to the new image.
func TestPlanHelmPromotion(t *testing.T) {
	fixture, err := filepath.Abs("../test/fixtures/argocd-example")
	if err != nil {
		t.Fatal(err)
	}
	target, source := copyDir(t, fixture), copyDir(t, fixture)
	stagingValues := filepath.Join(source, "helm-guestbook", "values-staging.yaml")
	raw, err := os.ReadFile(stagingValues)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stagingValues, []byte(strings.Replace(string(raw), `tag: "1.0.0"`, `tag: "1.1.0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSnapshot(target)
	if err != nil {
		t.Fatal(err)
	}
	s.Source = source
	planned, err := PlanPromotion(s, Selection{App: "helm-guestbook"})
	if err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0].Err != nil {
		t.Fatalf("planned %+v", planned)
	}
	p := planned[0].Plan
	if p.File != "helm-guestbook/values-production.yaml" {
		t.Fatalf("plan edits %s, want helm-guestbook/values-production.yaml", p.File)
	}
	want := strings.Replace(string(p.Before), `tag: "1.0.0" # promoted from staging`, `tag: "1.1.0" # promoted from staging`, 1)
	if string(p.After) != want || string(p.After) == string(p.Before) {
		t.Errorf("values-production.yaml after the promotion:\n%s\nwant only the tag changed:\n%s", p.After, want)
	}
	if len(p.Changes) != 1 || p.Changes[0].Name != "ghcr.io/acme/helm-guestbook" || p.Changes[0].From.NewTag != "1.0.0" || p.Changes[0].To.NewTag != "1.1.0" {
		t.Errorf("image changes %+v", p.Changes)
	}
	ars := RenderPlans(context.Background(), target, []Plan{p}, kustomize.RenderOptions{})
	if len(ars) != 1 || ars[0].BeforeErr != nil || ars[0].AfterErr != nil {
		t.Fatalf("renders %+v", ars)
	}
	if !strings.Contains(string(ars[0].Before), "ghcr.io/acme/helm-guestbook:1.0.0") || !strings.Contains(string(ars[0].After), "ghcr.io/acme/helm-guestbook:1.1.0") {
		t.Errorf("production rendered before:\n%s\nafter:\n%s", ars[0].Before, ars[0].After)
	}
}
