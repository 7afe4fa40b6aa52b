package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// object is one rendered manifest: its typed form and its unstructured form
// (for sending it to the API server as it was rendered).
type object struct {
	typed runtime.Object
	raw   *unstructured.Unstructured
}

// ref names an object the way kubectl prints it: Kind/name, with the
// namespace for namespaced objects outside the release namespace.
func (o object) ref(releaseNS string) string {
	ns := o.raw.GetNamespace()
	if ns == "" || ns == releaseNS {
		return o.raw.GetKind() + "/" + o.raw.GetName()
	}
	return o.raw.GetKind() + "/" + ns + "/" + o.raw.GetName()
}

// manifest is the output of helm template, decoded.
type manifest []object

func parseManifest(t *testing.T, text string) manifest {
	t.Helper()
	var m manifest
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifest read: %v", err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		typed, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("rendered object decode: %v\n%s", err, doc)
		}
		raw := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &raw.Object); err != nil {
			t.Fatalf("rendered object decode: %v\n%s", err, doc)
		}
		m = append(m, object{typed: typed, raw: raw})
	}
	return m
}

// templateValues renders the chart as release promobot in namespace
// promobot with values.
func templateValues(ctx context.Context, t *testing.T, values map[string]any) manifest {
	t.Helper()
	out, err := helm(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, values))
	if err != nil {
		t.Fatal(err)
	}
	return parseManifest(t, out)
}

// checkSchemaRefuses checks that helm template refuses values with a
// schema error at the value path at ("/render").
func checkSchemaRefuses(ctx context.Context, t *testing.T, values map[string]any, at string) {
	t.Helper()
	out, err := helmCombined(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, values))
	if err == nil || !strings.Contains(out, at) {
		t.Errorf("helm template with %v = %v\n%s\nwant a schema refusal naming %s", values, err, out, at)
	}
}

// flagsByDeployment maps each Deployment's name to its container's
// arguments that start with one of prefixes.
func flagsByDeployment(m manifest, prefixes ...string) map[string][]string {
	got := map[string][]string{}
	for _, d := range of[*appsv1.Deployment](m) {
		var flags []string
		for _, a := range container(d).Args {
			for _, p := range prefixes {
				if strings.HasPrefix(a, p) {
					flags = append(flags, a)
					break
				}
			}
		}
		got[d.Name] = flags
	}
	return got
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// refs lists the objects, sorted.
func (m manifest) refs(releaseNS string) []string {
	var out []string
	for _, o := range m {
		out = append(out, o.ref(releaseNS))
	}
	slices.Sort(out)
	return out
}

// of returns the manifest's objects of type T.
func of[T runtime.Object](m manifest) []T {
	var out []T
	for _, o := range m {
		if v, ok := o.typed.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// roles returns the roles a Deployment's container runs (its --roles flag).
func roles(d *appsv1.Deployment) []string {
	for _, a := range container(d).Args {
		if v, ok := strings.CutPrefix(a, "--roles="); ok {
			return strings.Split(v, ",")
		}
	}
	return nil
}

func container(d *appsv1.Deployment) *corev1.Container {
	return &d.Spec.Template.Spec.Containers[0]
}

// flag returns the value of --name=value in args, and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// mounts maps a container's mount paths to volume names.
func mounts(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		out[m.MountPath] = m.Name
	}
	return out
}

func env(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = fmt.Sprintf("<from %+v>", *e.ValueFrom)
		}
		out[e.Name] = v
	}
	return out
}
