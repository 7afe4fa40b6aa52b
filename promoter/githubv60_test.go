package promoter

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"

	"github.com/promobot/promobot/test/githubapi"
)

// GitHubV60 against the local GitHub API: each method's result and the
// errors callers branch on.
func TestGitHubV60(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), AppSlug: "promobot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateRepo(ctx, owner, repoName, fixtureDir(t)); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCollaborator(owner, repoName, maintainer, githubapi.PermissionMaintain); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddCollaborator(owner, repoName, reader, githubapi.PermissionRead); err != nil {
		t.Fatal(err)
	}
	id, err := srv.Install(ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	itr, err := ghinstallation.New(http.DefaultTransport, srv.AppID(), id, srv.AppPrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(srv.URL(), "/")
	c, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(srv.URL(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	g := NewGitHubV60(c)
	repo := Repo{Owner: owner, Name: repoName}

	info, err := g.Repository(ctx, repo)
	if err != nil || info.DefaultBranch != "main" || len(info.URLs()) != 3 {
		t.Errorf("Repository = %+v, %v", info, err)
	}
	for login, want := range map[string]string{maintainer: "maintain", reader: "read", "stranger": "none"} {
		if got, err := g.Permission(ctx, repo, login); err != nil || got != want {
			t.Errorf("Permission(%s) = %q, %v; want %q", login, got, err, want)
		}
	}
	head, err := g.Commit(ctx, repo, "main")
	if err != nil || len(head.SHA) != 40 || len(head.Tree) != 40 || len(head.Files) == 0 {
		t.Fatalf("Commit(main) = %+v, %v", head, err)
	}
	if _, err := g.PullRequest(ctx, repo, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("PullRequest(999) error = %v, want ErrNotFound", err)
	}
	if _, err := g.Commit(ctx, Repo{Owner: owner, Name: "missing"}, "main"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Commit in a missing repository: error = %v, want ErrNotFound", err)
	}

	dir, err := fetchCheckout(ctx, g, repo, head.SHA)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	want, _ := os.ReadFile(filepath.Join(fixtureDir(t), prodFile))
	if got, err := os.ReadFile(filepath.Join(dir, prodFile)); err != nil || string(got) != string(want) {
		t.Errorf("tarball checkout: %s = %q, %v", prodFile, got, err)
	}

	// One commit through the Git Data API, a branch, a pull request.
	tree, err := g.CreateTree(ctx, repo, head.Tree, []TreeFile{{Path: prodFile, Content: []byte("changed\n")}})
	if err != nil {
		t.Fatal(err)
	}
	commit, err := g.CreateCommit(ctx, repo, "Change production", tree, []string{head.SHA})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CreateBranch(ctx, repo, "main", commit); !errors.Is(err, ErrExists) {
		t.Errorf("CreateBranch(main) error = %v, want ErrExists", err)
	}
	branch := BranchFor("api", "production")
	if err := g.CreateBranch(ctx, repo, branch, commit); err != nil {
		t.Fatal(err)
	}
	if err := g.UpdateBranch(ctx, repo, branch, head.SHA, true); err != nil {
		t.Fatal(err)
	}
	if err := g.UpdateBranch(ctx, repo, branch, commit, false); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := g.OpenPullRequest(ctx, repo, branch); ok || err != nil {
		t.Errorf("OpenPullRequest before opening: ok %v, %v", ok, err)
	}
	pr, err := g.CreatePullRequest(ctx, repo, NewPullRequest{Title: "T", Body: "B", Head: branch, Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddLabels(ctx, repo, pr.Number, []string{"promotion", "env/production"}); err != nil {
		t.Fatal(err)
	}
	found, ok, err := g.OpenPullRequest(ctx, repo, branch)
	if err != nil || !ok || found.Number != pr.Number || found.Head != branch || found.Base != "main" {
		t.Fatalf("OpenPullRequest = %+v, %v, %v", found, ok, err)
	}
	if diff := cmp.Diff([]string{"promotion", "env/production"}, found.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	cid, err := g.CreateComment(ctx, repo, pr.Number, "one")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.EditComment(ctx, repo, cid, "two"); err != nil {
		t.Fatal(err)
	}
	if err := g.React(ctx, repo, cid, ReactionRocket); err != nil {
		t.Fatal(err)
	}
	cs, err := g.Comments(ctx, repo, pr.Number)
	if err != nil || len(cs) != 1 || cs[0].Body != "two" || cs[0].Author != botLogin {
		t.Errorf("Comments = %+v, %v", cs, err)
	}
	if err := g.EditPullRequest(ctx, repo, pr.Number, PullRequestEdit{State: "closed"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := g.OpenPullRequest(ctx, repo, branch); ok || err != nil {
		t.Errorf("OpenPullRequest after closing: ok %v, %v", ok, err)
	}
	cmp2, err := g.Compare(ctx, repo, head.SHA, commit)
	if err != nil || cmp2.Status != "ahead" || cmp2.MergeBase != head.SHA || strings.Join(cmp2.Files, ",") != prodFile {
		t.Errorf("Compare = %+v, %v", cmp2, err)
	}
}
