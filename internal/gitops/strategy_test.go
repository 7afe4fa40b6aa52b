package gitops

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize"
)

func TestStrategyConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		err        string
	}{
		{name: "revision", yaml: "pipeline:\n  - {from: staging, to: production, strategy: revision}\n"},
		{name: "fields", yaml: "pipeline:\n  - from: staging\n    to: production\n    strategy: fields\n    carry: [replicas, configMapGenerator/app-config, patches/resources-patch.yaml, file/config/flags.yaml]\n"},
		{name: "unknown strategy", yaml: "pipeline:\n  - {from: staging, to: production, strategy: everything}\n", err: `pipeline[0].strategy: "everything" is not a strategy (images, revision, fields)`},
		{name: "fields without carry", yaml: "pipeline:\n  - {from: staging, to: production, strategy: fields}\n", err: "pipeline[0].carry: strategy fields needs the fields and files it carries"},
		{name: "carry without fields", yaml: "pipeline:\n  - {from: staging, to: production, carry: [replicas]}\n", err: "pipeline[0].carry: only strategy fields carries fields and files"},
		{name: "unknown field", yaml: "pipeline:\n  - {from: staging, to: production, strategy: fields, carry: [spec]}\n", err: `pipeline[0].carry[0]: field "spec": not one promobot carries`},
		{name: "auto-merge", yaml: "pipeline:\n  - {from: staging, to: production, autoMerge: true, mergeMethod: squash}\n"},
		{name: "unknown merge method", yaml: "pipeline:\n  - {from: staging, to: production, autoMerge: true, mergeMethod: fast-forward}\n", err: `pipeline[0].mergeMethod: "fast-forward" is not a merge method (merge, squash, rebase)`},
		{name: "merge method without auto-merge", yaml: "pipeline:\n  - {from: staging, to: production, mergeMethod: squash}\n", err: "pipeline[0].mergeMethod: only autoMerge merges"},
		{name: "file out of the overlay", yaml: "pipeline:\n  - {from: staging, to: production, strategy: fields, carry: [file/../../base/deployment.yaml]}\n", err: `pipeline[0].carry[0]: "../../base/deployment.yaml" is not a file inside the overlay`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			}
		})
	}
}

func TestStrategyFor(t *testing.T) {
	pinned := Pair{To: App{TargetRevision: "v1.2.0"}}
	tracking := Pair{To: App{TargetRevision: "main"}}
	for _, tt := range []struct {
		step Step
		pair Pair
		want string
	}{
		{Step{}, pinned, StrategyRevision},
		{Step{}, tracking, StrategyImages},
		{Step{}, Pair{To: App{TargetRevision: "HEAD"}}, StrategyImages},
		{Step{Strategy: StrategyImages}, pinned, StrategyImages},
		{Step{Strategy: StrategyFields}, tracking, StrategyFields},
	} {
		if got := tt.step.StrategyFor(tt.pair, "main"); got != tt.want {
			t.Errorf("%+v %q: %s, want %s", tt.step, tt.pair.To.TargetRevision, got, tt.want)
		}
	}
	fields, files := Step{Carry: []string{"replicas", "patches/p.yaml", "file/config/a.env"}}.CarriedFields()
	if diff := cmp.Diff([]kustomize.Field{{Kind: "replicas"}, {Kind: "patches", Name: "p.yaml"}}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"config/a.env"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestPinned(t *testing.T) {
	tests := []struct {
		rev, branch string
		want        bool
	}{
		{"", "main", false},
		{"HEAD", "main", false},
		{"main", "main", false},
		{"refs/heads/main", "main", false},
		{"release-1.0", "main", true},
		{"v1.2.3", "main", true},
		{"0a1b2c3d", "main", true},
		{"release-1.0", "", false}, // branch unknown: nothing to compare with
	}
	for _, tt := range tests {
		t.Run(tt.rev+"@"+tt.branch, func(t *testing.T) {
			if got := (App{TargetRevision: tt.rev}).Pinned(tt.branch); got != tt.want {
				t.Errorf("Pinned(%q) on %q = %v, want %v", tt.rev, tt.branch, got, tt.want)
			}
		})
	}
}
