package chart_test

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Docker does not run on the machines promobot is tested on, so the image
// itself is not built here. These tests check what can be checked without
// it: the Dockerfile's structure, that its build command produces a static
// binary that runs, and that .dockerignore keeps every file that build reads.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	keyword string
	args    string
}

// dockerfile is a parsed Dockerfile: its syntax directive and its stages.
type dockerfile struct {
	syntax string
	stages []stage
}

type stage struct {
	from, name   string
	instructions []instruction
}

func parseDockerfile(t *testing.T, file string) dockerfile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var df dockerfile
	var pending strings.Builder
	first := true
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if first {
			if v, ok := strings.CutPrefix(trimmed, "# syntax="); ok {
				df.syntax = v
			}
		}
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && pending.Len() == 0) {
			continue
		}
		first = false
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			pending.WriteString(cont)
			continue
		}
		pending.WriteString(trimmed)
		keyword, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		in := instruction{keyword: strings.ToUpper(keyword), args: strings.Join(strings.Fields(args), " ")}
		if in.keyword == "FROM" {
			fields := strings.Fields(in.args)
			var st stage
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					st.name = fields[i+1]
					i++
				default:
					st.from = fields[i]
				}
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			df.stages = append(df.stages, stage{name: "(global)"})
		}
		last := &df.stages[len(df.stages)-1]
		last.instructions = append(last.instructions, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return df
}

func (s stage) all(keyword string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.keyword == keyword {
			out = append(out, in.args)
		}
	}
	return out
}

func execForm(t *testing.T, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Errorf("%s is not in exec form (a JSON array): %v", args, err)
	}
	return v
}

// TestDockerfile checks the image's shape: a Go builder stage, then a
// distroless final stage with only the binary, running as the non-root user
// the chart's securityContext expects.
func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(df.stages) != 3 {
		t.Fatalf("Dockerfile has %d stages (with the global ARGs), want the global ARGs, build and final", len(df.stages))
	}
	build, final := df.stages[1], df.stages[2]
	type summary struct {
		Syntax               string
		BuildFrom, BuildName string
		FinalFrom            string
		FinalCopies          []string
		User                 []string
		Workdir              []string
		Entrypoint           []string
		Cmd                  []string
		Expose               []string
	}
	got := summary{
		Syntax:      df.syntax,
		BuildFrom:   build.from,
		BuildName:   build.name,
		FinalFrom:   final.from,
		FinalCopies: final.all("COPY"),
		User:        final.all("USER"),
		Workdir:     final.all("WORKDIR"),
		Expose:      final.all("EXPOSE"),
	}
	if e := final.all("ENTRYPOINT"); len(e) == 1 {
		got.Entrypoint = execForm(t, e[0])
	}
	if c := final.all("CMD"); len(c) == 1 {
		got.Cmd = execForm(t, c[0])
	}
	want := summary{
		Syntax:    "docker/dockerfile:1",
		BuildFrom: "golang:${GO_VERSION}",
		BuildName: "build",
		FinalFrom: "gcr.io/distroless/static:nonroot",
		FinalCopies: []string{
			"--from=build /out/promobot /promobot",
			"--from=build --chown=65532:65532 /out/data /var/lib/promobot",
		},
		// The chart's runAsUser and fsGroup.
		User:       []string{"65532:65532"},
		Workdir:    []string{"/var/lib/promobot"},
		Entrypoint: []string{"/promobot"},
		Cmd:        []string{"serve"},
		// The chart's containerPort and serve's default --listen.
		Expose: []string{"8080"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dockerfile (-want +got):\n%s", diff)
	}
	if got := df.stages[0].all("ARG"); !cmp.Equal(got, []string{"GO_VERSION=1.26"}) {
		t.Errorf("global ARGs %q, want GO_VERSION=1.26 (the Go promobot is built with)", got)
	}
	goMod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^go 1\.26(\.\d+)?$`).Match(goMod) {
		t.Errorf("go.mod's go directive is not 1.26.x; update GO_VERSION in the Dockerfile to match")
	}
}

// buildCommand returns the shell command of the builder stage's go build
// RUN, without its BuildKit --mount options.
func buildCommand(t *testing.T) string {
	t.Helper()
	df := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	for _, run := range df.stages[1].all("RUN") {
		if !strings.Contains(run, "go build") {
			continue
		}
		fields := strings.Fields(run)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--mount=") {
			fields = fields[1:]
		}
		return strings.Join(fields, " ")
	}
	t.Fatal("the build stage has no RUN with go build")
	return ""
}

// TestDockerfileBuildCommand runs the builder stage's own go build command
// (with /out pointed at a temporary directory) and checks the binary is
// static, stripped of nothing it needs, and carries the version.
func TestDockerfileBuildCommand(t *testing.T) {
	cmdline := buildCommand(t)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w`, "-o /out/promobot", "./cmd/promobot"} {
		if !strings.Contains(cmdline, want) {
			t.Errorf("build command %q lacks %s", cmdline, want)
		}
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(cmdline, "/out/", out+"/"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+goEnv(t, "GOARCH"), "VERSION=v0.0.0-chart-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	bin := filepath.Join(out, "promobot")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v); distroless/static has no libc", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("the binary keeps its symbol table; -s should strip it")
	}
	version, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("promobot --version: %v\n%s", err, version)
	}
	if diff := cmp.Diff("promobot version v0.0.0-chart-test\n", string(version)); diff != "" {
		t.Errorf("promobot --version (-want +got):\n%s", diff)
	}
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("promobot serve --help: %v\n%s", err, help)
	}
	// Every flag the chart passes must exist.
	for _, flag := range []string{"--roles", "--listen", "--log-format", "--log-level", "--data-dir", "--nats-url", "--nats-creds", "--nats-replicas", "--webhook-secret-file", "--private-key-file", "--github-url"} {
		if !strings.Contains(string(help), flag+" ") {
			t.Errorf("promobot serve has no %s flag, which the chart passes", flag)
		}
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestDockerignoreKeepsBuildInputs checks that no file the image build
// reads (go.mod, go.sum and every Go and embedded file of the packages
// promobot is built from) is excluded from the Docker build context.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") || strings.Contains(line, "**") {
			t.Fatalf(".dockerignore pattern %q: this test only understands plain patterns", line)
		}
		patterns = append(patterns, strings.Trim(path.Clean(line), "/"))
	}
	excluded := func(rel string) string {
		for _, p := range patterns {
			for d := rel; d != "." && d != "/"; d = path.Dir(d) {
				if ok, _ := path.Match(p, d); ok {
					return p
				}
			}
		}
		return ""
	}

	inputs := []string{"go.mod", "go.sum"}
	list := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}`, "./cmd/promobot")
	list.Dir = repoRoot
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(repoRoot, f); err == nil && !strings.HasPrefix(rel, "..") {
			inputs = append(inputs, filepath.ToSlash(rel))
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("found only %d build inputs in the repository: %q", len(inputs), inputs)
	}
	for _, in := range inputs {
		if p := excluded(in); p != "" {
			t.Errorf(".dockerignore pattern %q excludes %s, which go build ./cmd/promobot reads", p, in)
		}
	}
	// And the context leaves out what only bloats it.
	for _, big := range []string{"bin/kube-apiserver", ".git/HEAD", ".cache/openapi"} {
		if excluded(big) == "" {
			t.Errorf(".dockerignore does not exclude %s", big)
		}
	}
}
