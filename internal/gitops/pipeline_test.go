package gitops

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func app(name, env, path string) App {
	return App{Name: name, Environment: env, Path: path, File: "apps/" + name + ".yaml"}
}

// describe turns steps into one line each, so tables read like the pipeline.
func describe(steps []Step) []string {
	var out []string
	for _, s := range steps {
		var pairs []string
		for _, p := range s.Pairs {
			pairs = append(pairs, fmt.Sprintf("%s(%s→%s)", p.Base, p.From.Name, p.To.Name))
		}
		line := s.From + "→" + s.To + ": " + strings.Join(pairs, " ")
		if s.AutoPromote {
			line += " auto"
		}
		if !s.Gates.RequiresHealthy() {
			line += " no-health-gate"
		}
		out = append(out, line)
	}
	return out
}

func TestPipeline(t *testing.T) {
	seed := []App{
		app("my-api-service-staging", "staging", "kustomize/overlays/staging"),
		app("my-api-service-production", "production", "kustomize/overlays/production"),
	}
	tests := []struct {
		name   string
		config string // "" for no .promobot.yaml
		apps   []App
		want   []string
		err    string
	}{
		{name: "seed without config", apps: seed, want: []string{"staging→production: my-api-service(my-api-service-staging→my-api-service-production)"}},
		{name: "config without pipeline derives", config: "force: true\n", apps: seed, want: []string{"staging→production: my-api-service(my-api-service-staging→my-api-service-production)"}},
		{
			name: "derived order by rank",
			apps: []App{
				app("web-prod", "prod", "web/prod"), app("web-dev", "dev", "web/dev"), app("web-qa", "qa", "web/qa"),
				app("web-preprod", "preprod", "web/preprod"), app("web-test", "test", "web/test"), app("web-staging", "staging", "web/staging"),
				app("odd", "blue", "odd/blue"), app("nothing", "", "x"),
			},
			want: []string{
				"dev→test: web(web-dev→web-test)", "test→qa: web(web-test→web-qa)", "qa→staging: web(web-qa→web-staging)",
				"staging→preprod: web(web-staging→web-preprod)", "preprod→prod: web(web-preprod→web-prod)",
			},
		},
		{
			name: "prefix names and unpaired apps",
			apps: []App{app("staging-api", "staging", "a/staging"), app("production-api", "production", "a/production"), app("staging-only", "staging", "b")},
			want: []string{"staging→production: api(staging-api→production-api)"},
		},
		{
			name: "paired by path when names differ",
			apps: []App{app("checkout-stg", "staging", "checkout/overlays/staging"), app("checkout-live", "production", "checkout/overlays/production")},
			want: []string{"staging→production: checkout-stg(checkout-stg→checkout-live)"},
		},
		{
			name: "one source, two target clusters",
			apps: []App{app("api-staging", "staging", "api/staging"), {Name: "api-production", Namespace: "eu", Environment: "production", Path: "api/production"}, {Name: "api-production", Namespace: "us", Environment: "production", Path: "api/production"}},
			want: []string{"staging→production: api(api-staging→api-production) api(api-staging→api-production)"},
		},
		{
			name:   "configured pipeline",
			config: "pipeline:\n- from: qa\n  to: staging\n  autoPromote: true\n  gates: {requireHealthy: false}\n- from: staging\n  to: production\n",
			apps:   append([]App{app("my-api-service-qa", "qa", "kustomize/overlays/qa")}, seed...),
			want: []string{
				"qa→staging: my-api-service(my-api-service-qa→my-api-service-staging) auto no-health-gate",
				"staging→production: my-api-service(my-api-service-staging→my-api-service-production)",
			},
		},
		{
			name:   "configured environment no app has",
			config: "pipeline:\n- {from: staging, to: prod}\n",
			apps:   seed,
			err:    `.promobot.yaml pipeline[0] staging → prod: no app has environment "prod" (environments: production, staging)`,
		},
		{name: "single environment", apps: seed[:1], want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *Config
			if tt.config != "" {
				var err error
				if cfg, err = ParseConfig([]byte(tt.config)); err != nil {
					t.Fatal(err)
				}
			}
			steps, err := cfg.Pipeline(tt.apps)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, describe(steps)); diff != "" {
				t.Errorf("pipeline (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextAndPreviousEnvironment(t *testing.T) {
	cfg, err := ParseConfig([]byte("pipeline:\n- {from: staging, to: production}\n- {from: dev, to: staging}\n"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := cfg.Pipeline(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, next, prev string
	}{
		{name: "first", env: "dev", next: "staging", prev: ""},
		{name: "middle", env: "staging", next: "production", prev: "dev"},
		{name: "last", env: "production", next: "", prev: "staging"},
		{name: "unknown", env: "qa", next: "", prev: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, _ := NextEnvironment(steps, tt.env)
			prev, _ := PreviousEnvironment(steps, tt.env)
			if next.To != tt.next || prev.From != tt.prev {
				t.Errorf("next %q prev %q, want %q %q", next.To, prev.From, tt.next, tt.prev)
			}
		})
	}
	if diff := cmp.Diff([]string{"dev", "staging", "production"}, Environments(steps)); diff != "" {
		t.Errorf("Environments (-want +got):\n%s", diff)
	}
}

func TestBaseName(t *testing.T) {
	tests := []struct{ name, in, env, want string }{
		{name: "suffix", in: "my-api-service-staging", env: "staging", want: "my-api-service"},
		{name: "prefix", in: "prod-api", env: "prod", want: "api"},
		{name: "case", in: "API-Production", env: "production", want: "API"},
		{name: "env only", in: "staging", env: "staging", want: "staging"},
		{name: "no env", in: "api", env: "", want: "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BaseName(tt.in, tt.env); got != tt.want {
				t.Errorf("BaseName(%q, %q) = %q, want %q", tt.in, tt.env, got, tt.want)
			}
		})
	}
}

func TestAffected(t *testing.T) {
	apps := []App{
		app("api-staging", "staging", "kustomize/overlays/staging"),
		app("api-production", "production", "kustomize/overlays/production"),
		app("broken", "staging", "broken"),
		app("charts", "staging", "charts/site"),
	}
	graph := map[string][]string{
		"kustomize/overlays/staging":    {"kustomize/overlays/staging/kustomization.yaml", "kustomize/overlays/staging/replicas.yaml", "kustomize/base/kustomization.yaml", "kustomize/base/deployment.yaml"},
		"kustomize/overlays/production": {"./kustomize/overlays/production/Kustomization", "/kustomize/base/kustomization.yaml", "kustomize/base/deployment.yaml"},
		"charts/site":                   {"charts/site/kustomization.yml", "charts/site/files/", "../outside/x.yaml"},
	}
	calls := map[string]int{}
	deps := func(p string) ([]string, error) {
		calls[p]++
		if p == "broken" {
			return nil, errors.New("broken/kustomization.yaml: invalid")
		}
		return graph[p], nil
	}
	tests := []struct {
		name    string
		changed []string
		want    []string
		err     string
	}{
		{name: "nothing changed", changed: nil, want: nil},
		{name: "README affects none but the broken app", changed: []string{"README.md"}, want: []string{"broken"}},
		{name: "staging overlay", changed: []string{"kustomize/overlays/staging/replicas.yaml"}, want: []string{"api-staging", "broken"}},
		{name: "base affects both", changed: []string{"kustomize/base/deployment.yaml"}, want: []string{"api-staging", "api-production", "broken"}},
		{name: "Kustomization file name", changed: []string{"kustomize/overlays/production/Kustomization"}, want: []string{"api-production", "broken"}},
		{name: "file in a dependency directory", changed: []string{"charts/site/files/index.html"}, want: []string{"broken", "charts"}},
		{name: "Application manifest re-targets its app", changed: []string{"apps/api-production.yaml"}, want: []string{"api-production", "broken"}},
		{name: "config affects all", changed: []string{"docs/x.md", ".promobot.yaml"}, want: []string{"api-staging", "api-production", "broken", "charts"}},
		{name: "leading ./ in changed path", changed: []string{"./kustomize/overlays/staging/kustomization.yaml"}, want: []string{"api-staging", "broken"}},
		{name: "changed path outside the repository", changed: []string{"../etc/passwd"}, err: `changed path "../etc/passwd" is outside the repository`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Affected(apps, tt.changed, deps)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range got {
				names = append(names, a.Name)
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("affected (-want +got):\n%s", diff)
			}
		})
	}
	twice := []App{apps[0], {Name: "api-staging-eu", Path: apps[0].Path}}
	calls = map[string]int{}
	if _, err := Affected(twice, []string{"x"}, deps); err != nil {
		t.Fatal(err)
	}
	if calls[apps[0].Path] != 1 {
		t.Errorf("deps called %d times for one path, want 1", calls[apps[0].Path])
	}
}
