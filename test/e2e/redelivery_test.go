package e2e

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// attemptsByGUID returns every delivery GitHub attempted, grouped by GUID,
// oldest attempt first.
func (s *stack) attemptsByGUID() map[string][]githubapi.Delivery {
	out := map[string][]githubapi.Delivery{}
	for _, d := range s.gh.Deliveries() {
		out[d.GUID] = append(out[d.GUID], d)
	}
	return out
}

// redeliveryFactGUIDs returns the GUIDs of the promobot.redelivery.requested
// facts on the bus, sorted.
func (s *stack) redeliveryFactGUIDs() []string {
	var out []string
	for _, f := range s.facts("promobot.redelivery.requested.>") {
		if g, ok := f["guid"].(string); ok {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// TestMissedPushIsRedelivered: a merge while promobot is down is a failed
// delivery GitHub never retries by itself; once promobot is back, its sweep
// asks GitHub to redeliver it and the merge is deployed.
func TestMissedPushIsRedelivered(t *testing.T) {
	s := startStack(t, stackOptions{args: []string{"--redelivery-interval", "1s"}})
	s.addUsers()
	s.waitInitialSync()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s.stop()
	sha := s.mergeChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	if err := s.gh.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	var push *githubapi.Delivery
	var missed []string
	for _, d := range s.gh.Deliveries() {
		if d.Status == "OK" {
			continue
		}
		missed = append(missed, d.GUID)
		if d.Event == "push" && bytes.Contains(d.Payload, []byte(`"after":"`+sha+`"`)) {
			d := d
			push = &d
		}
	}
	if push == nil {
		t.Fatalf("no failed push delivery of %s while promobot was down: %+v", sha[:7], s.gh.Deliveries())
	}
	if d, _ := deployment(s.home.Client, "staging", api); image(d) != imageRepo+":1.0.0" {
		t.Fatalf("staging runs %s before promobot is back", image(d))
	}

	s.start()
	st := s.waitStatus(sha, stagingApp)
	if st.State != "success" {
		t.Errorf("staging status on the merge = %s %q, want success", st.State, st.Description)
	}
	s.waitDeployment(s.home.Client, "staging", api, "at 1.1.0", func(d *appsv1.Deployment) bool {
		return image(d) == imageRepo+":1.1.0"
	})

	// Every missed delivery is redelivered once, with its GUID, and
	// accepted; later sweeps ask for nothing more.
	kit.Eventually(t, 30*time.Second, "every missed delivery redelivered", func() (bool, string) {
		by := s.attemptsByGUID()
		var waiting []string
		for _, g := range missed {
			if a := by[g]; a[len(a)-1].Status != "OK" {
				waiting = append(waiting, g)
			}
		}
		return len(waiting) == 0, strings.Join(waiting, ",")
	})
	// Three more sweeps run to their end: the fourth has begun.
	sweeps := s.gh.Calls().ByRoute["GET /app/hook/deliveries"]
	kit.Eventually(t, 30*time.Second, "three more sweeps", func() (bool, string) {
		n := s.gh.Calls().ByRoute["GET /app/hook/deliveries"]
		return n >= sweeps+4, fmt.Sprintf("%d sweeps began since", n-sweeps)
	})
	by := s.attemptsByGUID()
	for _, g := range missed {
		var got []string
		for _, a := range by[g] {
			got = append(got, fmt.Sprintf("redelivery=%t %s", a.Redelivery, a.Status))
		}
		want := []string{"redelivery=false failed to connect to host", "redelivery=true OK"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("attempts of %s (%s): %v, want %v", g, by[g][0].Event, got, want)
		}
	}
	for g, a := range by {
		if a[0].Status == "OK" && len(a) > 1 {
			t.Errorf("delivery %s (%s) was accepted but redelivered", g, a[0].Event)
		}
	}
	redelivered := s.redeliveryFactGUIDs()
	sort.Strings(missed)
	if strings.Join(redelivered, ",") != strings.Join(missed, ",") {
		t.Errorf("redelivery facts for %v, want one per missed delivery %v", redelivered, missed)
	}
	if n := len(s.facts("promobot.apply.completed.>")); n == 0 {
		t.Error("no apply recorded after the redelivery")
	}
}
