package github

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/promobot/promobot/test/githubapi"
)

const prodKustomization = "kustomize/overlays/production/kustomization.yaml"

func TestRepositoryReads(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	info, err := f.inst.Repository(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if info.DefaultBranch != "main" || !strings.HasSuffix(info.CloneURL, "/acme/gitops.git") {
		t.Errorf("repository: %+v", info)
	}
	if diff := cmp.Diff([]string{info.HTMLURL, info.CloneURL, info.SSHURL}, info.URLs()); diff != "" || info.HTMLURL == "" || info.SSHURL == "" {
		t.Errorf("repository URLs (-want +got):\n%s", diff)
	}
	head, err := f.inst.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	branches, _ := f.srv.Branches(ctx, owner, name)
	if diff := cmp.Diff(branches["main"], head); diff != "" {
		t.Errorf("branch head (-want +got):\n%s", diff)
	}

	got, err := f.inst.File(ctx, repo, head, prodKustomization)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := f.srv.File(ctx, owner, name, "main", prodKustomization)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if _, err := f.inst.File(ctx, repo, "", "nope.yaml"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
	if _, err := f.inst.BranchHead(ctx, repo, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing branch: %v, want ErrNotFound", err)
	}

	rc, err := f.inst.Tarball(ctx, repo, head)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
	sort.Strings(names)
	top := "acme-gitops-" + head[:7] + "/"
	wantNames := []string{top + "README.md", top + prodKustomization, top + "kustomize/overlays/staging/kustomization.yaml"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("tarball (-want +got):\n%s", diff)
	}
}

// TestPromotionFlow does what the promoter does: one commit through the Git
// Data API on a new branch, a pull request, labels, a sticky comment, and
// reads back what a reviewer would see.
func TestPromotionFlow(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	if err := f.srv.AddCollaborator(owner, name, "mia", githubapi.PermissionMaintain); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddCollaborator(owner, name, "rita", githubapi.PermissionRead); err != nil {
		t.Fatal(err)
	}
	head, err := f.inst.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.ResetCalls()
	bumped := "# production overlay\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/api\n    newTag: v1.1.0\n"
	tree, err := f.inst.CreateTree(ctx, repo, head, []TreeFile{{Path: prodKustomization, Content: []byte(bumped)}, {Path: "README.md", Delete: true}})
	if err != nil {
		t.Fatal(err)
	}
	commit, err := f.inst.CreateCommit(ctx, repo, NewCommit{Message: "Promote api to production", Tree: tree, Parents: []string{head}})
	if err != nil {
		t.Fatal(err)
	}
	const branch = "promobot/promote/api/production"
	if err := f.inst.CreateBranch(ctx, repo, branch, commit); err != nil {
		t.Fatal(err)
	}
	pr, err := f.inst.CreatePullRequest(ctx, repo, NewPR{Title: "Promote api to production: v1.0.0 → v1.1.0", Body: "table", Head: branch, Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.inst.AddLabels(ctx, repo, pr.Number, []string{"promotion", "env/production"}); err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- promobot:diff -->"
	c, created, err := f.inst.UpsertComment(ctx, repo, pr.Number, marker, marker+"\nfirst diff")
	if err != nil || !created {
		t.Fatalf("first sticky comment: created %v, %v", created, err)
	}
	calls := f.srv.Calls()
	// tree + commit + ref + PR + labels + comment list + comment create (the
	// token was fetched by BranchHead).
	if calls.Total != 7 || calls.Writes != 6 {
		t.Errorf("first promotion: %d calls, %d writes: %v", calls.Total, calls.Writes, calls.ByRoute)
	}

	// A second promotion edits the same comment; an unchanged body writes
	// nothing.
	c2, created, err := f.inst.UpsertComment(ctx, repo, pr.Number, marker, marker+"\nsecond diff")
	if err != nil || created || c2.ID != c.ID {
		t.Fatalf("second sticky comment: created %v id %d want %d, %v", created, c2.ID, c.ID, err)
	}
	f.srv.ResetCalls()
	if _, _, err := f.inst.UpsertComment(ctx, repo, pr.Number, marker, marker+"\nsecond diff"); err != nil {
		t.Fatal(err)
	}
	if w := f.srv.Calls().Writes; w != 0 {
		t.Errorf("unchanged sticky comment made %d writes", w)
	}
	if err := f.inst.CreateBranch(ctx, repo, branch, commit); !errors.Is(err, ErrExists) {
		t.Errorf("existing branch: %v, want ErrExists", err)
	}
	if _, err := f.inst.CreatePullRequest(ctx, repo, NewPR{Title: "again", Head: branch, Base: "main"}); !errors.Is(err, ErrExists) {
		t.Errorf("second PR for the branch: %v, want ErrExists", err)
	}
	if err := f.inst.RemoveLabel(ctx, repo, pr.Number, "env/production"); err != nil {
		t.Fatal(err)
	}
	if err := f.inst.RemoveLabel(ctx, repo, pr.Number, "env/production"); err != nil {
		t.Errorf("removing an absent label: %v", err)
	}

	// What a reviewer sees.
	got, err := f.srv.PR(owner, name, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(githubapi.PullRequest{Number: 1, Title: "Promote api to production: v1.0.0 → v1.1.0", Body: "table", State: "open",
		Author: "promobot[bot]", Head: branch, Base: "main", HeadSHA: commit, BaseSHA: head, Labels: []string{"promotion"}}, got); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	content, _ := f.srv.File(ctx, owner, name, branch, prodKustomization)
	if diff := cmp.Diff(bumped, string(content)); diff != "" {
		t.Errorf("promoted file (-want +got):\n%s", diff)
	}
	comments, _ := f.srv.Comments(owner, name, pr.Number)
	if len(comments) != 1 || comments[0].Body != marker+"\nsecond diff" || !comments[0].Bot {
		t.Errorf("comments: %+v", comments)
	}

	// Reads of the same pull request.
	open, err := f.inst.PullRequests(ctx, repo, PRFilter{Head: branch})
	if err != nil || len(open) != 1 || open[0].Number != pr.Number {
		t.Errorf("open PRs from the branch: %v %v", open, err)
	}
	// GitHub computes mergeable in the background: the first read of a
	// new pull request answers null, a later one true.
	one, err := f.inst.PullRequest(ctx, repo, pr.Number)
	if err != nil || one.Mergeable != nil || one.HeadSHA != commit {
		t.Errorf("pull request, first read: %+v %v", one, err)
	}
	one, err = f.inst.PullRequest(ctx, repo, pr.Number)
	if err != nil || one.Mergeable == nil || !*one.Mergeable || one.HeadSHA != commit {
		t.Errorf("pull request: %+v %v", one, err)
	}
	cmpr, err := f.inst.Compare(ctx, repo, "main", branch)
	if err != nil {
		t.Fatal(err)
	}
	paths := cmpr.Paths()
	sort.Strings(paths)
	if diff := cmp.Diff([]string{"README.md", prodKustomization}, paths); diff != "" || cmpr.Status != "ahead" || cmpr.MergeBase != head {
		t.Errorf("compare %s base %s (-want +got):\n%s", cmpr.Status, cmpr.MergeBase, diff)
	}
	cm, err := f.inst.Commit(ctx, repo, commit)
	if err != nil || cm.Tree != tree || cmp.Diff([]string{head}, cm.Parents) != "" {
		t.Errorf("commit: %+v %v", cm, err)
	}

	// A newer promotion force-moves the branch; then the PR is closed and
	// the branch deleted.
	tree2, _ := f.inst.CreateTree(ctx, repo, head, []TreeFile{{Path: prodKustomization, Content: []byte(strings.ReplaceAll(bumped, "v1.1.0", "v1.2.0"))}})
	commit2, _ := f.inst.CreateCommit(ctx, repo, NewCommit{Message: "Promote again", Tree: tree2, Parents: []string{head}})
	if err := f.inst.UpdateBranch(ctx, repo, branch, commit2, false); err == nil {
		t.Error("non fast-forward accepted without force")
	}
	if err := f.inst.UpdateBranch(ctx, repo, branch, commit2, true); err != nil {
		t.Fatal(err)
	}
	title := "Superseded"
	closed, err := f.inst.UpdatePullRequest(ctx, repo, pr.Number, PREdit{Title: &title, State: "closed"})
	if err != nil || closed.State != "closed" || closed.Title != title || closed.HeadSHA != commit2 {
		t.Errorf("closed PR: %+v %v", closed, err)
	}
	if err := f.inst.DeleteBranch(ctx, repo, branch); err != nil {
		t.Fatal(err)
	}
	if err := f.inst.DeleteBranch(ctx, repo, branch); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a deleted branch: %v, want ErrNotFound", err)
	}

	// Who may promote.
	if err := f.srv.AddCollaboratorRole(owner, name, "dee", "deployer", githubapi.PermissionMaintain); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddCollaboratorRole(owner, name, "tia", "auditor", githubapi.PermissionTriage); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddBot("dependabot[bot]"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		login string
		want  RepoPermission
		write bool
	}{
		{login: "mia", want: RepoPermission{Role: "maintain", Base: "write"}, write: true},
		{login: "rita", want: RepoPermission{Role: "read", Base: "read"}},
		{login: "acme", want: RepoPermission{Role: "admin", Base: "admin"}, write: true},
		{login: "dee", want: RepoPermission{Role: "deployer", Base: "write"}, write: true},
		{login: "tia", want: RepoPermission{Role: "auditor", Base: "read"}},
		{login: "nobody", want: RepoPermission{Role: "none", Base: "none"}},
		// GitHub answers 404 for bot accounts: no permission, not an error.
		{login: "dependabot[bot]", want: RepoPermission{Role: "none", Base: "none"}},
	} {
		got, err := f.inst.Permission(ctx, repo, tc.login)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" || got.CanWrite() != tc.write {
			t.Errorf("permission of %s (-want +got):\n%s; can write %v, want %v", tc.login, diff, got.CanWrite(), tc.write)
		}
	}
}

func TestCommentsAndReactions(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	if _, err := f.srv.Push(ctx, owner, name, "change", githubapi.Commit{Files: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	n, err := f.srv.OpenPR(ctx, owner, name, githubapi.NewPR{Title: "Change", Head: "change", Author: "mia"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.srv.Comment(ctx, owner, name, n, "mia", "/promote")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"eyes", "eyes", "rocket"} {
		if err := f.inst.React(ctx, repo, id, r); err != nil {
			t.Fatal(err)
		}
	}
	reply, err := f.inst.CreateComment(ctx, repo, n, "> /promote\n\nPromotion opened.")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.inst.EditComment(ctx, repo, reply.ID, "> /promote\n\nPromotion opened: #2."); err != nil {
		t.Fatal(err)
	}
	got, err := f.inst.Comments(ctx, repo, n)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		Author string
		Bot    bool
		Body   string
	}
	var list []seen
	for _, c := range got {
		list = append(list, seen{c.Author, c.Bot, c.Body})
	}
	if diff := cmp.Diff([]seen{{"mia", false, "/promote"}, {"promobot[bot]", true, "> /promote\n\nPromotion opened: #2."}}, list); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	cm, _ := f.srv.CommentByID(owner, name, id)
	if diff := cmp.Diff([]githubapi.Reaction{{User: "promobot[bot]", Content: "eyes"}, {User: "promobot[bot]", Content: "rocket"}}, cm.Reactions); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	if _, err := f.inst.CreateComment(ctx, repo, n, strings.Repeat("x", 70000)); err == nil || Temporary(err) {
		t.Errorf("oversized comment: %v (temporary %v)", err, Temporary(err))
	}
}

func TestStatusesAndDeployments(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	sha, _ := f.inst.BranchHead(ctx, repo, "main")
	long := strings.Repeat("é", 200)
	if err := f.inst.CreateStatus(ctx, repo, sha, Status{State: "pending", Context: "promobot/api-staging", Description: long}); err != nil {
		t.Fatal(err)
	}
	// A pending status on the commit does not hold the deployment back.
	id, err := f.inst.CreateDeployment(ctx, repo, Deployment{Ref: sha, Environment: "staging", Description: "apply api",
		Payload: map[string]any{"app": "api-staging"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"in_progress", "success"} {
		if err := f.inst.CreateDeploymentStatus(ctx, repo, id, DeploymentStatus{State: st, Environment: "staging", Description: "3 created"}); err != nil {
			t.Fatal(err)
		}
	}
	run, err := f.inst.CreateCheckRun(ctx, repo, CheckRun{Name: "promobot/api-staging", HeadSHA: sha, Status: "in_progress"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.inst.UpdateCheckRun(ctx, repo, run, CheckRun{Name: "promobot/api-staging", Conclusion: "success", Title: "Applied", Summary: "3 created"}); err != nil {
		t.Fatal(err)
	}

	statuses, _ := f.srv.Statuses(owner, name, sha)
	if len(statuses) != 1 || len([]rune(statuses[0].Description)) != 140 || !strings.HasSuffix(statuses[0].Description, "…") {
		t.Errorf("status: %+v", statuses)
	}
	deps, _ := f.srv.Deployments(owner, name)
	if len(deps) != 1 {
		t.Fatalf("deployments: %+v", deps)
	}
	var states []string
	for _, s := range deps[0].Statuses {
		states = append(states, s.State)
	}
	if diff := cmp.Diff([]string{"in_progress", "success"}, states); diff != "" || deps[0].Environment != "staging" || deps[0].Production {
		t.Errorf("deployment %+v (-want +got):\n%s", deps[0], diff)
	}
	runs, _ := f.srv.CheckRuns(owner, name, sha)
	if len(runs) != 1 || runs[0].Conclusion != "success" || runs[0].Summary != "3 created" {
		t.Errorf("check runs: %+v", runs)
	}

	// At GitHub's 1,000 statuses per commit and context (counted in any
	// case), a status is refused for good: a permanent 422, asked once, so
	// a report is dropped with a log line rather than retried or queued.
	if err := f.srv.FillStatuses(owner, name, sha, "PROMOBOT/api-staging", "success", 999); err != nil {
		t.Fatal(err)
	}
	f.srv.ResetCalls()
	err = f.inst.CreateStatus(ctx, repo, sha, Status{State: "success", Context: "promobot/api-staging", Description: "applied"})
	var api *APIError
	if !errors.As(err, &api) || api.Status != 422 || Temporary(err) {
		t.Errorf("status over the limit: %v, want a permanent 422 APIError", err)
	}
	if got := f.srv.Calls().ByRoute["POST /repos/{owner}/{repo}/statuses/{sha}"]; got != 1 {
		t.Errorf("status over the limit posted %d times, want 1", got)
	}
}

// CommitChanges reads a commit by branch name or SHA with the files it
// changed against its first parent.
func TestCommitChanges(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	base, err := f.inst.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := f.srv.Push(ctx, owner, name, "main", githubapi.Commit{Message: "Bump staging\n\nTo v1.1.0.",
		Files:  map[string]string{"kustomize/overlays/staging/kustomization.yaml": "resources: []\n", "docs/new.md": "# New\n"},
		Delete: []string{"README.md"}})
	if err != nil {
		t.Fatal(err)
	}
	type file struct{ Path, Status string }
	for _, ref := range []string{"main", sha} {
		c, err := f.inst.CommitChanges(ctx, repo, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		var files []file
		for _, fl := range c.Files {
			files = append(files, file{fl.Path, fl.Status})
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		want := []file{{"README.md", "removed"}, {"docs/new.md", "added"}, {"kustomize/overlays/staging/kustomization.yaml", "modified"}}
		if diff := cmp.Diff(want, files); diff != "" {
			t.Errorf("%s: files (-want +got):\n%s", ref, diff)
		}
		gc, err := f.inst.Commit(ctx, repo, sha)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(gc, c.Commit); diff != "" || c.SHA != sha || cmp.Diff([]string{base}, c.Parents) != "" {
			t.Errorf("%s: commit %+v, want %s on %s (-git data +commits API):\n%s", ref, c.Commit, sha, base, diff)
		}
		if diff := cmp.Diff(len(c.Files), len(c.Paths())); diff != "" {
			t.Errorf("%s: paths %v", ref, c.Paths())
		}
	}
	if _, err := f.inst.CommitChanges(ctx, repo, "no-such-branch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing ref: %v, want ErrNotFound", err)
	}
	if _, err := f.inst.CommitChanges(ctx, Repo{Owner: owner, Name: "missing"}, "main"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing repository: %v, want ErrNotFound", err)
	}
	if err := f.inst.UpdateBranch(ctx, repo, "no-such-branch", sha, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating a missing branch: %v, want ErrNotFound", err)
	}
}

func TestPutFile(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	head, err := f.inst.BranchHead(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	const branch = "promobot/promote/api/production"
	if err := f.inst.CreateBranch(ctx, repo, branch, head); err != nil {
		t.Fatal(err)
	}
	before, err := f.inst.File(ctx, repo, branch, prodKustomization)
	if err != nil {
		t.Fatal(err)
	}
	after := strings.Replace(string(before), "resources:", "# promoted\nresources:", 1)
	f.srv.ResetCalls()
	c, err := f.inst.PutFile(ctx, repo, FileWrite{Branch: branch, Path: prodKustomization, Message: "Promote api", Content: []byte(after), BlobSHA: BlobSHA(before)})
	if err != nil {
		t.Fatal(err)
	}
	if calls := f.srv.Calls(); calls.Total != 1 || calls.Writes != 1 {
		t.Errorf("PutFile: %d calls, %d writes, want 1 and 1", calls.Total, calls.Writes)
	}
	if diff := cmp.Diff([]string{head}, c.Parents); diff != "" {
		t.Errorf("the commit's parents (-want +got):\n%s", diff)
	}
	if got, _ := f.inst.BranchHead(ctx, repo, branch); got != c.SHA {
		t.Errorf("branch at %s, want the commit made, %s", got, c.SHA)
	}
	if got, _ := f.inst.File(ctx, repo, branch, prodKustomization); string(got) != after {
		t.Errorf("file on the branch:\n%s\nwant:\n%s", got, after)
	}
	// The branch now holds another blob: a write based on the old one is
	// refused.
	_, err = f.inst.PutFile(ctx, repo, FileWrite{Branch: branch, Path: prodKustomization, Message: "Promote api", Content: []byte("x: 1\n"), BlobSHA: BlobSHA(before)})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("write on a stale blob: %v, want ErrConflict", err)
	}
	// A new file takes no blob.
	if _, err := f.inst.PutFile(ctx, repo, FileWrite{Branch: branch, Path: "docs/a b#c.md", Message: "Add", Content: []byte("# new\n")}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.inst.File(ctx, repo, branch, "docs/a b#c.md"); err != nil || string(got) != "# new\n" {
		t.Errorf("new file with an escaped name: %q, %v", got, err)
	}
}

func TestBlobSHA(t *testing.T) {
	// git hash-object of "hello" and of an empty file.
	for in, want := range map[string]string{"hello": "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0", "": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"} {
		if got := BlobSHA([]byte(in)); got != want {
			t.Errorf("BlobSHA(%q) = %s, want %s", in, got, want)
		}
	}
}
