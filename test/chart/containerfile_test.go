package chart_test

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// layout is what an image's final stage puts where, as the chart relies on
// it: the binary, the directories copied with an owner, the user, the
// working directory, the entrypoint, command and port.
type layout struct {
	Binary     string
	Owned      map[string]string // destination → --chown
	User       []string
	Workdir    []string
	Entrypoint []string
	Cmd        []string
	Expose     []string
}

func finalLayout(t *testing.T, file string) layout {
	t.Helper()
	df := parseDockerfile(t, file)
	if len(df.stages) == 0 {
		t.Fatalf("%s has no stage", file)
	}
	final := df.stages[len(df.stages)-1]
	l := layout{
		Owned:   map[string]string{},
		User:    final.all("USER"),
		Workdir: final.all("WORKDIR"),
		Expose:  final.all("EXPOSE"),
	}
	if e := final.all("ENTRYPOINT"); len(e) == 1 {
		l.Entrypoint = execForm(t, e[0])
	}
	if c := final.all("CMD"); len(c) == 1 {
		l.Cmd = execForm(t, c[0])
	}
	for _, args := range final.all("COPY") {
		var chown string
		var rest []string
		for _, f := range strings.Fields(args) {
			if v, ok := strings.CutPrefix(f, "--chown="); ok {
				chown = v
			} else if !strings.HasPrefix(f, "--") {
				rest = append(rest, f)
			}
		}
		if len(rest) < 2 {
			t.Fatalf("%s: COPY %s has no source or destination", file, args)
		}
		dest := rest[len(rest)-1]
		for _, src := range rest[:len(rest)-1] {
			if path.Base(src) == "promobot" {
				l.Binary = dest
			}
		}
		if chown != "" {
			l.Owned[dest] = chown
		}
	}
	return l
}

// TestContainerfileMatchesDockerfile checks that the image make image
// builds (build/Containerfile, FROM scratch with podman) and the one CI
// builds from the Dockerfile (distroless) have the same layout, and that
// build/image.sh builds the binary with the Dockerfile's flags.
// distroless/static:nonroot brings the CA bundle and the user 65532 that
// build/image.sh stages from the host; test/image checks the files of the
// image it builds.
func TestContainerfileMatchesDockerfile(t *testing.T) {
	docker := finalLayout(t, filepath.Join(repoRoot, "Dockerfile"))
	podman := finalLayout(t, filepath.Join(repoRoot, "build", "Containerfile"))
	if docker.Binary == "" || len(docker.Owned) == 0 {
		t.Fatalf("the Dockerfile's final stage copies no promobot binary or no owned directory: %+v", docker)
	}
	if diff := cmp.Diff(docker, podman); diff != "" {
		t.Errorf("build/Containerfile's layout differs from the Dockerfile's (-Dockerfile +Containerfile):\n%s", diff)
	}
	if df := parseDockerfile(t, filepath.Join(repoRoot, "build", "Containerfile")); len(df.stages) != 1 || df.stages[0].from != "scratch" {
		t.Errorf("build/Containerfile is not one stage FROM scratch")
	}

	script, err := os.ReadFile(filepath.Join(repoRoot, "build", "image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var build string
	for _, line := range strings.Split(string(script), "\n") {
		if strings.Contains(line, " build ") && strings.Contains(line, "-ldflags") {
			build = line
		}
	}
	if build == "" {
		t.Fatal("build/image.sh has no go build line with -ldflags")
	}
	for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=`, "./cmd/promobot"} {
		if !strings.Contains(buildCommand(t), flag) {
			t.Errorf("the Dockerfile's go build lacks %s", flag)
		}
		if !strings.Contains(build, flag) {
			t.Errorf("build/image.sh's go build %q lacks %s, which the Dockerfile's has", strings.TrimSpace(build), flag)
		}
	}
}
