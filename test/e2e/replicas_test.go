package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// applierConcurrency is promobot serve's default --applier-concurrency:
// the pull requests one applier process keeps waiting.
const applierConcurrency = 4

// TestTwoApplierReplicasEndAtTheNewestPush runs a second promobot process
// with only the applier role on the first one's event bus, so two applier
// replicas share the durable consumer, and pushes twice in quick succession:
// whichever replica takes which push, staging ends at the newer commit and
// no apply of the older one completes after the newer one.
func TestTwoApplierReplicasEndAtTheNewestPush(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.waitInitialSync()
	second := exec.Command(promobotBin, "serve", "--roles", "applier", "--nats-url", s.natsURL, "--nats-nkey", events.CredentialsPath(s.dataDir()),
		"--listen", freeAddr(t), "--app-id", fmt.Sprint(s.gh.AppID()), "--private-key-file", filepath.Join(s.dir, "app.pem"),
		"--github-url", s.gh.URL(), "--kubeconfig", s.home.Kubeconfig, "--health-timeout", "20s", "--redelivery-interval", "0",
		"--log-format", "text")
	logs := &kit.Buffer{}
	second.Stdout, second.Stderr = logs, logs
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = second.Process.Signal(os.Interrupt)
		_ = second.Wait()
		if t.Failed() {
			t.Logf("second replica's log:\n%s", logs.String())
		}
	}()
	// Both replicas pull from the one durable consumer: more pull requests
	// wait on it than one process's workers make.
	kit.Eventually(t, 20*time.Second, "the second replica on the applier consumer", func() (bool, string) {
		cons, err := s.js.Consumer(context.Background(), events.StreamGitHub, "applier")
		if err != nil {
			return false, err.Error()
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return info.NumWaiting > applierConcurrency, fmt.Sprintf("%d pull requests waiting; second replica: %s", info.NumWaiting, logs.String())
	})

	var last string
	for i, tag := range []string{"1.4.0", "1.5.0", "1.6.0", "1.7.0"} {
		sha, err := s.gh.Push(context.Background(), owner, repoName, "main", githubapi.Commit{Message: fmt.Sprintf("bump %d", i), Files: s.bumpOverlay("staging", tag)})
		if err != nil {
			t.Fatal(err)
		}
		last = sha
	}
	if st := s.waitStatus(last, stagingApp); st.State != "success" {
		t.Fatalf("newest push: %s %q", st.State, st.Description)
	}
	// Every push delivered is handled, so no late apply of an older push
	// is still to come.
	s.waitSettled("applier")
	if d, _ := deployment(s.home.Client, "staging", api); image(d) != imageRepo+":1.7.0" {
		t.Errorf("staging runs %s, want the newest push's 1.7.0", image(d))
	}
	var completed []string
	for _, f := range s.facts("promobot.apply.completed.>") {
		if f["app"] == stagingApp {
			completed = append(completed, fmt.Sprint(f["commit"]))
		}
	}
	if len(completed) == 0 || completed[len(completed)-1] != last {
		t.Errorf("staging applies completed in order %v; the last must be the newest push %s", completed, last[:7])
	}
}
