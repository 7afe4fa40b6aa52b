package github

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
)

func TestDeliveryOK(t *testing.T) {
	tests := []struct {
		name string
		d    Delivery
		want bool
	}{
		{name: "OK", d: Delivery{Status: "OK", StatusCode: 200}, want: true},
		{name: "2xx other than OK status text", d: Delivery{StatusCode: 204}, want: true},
		{name: "refused", d: Delivery{Status: "Invalid HTTP Response: 503", StatusCode: 503}},
		{name: "unreachable receiver", d: Delivery{Status: "failed to connect to host"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.OK(); got != tc.want {
				t.Errorf("OK() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAppDeliveries: the App lists its deliveries page by page, newest
// first, and a redelivery carries the original GUID; the App's other
// endpoints (installations, a repository's installation, its slug) answer
// through the same client.
func TestAppDeliveries(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	f.hooks.SetStatus(http.StatusServiceUnavailable)
	for i := 0; i < 3; i++ {
		if _, err := f.srv.Push(ctx, owner, name, "main", githubapi.Commit{Files: map[string]string{"n": string(rune('a' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	f.hooks.SetStatus(http.StatusOK)
	sent := f.hooks.GUIDs() // the installation delivery succeeded, the pushes failed

	var all []Delivery
	for cursor, pages := "", 0; ; pages++ {
		page, next, err := f.app.ListDeliveries(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" || pages > 10 {
			break
		}
		cursor = next
	}
	var listed []string
	for _, d := range all {
		listed = append(listed, d.GUID)
		if want := d.GUID == sent[0]; d.OK() != want {
			t.Errorf("delivery %s OK() = %v, want %v (status %q %d)", d.GUID, d.OK(), want, d.Status, d.StatusCode)
		}
	}
	newestFirst := []string{sent[3], sent[2], sent[1], sent[0]}
	if diff := cmp.Diff(newestFirst, listed); diff != "" {
		t.Fatalf("listed deliveries (-want +got):\n%s", diff)
	}

	if err := f.app.Redeliver(ctx, all[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := f.hooks.GUIDs()[len(sent):]; !cmp.Equal(got, []string{sent[3]}) {
		t.Errorf("redelivered GUIDs %v, want [%s]", got, sent[3])
	}

	insts, err := f.app.Installations(ctx)
	if err != nil || len(insts) != 1 || insts[0].Account != owner || insts[0].ID != f.instID {
		t.Errorf("installations: %+v %v", insts, err)
	}
	id, err := f.app.RepoInstallation(ctx, repo)
	if err != nil || id != f.instID {
		t.Errorf("repository installation: %d %v", id, err)
	}
	slug, err := f.app.Slug(ctx)
	if err != nil || slug != f.srv.AppSlug() {
		t.Errorf("slug: %q %v, want %q", slug, err, f.srv.AppSlug())
	}
}

// TestAppEndpointsWaitOutRateLimits: the App's own (JWT) endpoints go
// through the transport installation calls use: a secondary rate limit is
// waited out and the call retried, and a call that must not wait fails at
// once with a RateLimitError matching ErrRateLimited.
func TestAppEndpointsWaitOutRateLimits(t *testing.T) {
	clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true)
	f := newFixtureOn(t, githubapi.Options{}, func(o *Options) { o.Clock = clock })

	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, RetryAfter: 30 * time.Second})
	slug, err := f.app.Slug(f.ctx)
	if err != nil || slug != f.srv.AppSlug() {
		t.Fatalf("slug after a secondary limit: %q %v, want %q", slug, err, f.srv.AppSlug())
	}
	if got := clock.Sleeps(); !cmp.Equal(got, []time.Duration{30 * time.Second}) {
		t.Errorf("waits %v, want the 30s GitHub asked for", got)
	}

	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultSecondaryRateLimit, RetryAfter: 30 * time.Second})
	_, _, err = f.app.ListDeliveries(WithMaxWait(f.ctx, 0), "", 100)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Secondary || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("list deliveries that must not wait: %v, want a secondary RateLimitError matching ErrRateLimited", err)
	}
	if got := len(clock.Sleeps()); got != 1 {
		t.Errorf("%d waits, want no more after the call that must not wait", got)
	}
}
