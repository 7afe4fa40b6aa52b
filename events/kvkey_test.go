package events_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
)

func TestSplitKVKey(t *testing.T) {
	tests := []struct {
		key   string
		parts []string
		ok    bool
	}{
		{key: events.KVKey("promoter-pr", "a_b", "c.d", ""), parts: []string{"promoter-pr", "a_b", "c.d", ""}, ok: true},
		{key: events.KVKey("x/y", "ü"), parts: []string{"x/y", "ü"}, ok: true},
		{key: "branch_2"},  // a cut escape
		{key: "branch_zz"}, // not hex
		{key: "a_2d"},      // "-" needs no escape: KVKey never writes this
		{key: "a..b"},      // an empty part is "_"
	}
	for _, tt := range tests {
		parts, ok := events.SplitKVKey(tt.key)
		if diff := cmp.Diff(tt.parts, parts); ok != tt.ok || (ok && diff != "") {
			t.Errorf("SplitKVKey(%q) = %q, %v; want %q, %v", tt.key, parts, ok, tt.parts, tt.ok)
		}
	}
}
