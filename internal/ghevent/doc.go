// Package ghevent is GitHub's webhook vocabulary as promobot reads it: the
// names of events, the fields of their payloads promobot routes and logs
// by, and the Envelope every consumer of a delivery starts from.
//
// A delivery's event name travels with it three ways, all made here: as
// the CloudEvent extension ExtensionEvent (EventName reads it), in the
// CloudEvent type com.github.<event>[.<action>] (Type), and as the second
// token of the bus subject github.<event>.<owner>.<repo> (Subject, Filter).
//
// The receiver (webhook) parses a delivery's payload once with Parse to
// route it; a consumer's Route wraps its handler in Middleware, which
// decodes the Envelope once per delivery and puts it, with a logger
// carrying the keys documented in package events, into the handler's
// context (FromContext, events.Logger).
package ghevent
