// Package events is promobot's event bus: CloudEvents carried over NATS
// JetStream.
//
// It owns the stream, consumer and key-value bucket definitions, subject
// naming, publishing with durable acknowledgement, the consume loop every
// subscriber runs (ack, nak with backoff, term, dead letters, progress
// heartbeats, graceful shutdown), an idempotency ledger, and the embedded
// nats-server promobot starts when no external NATS is configured.
//
// It knows nothing of GitHub or Kubernetes semantics: an event's type,
// subject and payload are opaque to it.
package events
