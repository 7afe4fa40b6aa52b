package applier

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/state"
)

// TestOutcomeAndRecordOfAReconcile: what a sync says of an app (its
// Outcome) and what it remembers (its Record) are both read off the one
// typed reconciliation. A failure keeps the last good commit, and keeps
// the previous inventory unless the failure still lists objects.
func TestOutcomeAndRecordOfAReconcile(t *testing.T) {
	cm := cluster.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "staging", Name: "api"}
	deploy := cluster.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "staging", Name: "api"}
	changes := cluster.ChangeSet{Changes: []cluster.Change{
		{Subject: cm.String(), Object: cm, Action: cluster.Configured},
		{Subject: deploy.String(), Object: deploy, Action: cluster.Unchanged},
	}}
	prev := Record{AppStatus: state.AppStatus{Repo: "acme/cfg", App: "api-staging", Commit: "old", State: StateApplied, Healthy: true},
		Inventory: cluster.Inventory{Objects: []cluster.ObjectRef{cm}}}
	app := gitops.App{Name: "api-staging", Environment: "staging", Path: "overlays/staging", Server: "https://kubernetes.default.svc", DestNamespace: "staging"}
	tgt := Target{Repo: Repo{Owner: "acme", Name: "cfg"}, Commit: "new"}
	refused := errors.New("cluster in-cluster: ConfigMap/staging/api belongs to app other of acme/other")
	base := Record{AppStatus: state.AppStatus{Repo: "acme/cfg", App: "api-staging", Environment: "staging", Path: "overlays/staging",
		Server: "https://kubernetes.default.svc", Namespace: "staging", Seen: "new"}}
	tests := []struct {
		name        string
		r           reconciliation
		wantOutcome Outcome
		wantRecord  func(Record) Record
	}{
		{
			name: "applied",
			r:    reconciliation{Result: cluster.Result{ChangeSet: changes, Inventory: cluster.Inventory{Objects: []cluster.ObjectRef{cm, deploy}}}, Applied: true},
			wantOutcome: Outcome{App: "api-staging", Commit: "new", State: StateApplied, Summary: "1 configured, 1 unchanged",
				Changes: changes, Healthy: true},
			wantRecord: func(r Record) Record {
				r.Commit, r.State, r.Summary, r.Healthy = "new", StateApplied, "1 configured, 1 unchanged", true
				r.Inventory = cluster.Inventory{Objects: []cluster.ObjectRef{cm, deploy}}
				return r
			},
		},
		{
			name: "refused before anything was written",
			r:    reconciliation{Result: cluster.Result{}, Applied: true, Err: refused},
			wantOutcome: Outcome{App: "api-staging", Commit: "new", State: StateFailed, Summary: "no objects",
				Error: refused.Error()},
			wantRecord: func(r Record) Record {
				r.Commit, r.State, r.Message, r.Healthy = "old", StateFailed, refused.Error(), false
				r.Inventory = prev.Inventory
				return r
			},
		},
		{
			name: "failed after writing",
			r: reconciliation{Result: cluster.Result{ChangeSet: changes, Inventory: cluster.Inventory{Objects: []cluster.ObjectRef{cm, deploy}}},
				Applied: true, Err: errors.New("cluster in-cluster: Deployment/staging/api not healthy")},
			wantOutcome: Outcome{App: "api-staging", Commit: "new", State: StateFailed, Summary: "1 configured, 1 unchanged",
				Error: "cluster in-cluster: Deployment/staging/api not healthy", Changes: changes},
			wantRecord: func(r Record) Record {
				r.Commit, r.State, r.Message, r.Healthy = "old", StateFailed, "cluster in-cluster: Deployment/staging/api not healthy", false
				r.Inventory = cluster.Inventory{Objects: []cluster.ObjectRef{cm, deploy}}
				return r
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Outcome{App: app.Name, Commit: tgt.Commit}.with(tt.r)
			if diff := cmp.Diff(tt.wantOutcome, got, cmpopts.IgnoreUnexported(Outcome{})); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			rec := recordOf(prev, tgt, tgt.Commit, app, tt.r)
			if tt.r.Err == nil && time.Since(rec.AppliedAt) > time.Minute {
				t.Errorf("applied at %v", rec.AppliedAt)
			}
			if diff := cmp.Diff(tt.wantRecord(base), rec, cmpopts.IgnoreFields(Record{}, "AppliedAt")); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}
