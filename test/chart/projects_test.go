package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/promobot/promobot/internal/project"
)

// TestREADMEProjectsExample: the chart README's applier.projects example
// passes the values schema and renders a projects file promobot accepts,
// mounted where the applier's --projects-file points.
func TestREADMEProjectsExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var example string
	for _, block := range strings.Split(string(raw), "```yaml\n")[1:] {
		if b, _, _ := strings.Cut(block, "```"); strings.HasPrefix(b, "applier:\n  projects:") {
			example = b
		}
	}
	if example == "" {
		t.Fatal("the chart README has no ```yaml block starting with applier.projects")
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(example+"github:\n  appId: 1\n  existingSecret: promobot-github\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := helm(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", values)
	if err != nil {
		t.Fatal(err)
	}
	m := parseManifest(t, out)
	var file string
	for _, cm := range of[*corev1.ConfigMap](m) {
		if cm.Name == "promobot-projects" {
			file = cm.Data["projects.yaml"]
		}
	}
	ps, err := project.Parse([]byte(file), "promobot")
	if err != nil {
		t.Fatalf("the rendered projects file %q: %v", file, err)
	}
	scope, err := ps.For("acme/payments-eu")
	if err != nil {
		t.Fatal(err)
	}
	if err := scope.Namespace(project.ClusterID{Name: "in-cluster"}, "promobot"); err == nil {
		t.Error("the release namespace is a destination of the example")
	}
	if !strings.Contains(out, "--projects-file=/etc/promobot/projects/projects.yaml") {
		t.Error("the applier is not given --projects-file")
	}
}
