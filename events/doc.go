// Package events is promobot's event bus: CloudEvents carried over NATS
// JetStream.
//
// It owns the stream, consumer and key-value bucket definitions, subject
// naming, publishing with durable acknowledgement, the consume loop every
// subscriber runs (ack, nak with backoff, term, dead letters, progress
// heartbeats, graceful shutdown), routing (a consumer declares its Routes
// once; its subject filters and its dispatch both come from them),
// idempotency as middleware (Ledger.OnceHandler), leases, and the embedded
// nats-server promobot starts when no external NATS is configured.
//
// It knows nothing of GitHub or Kubernetes semantics: an event's type,
// subject and payload are opaque to it. GitHub's vocabulary lives in
// internal/ghevent, the records kept in buckets in internal/state.
//
// # Log keys
//
// Log lines about an event name what these keys name with these keys and
// no other (the consume loop puts a logger carrying the first four into
// each handler's context, see Logger; internal/ghevent's Middleware adds
// the rest for a GitHub delivery; handlers add their own, such as app or
// pr):
//
//	consumer         the durable consumer handling the event
//	delivery_id      the event's id: X-GitHub-Delivery for a GitHub delivery
//	event_type       the CloudEvent type (com.github.push, dev.promobot.apply.completed)
//	attempt          the delivery attempt, from 1
//	event            GitHub's event name (X-GitHub-Event)
//	action           the payload's action, when it has one
//	installation_id  the App installation the delivery is for
//	repo             the repository, owner/name
//	ref              the payload's ref, when it has one
//	sender           the login of the user who caused the delivery
package events

// The log keys documented above.
const (
	KeyConsumer       = "consumer"
	KeyDeliveryID     = "delivery_id"
	KeyEventType      = "event_type"
	KeyAttempt        = "attempt"
	KeyEvent          = "event"
	KeyAction         = "action"
	KeyInstallationID = "installation_id"
	KeyRepo           = "repo"
	KeyRef            = "ref"
	KeySender         = "sender"
)
