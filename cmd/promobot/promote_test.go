package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitRepo makes a git repository of the fixture with one commit on main.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "init", "-q", "-b", "main")
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-q", "-m", "Fixture")
	return dir
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// promobot runs the command line and returns its output and error.
func promobot(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCommand()
	if c, _, ferr := root.Find([]string{"promote"}); ferr != nil || c == root {
		addPromoteCommands(root)
		wrapErrors(root)
	}
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func readText(t *testing.T, dir, p string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func writeText(t *testing.T, dir, p, content string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	stagingKustomization    = "kustomize/overlays/staging/kustomization.yaml"
	productionKustomization = "kustomize/overlays/production/kustomization.yaml"
)

func TestPromoteCommand(t *testing.T) {
	dir := gitRepo(t)
	prodBefore := readText(t, dir, productionKustomization)

	out, _, err := promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production")
	if err != nil {
		t.Fatal(err)
	}
	if want := "nothing to promote: production already runs the images of staging\n"; out != want {
		t.Errorf("up to date: output %q, want %q", out, want)
	}

	staging := readText(t, dir, stagingKustomization)
	writeText(t, dir, stagingKustomization, strings.Replace(staging, "newTag: 1.0.0", "newTag: 1.1.0", 1))

	// The plan: image changes, then the diff comment; nothing written.
	out, _, err = promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production")
	if err != nil {
		t.Fatal(err)
	}
	head := "my-api-service: staging → production (kustomize/overlays/production/kustomization.yaml)\n" +
		"  ghcr.io/my-org/my-api-service: ghcr.io/my-org/my-api-service:1.0.0 → ghcr.io/my-org/my-api-service:1.1.0\n\n" +
		"<!-- promobot:diff promotion/my-api-service/production -->\n### Rendered manifests: my-api-service in production\n"
	if !strings.HasPrefix(out, head) {
		t.Errorf("plan output starts\n%s\nwant\n%s", out[:min(len(out), len(head)+200)], head)
	}
	for _, want := range []string{
		"**1 resource changed** in 1 app, `production` now (work tree) → this promotion.",
		"<summary>Deployment/my-api-service: image ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0</summary>",
		"-      - image: ghcr.io/my-org/my-api-service:1.0.0\n+      - image: ghcr.io/my-org/my-api-service:1.1.0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if got := readText(t, dir, productionKustomization); got != prodBefore {
		t.Errorf("promote without --write changed the production kustomization")
	}

	// --write edits the image line only.
	out, _, err = promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production", "--app", "my-api-service", "--write")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "\nwrote kustomize/overlays/production/kustomization.yaml\n") {
		t.Errorf("--write output ends %q", out[max(0, len(out)-200):])
	}
	want := strings.Replace(prodBefore, "newTag: 1.0.0 #", "newTag: 1.1.0 #", 1)
	if diff := cmp.Diff(want, readText(t, dir, productionKustomization)); diff != "" {
		t.Errorf("production kustomization after --write (-want +got):\n%s", diff)
	}
	out, _, err = promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production")
	if err != nil || !strings.HasPrefix(out, "nothing to promote") {
		t.Errorf("after --write: %q, %v; want nothing to promote", out, err)
	}

	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"unknown environment", []string{"--repo", dir, "--from", "staging", "--to", "prod"},
			`promobot promote: no environment "prod" in the pipeline (environments: staging, production)`},
		{"backwards", []string{"--repo", dir, "--from", "production", "--to", "staging"},
			"promobot promote: the pipeline does not promote production to staging (steps: staging → production)"},
		{"unknown app", []string{"--repo", dir, "--from", "staging", "--to", "production", "--app", "guestbook"},
			`promobot promote: no app "guestbook" is promoted from staging to production (apps: my-api-service, my-api-service-production, my-api-service-staging)`},
		{"not a GitOps repository", []string{"--repo", t.TempDir(), "--from", "staging", "--to", "production"},
			`promobot promote: no environment "staging" in the pipeline (environments: none)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := promobot(t, append([]string{"promote"}, tt.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.TrimSpace(stderr); got != tt.want {
				t.Errorf("stderr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiffCommand(t *testing.T) {
	dir := gitRepo(t)
	mainSHA := runGit(t, dir, "rev-parse", "main")

	// A branch changing the base: both environments.
	runGit(t, dir, "checkout", "-q", "-b", "feature")
	dep := readText(t, dir, "kustomize/base/deployment.yaml")
	writeText(t, dir, "kustomize/base/deployment.yaml", strings.Replace(dep, "containerPort: 8080", "containerPort: 8081", 1))
	runGit(t, dir, "commit", "-q", "-am", "Change the port")
	runGit(t, dir, "checkout", "-q", "main")

	out, _, err := promobot(t, "diff", "--repo", dir, "--base", "main", "--head", "feature")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<!-- promobot:diff pr -->\n### Rendered manifests\n",
		"in 2 apps, `main` (" + mainSHA[:7] + ") → this pull request (",
		"#### `my-api-service-production` · production",
		"#### `my-api-service-staging` · staging",
		"+        - containerPort: 8081",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --head output lacks %q:\n%s", want, out)
		}
	}

	// The work tree, uncommitted and untracked files included.
	staging := readText(t, dir, stagingKustomization)
	writeText(t, dir, stagingKustomization, strings.Replace(staging, "resources:\n  - ../../base\n", "resources:\n  - ../../base\n  - extra.yaml\n", 1))
	writeText(t, dir, "kustomize/overlays/staging/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n")
	out, _, err = promobot(t, "diff", "--repo", dir, "--base", "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**1 resource changed** in 1 app, `main` (" + mainSHA[:7] + ") → this pull request (work tree).",
		"<details><summary>ConfigMap/extra: added</summary>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("work tree diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "production") {
		t.Errorf("work tree diff shows production, which the change does not touch:\n%s", out)
	}

	_, stderr, err := promobot(t, "diff", "--repo", dir, "--base", "no-such-branch")
	if err == nil || !strings.Contains(stderr, "promobot diff: --base no-such-branch: git rev-parse:") {
		t.Errorf("bad base: err %v, stderr %q", err, stderr)
	}
}

// linkSecret is in files beside the local checkouts of
// TestLocalCommandsRefuseLinkChains, which link chains point at.
const linkSecret = "s3cr3t-outside-token"

// A local checkout holding a link chain out of the repository (x -> . and
// y -> x/.., so y is the checkout's parent): render, promote and diff refuse
// it with a message naming the link, write nothing outside, and show no byte
// of the outside file, whether the chain is in the work tree or committed.
func TestLocalCommandsRefuseLinkChains(t *testing.T) {
	outsideApp := strings.NewReplacer("my-api-service-staging", "stolen-app", "# Point to the staging overlay", "# "+linkSecret).
		Replace(readText(t, filepath.Join("..", "..", "test", "fixtures", "gitops"), "apps/my-api-service-staging.yaml"))
	chain := map[string]string{"x": ".", "y": "x/.."}
	kustomizationLink := map[string]string{productionKustomization: "../../../y/kubeconfig"}
	appLink := map[string]string{"apps/stolen.yaml": "../y/app.yaml"}
	const wantKustomization = productionKustomization + ": symbolic link y points outside the repository"
	const wantApp = "apps/stolen.yaml: symbolic link y points outside the repository"
	tests := []struct {
		name   string
		links  map[string]string
		commit bool // commit the links on branch evil instead of leaving them in the work tree
		args   []string
		want   string // in the error, or in the output when the command succeeds
	}{
		{name: "render overlay", links: kustomizationLink, args: []string{"render", "kustomize/overlays/production"}, want: wantKustomization},
		{name: "render app", links: kustomizationLink, args: []string{"render", "--app", "my-api-service-production"}, want: wantKustomization},
		{name: "render app beside a linked manifest", links: appLink, args: []string{"render", "--app", "my-api-service-staging"}, want: wantApp},
		{name: "promote", links: kustomizationLink, args: []string{"promote", "--from", "staging", "--to", "production"}, want: wantKustomization},
		{name: "promote write", links: kustomizationLink, args: []string{"promote", "--from", "staging", "--to", "production", "--write"}, want: wantKustomization},
		{name: "diff work tree", links: kustomizationLink, args: []string{"diff", "--base", "main"}, want: wantKustomization},
		{name: "diff work tree, linked manifest", links: appLink, args: []string{"diff", "--base", "main"}, want: wantApp},
		{name: "diff committed", links: kustomizationLink, commit: true, args: []string{"diff", "--base", "main", "--head", "evil"}, want: wantKustomization},
		{name: "diff committed, linked manifest", links: appLink, commit: true, args: []string{"diff", "--base", "main", "--head", "evil"}, want: wantApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitRepo(t)
			parent := filepath.Dir(dir)
			outsideKustomization := "# token: " + linkSecret + "\nimages:\n- name: ghcr.io/my-org/my-api-service\n  newTag: 0.9.0\n"
			writeText(t, parent, "kubeconfig", outsideKustomization)
			writeText(t, parent, "app.yaml", outsideApp)
			staging := readText(t, dir, stagingKustomization)
			if tt.commit {
				runGit(t, dir, "checkout", "-q", "-b", "evil")
			}
			writeText(t, dir, stagingKustomization, strings.Replace(staging, "newTag: 1.0.0", "newTag: 1.1.0", 1))
			for p, target := range tt.links {
				for l, to := range chain {
					_ = os.Symlink(to, filepath.Join(dir, l))
				}
				full := filepath.Join(dir, filepath.FromSlash(p))
				_ = os.Remove(full)
				if err := os.Symlink(target, full); err != nil {
					t.Fatal(err)
				}
			}
			if tt.commit {
				runGit(t, dir, "add", "-A")
				runGit(t, dir, "commit", "-q", "-m", "Link out")
				runGit(t, dir, "checkout", "-q", "main")
			}
			out, errOut, err := promobot(t, append(tt.args, "--repo", dir)...)
			all := out + errOut
			if err != nil {
				all += err.Error()
			}
			if !strings.Contains(all, tt.want) {
				t.Errorf("promobot %s: err %v, output\n%s\nwant %q", strings.Join(tt.args, " "), err, out, tt.want)
			}
			for _, leak := range []string{linkSecret, "stolen-app", "0.9.0"} {
				if strings.Contains(all, leak) {
					t.Errorf("the output shows the outside file (%q):\n%s", leak, all)
				}
			}
			if got := readText(t, parent, "kubeconfig"); got != outsideKustomization {
				t.Errorf("the outside file was written:\n%s", got)
			}
		})
	}
}

// promobot promote previews the revision and fields strategies on a local
// repository: the pin moved to --revision with the target rendered at
// both commits, and the fields a commit changed carried byte-exactly.
func TestPromoteCommandStrategies(t *testing.T) {
	dir := gitRepo(t)
	first := runGit(t, dir, "rev-parse", "HEAD")
	app := "apps/my-api-service-production.yaml"
	writeText(t, dir, app, strings.Replace(readText(t, dir, app), "targetRevision: main", "targetRevision: "+first, 1))
	service := "kustomize/base/service.yaml"
	writeText(t, dir, service, strings.Replace(readText(t, dir, service), "port: 80\n", "port: 8080\n", 1))
	runGit(t, dir, "commit", "-q", "-am", "pin production, serve on 8080")
	second := runGit(t, dir, "rev-parse", "HEAD")

	_, _, err := promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production")
	if err == nil || !strings.Contains(err.Error(), "a revision promotion pins a commit") {
		t.Errorf("revision without --revision: %v", err)
	}
	out, _, err := promobot(t, "promote", "--repo", dir, "--from", "staging", "--to", "production", "--revision", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if want := "my-api-service: staging → production (" + app + ")\n  targetRevision: " + first + " → " + second + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("revision plan starts\n%s\nwant\n%s", out[:min(len(out), 300)], want)
	}
	if !strings.Contains(out, "-    port: 80\n+    port: 8080") {
		t.Errorf("revision diff does not show the base change:\n%s", out)
	}

	// Fields: the staging change since HEAD carries replicas into production.
	fields := t.TempDir()
	if err := os.CopyFS(fields, os.DirFS(filepath.Join("..", "..", "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	writeText(t, fields, ".promobot.yaml", "pipeline:\n  - {from: staging, to: production, strategy: fields, carry: [replicas]}\n")
	writeText(t, fields, productionKustomization, strings.Replace(readText(t, fields, productionKustomization), "count: 10", "count: 1", 1))
	runGit(t, fields, "init", "-q", "-b", "main")
	runGit(t, fields, "add", "-A")
	runGit(t, fields, "commit", "-q", "-m", "Fixture")
	writeText(t, fields, stagingKustomization, strings.Replace(readText(t, fields, stagingKustomization), "count: 1", "count: 2", 1))
	prodBefore := readText(t, fields, productionKustomization)
	if _, _, err := promobot(t, "promote", "--repo", fields, "--from", "staging", "--to", "production", "--write"); err != nil {
		t.Fatal(err)
	}
	if got, want := readText(t, fields, productionKustomization), strings.Replace(prodBefore, "count: 1", "count: 2", 1); got != want {
		t.Errorf("production after the fields promotion:\n%s\nwant:\n%s", got, want)
	}
}
