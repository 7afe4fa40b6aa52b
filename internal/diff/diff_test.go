package diff

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/kit"
)

var testKey = []byte("promobot-test-fingerprint-key")

func deployment(ns, name, image string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: %[2]s
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[4]d
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      containers:
      - image: %[3]s
        name: %[2]s
        ports:
        - containerPort: 8080
        resources:
          limits:
            memory: 256Mi
`, ns, name, image, replicas)
}

func service(ns, name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  ports:
  - port: 80
    targetPort: 8080
  selector:
    app: %[2]s
`, ns, name)
}

func configMap(ns, name string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n", name, ns)
	for _, k := range sortedKeys(data) {
		fmt.Fprintf(&b, "  %s: %q\n", k, data[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	return unionKeys(m, nil)
}

func docs(parts ...string) []byte {
	return []byte(strings.Join(parts, "---\n"))
}

// The plaintext and base64 values of the Secrets in these tests; none of
// them may appear anywhere in a comment.
var testSecretValues = []string{"hunter2", "s3cr3t-v2", "old-token", "tok-9", "postgres://app:pw@db/app", "xyz-extra-42"}

func secret(ns, name string, data, stringData map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n", name, ns)
	if len(data) > 0 {
		b.WriteString("data:\n")
		for _, k := range sortedKeys(data) {
			fmt.Fprintf(&b, "  %s: %s\n", k, base64.StdEncoding.EncodeToString([]byte(data[k])))
		}
	}
	if len(stringData) > 0 {
		b.WriteString("stringData:\n")
		for _, k := range sortedKeys(stringData) {
			fmt.Fprintf(&b, "  %s: %q\n", k, stringData[k])
		}
	}
	b.WriteString("type: Opaque\n")
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	const ns = "staging"
	base := docs(service(ns, "api"), deployment(ns, "api", "ghcr.io/acme/api:1.2.3", 1))
	tests := []struct {
		name   string
		apps   []AppRender
		opts   Options
		golden string
	}{
		{
			name: "image bump",
			apps: []AppRender{{App: "my-api-service-staging", Environment: "staging", Before: base,
				After: docs(service(ns, "api"), deployment(ns, "api", "ghcr.io/acme/api:1.3.0", 1))}},
			opts:   Options{Key: "pr", BeforeLabel: "`main`", AfterLabel: "this pull request"},
			golden: "image-bump.md",
		},
		{
			name: "replicas change",
			apps: []AppRender{{App: "my-api-service-production", Environment: "production",
				Before: []byte(deployment("production", "api", "ghcr.io/acme/api:1.2.3", 1)),
				After:  []byte(deployment("production", "api", "ghcr.io/acme/api:1.2.3", 10))}},
			golden: "replicas.md",
		},
		{
			name: "image, replicas and more",
			apps: []AppRender{{App: "api", Environment: "staging",
				Before: []byte(deployment(ns, "api", "ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1)),
				After:  []byte(strings.Replace(deployment(ns, "api", "ghcr.io/acme/api:1.3.0@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", 3), "memory: 256Mi", "memory: 512Mi", 1))}},
			golden: "image-replicas-more.md",
		},
		{
			name: "added and removed",
			apps: []AppRender{{App: "my-api-service-staging", Environment: "staging", Before: base,
				After: docs(deployment(ns, "api", "ghcr.io/acme/api:1.2.3", 1), configMap(ns, "api-config", map[string]string{"LOG_LEVEL": "debug"}))}},
			golden: "added-removed.md",
		},
		{
			name: "render error after",
			apps: []AppRender{{App: "my-api-service-staging", Environment: "staging", Before: base,
				AfterErr: errors.New("accumulating resources: accumulation err='accumulating resources from '../../base': missing Resource metadata'")}},
			opts:   Options{BeforeLabel: "`main`", AfterLabel: "this pull request"},
			golden: "render-error-after.md",
		},
		{
			name: "render error before",
			apps: []AppRender{{App: "my-api-service-staging", Environment: "staging",
				BeforeErr: errors.New("kustomization.yaml: invalid Kustomization: json: unknown field \"resourcs\""), After: base}},
			golden: "render-error-before.md",
		},
		{
			name: "several apps",
			apps: []AppRender{
				{App: "my-api-service-staging", Environment: "staging", Before: base, After: docs(service(ns, "api"), deployment(ns, "api", "ghcr.io/acme/api:1.3.0", 1))},
				{App: "my-api-service-production", Environment: "production",
					Before: docs(service("production", "api"), deployment("production", "api", "ghcr.io/acme/api:1.2.3", 3)),
					After:  docs(service("production", "api"), deployment("production", "api", "ghcr.io/acme/api:1.3.0", 3))},
				{App: "web-staging", Environment: "staging", Before: []byte(service("web", "web")), After: []byte(service("web", "web"))},
				{App: "cluster-addons", Environment: "production",
					Before: docs("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n", service("monitoring", "grafana"), service("kube-system", "metrics")),
					After:  docs("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n  labels:\n    team: sre\n", service("monitoring", "grafana"), strings.Replace(service("kube-system", "metrics"), "port: 80", "port: 8443", 1))},
			},
			opts:   Options{Key: "pr", Footer: "<sub>Rendered by promobot at `abc1234` → `def5678`.</sub>"},
			golden: "several-apps.md",
		},
		{
			name:   "no changes",
			apps:   []AppRender{{App: "web", Environment: "staging", Before: []byte(service("web", "web")), After: []byte(service("web", "web"))}},
			golden: "no-changes.md",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.FingerprintKey = testKey
			c := Render(tt.apps, tt.opts)
			kit.Golden(t, filepath.Join("testdata", tt.golden), c.Body)
			if len(c.Body) > DefaultLimit {
				t.Errorf("body is %d bytes, over %d", len(c.Body), DefaultLimit)
			}
		})
	}
}

func TestRenderSecret(t *testing.T) {
	const ns = "staging"
	lastApplied := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"staging"},"stringData":{"password":"hunter2"}}`
	withAnnotation := strings.Replace(secret(ns, "db", map[string]string{"password": "hunter2", "url": "postgres://app:pw@db/app"}, nil),
		"  name: db\n", "  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '"+lastApplied+"'\n  name: db\n", 1)
	before := docs(
		withAnnotation,
		secret(ns, "old", map[string]string{"token": "old-token"}, nil),
		deployment(ns, "api", "ghcr.io/acme/api:1.2.3", 1),
	)
	after := docs(
		secret(ns, "db", map[string]string{"password": "s3cr3t-v2", "url": "postgres://app:pw@db/app"}, map[string]string{"extra": "xyz-extra-42"}),
		secret(ns, "new", nil, map[string]string{"token": "tok-9"}),
		deployment(ns, "api", "ghcr.io/acme/api:1.2.3", 1),
	)
	c := Render([]AppRender{{App: "my-api-service-staging", Environment: "staging", Before: before, After: after}}, Options{Key: "pr", FingerprintKey: testKey})
	kit.Golden(t, "testdata/secret.md", c.Body)
	for _, v := range testSecretValues {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(c.Body, form) {
				t.Errorf("comment contains Secret value %q", form)
			}
		}
	}
	// Without a key each Render picks a random one: still no values, and
	// the fingerprints differ between comments.
	c1 := Render([]AppRender{{App: "a", Before: before, After: after}}, Options{})
	c2 := Render([]AppRender{{App: "a", Before: before, After: after}}, Options{})
	if c1.Body == c2.Body {
		t.Errorf("two comments without a fingerprint key have identical fingerprints")
	}
	for _, v := range testSecretValues {
		if strings.Contains(c1.Body, v) || strings.Contains(c1.Body, base64.StdEncoding.EncodeToString([]byte(v))) {
			t.Errorf("comment with a random key contains Secret value %q", v)
		}
	}
}

func TestRenderSecretFingerprints(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          string // summary
	}{
		{name: "value changed", before: secret("s", "db", map[string]string{"password": "hunter2"}, nil), after: secret("s", "db", map[string]string{"password": "s3cr3t-v2"}, nil), want: "key password changed"},
		{name: "moved from data to stringData is unchanged", before: secret("s", "db", map[string]string{"password": "hunter2"}, nil), after: secret("s", "db", nil, map[string]string{"password": "hunter2"}), want: "1 line changed"},
		{name: "key added and removed", before: secret("s", "db", map[string]string{"a": "hunter2"}, nil), after: secret("s", "db", map[string]string{"b": "hunter2"}, nil), want: "key a removed, key b added"},
		{name: "only a label", before: secret("s", "db", map[string]string{"a": "hunter2"}, nil), after: strings.Replace(secret("s", "db", map[string]string{"a": "hunter2"}, nil), "  name: db\n", "  labels:\n    x: y\n  name: db\n", 1), want: "2 lines changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := Compare([]byte(tt.before), []byte(tt.after), Options{FingerprintKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 1 {
				t.Fatalf("got %d changes, want 1", len(changes))
			}
			if changes[0].Summary != tt.want {
				t.Errorf("summary = %q, want %q\n%s", changes[0].Summary, tt.want, changes[0].Diff)
			}
			for _, v := range testSecretValues {
				if strings.Contains(changes[0].Diff, v) || strings.Contains(changes[0].Diff, base64.StdEncoding.EncodeToString([]byte(v))) {
					t.Errorf("diff contains %q", v)
				}
			}
		})
	}
}

func TestRenderErrorScrubbed(t *testing.T) {
	err := errors.New(`failed to merge patch: resource &Resource{map[apiVersion:v1 data:map[password:aHVudGVyMg==] kind:Secret]}; json {"stringData":{"password":"hunter2"}}`)
	c := Render([]AppRender{{App: "a", Before: []byte(service("a", "a")), AfterErr: err}}, Options{FingerprintKey: testKey})
	for _, v := range []string{"hunter2", "aHVudGVyMg=="} {
		if strings.Contains(c.Body, v) {
			t.Errorf("render error quoted with Secret value %q:\n%s", v, c.Body)
		}
	}
	if !strings.Contains(c.Body, "data:<redacted>") || !strings.Contains(c.Body, `"stringData":<redacted>`) {
		t.Errorf("scrubbed error not shown:\n%s", c.Body)
	}
	if c.RenderErrors != 1 {
		t.Errorf("RenderErrors = %d, want 1", c.RenderErrors)
	}
}

func TestRenderHuge(t *testing.T) {
	var before, after []string
	for i := range 400 {
		data := map[string]string{}
		next := map[string]string{}
		for j := range 10 {
			data[fmt.Sprintf("key-%02d", j)] = strings.Repeat("v", 20)
			next[fmt.Sprintf("key-%02d", j)] = strings.Repeat("w", 20)
		}
		before = append(before, configMap("big", fmt.Sprintf("config-%03d", i), data))
		after = append(after, configMap("big", fmt.Sprintf("config-%03d", i), next))
	}
	// One resource whose diff alone is larger than a quarter of the limit.
	hugeBefore, hugeAfter := map[string]string{}, map[string]string{}
	for j := range 800 {
		hugeBefore[fmt.Sprintf("line-%04d", j)] = strings.Repeat("a", 30)
		hugeAfter[fmt.Sprintf("line-%04d", j)] = strings.Repeat("b", 30)
	}
	before = append([]string{configMap("big", "aaa-huge", hugeBefore)}, before...)
	after = append([]string{configMap("big", "aaa-huge", hugeAfter)}, after...)

	c := Render([]AppRender{
		{App: "big-staging", Environment: "staging", Before: docs(before...), After: docs(after...)},
		{App: "later-app", Environment: "production", Before: []byte(service("x", "x")), After: []byte(service("x", "y"))},
		{App: "quiet-app", Environment: "production", Before: []byte(service("x", "x")), After: []byte(service("x", "x"))},
	}, Options{Key: "pr", FingerprintKey: testKey})
	if n := utf8.RuneCountInString(c.Body); len(c.Body) > DefaultLimit || n >= GitHubCommentLimit {
		t.Fatalf("body is %d bytes (%d characters), want at most %d bytes", len(c.Body), n, DefaultLimit)
	}
	if len(c.Changes) != 403 { // 401 config maps, one Service removed and one added
		t.Errorf("changes = %d, want 403", len(c.Changes))
	}
	if len(c.Omitted) == 0 || c.Truncated != 1 {
		t.Fatalf("omitted %d, truncated %d; want some omitted and 1 truncated", len(c.Omitted), c.Truncated)
	}
	shown := strings.Count(c.Body, "<details>")
	if shown+len(c.Omitted) != len(c.Changes) {
		t.Errorf("%d sections shown + %d omitted != %d changes", shown, len(c.Omitted), len(c.Changes))
	}
	if !strings.Contains(c.Body, "*Diff truncated: ") {
		t.Errorf("the huge resource carries no truncation note")
	}
	note := c.Body[strings.LastIndex(c.Body, ":scissors:"):]
	wantStart := fmt.Sprintf(":scissors: **%d more changed resources** left out to stay under GitHub's comment size limit: `big-staging`: ConfigMap/config-", len(c.Omitted))
	if !strings.HasPrefix(note, wantStart) {
		t.Errorf("note starts %q, want %q", note[:min(len(note), 200)], wantStart)
	}
	if !strings.Contains(note, " more. Run `promobot diff` locally to see everything.") {
		t.Errorf("note does not end with the count of unnamed resources and the hint: %q", note[max(0, len(note)-200):])
	}
	if !strings.HasPrefix(c.Body, MarkerFor("pr")+"\n") {
		t.Errorf("body does not start with the marker")
	}
	// Sections end whole: every <details> that opens also closes.
	if strings.Count(c.Body, "<details>") != strings.Count(c.Body, "</details>") {
		t.Errorf("a section was cut in the middle")
	}
	kit.Golden(t, "testdata/huge-head.md", c.Body[:strings.Index(c.Body, "<details><summary>ConfigMap/config-001")])
	kit.Golden(t, "testdata/huge-tail.md", c.Body[strings.LastIndex(c.Body, "<details>"):])
}

func TestRenderSmallLimitNamesEveryApp(t *testing.T) {
	var before, after []string
	for i := range 30 {
		before = append(before, deployment("shop", fmt.Sprintf("svc-%02d", i), "ghcr.io/acme/shop:1.0.0", 2))
		after = append(after, deployment("shop", fmt.Sprintf("svc-%02d", i), "ghcr.io/acme/shop:1.1.0", 2))
	}
	c := Render([]AppRender{
		{App: "shop-production", Environment: "production", Before: docs(before...), After: docs(after...)},
		{App: "quiet", Environment: "production", Before: []byte(service("q", "q")), After: []byte(service("q", "q"))},
		{App: "broken", Environment: "production", Before: []byte(service("b", "b")), AfterErr: errors.New("boom")},
		{App: "web", Environment: "production", Before: []byte(service("w", "w")), After: []byte(service("w", "w2"))},
	}, Options{Limit: 8000, FingerprintKey: testKey})
	if len(c.Body) > 8000 {
		t.Fatalf("body is %d bytes, want at most 8000", len(c.Body))
	}
	if !strings.Contains(c.Body, "#### `broken` · production · render failed") {
		t.Errorf("the app that failed to render is not shown")
	}
	kit.Golden(t, "testdata/small-limit-tail.md", c.Body[strings.LastIndex(c.Body, "</details>"):])
}

func TestMarker(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{name: "plain", key: "pr", want: "<!-- promobot:diff pr -->"},
		{name: "path-like", key: "promotion/my-api/production", want: "<!-- promobot:diff promotion/my-api/production -->"},
		{name: "cannot close the comment", key: "x --> <b>", want: "<!-- promobot:diff x_-____b_ -->"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MarkerFor(tt.key)
			if got != tt.want {
				t.Errorf("MarkerFor(%q) = %q, want %q", tt.key, got, tt.want)
			}
			body := Render([]AppRender{{App: "a"}}, Options{Key: tt.key}).Body
			if !HasMarker(body, tt.key) || HasMarker(body, tt.key+"x") {
				t.Errorf("HasMarker does not find exactly key %q in %q", tt.key, body[:60])
			}
		})
	}
}

func TestImageChange(t *testing.T) {
	tests := []struct {
		name, before, after, want string
	}{
		{name: "tag", before: "ghcr.io/x/api:1.2.3", after: "ghcr.io/x/api:1.3.0", want: "image ghcr.io/x/api 1.2.3 → 1.3.0"},
		{name: "registry port", before: "localhost:5000/api:1", after: "localhost:5000/api:2", want: "image localhost:5000/api 1 → 2"},
		{name: "digest", before: "api@sha256:0123456789abcdef0000", after: "api@sha256:fedcba9876543210ffff", want: "image api sha256:0123456789ab → sha256:fedcba987654"},
		{name: "tag to tag and digest", before: "api:1", after: "api:2@sha256:aaaaaaaaaaaaaaaaaaaa", want: "image api 1 → 2@sha256:aaaaaaaaaaaa"},
		{name: "new name", before: "docker.io/x/api:1", after: "ghcr.io/x/api:1", want: "image docker.io/x/api:1 → ghcr.io/x/api:1"},
		{name: "untagged to tagged", before: "api", after: "api:2", want: "image api → api:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imageChange(tt.before, tt.after); got != tt.want {
				t.Errorf("imageChange = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []string // ID: action: summary
		err           string
	}{
		{name: "identical", before: service("a", "s"), after: service("a", "s"), want: nil},
		{name: "documents reordered", before: string(docs(service("a", "s"), service("a", "t"))), after: string(docs(service("a", "t"), service("a", "s"))), want: nil},
		{name: "init container image", before: strings.Replace(deployment("a", "d", "app:1", 1), "      containers:", "      initContainers:\n      - image: migrate:1\n        name: migrate\n      containers:", 1),
			after: strings.Replace(deployment("a", "d", "app:1", 1), "      containers:", "      initContainers:\n      - image: migrate:2\n        name: migrate\n      containers:", 1),
			want:  []string{"Deployment/a/d: modified: image migrate 1 → 2"}},
		{name: "cluster-scoped", before: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", after: "", want: []string{"Namespace/a: removed: removed"}},
		{name: "List items", before: "", after: "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(service("a", "s"), "\n"), "\n", "\n  ") + "\n", want: []string{"Service/a/s: added: added"}},
		{name: "empty documents", before: "---\n---\n", after: "\n", want: nil},
		{name: "not YAML", before: "a: [", err: "rendered output document 1 is not valid YAML: line 1: did not find expected node content"},
		{name: "not an object", before: "- a\n", err: "rendered output document 1 is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := Compare([]byte(tt.before), []byte(tt.after), Options{FingerprintKey: testKey})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				got = append(got, c.ID()+": "+string(c.Action)+": "+c.Summary)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// A Secret value copied out of its Secret (by kustomize replacements into
// a ConfigMap, into a container's env, into a name or a render error) is
// shown nowhere: each copy shows the fingerprint its Secret shows.
func TestRenderSecretValueCopies(t *testing.T) {
	const ns = "staging"
	long := "correct horse battery staple " + strings.Repeat("and more words ", 8)
	values := []string{"hunter2", "s3cr3t-v2", long, "line one\nline two", `quote " and \ backslash`, "tok-9"}
	sec := secret(ns, "db", map[string]string{"password": "hunter2", "long": long, "multi": "line one\nline two"},
		map[string]string{"quoted": `quote " and \ backslash`})
	newSec := secret(ns, "db", map[string]string{"password": "s3cr3t-v2", "long": long, "multi": "line one\nline two"},
		map[string]string{"quoted": `quote " and \ backslash`, "token": "tok-9"})
	cmOf := func(pw string) string {
		return object(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "copied", "namespace": ns},
			"data": map[string]any{
				"password":   pw,
				"dsn":        "postgres://app:" + pw + "@db/app",
				"base64":     base64.StdEncoding.EncodeToString([]byte(pw)),
				"long":       long,
				"multi":      "line one\nline two",
				"quoted":     `quote " and \ backslash`,
				"token-name": "tok-9",
			}})
	}
	tests := []struct {
		name string
		apps []AppRender
	}{
		{name: "copied into a ConfigMap and an env value", apps: []AppRender{{App: "api", Environment: ns,
			Before: docs(sec, cmOf("hunter2"), deployment(ns, "api", "ghcr.io/acme/api:1", 1)),
			After: docs(newSec, cmOf("s3cr3t-v2"),
				strings.Replace(deployment(ns, "api", "ghcr.io/acme/api:1", 1), "        ports:", "        env:\n        - name: PASSWORD\n          value: s3cr3t-v2\n        ports:", 1))}}},
		{name: "a Secret of one app, its value in another app", apps: []AppRender{
			{App: "db", Environment: ns, Before: []byte(sec), After: []byte(newSec)},
			{App: "api", Environment: ns, Before: []byte(cmOf("hunter2")), After: []byte(cmOf("s3cr3t-v2"))}}},
		{name: "in names and a render error", apps: []AppRender{
			{App: "db", Environment: ns, Before: []byte(sec), After: docs(newSec, configMap(ns, "named-tok-9", map[string]string{"a": "b"}))},
			{App: "api-hunter2", Environment: ns, Before: []byte(service(ns, "x")),
				AfterErr: fmt.Errorf("replacements: value %q of Secret db: not found; also s3cr3t-v2 and %s", "hunter2", base64.StdEncoding.EncodeToString([]byte("tok-9")))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Render(tt.apps, Options{Key: "pr", FingerprintKey: testKey})
			for _, v := range values {
				for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), "line two", "battery staple"} {
					if strings.Contains(c.Body, form) {
						t.Errorf("comment shows Secret value %q as %q:\n%s", v, form, c.Body)
					}
				}
			}
			if fp := (fingerprinter{key: testKey}).of([]byte("s3cr3t-v2")); !strings.Contains(c.Body, fp) {
				t.Errorf("comment does not show the copy as %s:\n%s", fp, c.Body)
			}
		})
	}
}
