// Package image_test builds promobot's container image with podman as
// `make image` does (build/image.sh, FROM scratch) and runs it: its layout,
// --help, promobot serve answering a signed webhook on a published port and
// storing it on its event bus, and a time zone with no zoneinfo in the
// image.
//
// It needs Debian's podman and runc (`make system-packages`) and fails,
// rather than skips, without them. Every image and container it makes has a
// name of its own and is removed when it ends.
package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// version is what the image's binary is built to report.
const version = "v0.0.0-image-test"

// podman runs podman with promobot's containers.conf, as build/image.sh does.
type podman struct {
	conf string
}

// run runs podman and returns its standard output; the error carries its
// standard error.
func (p podman) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// logs returns what the container wrote to its standard output and error.
func (p podman) logs(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", "logs", name)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman logs %s: %v\n%s", name, err, out)
	}
	return string(out)
}

func (p podman) must(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestImage builds the image once and checks what a user of it sees.
func TestImage(t *testing.T) {
	for _, tool := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			// Debian installs runc in /usr/sbin, which a user's PATH may lack.
			if _, serr := os.Stat(filepath.Join("/usr/sbin", tool)); serr != nil {
				t.Fatalf("%s is not installed (%v): run make system-packages, which installs podman and runc with apt", tool, err)
			}
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	p := podman{conf: filepath.Join(root, "build", "containers.conf")}
	suffix := randomSuffix(t)
	image := "localhost/promobot-imagetest-" + suffix + ":test"

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.run(ctx, "rmi", "--force", image); err != nil {
			t.Errorf("remove the test's image: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, filepath.Join(root, "build", "image.sh"), image)
	build.Env = append(os.Environ(), "VERSION="+version, "CONTAINERS_CONF="+p.conf)
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("build/image.sh: %v\n%s", err, out)
	}
	t.Logf("build/image.sh:\n%s", out)

	t.Run("layout", func(t *testing.T) { testLayout(t, p, image) })
	t.Run("help", func(t *testing.T) { testHelp(t, p, image) })
	t.Run("serve", func(t *testing.T) { testServe(t, p, image, "promobot-imagetest-"+suffix) })
	t.Run("time zones", func(t *testing.T) { testTimeZones(t, p, image, root) })
}

// imageConfig is the part of the image's configuration promobot sets.
type imageConfig struct {
	User         string
	WorkingDir   string
	Entrypoint   []string
	Cmd          []string
	ExposedPorts map[string]struct{}
}

// entry is one file of the image's filesystem.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
}

// testLayout checks the image's configuration and every file in it: the
// binary, the CA bundle, the user database naming 65532, and the data
// directory owned by 65532; nothing else.
func testLayout(t *testing.T, p podman, image string) {
	var inspected []struct {
		Config imageConfig
		RootFS struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(p.must(t, "image", "inspect", image)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %d images, %v", len(inspected), err)
	}
	wantConfig := imageConfig{
		User:         "65532:65532",
		WorkingDir:   "/var/lib/promobot",
		Entrypoint:   []string{"/promobot"},
		Cmd:          []string{"serve"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if diff := cmp.Diff(wantConfig, inspected[0].Config); diff != "" {
		t.Errorf("image configuration (-want +got):\n%s", diff)
	}
	if n := len(inspected[0].RootFS.Layers); n != 1 {
		t.Errorf("the image has %d layers, want 1", n)
	}

	archive := filepath.Join(t.TempDir(), "image.tar")
	p.must(t, "save", "--format", "docker-archive", "--output", archive, image)
	files, contents := imageFiles(t, archive, "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt")
	wantFiles := []entry{
		{"etc/", tar.TypeDir, 0o755, 0, 0},
		{"etc/group", tar.TypeReg, 0o644, 0, 0},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"etc/ssl/", tar.TypeDir, 0o755, 0, 0},
		{"etc/ssl/certs/", tar.TypeDir, 0o755, 0, 0},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
		{"promobot", tar.TypeReg, 0o755, 0, 0},
		{"var/", tar.TypeDir, 0o755, 0, 0},
		{"var/lib/", tar.TypeDir, 0o755, 0, 0},
		{"var/lib/promobot/", tar.TypeDir, 0o755, 65532, 65532},
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("files in the image (-want +got):\n%s", diff)
	}
	hostCA, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(contents["etc/ssl/certs/ca-certificates.crt"], hostCA) {
		t.Errorf("the image's CA bundle is not the host's /etc/ssl/certs/ca-certificates.crt")
	}
	for file, want := range map[string]string{
		"etc/passwd": "promobot:x:65532:65532:promobot:/var/lib/promobot:/sbin/nologin\n",
		"etc/group":  "promobot:x:65532:\n",
	} {
		if !strings.Contains(string(contents[file]), want) {
			t.Errorf("/%s lacks %q:\n%s", file, want, contents[file])
		}
	}
}

// imageFiles lists the files of a docker-archive's layers, in order, and
// returns the contents of the files named.
func imageFiles(t *testing.T, archive string, read ...string) ([]entry, map[string][]byte) {
	t.Helper()
	layers := map[string][]byte{}
	var manifest []struct{ Layers []string }
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", archive, h.Name, err)
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(raw, &manifest); err != nil {
				t.Fatalf("%s: manifest.json: %v", archive, err)
			}
			continue
		}
		layers[h.Name] = raw
	}
	if len(manifest) != 1 {
		t.Fatalf("%s holds %d images, want 1", archive, len(manifest))
	}
	var files []entry
	contents := map[string][]byte{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(layers[layer]))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			name := strings.TrimPrefix(h.Name, "./")
			files = append(files, entry{Name: name, Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid})
			for _, r := range read {
				if name == r {
					if contents[name], err = io.ReadAll(lr); err != nil {
						t.Fatalf("layer %s: %s: %v", layer, name, err)
					}
				}
			}
		}
	}
	return files, contents
}

// testHelp runs the image as a user first would.
func testHelp(t *testing.T, p podman, image string) {
	help := p.must(t, "run", "--rm", image, "--help")
	for _, want := range []string{"Usage:\n  promobot [command]\n", "\n  serve       Run promobot: receive GitHub webhooks"} {
		if !strings.Contains(help, want) {
			t.Errorf("promobot --help in the image lacks %q:\n%s", want, help)
		}
	}
	if diff := cmp.Diff("promobot version "+version+"\n", p.must(t, "run", "--rm", image, "--version")); diff != "" {
		t.Errorf("promobot --version in the image (-want +got):\n%s", diff)
	}
}
