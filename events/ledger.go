package events

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Ledger remembers which events a handler completed, beyond the stream's
// duplicate window: GitHub may redeliver a delivery days later with the same
// id, and a handler must then change nothing. It is safe for concurrent use.
type Ledger struct {
	kv jetstream.KeyValue
}

// Ledger opens the idempotency ledger bucket.
func (b *Bus) Ledger(ctx context.Context) (*Ledger, error) {
	kv, err := b.KeyValue(ctx, BucketLedger)
	if err != nil {
		return nil, err
	}
	return &Ledger{kv: kv}, nil
}

// Done reports whether handler already completed the event with id.
func (l *Ledger) Done(ctx context.Context, handler, id string) (bool, error) {
	_, err := l.kv.Get(ctx, KVKey(handler, id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("ledger %s/%s read: %w", handler, id, err)
	}
}

// MarkDone records that handler completed the event with id, with an
// optional note (what was done). Marking twice is harmless.
func (l *Ledger) MarkDone(ctx context.Context, handler, id, note string) error {
	if _, err := l.kv.Put(ctx, KVKey(handler, id), []byte(note)); err != nil {
		return fmt.Errorf("ledger %s/%s write: %w", handler, id, err)
	}
	return nil
}

// Once runs fn unless handler already completed the event with id, and
// records completion when fn succeeds. It reports whether fn ran. Two
// concurrent calls for the same id may both run fn: handlers stay
// idempotent, the ledger only spares the repeated work and side effects of
// a redelivery.
func (l *Ledger) Once(ctx context.Context, handler, id string, fn func(ctx context.Context) (note string, err error)) (bool, error) {
	done, err := l.Done(ctx, handler, id)
	if err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	note, err := fn(ctx)
	if err != nil {
		return true, err
	}
	return true, l.MarkDone(ctx, handler, id, note)
}

// KVKey joins parts into a valid KV key: each part is escaped to the
// characters KV keys allow ([-_=A-Za-z0-9]) and the parts are joined with
// dots, so keys stay hierarchical and distinct.
func KVKey(parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = escapeKeyPart(p)
	}
	return strings.Join(out, ".")
}

// SplitKVKey reverses KVKey: the parts key was made of; ok is false for a
// key KVKey does not make.
func SplitKVKey(key string) (parts []string, ok bool) {
	for _, p := range strings.Split(key, ".") {
		s, ok := unescapeKeyPart(p)
		if !ok {
			return nil, false
		}
		parts = append(parts, s)
	}
	return parts, KVKey(parts...) == key
}

// unescapeKeyPart reverses escapeKeyPart.
func unescapeKeyPart(p string) (string, bool) {
	if p == "_" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '_' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) {
			return "", false
		}
		c, err := hex.DecodeString(p[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b.Write(c)
		i += 2
	}
	return b.String(), true
}

func escapeKeyPart(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		default:
			b.WriteString("_" + hex.EncodeToString([]byte{c}))
		}
	}
	return b.String()
}
