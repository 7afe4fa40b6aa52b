package doctor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/kit"
)

func TestCheckBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := kit.Bus(t).JetStream()
	// SMALL is nearly full, with a durable consumer 10 messages behind.
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SMALL", Subjects: []string{"small.>"}, MaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "slow", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 10; n++ {
		if _, err := js.Publish(ctx, "small.x", make([]byte, 350)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if float64(info.State.Bytes) < 0.9*4096 {
		t.Fatalf("SMALL holds %d bytes, the test needs at least 90%% of 4096", info.State.Bytes)
	}
	got := doctor.CheckBus(ctx, js, []string{events.StreamGitHub, events.StreamFacts, "SMALL", "MISSING"})
	want := []brief{
		{"bus stream " + events.StreamGitHub, doctor.OK}, {"bus stream " + events.StreamFacts, doctor.OK},
		{"bus stream SMALL", doctor.Warn}, {"bus stream MISSING", doctor.Fail},
	}
	if diff := cmp.Diff(want, briefs(got)); diff != "" {
		t.Fatalf("checks (-want +got):\n%s\n%+v", diff, got)
	}
	small := got[2]
	for _, w := range []string{"of 4096", "slow ", " pending", "--nats-max-bytes SMALL="} {
		if !strings.Contains(small.Found+" "+small.Fix, w) {
			t.Errorf("SMALL check %+v does not say %q", small, w)
		}
	}
	if !strings.Contains(got[3].Fix, "promobot serve") {
		t.Errorf("MISSING check %+v does not say to start promobot serve", got[3])
	}
}
