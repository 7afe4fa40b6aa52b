package main

// sections lists the benchmarks in the order they run.
var sections = []section{
	{name: "webhook", run: benchWebhook},
	{name: "webhook-sync", run: benchWebhookSync},
	{name: "applier", run: benchApplier},
	{name: "promoter", run: benchPromoter},
	{name: "scale", run: benchScale},
}
