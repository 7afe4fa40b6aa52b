package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// storedDelivery is a GitHub delivery as the event bus holds it.
type storedDelivery struct {
	msg jetstream.Msg
	seq uint64
}

// waitStored waits for the delivery whose id is guid on the github stream.
func (s *stack) waitStored(event, guid string) storedDelivery {
	s.t.Helper()
	var got storedDelivery
	kit.Eventually(s.t, 30*time.Second, "delivery "+guid+" on the bus", func() (bool, string) {
		d, ok := s.stored(event, guid)
		got = d
		return ok, "not stored"
	})
	return got
}

// stored finds the delivery whose id is guid on the github stream.
func (s *stack) stored(event, guid string) (storedDelivery, bool) {
	s.t.Helper()
	ctx := context.Background()
	cons, err := s.js.OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.GitHubFilter(event)},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond))
		if err != nil {
			return storedDelivery{}, false
		}
		ev, err := events.Decode(m.Headers(), m.Data())
		if err != nil {
			s.t.Fatal(err)
		}
		if ev.ID() == guid {
			meta, err := m.Metadata()
			if err != nil {
				s.t.Fatal(err)
			}
			return storedDelivery{msg: m, seq: meta.Sequence.Stream}, true
		}
	}
}

// commentDelivery is the issue_comment delivery the local GitHub sent for
// comment id.
func (s *stack) commentDelivery(id int64) githubapi.Delivery {
	s.t.Helper()
	var got githubapi.Delivery
	kit.Eventually(s.t, 30*time.Second, fmt.Sprintf("the delivery of comment %d", id), func() (bool, string) {
		for _, d := range s.gh.Deliveries() {
			var p struct {
				Comment struct{ ID int64 } `json:"comment"`
			}
			if d.Event == "issue_comment" && json.Unmarshal(d.Payload, &p) == nil && p.Comment.ID == id {
				got = d
				return true, ""
			}
		}
		return false, "not sent"
	})
	return got
}

// TestStrangerOnTheBusCannotForgeAPromote: a process on promobot's host (a
// pod neighbour) that connects to the embedded event bus without its
// credentials is refused, so the /promote it forges from a maintainer's
// comment never reaches the promoter. The sentinel: a reader's genuine
// /promote, stored after the forgery would have been, is handled (refused,
// with a reply) and the promoter's consumer has acknowledged everything up
// to it, yet the maintainer's comment got no reaction and no promotion was
// requested.
func TestStrangerOnTheBusCannotForgeAPromote(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()
	ctx := context.Background()

	n := s.openChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	sha := s.merge(n)
	if st := s.waitStatus(sha, stagingApp); st.State != "success" {
		t.Fatalf("staging status = %+v, want success", st)
	}

	// The maintainer says something that is no command; the stranger
	// rewrites its delivery into a /promote.
	said, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "Staging looks good.")
	if err != nil {
		t.Fatal(err)
	}
	genuine := s.waitStored("issue_comment", s.commentDelivery(said).GUID)
	forged := nats.NewMsg(genuine.msg.Subject())
	for k, v := range genuine.msg.Headers() {
		forged.Header[k] = append([]string(nil), v...)
	}
	const forgedID = "00000000-0000-4000-8000-f0f0f0f0f0f0"
	forged.Header.Set("ce-id", forgedID)
	forged.Header.Set(events.HeaderMsgID, forgedID)
	forged.Data = bytes.Replace(genuine.msg.Data(), []byte(`"Staging looks good."`), []byte(`"/promote"`), 1)
	if bytes.Equal(forged.Data, genuine.msg.Data()) {
		t.Fatalf("the comment body is not in the stored delivery:\n%s", genuine.msg.Data())
	}

	ownKey, err := nats.NkeyOptionFromSeed(eventstest.StrangerKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts []nats.Option
	}{
		{"anonymous", nil},
		{"with its own nkey", []nats.Option{ownKey}},
		{"guessing a password", []nats.Option{nats.UserInfo("promobot", "promobot")}},
	} {
		nc, err := nats.Connect(s.natsURL, append(tt.opts, nats.NoReconnect())...)
		if err == nil {
			// What the stranger does with a connection: publish the forgery
			// as GitHub's delivery, and read what the bus holds.
			js, _ := jetstream.New(nc)
			_, perr := js.PublishMsg(ctx, forged)
			nc.Close()
			t.Errorf("a stranger %s connected to the event bus (published the forged /promote: error %v)", tt.name, perr)
			continue
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("a stranger %s: %v, want %v", tt.name, err, nats.ErrAuthorization)
		}
	}

	// The sentinel: a reader's genuine /promote, refused with a reply.
	sentinel, err := s.gh.Comment(ctx, owner, repoName, n, reader, "/promote")
	if err != nil {
		t.Fatal(err)
	}
	stored := s.waitStored("issue_comment", s.commentDelivery(sentinel).GUID)
	kit.Eventually(t, 60*time.Second, "the promoter's reply to the reader", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, n)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, cm := range cs {
			if cm.Author == "promobot[bot]" && strings.Contains(cm.Body, "@"+reader+", you may not promote") {
				return true, ""
			}
			seen = append(seen, cm.Author+": "+cm.Body)
		}
		return false, strings.Join(seen, " | ")
	})
	kit.Eventually(t, 30*time.Second, "the promoter acknowledging the sentinel", func() (bool, string) {
		cons, err := s.js.Consumer(ctx, events.StreamGitHub, "promoter")
		if err != nil {
			return false, err.Error()
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.AckFloor.Stream >= stored.seq, fmt.Sprintf("ack floor %d, sentinel %d", info.AckFloor.Stream, stored.seq)
	})

	if _, ok := s.stored("issue_comment", forgedID); ok {
		t.Error("the forged delivery is on the event bus")
	}
	c, err := s.gh.CommentByID(owner, repoName, said)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Reactions) > 0 {
		t.Errorf("the maintainer's comment got reactions %+v: the forged /promote was handled", c.Reactions)
	}
	for _, f := range s.facts("promobot.promotion.>") {
		if f["requested_by"] != reader {
			t.Errorf("promotion fact %v: the forged /promote was handled", f)
		}
	}
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range prs {
		if pr.Head == promotionBranch {
			t.Errorf("promotion pull request #%d %q was opened", pr.Number, pr.Title)
		}
	}

	// The credentials never show in promobot's log (at debug level).
	storedSeed, err := os.ReadFile(events.CredentialsPath(s.dataDir()))
	if err != nil {
		t.Fatal(err)
	}
	if secret := strings.TrimSpace(string(storedSeed)); len(secret) < 40 || strings.Contains(s.logs.String(), secret[2:]) {
		t.Errorf("the bus credentials (%d bytes) appear in promobot's log, or are too short", len(secret))
	}
}
