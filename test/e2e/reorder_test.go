package e2e

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// A pull request updated twice, whose two synchronize deliveries arrive
// newest first (GitHub does not guarantee delivery order), ends with the
// diff comment of its newest head: the older delivery, handled last, does
// not post its stale diff over the newer one.
func TestReorderedPullRequestUpdatesEndAtTheNewestDiff(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()
	const branch = "bump-staging"
	n := s.openChange(branch, "Bump staging", s.bumpOverlay("staging", "1.2.0"))
	kit.Eventually(t, 60*time.Second, "the first diff comment", func() (bool, string) {
		_, ok := diffComment(t, s, n)
		return ok, "no diff comment"
	})

	// The first synchronize delivery waits; the second goes at once.
	var (
		mu    sync.Mutex
		older string // GUID of the first synchronize delivery
	)
	s.gh.SetReorder(&githubapi.ReorderOptions{Concurrency: 2, Seed: 15, Delay: func(d githubapi.Delivery) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if d.Event != "pull_request" || d.Action != "synchronize" || (older != "" && older != d.GUID) {
			return 0
		}
		older = d.GUID
		return 5 * time.Second
	}})
	var heads []string
	for _, tag := range []string{"1.3.0", "1.4.0"} {
		sha, err := s.gh.Push(ctx, owner, repoName, branch, githubapi.Commit{Message: "Bump staging to " + tag, Author: developer,
			Files: s.bumpOverlay("staging", tag)})
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, sha)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.gh.WaitDeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	// The deliveries arrived newest first.
	var arrived, guids []string
	for _, d := range s.gh.Deliveries() {
		if d.Event != "pull_request" || d.Action != "synchronize" {
			continue
		}
		for _, sha := range heads {
			if bytes.Contains(d.Payload, []byte(`"sha":"`+sha)) && d.Status == "OK" {
				arrived, guids = append(arrived, sha), append(guids, d.GUID)
			}
		}
	}
	if len(arrived) != 2 || arrived[0] != heads[1] {
		t.Fatalf("synchronize deliveries arrived %v, want the newer %s first", arrived, heads[1])
	}

	if guids[1] != older {
		t.Fatalf("the delayed delivery %s is not the older head's (%v)", older, guids)
	}

	// The sentinel: promobot has handled both deliveries.
	kv, err := s.js.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	for _, guid := range guids {
		kit.Eventually(t, 60*time.Second, "synchronize "+guid+" handled", func() (bool, string) {
			_, err := kv.Get(ctx, events.KVKey("promoter", guid))
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return false, "not in the ledger"
			}
			return err == nil, errString(err)
		})
	}
	c, _ := diffComment(t, s, n)
	if !strings.Contains(c, "this pull request ("+heads[1][:7]+")") || !strings.Contains(c, "1.4.0") {
		t.Errorf("diff comment after both updates, want the newest head %s:\n%s", heads[1][:7], c)
	}
}
