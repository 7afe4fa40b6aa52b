// Command bench prints promobot's benchmark figures, each beside a baseline
// measured in the same run on the same machine. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
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
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run (promobot's in-process roles) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
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
		pprof.StopCPUProfile()
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
