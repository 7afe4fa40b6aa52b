package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/notify"
)

// newNotifyRole loads the notification file at path and returns the loop
// forwarding facts to its sinks. Sink URLs are read now, so a missing or
// malformed URL file stops serve before it starts.
func newNotifyRole(path string, bus *events.Bus, log *slog.Logger) (func(context.Context) error, error) {
	cfg, err := notify.LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("--notify-config: %w", err)
	}
	sinks, err := notify.NewSinks(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("--notify-config %s: %w", path, err)
	}
	log = log.With("role", "notify")
	log.Info("notifications configured", "sinks", len(sinks))
	return func(ctx context.Context) error {
		return notify.Run(ctx, bus, sinks, events.ConsumerOptions{Logger: log})
	}, nil
}
