package githubapi

import (
	"archive/tar"
	"compress/gzip"
	"encoding/base64"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

func TestRepositoryAndContents(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx

	repo := must(e.inst.Repositories.Get(ctx, testOwner, testRepo)).ok(t)
	if diff := cmp.Diff("main", repo.GetDefaultBranch()); diff != "" {
		t.Errorf("default branch (-want +got):\n%s", diff)
	}

	file, _, _, err := e.inst.Repositories.GetContents(ctx, testOwner, testRepo, "kustomize/overlays/staging/kustomization.yaml", &gh.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := file.GetContent()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.srv.File(ctx, testOwner, testRepo, "main", "kustomize/overlays/staging/kustomization.yaml")
	if diff := cmp.Diff(string(want), text); diff != "" {
		t.Errorf("file content (-want +got):\n%s", diff)
	}

	_, dir, _, err := e.inst.Repositories.GetContents(ctx, testOwner, testRepo, "kustomize/overlays", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dir {
		names = append(names, d.GetType()+":"+d.GetPath())
	}
	if diff := cmp.Diff([]string{"dir:kustomize/overlays/production", "dir:kustomize/overlays/staging"}, names); diff != "" {
		t.Errorf("directory listing (-want +got):\n%s", diff)
	}

	_, root, _, err := e.inst.Repositories.GetContents(ctx, testOwner, testRepo, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, d := range root {
		top = append(top, d.GetName())
	}
	if diff := cmp.Diff([]string{"README.md", "apps", "kustomize"}, top); diff != "" {
		t.Errorf("root listing (-want +got):\n%s", diff)
	}

	_, _, resp, err := e.inst.Repositories.GetContents(ctx, testOwner, testRepo, "nope.yaml", nil)
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: got %v, want 404", err)
	}

	// Create, update with the current sha, then a stale sha is refused.
	created := must(e.inst.Repositories.CreateFile(ctx, testOwner, testRepo, "docs/new.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Add docs"), Content: []byte("hello\n"), Branch: gh.String("main")})).ok(t)
	firstSHA := created.Content.GetSHA()
	updated := must(e.inst.Repositories.UpdateFile(ctx, testOwner, testRepo, "docs/new.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Edit docs"), Content: []byte("hello again\n"), SHA: gh.String(firstSHA)})).ok(t)
	if updated.Commit.GetSHA() == created.Commit.GetSHA() {
		t.Fatal("update made no new commit")
	}
	_, _, err = e.inst.Repositories.UpdateFile(ctx, testOwner, testRepo, "docs/new.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Stale"), Content: []byte("lost\n"), SHA: gh.String(firstSHA)})
	if got := statusOf(err); got != http.StatusConflict {
		t.Errorf("stale sha: status %d (%v), want 409", got, err)
	}
	_, _, err = e.inst.Repositories.UpdateFile(ctx, testOwner, testRepo, "docs/new.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("No sha"), Content: []byte("lost\n")})
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("missing sha: status %d (%v), want 422", got, err)
	}
	got, _ := e.srv.File(ctx, testOwner, testRepo, "main", "docs/new.md")
	if diff := cmp.Diff("hello again\n", string(got)); diff != "" {
		t.Errorf("file after updates (-want +got):\n%s", diff)
	}
	// The bot authored the commit.
	commit := must(e.inst.Git.GetCommit(ctx, testOwner, testRepo, updated.Commit.GetSHA())).ok(t)
	if diff := cmp.Diff("promobot[bot]", commit.GetAuthor().GetName()); diff != "" {
		t.Errorf("commit author (-want +got):\n%s", diff)
	}
	must(e.inst.Repositories.DeleteFile(ctx, testOwner, testRepo, "docs/new.md", &gh.RepositoryContentFileOptions{
		Message: gh.String("Remove docs"), SHA: gh.String(updated.Content.GetSHA())})).ok(t)
	if _, err := e.srv.File(ctx, testOwner, testRepo, "main", "docs/new.md"); err == nil {
		t.Error("file still present after delete")
	}
}

// TestGitDataCommit makes a multi-file commit the way promobot's promoter
// does (tree with inline content and a deletion, commit, ref) and checks the
// result in a clone.
func TestGitDataCommit(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx

	ref := must(e.inst.Git.GetRef(ctx, testOwner, testRepo, "heads/main")).ok(t)
	base := ref.GetObject().GetSHA()
	baseCommit := must(e.inst.Git.GetCommit(ctx, testOwner, testRepo, base)).ok(t)

	blob := must(e.inst.Git.CreateBlob(ctx, testOwner, testRepo, &gh.Blob{
		Content: gh.String(base64.StdEncoding.EncodeToString([]byte("binary\x00data"))), Encoding: gh.String("base64")})).ok(t)
	gotBlob := must(e.inst.Git.GetBlobRaw(ctx, testOwner, testRepo, blob.GetSHA())).ok(t)
	if diff := cmp.Diff("binary\x00data", string(gotBlob)); diff != "" {
		t.Errorf("blob round trip (-want +got):\n%s", diff)
	}

	tree := must(e.inst.Git.CreateTree(ctx, testOwner, testRepo, baseCommit.GetTree().GetSHA(), []*gh.TreeEntry{
		{Path: gh.String("kustomize/overlays/production/kustomization.yaml"), Mode: gh.String("100644"), Type: gh.String("blob"),
			Content: gh.String("# production overlay\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/api\n    newTag: v1.1.0 # bumped by promotion\n")},
		{Path: gh.String("data/blob.bin"), Mode: gh.String("100644"), Type: gh.String("blob"), SHA: blob.SHA},
		{Path: gh.String("README.md"), Mode: gh.String("100644"), Type: gh.String("blob")}, // sha: null deletes
	})).ok(t)
	commit := must(e.inst.Git.CreateCommit(ctx, testOwner, testRepo, &gh.Commit{
		Message: gh.String("Promote api to production"), Tree: &gh.Tree{SHA: tree.SHA},
		Parents: []*gh.Commit{{SHA: gh.String(base)}}}, nil)).ok(t)
	// Fast-forward is accepted.
	must(e.inst.Git.UpdateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/main"),
		Object: &gh.GitObject{SHA: commit.SHA}}, false)).ok(t)

	clone := t.TempDir()
	run(t, "", "git", "clone", "-q", e.srv.RepoPath(testOwner, testRepo), clone)
	log := run(t, clone, "git", "log", "--format=%s|%an", "-2")
	if diff := cmp.Diff("Promote api to production|promobot[bot]\nInitial commit|acme\n", log); diff != "" {
		t.Errorf("git log (-want +got):\n%s", diff)
	}
	files := strings.Fields(run(t, clone, "git", "ls-files"))
	sort.Strings(files)
	wantFiles := []string{"apps/api-staging.yaml", "data/blob.bin", "kustomize/base/deployment.yaml", "kustomize/base/kustomization.yaml",
		"kustomize/overlays/production/kustomization.yaml", "kustomize/overlays/staging/kustomization.yaml"}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("files in clone (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(commit.GetSHA(), strings.TrimSpace(run(t, clone, "git", "rev-parse", "HEAD"))); diff != "" {
		t.Errorf("API commit SHA is not git's (-want +got):\n%s", diff)
	}

	// A non fast-forward needs force.
	side := must(e.inst.Git.CreateCommit(ctx, testOwner, testRepo, &gh.Commit{
		Message: gh.String("Side"), Tree: baseCommit.Tree, Parents: []*gh.Commit{{SHA: gh.String(base)}}}, nil)).ok(t)
	_, _, err := e.inst.Git.UpdateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/main"), Object: &gh.GitObject{SHA: side.SHA}}, false)
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("non fast-forward without force: status %d, want 422", got)
	}
	must(e.inst.Git.UpdateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/main"), Object: &gh.GitObject{SHA: side.SHA}}, true)).ok(t)

	// Branch create, list, delete.
	must(e.inst.Git.CreateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/promobot/promote/api/production"), Object: &gh.GitObject{SHA: commit.SHA}})).ok(t)
	_, _, err = e.inst.Git.CreateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/promobot/promote/api/production"), Object: &gh.GitObject{SHA: commit.SHA}})
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("duplicate ref: status %d, want 422", got)
	}
	refs := must(e.inst.Git.ListMatchingRefs(ctx, testOwner, testRepo, &gh.ReferenceListOptions{Ref: "heads/promobot/"})).ok(t)
	if len(refs) != 1 || refs[0].GetRef() != "refs/heads/promobot/promote/api/production" {
		t.Errorf("matching refs: %v", refs)
	}
	got := must(e.inst.Git.GetRef(ctx, testOwner, testRepo, "heads/promobot/promote/api/production")).ok(t)
	if diff := cmp.Diff(commit.GetSHA(), got.GetObject().GetSHA()); diff != "" {
		t.Errorf("branch with slashes (-want +got):\n%s", diff)
	}
	if _, err := e.inst.Git.DeleteRef(ctx, testOwner, testRepo, "heads/promobot/promote/api/production"); err != nil {
		t.Fatal(err)
	}
	_, resp, _ := e.inst.Git.GetRef(ctx, testOwner, testRepo, "heads/promobot/promote/api/production")
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted ref still found")
	}

	// Trees read back recursively.
	full := must(e.inst.Git.GetTree(ctx, testOwner, testRepo, tree.GetSHA(), true)).ok(t)
	var paths []string
	for _, te := range full.Entries {
		if te.GetType() == "blob" {
			paths = append(paths, te.GetPath())
		}
	}
	if diff := cmp.Diff(wantFiles, paths); diff != "" {
		t.Errorf("recursive tree (-want +got):\n%s", diff)
	}
}

func TestCompareAndTarball(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	base, _ := e.srv.Branches(ctx, testOwner, testRepo)
	head, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{
		Message: "Bump staging", Files: map[string]string{"kustomize/overlays/staging/kustomization.yaml": "# staging overlay\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/api\n    newTag: v1.1.0 # bumped by promotion\n"},
		Delete: []string{"README.md"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmpRes := must(e.inst.Repositories.CompareCommits(ctx, testOwner, testRepo, "main", "feature", nil)).ok(t)
	type file struct{ Name, Status string }
	var files []file
	for _, f := range cmpRes.Files {
		files = append(files, file{f.GetFilename(), f.GetStatus()})
	}
	want := []file{{"README.md", "removed"}, {"kustomize/overlays/staging/kustomization.yaml", "modified"}}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("compare files (-want +got):\n%s", diff)
	}
	if cmpRes.GetStatus() != "ahead" || cmpRes.GetAheadBy() != 1 || cmpRes.GetMergeBaseCommit().GetSHA() != base["main"] {
		t.Errorf("compare: status %s ahead %d merge base %s", cmpRes.GetStatus(), cmpRes.GetAheadBy(), cmpRes.GetMergeBaseCommit().GetSHA())
	}
	if !strings.Contains(cmpRes.Files[1].GetPatch(), "+    newTag: v1.1.0") {
		t.Errorf("patch: %q", cmpRes.Files[1].GetPatch())
	}

	rc := must(e.inst.Repositories.GetCommit(ctx, testOwner, testRepo, head, nil)).ok(t)
	if len(rc.Files) != 2 || rc.GetStats().GetTotal() == 0 {
		t.Errorf("commit files %d stats %v", len(rc.Files), rc.GetStats())
	}

	link := must(e.inst.Repositories.GetArchiveLink(ctx, testOwner, testRepo, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: head}, 0)).ok(t)
	resp, err := http.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tarball download: %s", resp.Status)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			contents[h.Name] = string(b)
		}
	}
	prefix := "acme-gitops-" + head[:7] + "/"
	if _, ok := contents[prefix+"README.md"]; ok {
		t.Error("tarball has the deleted README")
	}
	if !strings.Contains(contents[prefix+"kustomize/overlays/staging/kustomization.yaml"], "v1.1.0") {
		t.Errorf("tarball entries: %v", keys(contents))
	}
	if got := e.srv.Calls().ByRoute["GET /_codeload/{owner}/{repo}/legacy.tar.gz/{ref}"]; got != 1 {
		t.Errorf("tarball downloads counted %d, want 1", got)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func gitCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	return cmd
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
