package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/redelivery"
)

// registerRedeliveryFlags adds --redelivery-interval.
func registerRedeliveryFlags(fl *pflag.FlagSet, interval *time.Duration) {
	fl.DurationVar(interval, "redelivery-interval", redelivery.DefaultInterval,
		"how often to ask GitHub to redeliver webhook deliveries that failed in the last 3 days (promobot down, bus unavailable); "+
			"a failure is redelivered once it is older than the smaller of 1m and this interval (0 turns the sweep off)")
}

// redeliveryOptions are the sweep's options in a serve process: one replica
// sweeps at a time (a lease on the bus), what was redelivered is remembered
// on the bus, and every redelivery is recorded as a fact.
func redeliveryOptions(ctx context.Context, bus *events.Bus, interval time.Duration, log *slog.Logger) (redelivery.Options, error) {
	opts := redelivery.DefaultOptions()
	locks, err := bus.Locks(ctx)
	if err != nil {
		return opts, fmt.Errorf("redelivery sweep: %w", err)
	}
	ledger, err := redelivery.BusLedger(ctx, bus)
	if err != nil {
		return opts, fmt.Errorf("redelivery sweep: %w", err)
	}
	opts.Locker, opts.Ledger, opts.Publisher = locks, ledger, bus
	opts.Logger = log.With("component", "redelivery")
	// A short interval (tests, demos) must not wait out a longer grace.
	opts.Grace = min(opts.Grace, interval)
	return opts, nil
}

// startRedelivery returns the runner of the redelivery sweep: it sweeps
// at once and then every interval until its context ends. interval 0 (or
// no App credentials) returns a runner that does nothing.
func startRedelivery(_ context.Context, app *githubApp, bus *events.Bus, interval time.Duration, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		if interval <= 0 || app == nil {
			log.Info("redelivery sweep off")
			return nil
		}
		opts, err := redeliveryOptions(ctx, bus, interval, log)
		if err != nil {
			return err
		}
		log.Info("redelivery sweep on", "interval", interval, "grace", opts.Grace, "window", opts.Window)
		return redelivery.Run(ctx, app.app, opts, interval)
	}
}
