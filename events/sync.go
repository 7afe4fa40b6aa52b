package events

import (
	"fmt"
	"strings"
	"time"
)

// DefaultSyncInterval is how often the embedded server fsyncs JetStream's
// files unless told otherwise: nats-server's own default.
const DefaultSyncInterval = 2 * time.Minute

// Sync is when the embedded server's JetStream fsyncs what it stored.
// JetStream hands every write to the operating system before it
// acknowledges it, so a crash of promobot loses nothing either way; what a
// power failure (or a kernel crash) of a single node loses depends on Sync:
//   - every Interval: the writes since the last fsync, acknowledged
//     deliveries included, up to Interval's worth;
//   - Always: nothing acknowledged, at the cost of an fsync per write.
//
// The zero value is every DefaultSyncInterval. Sync is a flag value
// (pflag.Value): "always" or a Go duration such as "2m" or "10s".
type Sync struct {
	// Always fsyncs every write before it is acknowledged.
	Always bool
	// Interval is the period of the background fsync when Always is
	// false (0 means DefaultSyncInterval).
	Interval time.Duration
}

// ParseSync reads "always" or a positive Go duration.
func ParseSync(s string) (Sync, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "always") {
		return Sync{Always: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Sync{}, fmt.Errorf("nats sync %q: want \"always\" or a duration such as 2m or 10s", s)
	}
	if d <= 0 {
		return Sync{}, fmt.Errorf("nats sync %q: the interval must be positive (\"always\" fsyncs every write)", s)
	}
	return Sync{Interval: d}, nil
}

// interval is the background fsync period nats-server is given.
func (s Sync) interval() time.Duration {
	if s.Interval <= 0 {
		return DefaultSyncInterval
	}
	return s.Interval
}

// String is "always" or the interval, as ParseSync reads it.
func (s Sync) String() string {
	if s.Always {
		return "always"
	}
	return s.interval().String()
}

// Set parses v into s (pflag.Value).
func (s *Sync) Set(v string) error {
	p, err := ParseSync(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Type names the flag's values in help (pflag.Value).
func (s *Sync) Type() string { return "always|interval" }
