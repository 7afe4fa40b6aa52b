package diff

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// rare starts every Secret value of FuzzComment: a character none of the
// comment's own words hold, so a value found in a comment can only have
// come from a Secret.
const rare = "\u1e61"

func marshal(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Skip("not representable as YAML:", err)
	}
	return string(b)
}

// FuzzComment: for any names, values, manifests and render errors, the
// comment keeps the structure its changes call for (the marker first and
// once, a heading per app, a section per change, "No changes" only when
// nothing changed), and no Secret value appears in it, plain, base64 or
// quoted, however it was copied around.
func FuzzComment(f *testing.F) {
	for _, name := range hostileNames {
		f.Add(name, "hunter2", "postgres://app:", "v1", "v2", "", "accumulating resources: ")
	}
	f.Add("my-api-service-staging", "s3cr3t", "", "a", "a", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "")
	f.Add("x", "line one\nline two", "", "a", "b", "a: [", "boom")
	f.Add("x", "```", "`", "a", "b", "kind: List\nitems:\n- kind: Secret\n  data: {a: Zm9v}\n", "<!--")
	f.Add("x", "\x00\xff", "", "a", "b", "- a\n", "\n\n# x")
	f.Fuzz(func(t *testing.T, name, value, prefix, before, after, extra, errText string) {
		v := rare + value
		v2 := rare + "d" + value
		secret := func() string {
			return marshal(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "namespace": name},
				"stringData": map[string]any{"password": v}, "data": map[string]any{"token": base64.StdEncoding.EncodeToString([]byte(v2))}})
		}
		copies := func(side string) string {
			return string(docs(
				marshal(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": name},
					"data": map[string]any{"copy": prefix + v + side, "token": base64.StdEncoding.EncodeToString([]byte(v2)), name: side}}),
				marshal(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
					"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
						map[string]any{"name": name, "image": "ghcr.io/acme/" + name + ":" + side, "env": []any{map[string]any{"name": "P", "value": v}}}}}}}}),
				marshal(t, map[string]any{"apiVersion": "v1", "kind": name, "metadata": map[string]any{"name": side + v, "namespace": name}}),
			))
		}
		apps := []AppRender{
			{App: name, Environment: name, Before: docs(secret(), copies(before)), After: docs(secret(), copies(after), extra)},
			{App: name + v, Environment: name, Before: []byte(extra), AfterErr: errors.New(errText + v + prefix + v2)},
		}
		notices := []Notice{{File: name, Message: errText + v}}
		c := Render(apps, Options{Key: "pr", Title: name, BeforeLabel: "`" + name + "` (" + v + ")", AfterLabel: name, FingerprintKey: testKey, Notices: notices})

		for _, s := range []string{v, v2} {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), strings.Trim(strconv.Quote(s), `"`)} {
				if strings.Contains(c.Body, form) {
					t.Fatalf("comment shows Secret value %q as %q:\n%s", s, form, c.Body)
				}
			}
		}
		if len(c.Omitted) > 0 {
			return // the structure of a cut comment is TestRenderHuge's
		}
		if d := cmp.Diff(wantStructure(apps, c, len(notices)), parseStructure(c.Body)); d != "" {
			t.Fatalf("structure (-want +got):\n%s\n%s", d, c.Body)
		}
	})
}

// FuzzComment's oracle reads values as written; a copy YAML writes as
// base64 (bytes that are not UTF-8) is checked here, decoded.
func TestRenderSecretValueInBinaryCopy(t *testing.T) {
	v := "s3cr3t\xff\xfe"
	sec := marshal(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}, "stringData": map[string]any{"p": v}})
	cm := func(side string) string {
		return marshal(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"copy": side + v}})
	}
	c := Render([]AppRender{{App: "a", Before: docs(sec, cm("1")), After: docs(sec, cm("2"))}}, Options{FingerprintKey: testKey})
	if !strings.Contains(c.Body, "!!binary") {
		t.Fatalf("the copy is not written as !!binary:\n%s", c.Body)
	}
	for _, line := range strings.Split(c.Body, "\n") {
		f := strings.Fields(strings.TrimLeft(line, "+- "))
		if len(f) == 0 {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(f[len(f)-1]); err == nil && strings.Contains(string(b), "s3cr3t") {
			t.Errorf("line %q holds the Secret value in base64", line)
		}
	}
}
