package promoter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/diff"
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
		for _, want := range []string{"#### `my-api-service-production` · production", "#### `my-api-service-staging` · staging", "+        - containerPort: 8081"} {
			if !strings.Contains(body, want) {
				t.Errorf("diff comment lacks %q:\n%s", want, body)
			}
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
