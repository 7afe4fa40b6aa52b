package kustomize

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const stagingBefore = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
resources:
  - ../../base
images:
  - name: ghcr.io/my-org/my-api-service
    newTag: 1.4.0
replicas:
  - name: my-api-service
    count: 2
configMapGenerator:
  - name: app-config
    literals:
      - LOG_LEVEL=debug
      - FEATURE_X=off
  - name: staging-only
    literals:
      - SEED=1
patches:
  - path: resources-patch.yaml
`

const productionTarget = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: production   # production's own
resources:
  - ../../base
  - pdb.yaml
images:
  - name: ghcr.io/my-org/my-api-service
    newTag: 1.4.0
replicas:
  - name: my-api-service
    count: 2
configMapGenerator:
  - name: app-config
    literals:
      - LOG_LEVEL=debug
      - FEATURE_X=off
patches:
  - path: resources-patch.yaml
`

const secretBefore = `secretGenerator:
  - name: creds
    literals:
      - PASSWORD=hunter2
`

func TestCarryFields(t *testing.T) {
	change := func(pairs ...string) string { return strings.NewReplacer(pairs...).Replace(stagingBefore) }
	all := []Field{{Kind: "images"}, {Kind: "replicas"}, {Kind: "configMapGenerator", Name: "app-config"}, {Kind: "patches", Name: "resources-patch.yaml"}}
	tests := []struct {
		name      string
		before    string
		after     string
		target    string
		fields    []Field
		want      string
		files     []string
		conflicts []string
	}{
		{
			name:   "replicas, a literal and an image are carried; production's own lines stay",
			after:  change("count: 2", "count: 3", "FEATURE_X=off", "FEATURE_X=on", "newTag: 1.4.0", "newTag: 1.5.0"),
			target: productionTarget, fields: all,
			want:  strings.NewReplacer("count: 2", "count: 3", "FEATURE_X=off", "FEATURE_X=on", "newTag: 1.4.0", "newTag: 1.5.0").Replace(productionTarget),
			files: []string{"resources-patch.yaml"},
		},
		{
			name:   "a field not declared is not carried",
			after:  change("count: 2", "count: 3", "newTag: 1.4.0", "newTag: 1.5.0"),
			target: productionTarget, fields: []Field{{Kind: "images"}},
			want: strings.Replace(productionTarget, "newTag: 1.4.0", "newTag: 1.5.0", 1),
		},
		{
			name:   "a generator other than the declared one is not carried",
			after:  change("SEED=1", "SEED=2", "LOG_LEVEL=debug", "LOG_LEVEL=info"),
			target: productionTarget, fields: []Field{{Kind: "configMapGenerator", Name: "app-config"}},
			want: strings.Replace(productionTarget, "LOG_LEVEL=debug", "LOG_LEVEL=info", 1),
		},
		{
			name:   "a new literal is added between the same neighbours",
			after:  change("      - FEATURE_X=off\n", "      - FEATURE_X=off\n      - FEATURE_Y=on\n"),
			target: productionTarget, fields: all,
			want:  strings.Replace(productionTarget, "      - FEATURE_X=off\n", "      - FEATURE_X=off\n      - FEATURE_Y=on\n", 1),
			files: []string{"resources-patch.yaml"},
		},
		{
			name:      "production diverged on the same line",
			after:     change("count: 2", "count: 3"),
			target:    strings.Replace(productionTarget, "count: 2", "count: 10", 1),
			fields:    all,
			want:      strings.Replace(productionTarget, "count: 2", "count: 10", 1),
			files:     []string{"resources-patch.yaml"},
			conflicts: []string{"line 11\n-    count: 2\n+    count: 3"},
		},
		{
			name:   "a new generator is added before the line after it",
			after:  change("patches:\n", "secretGenerator:\n  - name: creds\n    literals:\n      - PASSWORD=hunter3\npatches:\n"),
			target: productionTarget, fields: []Field{{Kind: "secretGenerator", Name: "creds"}},
			want: strings.Replace(productionTarget, "patches:\n", "secretGenerator:\n  - name: creds\n    literals:\n      - PASSWORD=hunter3\npatches:\n", 1),
		},
		{
			name:   "a secret literal's conflict does not show it",
			before: secretBefore, after: strings.Replace(secretBefore, "hunter2", "hunter3", 1),
			target: strings.Replace(secretBefore, "hunter2", "production-secret", 1), fields: []Field{{Kind: "secretGenerator"}},
			want:      strings.Replace(secretBefore, "hunter2", "production-secret", 1),
			conflicts: []string{"line 4\n-(1 lines of a secretGenerator, not shown)\n+(1 lines of a secretGenerator, not shown)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stagingBefore
			if tt.before != "" {
				before = tt.before
			}
			got, err := CarryFields([]byte(before), []byte(tt.after), []byte(tt.target), tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got.Kustomization)); diff != "" {
				t.Errorf("target kustomization (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.files, got.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			var cs []string
			for _, c := range got.Conflicts {
				cs = append(cs, c.String())
			}
			if diff := cmp.Diff(tt.conflicts, cs); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
			if strings.Contains(strings.Join(cs, ""), "hunter") || strings.Contains(strings.Join(cs, ""), "production-secret") {
				t.Error("a conflict shows a secret literal")
			}
		})
	}
}

func TestParseField(t *testing.T) {
	for in, want := range map[string]string{
		"images": "images", "configMapGenerator/app-config": "configMapGenerator/app-config",
		"patches/patches/resources.yaml": "patches/patches/resources.yaml",
		"images/x":                       "error", "spec": "error", "replicas/a": "error",
	} {
		f, err := ParseField(in)
		got := f.String()
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseField(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
}

// FuzzCarryFields: whatever the three files, carrying never fails half
// way: with conflicts the target is unchanged; and what is carried onto
// the source's own old file is no more than its new file holds.
func FuzzCarryFields(f *testing.F) {
	f.Add(stagingBefore, strings.Replace(stagingBefore, "count: 2", "count: 3", 1), productionTarget)
	f.Add(secretBefore, strings.Replace(secretBefore, "hunter2", "x", 1), "")
	f.Fuzz(func(t *testing.T, before, after, target string) {
		fields := []Field{{Kind: "images"}, {Kind: "replicas"}, {Kind: "patches", Name: "p.yaml"}}
		got, err := CarryFields([]byte(before), []byte(after), []byte(target), fields)
		if err != nil {
			return
		}
		if len(got.Conflicts) > 0 && string(got.Kustomization) != target {
			t.Fatalf("a conflicting carry changed the target: %q", got.Kustomization)
		}
		if strings.Contains(before+after, "\r") {
			return
		}
		self, err := CarryFields([]byte(before), []byte(after), []byte(before), fields)
		if err != nil || len(self.Conflicts) > 0 {
			return
		}
		for _, l := range strings.SplitAfter(string(self.Kustomization), "\n") {
			if l = strings.TrimSuffix(l, "\n"); l != "" && !strings.Contains(before, l) && !strings.Contains(after, l) {
				t.Fatalf("carried a line neither file has: %q", l)
			}
		}
	})
}
