package promoter

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/test/githubapi"
)

// pushFirst is the installation's Committer, but a real push lands on the
// promotion branch just before the file is committed on it: the race a
// one-file promotion commit must survive.
type pushFirst struct {
	Committer
	push func()
}

func (c pushFirst) PutFile(ctx context.Context, repo Repo, f github.FileWrite) (github.Commit, error) {
	c.push()
	return c.Committer.PutFile(ctx, repo, f)
}

// A one-file promotion is committed with the Contents API on the branch
// set to main's head; when someone pushes to the branch in between, the
// commit is made again on main's head, so the pull request never holds
// the other commit, whichever file it touched.
func TestCommitFileBranchMoved(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{name: "push of another file", files: map[string]string{"docs/intruder.md": "# not promobot's\n"}},
		{name: "push of the same file", files: map[string]string{prodFile: "resources: []\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			gh := h.installation()
			repo := Repo{Owner: owner, Name: repoName}
			head, err := gh.CommitChanges(h.ctx, repo, "main")
			if err != nil {
				t.Fatal(err)
			}
			before := h.file("main", prodFile)
			after := strings.Replace(before, "newTag: 1.0.0", "newTag: 9.9.9", 1)
			pushed := false
			w := &prWriter{p: h.p, git: pushFirst{Committer: gh, push: func() {
				if pushed {
					return
				}
				pushed = true
				if _, err := h.gh.Push(h.ctx, owner, repoName, promoBranch, githubapi.Commit{Message: "intrude", Files: tt.files}); err != nil {
					t.Error(err)
				}
			}}, prs: gh, comments: gh, branch: promoBranch,
				plan: Plan{App: "my-api-service", Step: gitops.Step{From: "staging", To: "production"}, File: prodFile, Before: []byte(before), After: []byte(after)},
				pr:   &promotion{gh: gh, repo: repo, world: &world{head: head}, log: slog.New(slog.DiscardHandler)}}
			commit, err := w.commit(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !pushed {
				t.Fatal("nothing pushed in between: the test did not race the commit")
			}
			if got := h.git("rev-parse", promoBranch); got != commit {
				t.Errorf("branch at %s, want the promotion commit %s", got, commit)
			}
			if got := h.git("rev-parse", commit+"^"); got != head.SHA {
				t.Errorf("promotion commit's parent is %s, want main's head %s", got, head.SHA)
			}
			if got := h.git("diff", "--name-only", head.SHA, promoBranch); got != prodFile {
				t.Errorf("branch changes %q, want only %s", got, prodFile)
			}
			if got := h.file(promoBranch, prodFile); got != after {
				t.Errorf("production kustomization on the branch:\n%s\nwant:\n%s", got, after)
			}
		})
	}
}

// The merge commit of a /promote's pull request comes from its closed
// event when promobot handled it, and from GitHub when the comment is
// handled first (deliveries come in any order).
func TestPromoteMergeCommit(t *testing.T) {
	const pullRoute = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
	for _, tt := range []struct {
		name   string
		forget bool
		reads  int
	}{
		{name: "closed event handled", reads: 0},
		{name: "closed event not handled yet", forget: true, reads: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{opts: Options{AckAfter: time.Hour}})
			n, sha := h.bumpStaging("1.1.0")
			h.applied(sha, true, h.now.Add(-time.Hour))
			h.settle()
			if m, ok := h.p.merges.Get(h.ctx, Repo{Owner: owner, Name: repoName}, n); !ok || m.Commit != sha || m.MergedAt.IsZero() {
				t.Errorf("merge of #%d recorded from its closed event = %+v, %v; want commit %s and a time", n, m, ok, sha)
			}
			if tt.forget {
				kv, err := h.bus.KeyValue(h.ctx, events.BucketLedger)
				if err != nil {
					t.Fatal(err)
				}
				if err := kv.Delete(h.ctx, events.KVKey(state.LedgerMerges, owner, repoName, fmt.Sprint(n))); err != nil {
					t.Fatal(err)
				}
			}
			h.warmToken()
			h.gh.ResetCalls()
			cmd := h.comment(n, maintainer, "/promote")
			if got := h.gh.Calls().ByRoute[pullRoute]; got != tt.reads {
				t.Errorf("%d reads of the pull request, want %d", got, tt.reads)
			}
			if diff := cmp.Diff([]string{"rocket"}, h.reactions(cmd)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			facts := h.facts()
			if last := facts[len(facts)-1]; last.Verb != "opened" || last.Data.SourceCommit != sha {
				t.Errorf("last fact %s promotes %s, want opened promoting the merge commit %s", last.Verb, last.Data.SourceCommit, sha)
			}
		})
	}
}
