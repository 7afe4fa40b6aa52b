package cluster_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/promobot/promobot/applier/cluster"
)

func TestChangeSetSummary(t *testing.T) {
	n := func(a cluster.Action, count int) []cluster.Change {
		out := make([]cluster.Change, count)
		for i := range out {
			out[i] = cluster.Change{Subject: "ConfigMap/ns/x", Action: a}
		}
		return out
	}
	tests := []struct {
		name    string
		changes [][]cluster.Change
		want    string
	}{
		{name: "empty", want: "no objects"},
		{
			name:    "every action",
			changes: [][]cluster.Change{n(cluster.Unchanged, 10), n(cluster.Created, 3), n(cluster.Deleted, 1), n(cluster.Configured, 1), n(cluster.Skipped, 2)},
			want:    "3 created, 1 configured, 10 unchanged, 1 pruned, 2 skipped",
		},
		{name: "only unchanged", changes: [][]cluster.Change{n(cluster.Unchanged, 4)}, want: "4 unchanged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs cluster.ChangeSet
			for _, c := range tt.changes {
				cs.Changes = append(cs.Changes, c...)
			}
			if diff := cmp.Diff(tt.want, cs.Summary()); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// wantPrefix is the readable part; a value that had to change also
		// ends in "-" and a 10-digit hash of the input.
		wantPrefix string
		wantHashed bool
	}{
		{name: "valid as is", in: "api-staging", wantPrefix: "api-staging"},
		{name: "repository", in: "acme.gitops", wantPrefix: "acme.gitops"},
		{name: "invalid characters", in: "team/api staging", wantPrefix: "team-api-staging", wantHashed: true},
		{name: "too long", in: strings.Repeat("application-", 7), wantPrefix: "application-application-application-application-appl", wantHashed: true},
		{name: "leading dash", in: "-x", wantPrefix: "x", wantHashed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cluster.LabelValue(tt.in)
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("LabelValue(%q) = %q is not a valid label value: %v", tt.in, got, errs)
			}
			prefix, hashed := got, false
			if i := strings.LastIndexByte(got, '-'); tt.wantHashed && i >= 0 && len(got)-i-1 == 10 {
				prefix, hashed = got[:i], true
			}
			if diff := cmp.Diff([]any{tt.wantPrefix, tt.wantHashed}, []any{prefix, hashed}); diff != "" {
				t.Errorf("LabelValue(%q) = %q (-want +got):\n%s", tt.in, got, diff)
			}
		})
	}

	// Inputs that differ only in characters a label cannot hold stay apart.
	if a, b := cluster.LabelValue("team/api"), cluster.LabelValue("team api"); a == b {
		t.Errorf("LabelValue gives %q for both %q and %q", a, "team/api", "team api")
	}
}
