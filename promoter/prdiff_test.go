package promoter

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// addToStaging returns the staging kustomization with more resources.
func addToStaging(t *testing.T, h *harness, files ...string) string {
	t.Helper()
	k := h.file("main", stagingFile)
	add := ""
	for _, f := range files {
		add += "  - " + f + "\n"
	}
	out := strings.Replace(k, "resources:\n  - ../../base\n", "resources:\n  - ../../base\n"+add, 1)
	if out == k {
		t.Fatalf("staging kustomization has no resources list to extend:\n%s", k)
	}
	return out
}

// Ordinary pull requests get one sticky rendered-diff comment, kept up to
// date on every push.
func TestPullRequestDiffComments(t *testing.T) {
	h := newHarness(t, harnessOptions{})

	t.Run("a change to the base shows both environments", func(t *testing.T) {
		dep := h.file("main", "kustomize/base/deployment.yaml")
		changed := strings.Replace(dep, "containerPort: 8080", "containerPort: 8081", 1)
		if changed == dep {
			t.Fatalf("base deployment has no containerPort 8080:\n%s", dep)
		}
		n := h.openChange("base-port", map[string]string{"kustomize/base/deployment.yaml": changed})
		h.settle()
		cs := h.botComments(n)
		if len(cs) != 1 || !diff.HasMarker(cs[0].Body, PullRequestDiffKey) {
			t.Fatalf("comments = %+v, want one diff comment", cs)
		}
		body := cs[0].Body
		for _, want := range []string{"#### `my-api-service-production` · production", "#### `my-api-service-staging` · staging", "+        - containerPort: 8081",
			":warning: **Merging this changes `production` directly**: 1 resource in 1 app, without a promotion."} {
			if !strings.Contains(body, want) {
				t.Errorf("diff comment lacks %q:\n%s", want, body)
			}
		}
		var bypassed []string
		for _, f := range h.facts() {
			if f.Verb == "bypassed" {
				bypassed = append(bypassed, f.Data.Reason)
			}
		}
		if len(bypassed) == 0 || !strings.Contains(bypassed[len(bypassed)-1], "changes production directly, without a promotion (resources: 1, apps: 1)") {
			t.Errorf("bypassed facts = %q", bypassed)
		}
		if strings.Contains(body, "guestbook") {
			t.Errorf("diff comment shows an app the change does not touch:\n%s", body)
		}

		// A second push edits the same comment.
		again := strings.Replace(dep, "containerPort: 8080", "containerPort: 9090", 1)
		if _, err := h.gh.Push(h.ctx, owner, repoName, "base-port", commitOf(developer, "kustomize/base/deployment.yaml", again)); err != nil {
			t.Fatal(err)
		}
		h.settle()
		cs2 := h.botComments(n)
		if len(cs2) != 1 || cs2[0].ID != cs[0].ID || !strings.Contains(cs2[0].Body, "containerPort: 9090") {
			t.Errorf("after a push: comments = %+v, want comment %d edited to show 9090", cs2, cs[0].ID)
		}
	})

	t.Run("a staging change goes through promotion", func(t *testing.T) {
		n := h.openChange("staging-only", map[string]string{
			stagingFile: addToStaging(t, h, "settings.yaml"),
			"kustomize/overlays/staging/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
		})
		var cs []githubapi.IssueComment
		kit.Eventually(t, time.Minute, "the diff comment", func() (bool, string) {
			cs = h.botComments(n)
			return len(cs) > 0, "no comment yet"
		})
		if len(cs) != 1 || strings.Contains(cs[0].Body, "directly") {
			t.Errorf("comments = %+v, want one diff comment with no warning", cs)
		}
	})

	t.Run("a Secret shows no value", func(t *testing.T) {
		const value = "s3cr3t-hunter2"
		secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-credentials\nstringData:\n  password: " + value + "\n" +
			"data:\n  token: " + base64.StdEncoding.EncodeToString([]byte("tok-"+value)) + "\n"
		n := h.openChange("add-secret", map[string]string{
			stagingFile:                              addToStaging(t, h, "secret.yaml"),
			"kustomize/overlays/staging/secret.yaml": secret,
		})
		h.settle()
		cs := h.botComments(n)
		if len(cs) != 1 {
			t.Fatalf("comments = %+v, want one diff comment", cs)
		}
		body := cs[0].Body
		if !strings.Contains(body, "Secret/api-credentials") {
			t.Errorf("diff comment does not show the Secret:\n%s", body)
		}
		for _, leak := range []string{value, base64.StdEncoding.EncodeToString([]byte(value)), base64.StdEncoding.EncodeToString([]byte("tok-" + value)), "tok-" + value} {
			if strings.Contains(body, leak) {
				t.Errorf("diff comment shows the Secret value %q:\n%s", leak, body)
			}
		}
	})

	t.Run("a huge diff stays under GitHub's limit", func(t *testing.T) {
		files := map[string]string{}
		var names []string
		for i := 0; i < 40; i++ {
			var data strings.Builder
			for j := 0; j < 60; j++ {
				fmt.Fprintf(&data, "  key%02d: %s\n", j, strings.Repeat(fmt.Sprintf("v%d-%d ", i, j), 12))
			}
			name := fmt.Sprintf("config-%02d.yaml", i)
			names = append(names, name)
			files["kustomize/overlays/staging/"+name] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%02d\ndata:\n%s", i, data.String())
		}
		files[stagingFile] = addToStaging(t, h, names...)
		n := h.openChange("huge", files)
		h.settle()
		cs := h.botComments(n)
		if len(cs) != 1 {
			t.Fatalf("comments = %d, want one diff comment", len(cs))
		}
		body := cs[0].Body
		if len(body) > diff.GitHubCommentLimit {
			t.Errorf("diff comment is %d characters, over GitHub's %d", len(body), diff.GitHubCommentLimit)
		}
		if !strings.Contains(body, "left out to stay under GitHub's comment size limit") || !strings.Contains(body, "ConfigMap/config-39") {
			t.Errorf("diff comment does not name what it left out:\n%s", body[len(body)-min(len(body), 3000):])
		}
	})

	t.Run("a README change gets no comment", func(t *testing.T) {
		n := h.openChange("docs", map[string]string{"README.md": "# Docs only\n"})
		h.settle()
		if cs := h.botComments(n); len(cs) != 0 {
			t.Errorf("comments = %+v, want none", cs)
		}
	})
}

// A repository cannot forge its diff comment, nor read a Secret's value
// in it by copying the value out of the Secret.
func TestPullRequestDiffHostileRepository(t *testing.T) {
	h := newHarness(t, harnessOptions{})

	t.Run("an Application named to forge the comment", func(t *testing.T) {
		const forged = "0`\n\nNo changes. :white_check_mark:\n<!--"
		app := h.file("main", "apps/my-api-service-staging.yaml")
		hostile := strings.Replace(app, "name: my-api-service-staging\n", "name: "+strconv.Quote(forged)+"\n", 1)
		if hostile == app {
			t.Fatalf("no name to replace in:\n%s", app)
		}
		n := h.openChange("forged-name", map[string]string{
			"apps/forged.yaml": hostile,
			stagingFile:        withTag(t, h.file("main", stagingFile), "1.1.0"),
		})
		h.settle()
		cs := h.botComments(n)
		if len(cs) != 1 {
			t.Fatalf("comments = %+v, want one diff comment", cs)
		}
		body := cs[0].Body
		if !strings.HasPrefix(body, diff.MarkerFor(PullRequestDiffKey)+"\n") || strings.Count(body, "<!--") != 1 {
			t.Errorf("the marker is not the first line and the only HTML comment:\n%s", body)
		}
		var headings []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "#") {
				headings = append(headings, l)
			}
			if strings.HasPrefix(l, "No changes") {
				t.Errorf("a line says %q, but the change changes a resource", l)
			}
		}
		want := []string{"### Rendered manifests", "#### `my-api-service-staging` · staging · 1 resource changed"}
		if d := cmp.Diff(want, headings); d != "" {
			t.Errorf("headings (-want +got):\n%s\n%s", d, body)
		}
		if strings.Count(body, "<details>") != 1 || strings.Count(body, "</details>") != 1 {
			t.Errorf("want one <details> section:\n%s", body)
		}
		for _, w := range []string{"- `apps/forged.yaml`: metadata.name", "is not a valid Application name", "image ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0"} {
			if !strings.Contains(body, w) {
				t.Errorf("diff comment lacks %q:\n%s", w, body)
			}
		}
	})

	t.Run("a Secret value copied into a ConfigMap by replacements", func(t *testing.T) {
		const password, token = "pw-copied-by-replacements", "tok-copied-as-base64"
		k := addToStaging(t, h, "secret.yaml", "config.yaml") + `
replacements:
  - source: {kind: Secret, name: db, fieldPath: stringData.password}
    targets:
      - select: {kind: ConfigMap, name: app-config}
        fieldPaths: [data.DB_PASSWORD]
  - source: {kind: Secret, name: db, fieldPath: data.token}
    targets:
      - select: {kind: ConfigMap, name: app-config}
        fieldPaths: [data.TOKEN]
      - select: {kind: Deployment, name: my-api-service}
        fieldPaths: [spec.template.metadata.annotations.token]
        options: {create: true}
`
		n := h.openChange("replacements", map[string]string{
			stagingFile: k,
			"kustomize/overlays/staging/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + password +
				"\ndata:\n  token: " + base64.StdEncoding.EncodeToString([]byte(token)) + "\n",
			"kustomize/overlays/staging/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  DB_PASSWORD: placeholder\n  TOKEN: placeholder\n",
		})
		h.settle()
		cs := h.botComments(n)
		if len(cs) != 1 {
			t.Fatalf("comments = %+v, want one diff comment", cs)
		}
		body := cs[0].Body
		for _, w := range []string{"ConfigMap/app-config", "Secret/db", "DB_PASSWORD: <redacted hmac:", "TOKEN: <redacted hmac:", "token: <redacted hmac:"} {
			if !strings.Contains(body, w) {
				t.Errorf("diff comment lacks %q:\n%s", w, body)
			}
		}
		for _, leak := range []string{password, token, base64.StdEncoding.EncodeToString([]byte(password)), base64.StdEncoding.EncodeToString([]byte(token))} {
			if strings.Contains(body, leak) {
				t.Errorf("diff comment shows the Secret value %q:\n%s", leak, body)
			}
		}
	})
}
