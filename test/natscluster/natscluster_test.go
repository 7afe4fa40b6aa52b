package natscluster_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/natscluster"
)

// TestClusterSurvivesTheLossOfANode: an R3 stream on the cluster keeps
// taking messages when the node leading it is killed, the restarted node
// catches up, and a stranger without the user's nkey is refused.
func TestClusterSurvivesTheLossOfANode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := natscluster.Start(t, 3)
	nc := c.Connect(t)
	if got := nc.ConnectedClusterName(); got != natscluster.Name {
		t.Fatalf("connected to cluster %q, want %q", got, natscluster.Name)
	}
	if _, err := nats.Connect(c.URLs[0], nats.NoReconnect()); err == nil || !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a client without the nkey: %v, want an authorization violation", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	// A request sent to the leader as it dies gets no answer at all: each
	// attempt has its own deadline, and the message is sent again with the
	// same id (stored once) until the overall context ends.
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			var err error
			for ctx.Err() == nil {
				actx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err = js.Publish(actx, "t.x", []byte(fmt.Sprint(i)), jetstream.WithMsgID(fmt.Sprint(i)),
					jetstream.WithRetryAttempts(100), jetstream.WithRetryWait(100*time.Millisecond))
				cancel()
				if err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	publish(0, 10)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := -1
	for i := range c.URLs {
		if info.Cluster.Leader == fmt.Sprintf("n%d", i) {
			leader = i
		}
	}
	if leader < 0 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster %+v, want a leader among n0..n2 and 2 replicas", info.Cluster)
	}
	pid := c.PID(leader)
	c.Kill(leader)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("node %d (pid %d) after Kill: %v, want it gone", leader, pid, err)
	}
	publish(10, 20)
	c.Restart(leader)
	kit.Eventually(t, time.Minute, "every replica current with 20 messages", func() (bool, string) {
		info, err := s.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		if info.State.Msgs != 20 || len(info.Cluster.Replicas) != 2 {
			return false, fmt.Sprintf("%d messages, cluster %+v", info.State.Msgs, info.Cluster)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false, fmt.Sprintf("replica %+v", *r)
			}
		}
		return true, ""
	})
}
