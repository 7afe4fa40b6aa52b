package kustomize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize/kustomizetest"
	"github.com/promobot/promobot/test/kit"
)

// bigValueOverlay writes an overlay that doubles a ConfigMap holding a
// 1 MiB value depth times: few objects, but a lot of memory.
func bigValueOverlay(t *testing.T, root string, depth int) string {
	t.Helper()
	writeFile(t, path.Join(root, "big/l0/kustomization.yaml"), "resources:\n- cm.yaml\n")
	writeFile(t, path.Join(root, "big/l0/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  k: "+strings.Repeat("x", 1<<20)+"\n")
	for i := 1; i <= depth; i++ {
		for _, s := range []string{"a", "b"} {
			writeFile(t, path.Join(root, fmt.Sprintf("big/l%d/%s/kustomization.yaml", i, s)), fmt.Sprintf("namePrefix: %s-\nresources:\n- ../../l%d\n", s, i-1))
		}
		writeFile(t, path.Join(root, fmt.Sprintf("big/l%d/kustomization.yaml", i)), "resources:\n- a\n- b\n")
	}
	return fmt.Sprintf("big/l%d", depth)
}

// listOverlay writes an overlay whose only resource is a List of n
// ConfigMaps: one document, n objects.
func listOverlay(t *testing.T, root string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range n {
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-%d\n", i)
	}
	writeFile(t, path.Join(root, "list/kustomization.yaml"), "resources:\n- list.yaml\n")
	writeFile(t, path.Join(root, "list/list.yaml"), b.String())
	return "list"
}

// TestRenderLimits runs renders into each of their limits. Each must be
// refused with an error naming the overlay and the limit, within a bound of
// that limit; the same overlay under generous limits renders.
func TestRenderLimits(t *testing.T) {
	root := t.TempDir()
	doubling8, err := kustomizetest.WriteDoublingOverlay(root, "double8", 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	doubling5, err := kustomizetest.WriteDoublingOverlay(root, "double5", 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	big := bigValueOverlay(t, root, 4)
	list := listOverlay(t, root, 30)

	tests := []struct {
		name    string
		dir     string
		limits  Limits
		want    Limit
		wantMsg string
		within  time.Duration
	}{
		{name: "objects counted from the graph before kustomize runs", dir: doubling5,
			limits: Limits{MaxObjects: 20}, want: LimitObjects, within: time.Second,
			wantMsg: "double5/levels/5: render refused: more than 20 objects (limit --render-max-objects)"},
		{name: "objects only the render shows (a List)", dir: list,
			limits: Limits{MaxObjects: 20}, want: LimitObjects, within: 10 * time.Second,
			wantMsg: "list: render refused: more than 20 objects (limit --render-max-objects)"},
		{name: "time", dir: doubling8,
			limits: Limits{Timeout: 500 * time.Millisecond}, want: LimitTimeout, within: 3 * time.Second,
			wantMsg: "double8/levels/8: render refused: render took longer than 500ms (limit --render-timeout)"},
		{name: "memory", dir: big,
			limits: Limits{MaxMemory: 96 << 20}, want: LimitMemory, within: 20 * time.Second,
			wantMsg: "big/l4: render refused: render used more than 96 MiB of memory (limit --render-max-memory)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			out, err := Render(context.Background(), root, tt.dir, RenderOptions{Class: ClassApply, Limits: tt.limits})
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Render succeeded (%d bytes in %s), want refused at %s", len(out), took, tt.want)
			}
			var le *LimitError
			if !errors.As(err, &le) || !errors.Is(err, ErrRenderRefused) {
				t.Fatalf("Render error = %v, want a *LimitError matching ErrRenderRefused", err)
			}
			if le.Limit != tt.want {
				t.Errorf("refused at %s, want %s", le.Limit, tt.want)
			}
			if diff := cmp.Diff(tt.wantMsg, err.Error()); diff != "" {
				t.Errorf("error message (-want +got):\n%s", diff)
			}
			if took > tt.within {
				t.Errorf("refusal took %s, want at most %s", took, tt.within)
			}
		})
	}

	// The limits above are what stopped those renders: the fixture renders
	// under each of them, and the List renders under the default limits.
	for _, lim := range []Limits{{MaxObjects: 20}, {Timeout: 500 * time.Millisecond}, {MaxMemory: 96 << 20}} {
		if _, err := Render(context.Background(), fixtureRepo, "kustomize/overlays/production", RenderOptions{Class: ClassApply, Limits: lim}); err != nil {
			t.Errorf("fixture under %+v: %v", lim, err)
		}
	}
	if _, err := Render(context.Background(), root, list, RenderOptions{Class: ClassApply}); err != nil {
		t.Errorf("List under the default limits: %v", err)
	}
}

// TestSetLimits checks that a process's limits reach renders that set none,
// and that a render's own limits win over them.
func TestSetLimits(t *testing.T) {
	root := t.TempDir()
	dir, err := kustomizetest.WriteDoublingOverlay(root, "o", 3, 1) // 8 objects
	if err != nil {
		t.Fatal(err)
	}
	SetLimits(Limits{MaxObjects: 4})
	defer SetLimits(Limits{})
	var le *LimitError
	if _, err := Render(context.Background(), root, dir, RenderOptions{}); !errors.As(err, &le) || le.Limit != LimitObjects {
		t.Errorf("Render under the process's limit of 4 objects: error %v, want refused at %s", err, LimitObjects)
	}
	if _, err := Render(context.Background(), root, dir, RenderOptions{Limits: Limits{MaxObjects: 8}}); err != nil {
		t.Errorf("Render with its own limit of 8 objects: %v", err)
	}
	SetLimits(Limits{})
	if _, err := Render(context.Background(), root, dir, RenderOptions{}); err != nil {
		t.Errorf("Render under the default limits: %v", err)
	}
}

// TestRenderCancel ends the context of a running render: Render returns at
// once with the context's error, and the class's next render gets a fresh
// worker.
func TestRenderCancel(t *testing.T) {
	root := t.TempDir()
	dir, err := kustomizetest.WriteDoublingOverlay(root, "o", 9, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := poolFor(ClassPreview)
	errc := make(chan error, 1)
	go func() {
		_, err := Render(ctx, root, dir, RenderOptions{Class: ClassPreview})
		errc <- err
	}()
	// The render has a worker once every slot of the class is taken.
	kit.EventuallyTrue(t, 20*time.Second, "every worker slot to be freed", func() bool { return len(p.slots) == 0 })
	cancel()
	cancelled := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Render error = %v, want context.Canceled", err)
		}
		if d := time.Since(cancelled); d > 2*time.Second {
			t.Errorf("Render returned %s after the cancel", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Render did not return after its context ended")
	}
	if _, err := Render(context.Background(), fixtureRepo, "kustomize/overlays/staging", RenderOptions{Class: ClassPreview}); err != nil {
		t.Fatalf("render after a cancelled one: %v", err)
	}
}

// TestRenderClassesDoNotShareWorkers keeps the preview workers busy with a
// slow overlay: an apply render completes while the preview still runs.
func TestRenderClassesDoNotShareWorkers(t *testing.T) {
	root := t.TempDir()
	dir, err := kustomizetest.WriteDoublingOverlay(root, "o", 9, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := poolFor(ClassPreview)
	previewDone := make(chan error, 1)
	go func() {
		_, err := Render(context.Background(), root, dir, RenderOptions{Class: ClassPreview, Limits: Limits{Timeout: time.Minute}})
		previewDone <- err
	}()
	kit.EventuallyTrue(t, 20*time.Second, "every worker slot to be freed", func() bool { return len(p.slots) == 0 })
	if _, err := Render(context.Background(), fixtureRepo, "kustomize/overlays/production", RenderOptions{Class: ClassApply}); err != nil {
		t.Fatalf("apply render: %v", err)
	}
	select {
	case err := <-previewDone:
		t.Fatalf("the preview finished (%v) before the apply render: the apply waited for it", err)
	default: // the preview is still running: the apply did not wait for it
	}
	if err := <-previewDone; err != nil {
		t.Fatalf("preview render: %v", err)
	}
}

// TestWorkerRetiresAfterCustomSchema renders an overlay with its own OpenAPI
// schema, which kustomize keeps for the whole process: the worker must not
// render anything else with it.
func TestWorkerRetiresAfterCustomSchema(t *testing.T) {
	root := t.TempDir()
	// A schema that makes Foo.spec.list a list merged by key "name".
	writeFile(t, path.Join(root, "custom/kustomization.yaml"), "openapi:\n  path: schema.json\nresources:\n- foo.yaml\n")
	writeFile(t, path.Join(root, "custom/schema.json"), `{"definitions":{"v1.Foo":{"properties":{"spec":{"properties":{"list":{"items":{"type":"object"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}},"type":"object"}},"type":"object","x-kubernetes-group-version-kind":[{"group":"example.com","kind":"Foo","version":"v1"}]}}}`)
	writeFile(t, path.Join(root, "custom/foo.yaml"), "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: f\nspec:\n  list:\n  - name: a\n    v: 1\n")
	// The same kind without a schema: a patch replaces the whole list.
	writeFile(t, path.Join(root, "plain/foo.yaml"), "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: f\nspec:\n  list:\n  - name: a\n    v: 1\n")
	writeFile(t, path.Join(root, "plain/kustomization.yaml"), "resources:\n- foo.yaml\npatches:\n- patch: |-\n    apiVersion: example.com/v1\n    kind: Foo\n    metadata:\n      name: f\n    spec:\n      list:\n      - name: b\n        v: 2\n")
	want, err := Render(context.Background(), root, "plain", RenderOptions{Class: ClassPreview})
	if err != nil {
		t.Fatal(err)
	}
	// One preview worker: without its retirement, the next render would
	// run in the process that holds the custom schema.
	for range 2 {
		if _, err := Render(context.Background(), root, "custom", RenderOptions{Class: ClassPreview}); err != nil {
			t.Fatal(err)
		}
		got, err := Render(context.Background(), root, "plain", RenderOptions{Class: ClassPreview})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Fatalf("another overlay's schema changed the render (-before +after):\n%s", diff)
		}
	}
}

// TestWorkerEnvironment renders a Helm chart with promobot's secrets in the
// environment: neither the worker nor the helm it runs sees them.
func TestWorkerEnvironment(t *testing.T) {
	t.Setenv("PROMOBOT_PRIVATE_KEY", "sentinel-private-key")
	t.Setenv("PROMOBOT_WEBHOOK_SECRET", "sentinel-webhook-secret")
	t.Setenv("HELM_DEBUG", "false") // kept: helm's own settings
	dumped := path.Join(t.TempDir(), "helm-env")
	helm := path.Join(t.TempDir(), "helm")
	writeFile(t, helm, "#!/bin/sh\nenv >> "+dumped+"\ncase \"$1\" in\nversion) echo v3.14.0 ;;\n*) printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-helm\\n' ;;\nesac\n")
	if err := os.Chmod(helm, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, path.Join(root, "app/kustomization.yaml"), "helmCharts:\n- name: local\n")
	writeFile(t, path.Join(root, "app/charts/local/Chart.yaml"), "apiVersion: v2\nname: local\nversion: 0.1.0\n")
	writeFile(t, path.Join(root, "app/charts/local/values.yaml"), "{}\n")

	w := startWorker() // a fresh worker, started with this environment
	<-w.ready
	if w.startErr != nil {
		t.Fatal(w.startErr)
	}
	defer w.kill()
	resp, err := w.render(context.Background(), workRequest{Root: root, Dir: path.Join(root, "app"), EnableHelm: true, HelmCommand: helm}, DefaultLimits())
	if err != nil || resp.Kind != respOK || !strings.Contains(string(resp.Out), "name: from-helm") {
		t.Fatalf("render: %v, kind %d, %s %s", err, resp.Kind, resp.Out, resp.Err)
	}
	env, err := os.ReadFile(dumped)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sentinel-private-key", "sentinel-webhook-secret", "PROMOBOT_"} {
		if strings.Contains(string(env), secret) {
			t.Errorf("helm's environment holds %q:\n%s", secret, env)
		}
	}
	if !strings.Contains(string(env), "HELM_DEBUG=false") || !strings.Contains(string(env), "PATH=") {
		t.Errorf("helm's environment lacks HELM_DEBUG or PATH:\n%s", env)
	}
}
