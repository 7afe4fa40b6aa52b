package diff

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/promobot/promobot/test/kit"
)

// hostileNames are names a repository can give its apps, environments,
// kinds, objects, namespaces, images and Secret keys, and texts its
// renders can fail with; each tries to change the structure of the
// comment it lands in.
var hostileNames = []string{
	"0`\n\nNo changes. :white_check_mark:\n<!--",
	"api\n\n</summary></details>\n\n# Approved",
	"<details><summary>forged</summary>\n\n```diff\n+ok\n```\n</details>",
	"<!-- promobot:diff pr -->\n### Rendered manifests",
	"```\n\n**LGTM** @octocat fixes #1\n\n```",
	"x | y\r\n\r\n---\n> quoted\n    indented",
	"[click](https://evil.example/) ![x](https://evil.example/p.png) <https://evil.example/>",
	"-->\n\n<img src=x onerror=alert(1)>",
	"`` ` ``\t*a* _b_ ~~c~~ \\",
}

// object is a YAML document of fields, marshalled so that any name is
// written as valid YAML.
func object(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hostileApps(t *testing.T, name string, changed bool) []AppRender {
	image := "ghcr.io/acme/" + name
	after := image
	if changed {
		after += ":2"
	}
	deploy := func(img string) string {
		return object(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "namespace": name},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": name, "image": img}}}}}})
	}
	odd := object(t, map[string]any{"apiVersion": "v1", "kind": name, "metadata": map[string]any{"name": name}})
	secretDoc := object(t, map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "namespace": name},
		"stringData": map[string]any{name: "value-of-" + name}})
	before := docs(deploy(image), odd, secretDoc)
	afterDocs := docs(deploy(after), odd, secretDoc)
	return []AppRender{
		{App: name, Environment: name, Before: []byte(before), After: []byte(afterDocs)},
		{App: name + "-broken", Environment: name, Before: []byte(odd), AfterErr: errors.New(name)},
	}
}

var slug = regexp.MustCompile(`[^a-z0-9]+`)

// Each hostile name, everywhere a name goes, leaves the comment with the
// structure its changes call for, and reads as itself.
func TestRenderHostileNames(t *testing.T) {
	for i, name := range hostileNames {
		for _, changed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d changed=%v", i, changed), func(t *testing.T) {
				apps := hostileApps(t, name, changed)
				if !changed {
					apps = apps[:1]
				}
				notices := []Notice{{File: "apps/" + name + ".yaml", Message: name}}
				opts := Options{Key: "pr", Title: "Rendered manifests: " + name, BeforeLabel: "`" + name + "` (1a2b3c4)",
					AfterLabel: name, FingerprintKey: testKey, Notices: notices}
				c := Render(apps, opts)
				if changed && len(c.Changes) != 1 || !changed && len(c.Changes) != 0 {
					t.Fatalf("changes = %+v", c.Changes)
				}
				if d := cmp.Diff(wantStructure(apps, c, len(notices)), parseStructure(c.Body)); d != "" {
					t.Errorf("structure (-want +got):\n%s\n%s", d, c.Body)
				}
				if !HasMarker(c.Body, "pr") {
					t.Errorf("HasMarker is false for the comment")
				}
				if changed {
					kit.Golden(t, filepath.Join("testdata", fmt.Sprintf("hostile/%02d-%s.md", i, strings.Trim(slug.ReplaceAllString(strings.ToLower(name), "-"), "-"))), c.Body)
				}
			})
		}
	}
}
