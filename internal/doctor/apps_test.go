package doctor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/internal/gitops"
)

// destinations maps an app's destination server to an operator cluster.
type destinations map[string]string

func (d destinations) Cluster(_ string, app gitops.App, _ *gitops.Config) (string, error) {
	if c, ok := d[app.Server]; ok {
		return c, nil
	}
	return "", fmt.Errorf("no credentials for cluster %s", app.Server)
}

func (d destinations) ForGenerator(string) []appset.Cluster { return nil }

func application(name, path, server, ns string, syncOptions ...string) string {
	opts := ""
	if len(syncOptions) > 0 {
		opts = fmt.Sprintf("\n  syncPolicy: {syncOptions: [%s]}", strings.Join(syncOptions, ", "))
	}
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s}
spec:
  source: {repoURL: REPO_URL, path: %s}
  destination: {server: %s, namespace: %s}%s
`, name, path, server, ns, opts)
}

var (
	deployFile = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
	configFile = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: jobs, namespace: batch}\n"
	// fleet has web (a Deployment, creating its namespace) on cluster a
	// and jobs (a ConfigMap naming its own namespace) on cluster b.
	fleet = map[string]string{
		"apps/web.yaml":   application("web", "web", "https://a.example.com", "shop", "CreateNamespace=true"),
		"apps/jobs.yaml":  application("jobs", "jobs", "https://b.example.com", "other"),
		"web/deploy.yaml": deployFile,
		"jobs/cm.yaml":    configFile,
	}
)

// TestCheckGitHubApps: each repository's apps are rendered at the default
// branch and resolved to clusters; what they write is returned per
// cluster, and the repository's check says what was rendered, left out or
// broken.
func TestCheckGitHubApps(t *testing.T) {
	both := destinations{"https://a.example.com": "a", "https://b.example.com": "b"}
	broken := map[string]string{
		"apps/web.yaml":          application("web", "web", "https://a.example.com", "shop"),
		"web/kustomization.yaml": "resources: [missing.yaml]\n",
	}
	tests := []struct {
		name       string
		files      map[string]string
		apps       doctor.AppsOptions
		status     doctor.Status
		found, fix string
		writes     map[string][]doctor.Object
	}{
		{name: "two apps, two clusters", files: fleet, apps: doctor.AppsOptions{Destinations: both},
			status: doctor.OK, found: "2 rendered: 1 → a, 1 → b",
			writes: map[string][]doctor.Object{
				"a": {{Group: "", Version: "v1", Kind: "Namespace"}, {Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop"}},
				"b": {{Version: "v1", Kind: "ConfigMap", Namespace: "batch"}},
			}},
		{name: "more apps than rendered", files: fleet, apps: doctor.AppsOptions{Destinations: both, MaxApps: 1},
			status: doctor.Warn, found: "1 rendered: 1 → b; 1 more not rendered (doctor renders 1 per repository)", fix: "promobot render",
			writes: map[string][]doctor.Object{"b": {{Version: "v1", Kind: "ConfigMap", Namespace: "batch"}}}},
		{name: "a destination with no cluster", files: fleet, apps: doctor.AppsOptions{Destinations: destinations{"https://b.example.com": "b"}},
			status: doctor.Fail, found: "app web: no credentials for cluster https://a.example.com", fix: "map its destination to an operator cluster",
			writes: map[string][]doctor.Object{"b": {{Version: "v1", Kind: "ConfigMap", Namespace: "batch"}}}},
		{name: "an overlay that does not render", files: broken, apps: doctor.AppsOptions{Destinations: both},
			status: doctor.Fail, found: "app web: render web:", fix: "promobot render --repo CHECKOUT --app NAME",
			writes: map[string][]doctor.Object{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := setup{perms: wantPerms, config: validConfig, githubSecret: "s", serveSecret: "s", hook: public, files: tt.files}.run(t)
			o.Apps = &tt.apps
			checks, writes := doctor.CheckGitHub(context.Background(), o)
			var apps *doctor.Check
			for i, c := range checks {
				if c.Name == "acme/gitops apps" {
					apps = &checks[i]
				}
			}
			if apps == nil || apps.Status != tt.status || !strings.Contains(apps.Found, tt.found) || !strings.Contains(apps.Fix, tt.fix) {
				t.Fatalf("apps check %+v; want %s with %q and %q", apps, tt.status, tt.found, tt.fix)
			}
			got := map[string][]doctor.Object{}
			for cluster := range writes {
				got[cluster] = writes.Objects(cluster)
			}
			if diff := cmp.Diff(tt.writes, got); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}
