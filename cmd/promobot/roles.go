package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/promobot/promobot/events"
)

// appCredentials identify the GitHub App the applier and promoter act as.
type appCredentials struct {
	id      int64
	key     []byte
	baseURL string
}

// applierFlags configure the applier role.
type applierFlags struct{}

func (a *applierFlags) register(*pflag.FlagSet) {}

func newApplierRole(ctx context.Context, bus *events.Bus, app *appCredentials, f *applierFlags, log *slog.Logger) (func(context.Context) error, error) {
	return nil, errors.New("the applier role is not available yet; run with --roles webhook")
}

func newPromoterRole(ctx context.Context, bus *events.Bus, app *appCredentials, log *slog.Logger) (func(context.Context) error, error) {
	return nil, errors.New("the promoter role is not available yet; run with --roles webhook")
}
