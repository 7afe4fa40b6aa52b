// Package notify forwards promobot's facts to the operator's sinks: any
// HTTP endpoint as CloudEvents, and Slack-compatible incoming webhooks.
//
// Each sink reads the facts stream through a durable consumer of its own
// (notify-<name>), so facts published while a sink is down wait on the
// bus: a failed POST is retried with the consume loop's backoff and, after
// its last attempt, dead-lettered. A sink's URL is a secret: it is read
// from a file and never logged.
package notify
