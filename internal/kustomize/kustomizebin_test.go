package kustomize

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// kustomizeVersion is the kustomize CLI whose `kustomize build` output Render
// must reproduce byte for byte.
const kustomizeVersion = "v5.8.2"

var (
	kustomizeOnce sync.Once
	kustomizePath string
	kustomizeErr  string
)

// kustomizeBinary returns the path of the real kustomize CLI, building it
// from the Go module proxy into $PROMOBOT_BIN_DIR (or <repo>/bin) the first
// time, and reusing it after.
func kustomizeBinary(t *testing.T) string {
	t.Helper()
	kustomizeOnce.Do(func() {
		dir := os.Getenv("PROMOBOT_BIN_DIR")
		if dir == "" {
			_, file, _, _ := runtime.Caller(0)
			dir = filepath.Join(filepath.Dir(file), "..", "..", "bin")
		}
		dir, err := filepath.Abs(dir)
		if err != nil {
			kustomizeErr = err.Error()
			return
		}
		bin := filepath.Join(dir, "kustomize")
		if out, err := exec.Command(bin, "version").Output(); err == nil && strings.TrimSpace(string(out)) == kustomizeVersion {
			kustomizePath = bin
			return
		}
		// go install in a throwaway directory, so the build never touches
		// this module's go.mod.
		work, err := os.MkdirTemp("", "kustomize-build-")
		if err != nil {
			kustomizeErr = err.Error()
			return
		}
		defer os.RemoveAll(work)
		cmd := exec.Command("go", "install", "sigs.k8s.io/kustomize/kustomize/v5@"+kustomizeVersion)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			kustomizeErr = "go install kustomize " + kustomizeVersion + ": " + err.Error() + "\n" + string(out)
			return
		}
		kustomizePath = bin
	})
	if kustomizePath == "" {
		t.Fatalf("kustomize CLI unavailable: %s", kustomizeErr)
	}
	return kustomizePath
}

// kustomizeBuild runs `kustomize build dir` in root and returns stdout.
func kustomizeBuild(t *testing.T, root, dir string) []byte {
	t.Helper()
	cmd := exec.Command(kustomizeBinary(t), "build", dir)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	return out
}
