package kit

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerCaughtUp reports whether the durable consumer name on stream
// has acknowledged every message stored so far that its filters match,
// with nothing unacknowledged or redelivered; the string says what is
// left.
//
// It reads the stream's own store (the last message of each filter
// subject) rather than trusting the consumer's pending count alone: the
// server counts a new message as pending asynchronously, after the
// publisher already has its acknowledgement, so right after a publish the
// consumer can report nothing pending for a message it has not seen.
func ConsumerCaughtUp(ctx context.Context, js jetstream.JetStream, stream, name string) (bool, string, error) {
	cons, err := js.Consumer(ctx, stream, name)
	if err != nil {
		return false, "", fmt.Errorf("consumer %s: %w", name, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return false, "", fmt.Errorf("consumer %s info: %w", name, err)
	}
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return false, "", fmt.Errorf("stream %s: %w", stream, err)
	}
	filters := info.Config.FilterSubjects
	if info.Config.FilterSubject != "" {
		filters = append(filters, info.Config.FilterSubject)
	}
	if len(filters) == 0 {
		filters = []string{">"}
	}
	var last uint64
	for _, f := range filters {
		m, err := str.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return false, "", fmt.Errorf("stream %s last message on %s: %w", stream, f, err)
		}
		last = max(last, m.Sequence)
	}
	ok := info.AckFloor.Stream >= last && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	return ok, fmt.Sprintf("%s: acknowledged up to %d of %d, %d pending, %d unacknowledged, %d redelivered",
		name, info.AckFloor.Stream, last, info.NumPending, info.NumAckPending, info.NumRedelivered), nil
}
