package kustomize

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const pinnedApp = `# production runs a pinned revision of this repository
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-api-service-production   # the production app
  namespace: argocd
spec:
  project: default
  source:
    repoURL: 'https://github.com/my-org/cluster-config.git'
    targetRevision: 3f2a9c1   # moved by promotion PRs
    path: my-api-service/overlays/production
  destination:
    server: 'https://kubernetes.default.svc'
    namespace: production
`

func TestSetTargetRevision(t *testing.T) {
	tests := []struct {
		name, in, app, rev string
		want, old          string
		err                string
	}{
		{
			name: "plain value, comment kept", in: pinnedApp, app: "my-api-service-production", rev: "9b8e7d6",
			want: strings.Replace(pinnedApp, "targetRevision: 3f2a9c1   #", "targetRevision: 9b8e7d6   #", 1), old: "3f2a9c1",
		},
		{
			name: "single-quoted stays single-quoted", app: "a", rev: "v1.2.0", old: "v1.1.0",
			in:   "kind: Application\nmetadata: {name: a}\nspec:\n  source:\n    targetRevision: 'v1.1.0'\n",
			want: "kind: Application\nmetadata: {name: a}\nspec:\n  source:\n    targetRevision: 'v1.2.0'\n",
		},
		{
			name: "double-quoted stays double-quoted", app: "a", rev: "0123456789abcdef0123456789abcdef01234567", old: "main",
			in:   "kind: Application\nmetadata:\n  name: a\nspec:\n  source: {path: x, targetRevision: \"main\"}\n",
			want: "kind: Application\nmetadata:\n  name: a\nspec:\n  source: {path: x, targetRevision: \"0123456789abcdef0123456789abcdef01234567\"}\n",
		},
		{
			name: "a value YAML would read as a number is quoted", app: "a", rev: "1.10", old: "1.9.0",
			in:   "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: 1.9.0\n",
			want: "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: \"1.10\"\n",
		},
		{
			name: "only the named app of several documents", app: "b", rev: "v2", old: "v1",
			in:   "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: v1\n---\n# b\nkind: Application\nmetadata:\n  name: b\nspec:\n  source:\n    targetRevision: v1\n",
			want: "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: v1\n---\n# b\nkind: Application\nmetadata:\n  name: b\nspec:\n  source:\n    targetRevision: v2\n",
		},
		{
			name: "CRLF line ends kept", app: "a", rev: "v2", old: "v1",
			in:   "kind: Application\r\nmetadata:\r\n  name: a\r\nspec:\r\n  source:\r\n    targetRevision: v1\r\n",
			want: "kind: Application\r\nmetadata:\r\n  name: a\r\nspec:\r\n  source:\r\n    targetRevision: v2\r\n",
		},
		{
			name: "already there", in: pinnedApp, app: "my-api-service-production", rev: "3f2a9c1", want: pinnedApp, old: "3f2a9c1",
		},
		{name: "no such app", in: pinnedApp, app: "other", rev: "v1", err: "no Application of that name"},
		{
			name: "no pin", app: "a", rev: "v1", err: "no spec.source.targetRevision",
			in: "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    path: x\n",
		},
		{
			name: "several sources", app: "a", rev: "v1", err: "several sources",
			in: "kind: Application\nmetadata:\n  name: a\nspec:\n  sources:\n    - targetRevision: v0\n",
		},
		{
			name: "block scalar is not edited", app: "a", rev: "v1", err: "does not edit",
			in: "kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: |\n      v0\n",
		},
		{name: "a revision spanning lines is refused", in: pinnedApp, app: "my-api-service-production", rev: "v1\nkind: Secret", err: "not a single word"},
		{name: "a revision with spaces around is refused", in: pinnedApp, app: "my-api-service-production", rev: " v1", err: "not a single word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, old, err := SetTargetRevision([]byte(tt.in), tt.app, tt.rev)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(out)); diff != "" {
				t.Errorf("file (-want +got):\n%s", diff)
			}
			if old != tt.old {
				t.Errorf("old revision %q, want %q", old, tt.old)
			}
			if got, err := TargetRevision(out, tt.app); err != nil || got != tt.rev {
				t.Errorf("reads back as %q (%v), want %q", got, err, tt.rev)
			}
		})
	}
}

// FuzzSetTargetRevision: whatever the file and the revision, a moved pin
// reads back as the revision, and every byte before the value and after
// it is the file's own.
func FuzzSetTargetRevision(f *testing.F) {
	f.Add([]byte(pinnedApp), "my-api-service-production", "v2.0.0")
	f.Add([]byte("kind: Application\nmetadata: {name: a}\nspec: {source: {targetRevision: 'x'}}\n"), "a", "it's")
	f.Add([]byte("kind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    targetRevision: \"a\\\"b\" # c\n"), "a", "yes")
	f.Fuzz(func(t *testing.T, in []byte, app, rev string) {
		out, old, err := SetTargetRevision(in, app, rev)
		if err != nil {
			return
		}
		got, err := TargetRevision(out, app)
		if err != nil || got != rev {
			t.Fatalf("reads back as %q (%v), want %q", got, err, rev)
		}
		if old == rev {
			if !bytes.Equal(in, out) {
				t.Fatal("an unchanged pin changed the file")
			}
			return
		}
		// The edit is one contiguous replacement: a common prefix and
		// suffix cover everything else.
		p := 0
		for p < len(in) && p < len(out) && in[p] == out[p] {
			p++
		}
		s := 0
		for s < len(in)-p && s < len(out)-p && in[len(in)-1-s] == out[len(out)-1-s] {
			s++
		}
		if changed := in[p : len(in)-s]; bytes.ContainsAny(changed, "\n") {
			t.Fatalf("the edit spans lines: %q", changed)
		}
	})
}
