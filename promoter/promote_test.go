package promoter

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// A maintainer's /promote on a merged staging pull request opens a
// promotion pull request whose only change is the production
// kustomization's image line, with labels, the sticky diff comment and
// reactions; a second promotion updates the same pull request and edits
// the same comment. Each is answered well before 👀 is due, so it gets
// 🚀 alone, and both stay within their budgets of GitHub calls.
func TestPromoteOpensThenUpdatesOnePullRequest(t *testing.T) {
	h := newHarness(t, harnessOptions{opts: Options{AckAfter: time.Hour}})
	prodBefore := h.file("main", prodFile)
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.settle()
	h.warmToken()
	h.gh.ResetCalls()

	cmd := h.comment(n, maintainer, "Staging looks good.\n\n/promote\n")
	first := h.gh.Calls()
	t.Logf("first promotion: %s", callsString(first))
	// The promotion's own promobot check run is one of the writes; the
	// merge commit is known from the pull request's closed event.
	if first.Total > 10 || first.Writes > 7 {
		t.Errorf("first promotion made %s, want at most 10 calls and 7 writes", callsString(first))
	}

	if diff := cmp.Diff([]string{"rocket"}, h.reactions(cmd)); diff != "" {
		t.Errorf("reactions on the command (-want +got):\n%s", diff)
	}
	if got := h.replies(n); len(got) != 0 {
		t.Errorf("the command got replies, want only reactions: %+v", got)
	}
	prs := h.promotionPRs()
	if len(prs) != 1 {
		t.Fatalf("promotion pull requests = %+v, want 1", prs)
	}
	pr := prs[0]
	if pr.Head != promoBranch || pr.Base != "main" || pr.State != "open" || pr.Author != botLogin {
		t.Errorf("promotion PR = head %s base %s state %s author %s", pr.Head, pr.Base, pr.State, pr.Author)
	}
	if want := "Promote my-api-service to production: ghcr.io/my-org/my-api-service 1.0.0 → 1.1.0"; pr.Title != want {
		t.Errorf("title = %q, want %q", pr.Title, want)
	}
	if diff := cmp.Diff([]string{"promotion", "env/production"}, pr.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	for _, s := range []string{"#" + strconv.Itoa(n), "Requested by @maintainer", "| `ghcr.io/my-org/my-api-service` | `ghcr.io/my-org/my-api-service:1.0.0` | `ghcr.io/my-org/my-api-service:1.1.0` |"} {
		if !strings.Contains(pr.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, pr.Body)
		}
	}

	// One commit on top of main changing only the production image line.
	if got := h.git("rev-list", "--count", "main.."+promoBranch); got != "1" {
		t.Errorf("promotion branch is %s commits ahead of main, want 1", got)
	}
	if got := h.git("diff", "--name-only", "main", promoBranch); got != prodFile {
		t.Errorf("promotion changes %q, want only %s", got, prodFile)
	}
	wantProd := strings.Replace(prodBefore, "newTag: 1.0.0 #", "newTag: 1.1.0 #", 1)
	if diff := cmp.Diff(wantProd, h.file(promoBranch, prodFile)); diff != "" {
		t.Errorf("production kustomization on the branch (-want +got):\n%s", diff)
	}

	// The sticky diff comment.
	comments := h.botComments(pr.Number)
	if len(comments) != 1 {
		t.Fatalf("comments on the promotion PR = %d, want 1 diff comment", len(comments))
	}
	head := h.git("rev-parse", "main")
	commit := h.git("rev-parse", promoBranch)
	kit.Golden(t, "testdata/promotion-diff.md", scrub(comments[0].Body, map[string]string{head: "main", commit: "promotion"}))
	stickyID := comments[0].ID

	if diff := cmp.Diff([]string{"requested", "opened"}, verbs(h.facts())); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	opened := h.facts()[1].Data
	if opened.PR != pr.Number || opened.RequestedBy != maintainer || opened.SourcePR != n || opened.SourceCommit != sha || opened.To != "production" {
		t.Errorf("opened fact = %+v", opened)
	}

	// A second promotion of a newer tag updates the same pull request.
	n2, sha2 := h.bumpStaging("1.2.0")
	h.applied(sha2, true, h.now.Add(-time.Hour))
	h.settle()
	h.gh.ResetCalls()
	cmd2 := h.comment(n2, developer, "/promote my-api-service to production")
	second := h.gh.Calls()
	t.Logf("update: %s", callsString(second))
	// Remembered: no lookup of the pull request or its comment.
	if second.Total > 9 || second.Writes > 6 {
		t.Errorf("update made %s, want at most 9 calls and 6 writes", callsString(second))
	}

	if diff := cmp.Diff([]string{"rocket"}, h.reactions(cmd2)); diff != "" {
		t.Errorf("reactions on the second command (-want +got):\n%s", diff)
	}
	prs = h.promotionPRs()
	if len(prs) != 1 || prs[0].Number != pr.Number {
		t.Fatalf("promotion pull requests after the second promotion = %+v, want #%d only", prs, pr.Number)
	}
	if want := "Promote my-api-service to production: ghcr.io/my-org/my-api-service 1.0.0 → 1.2.0"; prs[0].Title != want {
		t.Errorf("updated title = %q, want %q", prs[0].Title, want)
	}
	if got := h.git("rev-list", "--count", "main.."+promoBranch); got != "1" {
		t.Errorf("promotion branch is %s commits ahead of main after the update, want 1", got)
	}
	if diff := cmp.Diff(strings.Replace(prodBefore, "newTag: 1.0.0 #", "newTag: 1.2.0 #", 1), h.file(promoBranch, prodFile)); diff != "" {
		t.Errorf("production kustomization after the update (-want +got):\n%s", diff)
	}
	comments = h.botComments(pr.Number)
	if len(comments) != 1 || comments[0].ID != stickyID {
		t.Fatalf("diff comments after the update = %+v, want comment %d edited in place", comments, stickyID)
	}
	if !strings.Contains(comments[0].Body, "1.0.0 → 1.2.0") {
		t.Errorf("edited diff comment does not show 1.0.0 → 1.2.0:\n%s", comments[0].Body)
	}
	if diff := cmp.Diff([]string{"requested", "opened", "requested", "superseded", "updated"}, verbs(h.facts())); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}

	// The same promotion again changes nothing and says so.
	h.gh.ResetCalls()
	cmd3 := h.comment(n2, developer, "/promote")
	if got := h.gh.Calls(); got.Writes != 2 { // 🚀 and the reply
		t.Errorf("repeating the promotion wrote %s, want only reactions and a reply", callsString(got))
	}
	replies := h.replies(n2)
	if len(replies) != 1 || !strings.Contains(replies[0].Body, "already promotes these images") {
		t.Errorf("replies to the repeated promotion = %+v", replies)
	}
	if diff := cmp.Diff([]string{"rocket"}, h.reactions(cmd3)); diff != "" {
		t.Errorf("reactions on the repeated command (-want +got):\n%s", diff)
	}

	// Merging the promotion and promoting again: production already runs it.
	if _, err := h.gh.MergePR(h.ctx, owner, repoName, pr.Number, maintainer, "merge"); err != nil {
		t.Fatal(err)
	}
	cmd4 := h.comment(n2, developer, "/promote")
	replies = h.replies(n2)
	kit.Golden(t, "testdata/reply-unchanged.md", replies[len(replies)-1].Body)
	if got := h.reactions(cmd4); len(got) != 0 {
		t.Errorf("reactions when nothing changes = %v, want none: the reply says it", got)
	}
}

// Any kustomization file name kustomize accepts is edited in place.
func TestPromoteEditsAnyKustomizationFileName(t *testing.T) {
	const file = "kustomize/overlays/production/Kustomization"
	h := newHarness(t, harnessOptions{rename: map[string]string{prodFile: file}})
	before := h.file("main", file)
	n, sha := h.bumpStaging("2.0.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.comment(n, maintainer, "/promote")
	if got := h.git("diff", "--name-only", "main", promoBranch); got != file {
		t.Errorf("promotion changes %q, want only %s", got, file)
	}
	if diff := cmp.Diff(strings.Replace(before, "newTag: 1.0.0 #", "newTag: 2.0.0 #", 1), h.file(promoBranch, file)); diff != "" {
		t.Errorf("%s on the branch (-want +got):\n%s", file, diff)
	}
}

// promobot's memory of its promotion pull requests is a hint: forgotten,
// or pointing at a deleted comment, GitHub is asked instead, and still one
// pull request and one diff comment result.
func TestPromotionFindsItsPullRequestWithoutMemory(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	n, sha := h.bumpStaging("1.1.0")
	h.applied(sha, true, h.now.Add(-time.Hour))
	h.comment(n, maintainer, "/promote")
	prs := h.promotionPRs()
	if len(prs) != 1 {
		t.Fatalf("promotion pull requests = %+v, want 1", prs)
	}
	number := prs[0].Number

	// Forgotten (the entry expired): the branch exists, so the open pull
	// request is looked up and updated.
	if err := h.p.memo.forget(h.ctx, Repo{Owner: owner, Name: repoName}, promoBranch); err != nil {
		t.Fatal(err)
	}
	n2, sha2 := h.bumpStaging("1.2.0")
	h.applied(sha2, true, h.now.Add(-time.Hour))
	h.comment(n2, maintainer, "/promote")
	if prs := h.promotionPRs(); len(prs) != 1 || prs[0].Number != number || !strings.HasSuffix(prs[0].Title, "1.2.0") {
		t.Fatalf("after forgetting: promotion pull requests = %+v, want #%d updated to 1.2.0", prs, number)
	}
	cs := h.botComments(number)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "1.0.0 → 1.2.0") {
		t.Fatalf("after forgetting: diff comments = %+v, want one showing 1.2.0", cs)
	}

	// The remembered comment deleted by someone: a new one is made.
	if _, err := h.installation().GitHub().Issues.DeleteComment(h.ctx, owner, repoName, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	n3, sha3 := h.bumpStaging("1.3.0")
	h.applied(sha3, true, h.now.Add(-time.Hour))
	h.comment(n3, maintainer, "/promote")
	cs = h.botComments(number)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "1.0.0 → 1.3.0") {
		t.Fatalf("after deleting the comment: diff comments = %+v, want a new one showing 1.3.0", cs)
	}

	// Merged: the next promotion opens a new pull request.
	if _, err := h.gh.MergePR(h.ctx, owner, repoName, number, maintainer, "merge"); err != nil {
		t.Fatal(err)
	}
	h.settle()
	n4, sha4 := h.bumpStaging("1.4.0")
	h.applied(sha4, true, h.now.Add(-time.Hour))
	h.comment(n4, maintainer, "/promote")
	var open []int
	for _, p := range h.promotionPRs() {
		if p.State == "open" {
			open = append(open, p.Number)
		}
	}
	if len(open) != 1 || open[0] == number {
		t.Errorf("open promotion pull requests after the merge = %v, want one new", open)
	}
}

// A memory gone stale before promobot handled the closing of its pull
// request (closed, or merged and its branch deleted) still ends in one
// open promotion pull request with one diff comment.
func TestPromotionWithStaleMemory(t *testing.T) {
	tests := []struct {
		name string
		// end ends the open promotion pull request number as a person
		// would.
		end func(h *harness, number int)
		// log is what promobot tells the operator it found.
		log string
	}{
		{name: "pull request closed", log: "remembered promotion pull request is closed", end: func(h *harness, number int) {
			if err := h.gh.ClosePR(h.ctx, owner, repoName, number, maintainer); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "pull request merged and branch deleted", log: "remembered promotion branch is gone", end: func(h *harness, number int) {
			if _, err := h.gh.MergePR(h.ctx, owner, repoName, number, maintainer, "merge"); err != nil {
				h.t.Fatal(err)
			}
			if err := h.installation().DeleteBranch(h.ctx, Repo{Owner: owner, Name: repoName}, promoBranch); err != nil {
				h.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			repo := Repo{Owner: owner, Name: repoName}
			n, sha := h.bumpStaging("1.1.0")
			h.applied(sha, true, h.now.Add(-time.Hour))
			h.comment(n, maintainer, "/promote")
			prs := h.promotionPRs()
			if len(prs) != 1 {
				t.Fatalf("promotion pull requests = %+v, want 1", prs)
			}
			old := prs[0].Number
			remembered, ok := h.p.memo.get(h.ctx, repo, promoBranch)
			if !ok || remembered.PR != old || !remembered.complete() {
				t.Fatalf("memo after the first promotion = %+v, %v", remembered, ok)
			}

			// The pull request ends; promobot forgets it on the closed
			// event, and the memory is put back as if that event were
			// still on its way.
			tt.end(h, old)
			h.settle()
			if _, ok := h.p.memo.get(h.ctx, repo, promoBranch); ok {
				t.Fatal("the closed event did not clear the memo")
			}
			if err := h.p.memo.put(h.ctx, repo, promoBranch, remembered); err != nil {
				t.Fatal(err)
			}

			n2, sha2 := h.bumpStaging("1.2.0")
			h.applied(sha2, true, h.now.Add(-time.Hour))
			cmd := h.comment(n2, maintainer, "/promote")
			if diff := cmp.Diff([]string{"eyes", "rocket"}, h.reactions(cmd)); diff != "" {
				t.Errorf("reactions (-want +got):\n%s", diff)
			}
			var open []githubapi.PullRequest
			for _, p := range h.promotionPRs() {
				if p.State == "open" {
					open = append(open, p)
				}
			}
			if len(open) != 1 || open[0].Number == old || !strings.HasSuffix(open[0].Title, " → 1.2.0") {
				t.Fatalf("open promotion pull requests = %+v, want one new promoting 1.2.0", open)
			}
			if cs := h.botComments(open[0].Number); len(cs) != 1 || !strings.Contains(cs[0].Body, " → 1.2.0") {
				t.Errorf("diff comments on the new pull request = %+v, want one showing 1.2.0", cs)
			}
			if got := h.git("rev-list", "--count", "main.."+promoBranch); got != "1" {
				t.Errorf("promotion branch is %s commits ahead of main, want 1", got)
			}
			if diff := cmp.Diff(withTag(t, h.file("main", prodFile), "1.2.0"), h.file(promoBranch, prodFile)); diff != "" {
				t.Errorf("production kustomization on the branch (-want +got):\n%s", diff)
			}
			if now, ok := h.p.memo.get(h.ctx, repo, promoBranch); !ok || now.PR != open[0].Number {
				t.Errorf("memo after the new promotion = %+v, %v, want #%d", now, ok, open[0].Number)
			}
			if !strings.Contains(h.logText(), tt.log) {
				t.Errorf("promoter logs lack %q", tt.log)
			}
			fs := verbs(h.facts())
			if diff := cmp.Diff([]string{"requested", "opened", "requested", "opened"}, fs); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}
