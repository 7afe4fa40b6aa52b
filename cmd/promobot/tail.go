package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/promobot/promobot/events"
)

type tailFlags struct {
	natsURL  string
	dataDir  string
	nats     natsClientFlags
	json     bool
	subjects []string
	since    time.Duration
	all      bool
	limit    int
}

func newEventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inspect the event bus: GitHub deliveries and promobot's own facts",
	}
	f := &tailFlags{}
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Print events as they arrive, one line each (the audit trail)",
		Long: `Print events from promobot's event bus as they arrive: GitHub deliveries
(github.<event>.<owner>.<repo>) and promobot's own facts (promobot.<kind>.<verb>.<owner>.<repo>:
applies, promotions, refusals, drift, dead letters).

Each line shows the time, the subject, the CloudEvent type, its subject and id.
--json prints each whole CloudEvent (structured mode) instead.

The NATS that "promobot serve" embeds admits only clients with its credentials:
tail reads them from --data-dir (serve's default, ./promobot-data), unless
--nats-creds, --nats-nkey or --nats-user names others.`,
		Example: `  # follow everything, against the NATS that "promobot serve" embeds
  promobot events tail

  # the same, from another directory
  promobot events tail --data-dir /var/lib/promobot

  # what happened in the last hour, then follow
  promobot events tail --since 1h

  # only promotions, as JSON
  promobot events tail --subject 'promobot.promotion.>' --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTail(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := tail.Flags()
	fl.StringVar(&f.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL (promobot serve embeds one here by default)")
	fl.StringVar(&f.dataDir, "data-dir", "promobot-data", "data directory of the promobot serve whose embedded NATS to read (its credentials are there)")
	f.nats.register(fl, true)
	fl.BoolVar(&f.json, "json", false, "print each whole CloudEvent as JSON")
	fl.StringSliceVar(&f.subjects, "subject", nil, "only subjects matching these filters (default: everything)")
	fl.DurationVar(&f.since, "since", 0, "first replay events newer than this (e.g. 1h)")
	fl.BoolVar(&f.all, "all", false, "first replay every stored event")
	fl.IntVar(&f.limit, "limit", 0, "exit after this many events (0: follow until interrupted)")
	cmd.AddCommand(tail)
	return cmd
}

func runTail(ctx context.Context, out io.Writer, f *tailFlags) error {
	auth, err := f.nats.options(f.natsURL, f.dataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	opts := append([]nats.Option{nats.Name("promobot events tail"), nats.Timeout(5 * time.Second)}, auth...)
	nc, err := nats.Connect(f.natsURL, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		return fmt.Errorf("nats %s connect: %w (promobot serve's embedded NATS needs its credentials: --data-dir of that serve, or --nats-nkey DATA-DIR/%s)", redactURL(f.natsURL), err, events.CredentialsFile)
	}
	if err != nil {
		return fmt.Errorf("nats %s connect: %w (is promobot serve running?)", redactURL(f.natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	evc := make(chan jetstream.Msg, 64)
	for _, stream := range []string{events.StreamGitHub, events.StreamFacts} {
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
		switch {
		case f.all:
			cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		case f.since > 0:
			t := time.Now().Add(-f.since)
			cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
			cfg.OptStartTime = &t
		}
		if len(f.subjects) > 0 {
			cfg.FilterSubjects = streamFilters(stream, f.subjects)
			if len(cfg.FilterSubjects) == 0 {
				continue
			}
		}
		cons, err := js.OrderedConsumer(ctx, stream, cfg)
		if err != nil {
			return fmt.Errorf("stream %s: %w (has promobot serve run against this NATS?)", stream, err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { evc <- m })
		if err != nil {
			return fmt.Errorf("stream %s consume: %w", stream, err)
		}
		defer cc.Stop()
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-evc:
			if err := printEvent(out, m, f.json); err != nil {
				return err
			}
			n++
			if f.limit > 0 && n >= f.limit {
				return nil
			}
		}
	}
}

// streamFilters keeps the filters that can match a subject of stream.
func streamFilters(stream string, filters []string) []string {
	prefix := events.GitHubPrefix
	if stream == events.StreamFacts {
		prefix = events.FactPrefix
	}
	var out []string
	for _, s := range filters {
		if s == ">" || s == prefix || len(s) > len(prefix) && s[:len(prefix)+1] == prefix+"." || s[0] == '*' {
			out = append(out, s)
		}
	}
	return out
}

func printEvent(out io.Writer, m jetstream.Msg, asJSON bool) error {
	ev, err := events.Decode(m.Headers(), m.Data())
	if err != nil {
		_, werr := fmt.Fprintf(out, "%s (not a CloudEvent: %v)\n", m.Subject(), err)
		return werr
	}
	if asJSON {
		if json.Valid(ev.Data()) {
			ev.DataBase64 = false
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("event %s encode: %w", ev.ID(), err)
		}
		_, err = fmt.Fprintf(out, "%s\n", raw)
		return err
	}
	subject := ev.Subject()
	if subject == "" {
		subject = "-"
	}
	ts := ev.Time()
	if meta, err := m.Metadata(); err == nil {
		ts = meta.Timestamp
	}
	summary := ""
	if ev.Type() != "" && len(ev.Data()) > 0 && len(ev.Data()) < 64<<10 && ev.Source() != "" {
		summary = factSummary(ev.Data())
	}
	_, err = fmt.Fprintf(out, "%s  %-48s %-40s %-20s %s%s\n", ts.UTC().Format(time.RFC3339), m.Subject(), ev.Type(), subject, ev.ID(), summary)
	return err
}

// factSummary picks a human summary out of a promobot fact, when it has one.
func factSummary(data []byte) string {
	var s struct {
		Summary string `json:"summary"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return ""
	}
	switch {
	case s.Summary != "":
		return "  " + s.Summary
	case s.Reason != "":
		return "  " + s.Reason
	}
	return ""
}
