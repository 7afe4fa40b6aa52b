package github

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/promobot/promobot/test/githubapi"
)

func TestFailed(t *testing.T) {
	tests := []struct {
		name string
		in   []Delivery
		want []int64
	}{
		{name: "none", in: nil, want: nil},
		{name: "all OK", in: []Delivery{{ID: 1, GUID: "a", Status: "OK"}}, want: nil},
		{name: "failed once", in: []Delivery{{ID: 1, GUID: "a", Status: "Invalid HTTP Response: 503"}}, want: []int64{1}},
		{name: "redelivered OK later", in: []Delivery{
			{ID: 1, GUID: "a", Status: "Invalid HTTP Response: 503"}, {ID: 3, GUID: "a", Status: "OK", Redelivery: true}}, want: nil},
		{name: "failed twice: newest attempt", in: []Delivery{
			{ID: 4, GUID: "a", Status: "timed out", Redelivery: true}, {ID: 1, GUID: "a", Status: "failed to connect to host"},
			{ID: 2, GUID: "b", Status: "OK"}, {ID: 3, GUID: "c", Status: "Invalid HTTP Response: 500"}}, want: []int64{3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			for _, d := range Failed(tc.in) {
				got = append(got, d.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("failed deliveries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedeliverFailed: deliveries the receiver refused are redelivered
// once, with their original GUIDs; a second sweep finds nothing to do.
func TestRedeliverFailed(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	start := time.Now().Add(-time.Minute)
	f.hooks.set(http.StatusServiceUnavailable)
	for i := 0; i < 3; i++ {
		if _, err := f.srv.Push(ctx, owner, name, "main", githubapi.Commit{Files: map[string]string{"n": string(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	f.hooks.set(http.StatusOK)
	failedGUIDs := f.hooks.received()[1:] // the installation delivery succeeded

	all, err := f.app.Deliveries(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("deliveries: %d, want 4", len(all))
	}
	n, err := f.app.RedeliverFailed(ctx, start)
	if err != nil || n != 3 {
		t.Fatalf("redelivered %d, %v; want 3", n, err)
	}
	got := f.hooks.received()[4:]
	sort.Strings(got)
	sort.Strings(failedGUIDs)
	if diff := cmp.Diff(failedGUIDs, got); diff != "" {
		t.Errorf("redelivered GUIDs (-want +got):\n%s", diff)
	}
	if n, err := f.app.RedeliverFailed(ctx, start); err != nil || n != 0 {
		t.Errorf("second sweep redelivered %d, %v; want 0", n, err)
	}
	insts, err := f.app.Installations(ctx)
	if err != nil || len(insts) != 1 || insts[0].Account != owner || insts[0].ID != f.instID {
		t.Errorf("installations: %+v %v", insts, err)
	}
	id, err := f.app.RepoInstallation(ctx, repo)
	if err != nil || id != f.instID {
		t.Errorf("repository installation: %d %v", id, err)
	}
}
