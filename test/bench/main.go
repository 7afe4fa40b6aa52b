// Command bench prints promobot's benchmark figures, each beside a baseline
// measured in the same run on the same machine. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
)

type section struct {
	name string
	run  func(ctx context.Context, cfg config) error
}

type config struct {
	quick bool
}

func main() {
	only := flag.String("only", "", "comma-separated sections to run (default all): "+strings.Join(sectionNames(), ", "))
	quick := flag.Bool("quick", false, "shorter runs (for a smoke check; figures are noisier)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{quick: *quick}
	failed := false
	for _, s := range sections {
		if *only != "" && !strings.Contains(","+*only+",", ","+s.name+",") {
			continue
		}
		fmt.Printf("\n== %s ==\n", s.name)
		if err := s.run(ctx, cfg); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", s.name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func sectionNames() []string {
	var out []string
	for _, s := range sections {
		out = append(out, s.name)
	}
	return out
}
