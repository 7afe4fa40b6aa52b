package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// fullShare is the share of a stream's storage limit beyond which the bus
// check warns: past the limit new events are refused.
const fullShare = 0.9

// CheckBus checks each of streams on js: it exists, how much it holds
// against its limit, and how far behind each durable consumer is.
func CheckBus(ctx context.Context, js jetstream.JetStream, streams []string) []Check {
	var out []Check
	for _, name := range streams {
		out = append(out, streamCheck(ctx, js, name))
	}
	return out
}

func streamCheck(ctx context.Context, js jetstream.JetStream, name string) Check {
	check := "bus stream " + name
	s, err := js.Stream(ctx, name)
	if err != nil {
		return fail(check, fmt.Sprintf("stream info: %v", err), "start promobot serve against this NATS once: it creates its streams")
	}
	info := s.CachedInfo()
	found := fmt.Sprintf("%d messages, %d bytes", info.State.Msgs, info.State.Bytes)
	if info.Config.MaxBytes > 0 {
		found += fmt.Sprintf(" of %d", info.Config.MaxBytes)
	}
	var lags []string
	consumers := s.ListConsumers(ctx)
	for c := range consumers.Info() {
		lags = append(lags, fmt.Sprintf("%s %d pending, %d unacknowledged", c.Name, c.NumPending, c.NumAckPending))
	}
	if err := consumers.Err(); err != nil {
		return fail(check, found+fmt.Sprintf("; list consumers: %v", err), "check the NATS user may read consumer info")
	}
	if len(lags) > 0 {
		found += "; consumers: " + strings.Join(lags, "; ")
	}
	if info.Config.MaxBytes > 0 && float64(info.State.Bytes) >= fullShare*float64(info.Config.MaxBytes) {
		return warn(check, found, "raise --nats-max-bytes "+name+"=SIZE on promobot serve, or find why its consumers fall behind")
	}
	return ok(check, found)
}
