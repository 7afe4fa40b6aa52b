package helm

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/promobot/promobot/internal/checkout"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// helmVersion is the helm CLI whose `helm template` output Render must
// reproduce: the one `make tools` builds into bin/.
const helmVersion = "v3.22.0"

const (
	testRepo    = "testdata/repo"
	fixtureRepo = "../../test/fixtures/argocd-example"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  string
)

// helmBinary returns the harness's helm CLI: $PROMOBOT_BIN_DIR/helm, else
// <repo>/bin/helm, which `make tools` builds.
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		dir := os.Getenv("PROMOBOT_BIN_DIR")
		if dir == "" {
			_, file, _, _ := runtime.Caller(0)
			dir = filepath.Join(filepath.Dir(file), "..", "..", "bin")
		}
		bin := filepath.Join(dir, "helm")
		out, err := exec.Command(bin, "version", "--template", "{{.Version}}").Output()
		switch {
		case err != nil:
			helmErr = bin + ": " + err.Error() + " (make tools builds it)"
		case strings.TrimSpace(string(out)) != helmVersion:
			helmErr = bin + " is " + strings.TrimSpace(string(out)) + ", want " + helmVersion
		default:
			helmPath = bin
		}
	})
	if helmPath == "" {
		t.Fatalf("helm CLI unavailable: %s", helmErr)
	}
	return helmPath
}

// helmTemplate runs `helm template args...` in root and returns stdout.
func helmTemplate(t *testing.T, root string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBinary(t), append([]string{"template"}, args...)...)
	cmd.Dir = root
	// Nothing of the machine's helm configuration may matter.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestRenderMatchesHelmTemplate renders each chart with Render and with
// the helm CLI given the arguments Argo CD gives it, and wants the same
// bytes: every object, hook and CRD, in helm's order. The render is also
// kept as a golden file, so a change of output shows in review.
func TestRenderMatchesHelmTemplate(t *testing.T) {
	tests := []struct {
		name  string
		root  string
		chart string
		opts  Options
		args  []string // helm template's, besides the release and the chart
	}{
		{
			name: "fixture-root", root: fixtureRepo, chart: "apps",
			opts: Options{ReleaseName: "apps", Namespace: "argocd", KubeVersion: "1.37.2"},
			args: []string{"--namespace", "argocd", "--kube-version", "1.37.2", "--include-crds"},
		},
		{
			name: "fixture-helm-guestbook-staging", root: fixtureRepo, chart: "helm-guestbook",
			opts: Options{ReleaseName: "helm-guestbook-staging", Namespace: "staging", KubeVersion: "1.37.2", ValueFiles: []string{"values-staging.yaml"}},
			args: []string{"--namespace", "staging", "--kube-version", "1.37.2", "--include-crds", "-f", "helm-guestbook/values-staging.yaml"},
		},
		{
			name: "fixture-helm-guestbook-production", root: fixtureRepo, chart: "helm-guestbook",
			opts: Options{ReleaseName: "helm-guestbook-production", Namespace: "production", KubeVersion: "1.37.2", ValueFiles: []string{"values-production.yaml"}},
			args: []string{"--namespace", "production", "--kube-version", "1.37.2", "--include-crds", "-f", "helm-guestbook/values-production.yaml"},
		},
		{
			name: "fixture-helm-guestbook-multi-source", root: fixtureRepo, chart: "helm-guestbook",
			opts: Options{
				ReleaseName: "helm-guestbook-multi-source", Namespace: "multi-source", KubeVersion: "1.37.2",
				ValueFiles: []string{"$values/values/helm-guestbook-multi-source.yaml"},
				Refs:       map[string]string{"values": fixtureRepo},
			},
			args: []string{"--namespace", "multi-source", "--kube-version", "1.37.2", "--include-crds", "-f", "values/helm-guestbook-multi-source.yaml"},
		},
		{
			// Every kind of value, in Argo CD's order: value files (one
			// relative to the chart, one to the repository root), values,
			// --set (a list; a comma Argo CD escapes), --set-string,
			// --set-file; API versions added to helm's defaults; CRDs,
			// hooks and test hooks included.
			name: "features", root: testRepo, chart: "features",
			opts: Options{
				ReleaseName: "rel", Namespace: "ns", KubeVersion: "v1.37.2",
				ValueFiles: []string{"values-extra.yaml", "/shared/values-shared.yaml"},
				Values:     "replicaCount: 4\n",
				Parameters: []Parameter{
					{Name: "list", Value: "{a,b}"},
					{Name: "image.tag", Value: "2.1", ForceString: true},
					{Name: "greeting", Value: "hi, there"},
					{Name: "monitoring", Value: "true"},
				},
				FileParameters: []FileParameter{{Name: "config", Path: "../shared/config.txt"}},
				APIVersions:    []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"},
			},
			args: []string{"--namespace", "ns", "--kube-version", "v1.37.2", "--include-crds",
				"-f", "features/values-extra.yaml", "-f", "shared/values-shared.yaml", "-f", "values-inline.yaml",
				"--set", "list={a,b}", "--set", `greeting=hi\, there`, "--set", "monitoring=true",
				"--set-string", "image.tag=2.1", "--set-file", "config=shared/config.txt",
				"--api-versions", "monitoring.coreos.com/v1", "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"},
		},
		{
			name: "features-valuesobject-skip-crds-tests", root: testRepo, chart: "features",
			opts: Options{
				ReleaseName: "rel", Namespace: "ns", KubeVersion: "1.37.2", SkipCrds: true, SkipTests: true,
				Values:       "replicaCount: 9\n",
				ValuesObject: map[string]any{"replicaCount": 5, "greeting": "from valuesObject"},
			},
			args: []string{"--namespace", "ns", "--kube-version", "1.37.2", "--skip-tests", "-f", "values-object.yaml"},
		},
		{
			// The build environment in value file and file parameter
			// paths and parameter values, as Argo CD substitutes it.
			name: "features-env", root: testRepo, chart: "features",
			opts: Options{
				ReleaseName: "rel", Namespace: "ns", KubeVersion: "1.37.2",
				Env:            map[string]string{"ARGOCD_APP_NAME": "rel", "VARIANT": "extra", "SHARED": "shared"},
				ValueFiles:     []string{"values-$VARIANT.yaml", "$values/${SHARED}/values-shared.yaml"},
				Refs:           map[string]string{"values": testRepo},
				Parameters:     []Parameter{{Name: "greeting", Value: "$ARGOCD_APP_NAME costs $$5$UNSET"}},
				FileParameters: []FileParameter{{Name: "config", Path: "/$SHARED/config.txt"}},
			},
			args: []string{"--namespace", "ns", "--kube-version", "1.37.2", "--include-crds",
				"-f", "features/values-extra.yaml", "-f", "shared/values-shared.yaml",
				"--set", "greeting=rel costs $5", "--set-file", "config=shared/config.txt"},
		},
		{
			// No namespace, no kube version: helm's defaults.
			name: "features-defaults", root: testRepo, chart: "features",
			opts: Options{ReleaseName: "rel"},
			args: []string{"--include-crds"},
		},
		{
			name: "deps-vendored", root: testRepo, chart: "deps",
			opts: Options{ReleaseName: "web", Namespace: "ns", KubeVersion: "1.37.2", Parameters: []Parameter{{Name: "global.env", Value: "prod"}}},
			args: []string{"--namespace", "ns", "--kube-version", "1.37.2", "--include-crds", "--set", "global.env=prod"},
		},
	}
	inline := map[string]string{
		"values-inline.yaml": "replicaCount: 4\n",
		"values-object.yaml": "replicaCount: 5\ngreeting: from valuesObject\n",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(context.Background(), tt.root, tt.chart, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			// Argo CD writes values/valuesObject to a file of its own and
			// gives it as the last -f: so does this test, from a copy.
			root := tt.root
			if tt.root == testRepo {
				root = copyRepo(t, testRepo)
				for name, content := range inline {
					if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := helmTemplate(t, root, append([]string{tt.opts.ReleaseName, tt.chart}, tt.args...)...)
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render differs from helm template (-helm +Render):\n%s", diff)
			}
			golden(t, filepath.Join("testdata", "golden", tt.name+".yaml"), got)
		})
	}
}

// golden compares got with the file, or writes it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", file, diff)
	}
}

// copyRepo copies the repository at src into a new temporary directory.
func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRenderRefusals: what the sandbox refuses is refused with a message
// naming it, and wraps ErrRefused; a missing value file fails the render
// unless IgnoreMissingValueFiles.
func TestRenderRefusals(t *testing.T) {
	tests := []struct {
		name  string
		chart string
		opts  Options
		// setup changes the copy of the test repository; outside is a
		// directory beside it, outside the repository.
		setup   func(t *testing.T, root, outside string)
		refused bool // wraps ErrRefused
		escape  bool // wraps checkout.ErrOutsideRepository
		want    string
	}{
		{
			name: "remote dependency", chart: "remote-dep", refused: true,
			want: "remote-dep: chart remote-dep: dependency redis (repository https://charts.bitnami.com/bitnami) is not vendored in charts/: refused",
		},
		{
			name: "oci dependency", chart: "oci-dep", refused: true,
			want: "dependency podinfo (repository oci://ghcr.io/stefanprodan/charts) is not vendored in charts/: refused",
		},
		{
			name: "oci chart", chart: "oci://ghcr.io/stefanprodan/charts/podinfo", refused: true,
			want: `chart "oci://ghcr.io/stefanprodan/charts/podinfo": refused: promobot renders charts kept in the repository only`,
		},
		{
			name: "lookup", chart: "lookup", refused: true,
			want: "lookup is not allowed: promobot renders without a cluster",
		},
		{
			name: "value file outside the repository", chart: "features", refused: true, escape: true,
			opts: Options{ValueFiles: []string{"../../outside/values.yaml"}},
			want: "value file ../../outside/values.yaml: refused: ../outside/values.yaml: outside the repository",
		},
		{
			name: "value file through a link out of the repository", chart: "features", refused: true, escape: true,
			opts: Options{ValueFiles: []string{"/shared/linked.yaml"}},
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "values.yaml"), filepath.Join(root, "shared", "linked.yaml"))
			},
			want: "value file /shared/linked.yaml: refused: shared/linked.yaml: symbolic link points outside the repository",
		},
		{
			name: "value file URL", chart: "features", refused: true,
			opts: Options{ValueFiles: []string{"https://example.com/values.yaml"}},
			want: "value file https://example.com/values.yaml: refused",
		},
		{
			name: "file parameter outside the repository", chart: "features", refused: true, escape: true,
			opts: Options{FileParameters: []FileParameter{{Name: "config", Path: "/../outside/values.yaml"}}},
			want: "value file /../outside/values.yaml: refused",
		},
		{
			name: "template linked out of the repository", chart: "features", refused: true, escape: true,
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "values.yaml"), filepath.Join(root, "features", "templates", "stolen.yaml"))
			},
			want: "features/templates/stolen.yaml: symbolic link points outside the repository",
		},
		{
			name: "chart directory linked out of the repository", chart: "linked-chart", refused: true, escape: true,
			setup: func(t *testing.T, root, outside string) {
				symlink(t, outside, filepath.Join(root, "linked-chart"))
			},
			want: "chart directory: refused: linked-chart: symbolic link points outside the repository",
		},
		{
			name: "chart outside the repository", chart: "../outside", refused: true, escape: true,
			want: "chart directory: refused: ../outside: outside the repository",
		},
		{
			name: "link loop in the chart", chart: "features",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, "..", filepath.Join(root, "features", "templates", "loop"))
			},
			want: "templates/loop: symbolic link loop",
		},
		{
			name: "missing value file", chart: "features",
			opts: Options{ValueFiles: []string{"values-missing.yaml"}},
			want: "value file values-missing.yaml: openat features/values-missing.yaml: no such file or directory",
		},
		{
			name: "library chart", chart: "features",
			setup: func(t *testing.T, root, outside string) {
				chart := filepath.Join(root, "features", "Chart.yaml")
				b, err := os.ReadFile(chart)
				if err != nil {
					t.Fatal(err)
				}
				b = bytes.Replace(b, []byte("type: application"), []byte("type: library"), 1)
				if err := os.WriteFile(chart, b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "helm template failed: library charts are not installable",
		},
		{
			name: "value file too large", chart: "features", refused: true,
			opts: Options{ValueFiles: []string{"/shared/huge.yaml"}},
			setup: func(t *testing.T, root, outside string) {
				huge := bytes.Repeat([]byte("# padding\n"), int(loader.MaxDecompressedFileSize/10+1))
				if err := os.WriteFile(filepath.Join(root, "shared", "huge.yaml"), huge, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "value file /shared/huge.yaml: refused: larger than 5242880 bytes",
		},
		{
			name: "chart file too large", chart: "features", refused: true,
			setup: func(t *testing.T, root, outside string) {
				huge := bytes.Repeat([]byte("# padding\n"), int(loader.MaxDecompressedFileSize/10+1))
				if err := os.WriteFile(filepath.Join(root, "features", "templates", "huge.yaml"), huge, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "templates/huge.yaml: refused: larger than helm's limit of 5242880 bytes for a chart file",
		},
		{
			name: "missing ref", chart: "features",
			opts: Options{ValueFiles: []string{"$values/x.yaml"}},
			want: "value file $values/x.yaml: no ref source named values",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyRepo(t, testRepo)
			outside := filepath.Join(filepath.Dir(root), "outside")
			if err := os.MkdirAll(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "values.yaml"), []byte("replicaCount: 7\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, root, outside)
			}
			opts := tt.opts
			opts.ReleaseName = "rel"
			out, err := Render(context.Background(), root, tt.chart, opts)
			if err == nil {
				t.Fatalf("Render succeeded, want an error containing %q; it printed:\n%s", tt.want, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrRefused); got != tt.refused {
				t.Errorf("errors.Is(%q, ErrRefused) = %v, want %v", err, got, tt.refused)
			}
			if got := errors.Is(err, checkout.ErrOutsideRepository); got != tt.escape {
				t.Errorf("errors.Is(%q, ErrOutsideRepository) = %v, want %v", err, got, tt.escape)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestRenderIgnoreMissingValueFiles: with IgnoreMissingValueFiles a missing
// value file is skipped, and the others still apply.
func TestRenderIgnoreMissingValueFiles(t *testing.T) {
	base := Options{ReleaseName: "rel", Namespace: "ns", ValueFiles: []string{"values-extra.yaml"}}
	want, err := Render(context.Background(), testRepo, "features", base)
	if err != nil {
		t.Fatal(err)
	}
	opts := base
	opts.ValueFiles = []string{"values-missing.yaml", "values-extra.yaml", "$values/nowhere.yaml"}
	opts.Refs = map[string]string{"values": testRepo}
	opts.IgnoreMissingValueFiles = true
	got, err := Render(context.Background(), testRepo, "features", opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("render with missing files ignored differs (-without them +with them):\n%s", diff)
	}
	if !bytes.Contains(got, []byte("replicas: 2")) {
		t.Errorf("values-extra.yaml did not apply:\n%s", got)
	}
}

// TestRenderContextEnded: a render whose context has ended returns at once
// with the context's error.
func TestRenderContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Render(ctx, testRepo, "features", Options{ReleaseName: "rel"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Render = %v, want context.Canceled", err)
	}
}

// TestRenderConcurrent: renders of several charts at once (run with
// -race) each get their own output.
func TestRenderConcurrent(t *testing.T) {
	want := map[string][]byte{}
	opts := func(env string) Options {
		return Options{ReleaseName: "helm-guestbook-" + env, Namespace: env, ValueFiles: []string{"values-" + env + ".yaml"}}
	}
	envs := []string{"staging", "production"}
	for _, env := range envs {
		out, err := Render(context.Background(), fixtureRepo, "helm-guestbook", opts(env))
		if err != nil {
			t.Fatal(err)
		}
		want[env] = out
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		env := envs[i%2]
		wg.Go(func() {
			out, err := Render(context.Background(), fixtureRepo, "helm-guestbook", opts(env))
			if err == nil && !bytes.Equal(out, want[env]) {
				err = errors.New(env + " rendered differently when rendered concurrently")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestRenderVendoredArchive: a dependency vendored as the .tgz `helm
// dependency build` writes renders as helm template renders it.
func TestRenderVendoredArchive(t *testing.T) {
	root := copyRepo(t, testRepo)
	charts := filepath.Join(root, "deps", "charts")
	cmd := exec.Command(helmBinary(t), "package", filepath.Join(charts, "cache"), "-d", charts)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm package: %v\n%s", err, out)
	}
	if err := os.RemoveAll(filepath.Join(charts, "cache")); err != nil {
		t.Fatal(err)
	}
	got, err := Render(context.Background(), root, "deps", Options{ReleaseName: "web", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	want := helmTemplate(t, root, "web", "deps", "--namespace", "ns", "--include-crds")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Render differs from helm template (-helm +Render):\n%s", diff)
	}
	if !bytes.Contains(got, []byte("name: web-cache")) {
		t.Errorf("the archived dependency did not render:\n%s", got)
	}
}

// BenchmarkRender renders the fixture's production Helm app.
func BenchmarkRender(b *testing.B) {
	opts := Options{ReleaseName: "helm-guestbook-production", Namespace: "production", ValueFiles: []string{"values-production.yaml"}}
	for b.Loop() {
		if _, err := Render(context.Background(), fixtureRepo, "helm-guestbook", opts); err != nil {
			b.Fatal(err)
		}
	}
}
