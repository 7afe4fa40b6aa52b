package events_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
)

func TestParseSync(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    events.Sync
		wantErr bool
	}{
		{name: "always", in: "always", want: events.Sync{Always: true}},
		{name: "always in capitals", in: "ALWAYS", want: events.Sync{Always: true}},
		{name: "interval", in: "10s", want: events.Sync{Interval: 10 * time.Second}},
		{name: "nats-server's default", in: "2m", want: events.Sync{Interval: 2 * time.Minute}},
		{name: "zero", in: "0", wantErr: true},
		{name: "negative", in: "-1s", wantErr: true},
		{name: "no unit", in: "10", wantErr: true},
		{name: "never", in: "never", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.ParseSync(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSync(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSync(%q) (-want +got):\n%s", tc.in, diff)
			}
			if err == nil {
				back, err := events.ParseSync(got.String())
				if err != nil || back != got {
					t.Errorf("String %q does not parse back: %v %v", got.String(), back, err)
				}
			}
		})
	}
}

// TestEmbeddedSync: the embedded server's JetStream runs with the fsync
// policy it was given, as the server reports it.
func TestEmbeddedSync(t *testing.T) {
	tests := []struct {
		name string
		sync events.Sync
		want string
	}{
		{name: "default", want: "2m0s"},
		{name: "interval", sync: events.Sync{Interval: 5 * time.Second}, want: "5s"},
		{name: "always", sync: events.Sync{Always: true}, want: "always"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startServer(t, events.EmbeddedOptions{Sync: tc.sync})
			if got := srv.Sync().String(); got != tc.want {
				t.Errorf("the server syncs %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzParseSync: whatever --nats-sync is given, ParseSync refuses it or
// returns a policy that fsyncs (always, or at a positive interval) and
// reads back from its String unchanged.
func FuzzParseSync(f *testing.F) {
	for _, s := range []string{"always", "ALWAYS", " always ", "2m", "10s", "1h30m", "0", "-1s", "1ns", "9223372036854775807ns", "", "never", "1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := events.ParseSync(s)
		if err != nil {
			return
		}
		if !got.Always && got.Interval <= 0 {
			t.Fatalf("ParseSync(%q) = %+v: neither always nor a positive interval", s, got)
		}
		back, err := events.ParseSync(got.String())
		if err != nil || back != got {
			t.Fatalf("ParseSync(%q) = %+v, whose String %q reads back as %+v, %v", s, got, got.String(), back, err)
		}
	})
}
