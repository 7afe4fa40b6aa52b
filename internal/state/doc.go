// Package state owns what promobot remembers between events, and the facts
// it tells about them: which bucket holds what, under which keys, in which
// shape.
//
//   - Records: one record per (repository, app) in the apps bucket, what
//     the applier last applied and how that went; the applier writes them,
//     the promoter's gates read them.
//   - Registry: which installations and repositories promobot serves, in
//     the installations bucket, kept current from installation and
//     installation_repositories deliveries by the consumers' routes
//     (Registry.Recording); the webhook receiver writes no bucket.
//   - The ledger bucket's keys: the consumers' completed events
//     (events.Ledger, under each consumer's name), the redelivery sweep's
//     times (RedeliveryKey) and the promoter's memory of its open
//     promotion pull requests (PromotionPRs).
//   - Facts: the typed data of promobot.* facts on the PROMOBOT stream
//     (ApplyFact), each with a version, published and decoded here so the
//     applier that tells them and the promoter that reads them share one
//     definition.
//
// The buckets themselves are provisioned, with their storage limits, by
// events.New.
package state
