// Command demo runs promobot's story on this machine: a local GitHub API
// seeded with the fixture GitOps repository, a real kube-apiserver, and
// promobot serve with its embedded NATS. Run it with `make demo`; with
// --once it plays the story and exits, status 0 only if every step's
// outcome held.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/promobot/promobot/test/story"
)

func main() {
	once := flag.Bool("once", false, "play the story and exit (status 0 only if every step held)")
	bin := flag.String("promobot", "bin/promobot", "the promobot binary")
	fixture := flag.String("fixture", "test/fixtures/gitops", "the GitOps repository to seed")
	flag.Parse()
	os.Exit(run(*once, *bin, *fixture))
}

func run(once bool, bin, fixture string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "promobot-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, _ = filepath.Abs(bin)
	fixture, _ = filepath.Abs(fixture)
	fmt.Println("promobot demo: setting up (local GitHub, kube-apiserver, promobot serve)")
	env, err := story.Start(ctx, story.Options{Promobot: bin, Fixture: fixture, Dir: dir, Progress: os.Stdout})
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo setup failed: %v (logs in %s)\n", err, dir)
		return 1
	}
	defer env.Close()
	fmt.Printf("promobot's status page: %s (open it now: it changes live as the story plays)\n", env.UIURL)

	_, err = story.Play(ctx, env, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nFAILED: %v\npromobot's log: %s\n", err, filepath.Join(dir, "promobot.log"))
		if once {
			return 1
		}
	} else {
		fmt.Println("\nEvery step held.")
	}
	if once {
		if err != nil {
			return 1
		}
		fmt.Println("Run `make demo` (without --once) to keep everything running and explore it.")
		return 0
	}
	kubectl, _ := filepath.Abs("bin/kubectl")
	fmt.Printf(`
Where to look:
  the status page:    %s
  the cluster:        %s --kubeconfig %s get deployments -A
  the audit trail:    %s events tail --nats-url %s --data-dir %s --all
  the repository:     git clone %s
  the local GitHub:   %s (API), App id %d
  promobot's log:     %s
`, env.UIURL, kubectl, env.Cluster.Kubeconfig, bin, env.NATSURL, filepath.Join(dir, "data"), env.GitHub.RepoPath(story.Owner, story.Repo), env.GitHub.URL(), env.GitHub.AppID(), filepath.Join(dir, "promobot.log"))
	fmt.Println("\npromobot keeps running for exploration. Press Ctrl-C to stop everything.")
	<-ctx.Done()
	fmt.Println("\nstopping promobot, the cluster and the local GitHub ...")
	return 0
}
