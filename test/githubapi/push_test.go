package githubapi

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// pushes returns the push payloads the sink received, decoded as JSON.
func pushes(t *testing.T, k *sink) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range k.all() {
		if r.Event != "push" {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestPushPayloadLikeGitHub: a push webhook carries head_commit and commits
// as GitHub sends them (message with its trailers, author, committer,
// added/removed/modified, url, tree_id, distinct), validates against
// GitHub's webhook-push schema, and a deleted branch has a null
// head_commit and an empty commits array.
func TestPushPayloadLikeGitHub(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ctx := e.ctx
	if err := e.srv.AddCollaborator(testOwner, testRepo, "alice", PermissionWrite); err != nil {
		t.Fatal(err)
	}
	e.sink.reset()
	msg := "Keep one job\n\npromobot: allow-mass-prune"
	sha, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Author: "alice", Message: msg,
		Files:  map[string]string{"jobs.yaml": "kind: ConfigMap\n", stagingKustomization: "resources: []\n"},
		Delete: []string{"README.md"}})
	if err != nil {
		t.Fatal(err)
	}
	must(e.inst.Git.CreateRef(ctx, testOwner, testRepo, &gh.Reference{Ref: gh.String("refs/heads/tmp"), Object: &gh.GitObject{SHA: &sha}})).ok(t)
	if _, err := e.inst.Git.DeleteRef(ctx, testOwner, testRepo, "heads/tmp"); err != nil {
		t.Fatal(err)
	}

	for _, r := range e.sink.all() {
		if err := validateWebhook(doc, r.Event, r.Body); err != nil {
			t.Errorf("%s payload against GitHub's schema: %v", r.Event, err)
		}
	}
	ps := pushes(t, e.sink)
	if len(ps) != 3 {
		t.Fatalf("%d push webhooks, want 3 (main, tmp created, tmp deleted)", len(ps))
	}
	head, _ := ps[0]["head_commit"].(map[string]any)
	commits, _ := ps[0]["commits"].([]any)
	if len(commits) != 1 {
		t.Fatalf("push to main lists %d commits, want 1", len(commits))
	}
	if diff := cmp.Diff(head, commits[0]); diff != "" {
		t.Errorf("head_commit differs from the pushed commit (-head +commit):\n%s", diff)
	}
	type person struct{ Name, Email, Username string }
	who := func(v any) person {
		m, _ := v.(map[string]any)
		s := func(k string) string { x, _ := m[k].(string); return x }
		return person{s("name"), s("email"), s("username")}
	}
	type commitView struct {
		ID, Message, URL           string
		Distinct                   bool
		Author, Committer          person
		Added, Removed, Modified   []any
		HasTreeID, HasISOTimestamp bool
	}
	ts, _ := head["timestamp"].(string)
	tree, _ := head["tree_id"].(string)
	dist, _ := head["distinct"].(bool)
	got := commitView{
		ID: head["id"].(string), Message: head["message"].(string), URL: head["url"].(string), Distinct: dist,
		Author: who(head["author"]), Committer: who(head["committer"]),
		Added: head["added"].([]any), Removed: head["removed"].([]any), Modified: head["modified"].([]any),
		HasTreeID: len(tree) == 40, HasISOTimestamp: strings.Contains(ts, "T"),
	}
	alice := person{"alice", fmt.Sprintf("%d+alice@users.noreply.localhost", e.srv.UserID("alice")), "alice"}
	want := commitView{
		ID: sha, Message: msg, URL: e.srv.WebURL() + "/acme/gitops/commit/" + sha, Distinct: true,
		Author: alice, Committer: alice,
		Added: []any{"jobs.yaml"}, Removed: []any{"README.md"}, Modified: []any{stagingKustomization},
		HasTreeID: true, HasISOTimestamp: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("head_commit (-want +got):\n%s", diff)
	}

	created, deleted := ps[1], ps[2]
	if c, _ := created["commits"].([]any); created["created"] != true || c == nil || len(c) != 0 || created["head_commit"] == nil {
		t.Errorf("branch created at an existing commit: created %v commits %v head_commit %v", created["created"], created["commits"], created["head_commit"])
	}
	hc, present := deleted["head_commit"]
	if c, _ := deleted["commits"].([]any); deleted["deleted"] != true || !present || hc != nil || c == nil || len(c) != 0 {
		t.Errorf("branch deleted: deleted %v commits %v head_commit %v (present %v)", deleted["deleted"], deleted["commits"], hc, present)
	}
}

// TestPushLinks: Commit.Links writes symbolic links (mode 120000) that the
// contents API reports as symlinks, the push webhook lists, and the
// tarball serves as symlink entries, as GitHub's does.
func TestPushLinks(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	e.sink.reset()
	links := map[string]string{"x": ".", "y": "x/..", stagingKustomization: "../../../y/outside/kustomization.yaml"}
	sha, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{Message: "Links", Links: links})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Push(ctx, testOwner, testRepo, "feature", Commit{Files: map[string]string{"x": "a"}, Links: map[string]string{"x": "."}}); err == nil {
		t.Error("a path both a file and a link was pushed")
	}

	tree := must(e.inst.Git.GetTree(ctx, testOwner, testRepo, sha, true)).ok(t)
	modes := map[string]string{}
	for _, en := range tree.Entries {
		if _, ok := links[en.GetPath()]; ok {
			modes[en.GetPath()] = en.GetMode()
		}
	}
	if diff := cmp.Diff(map[string]string{"x": "120000", "y": "120000", stagingKustomization: "120000"}, modes); diff != "" {
		t.Errorf("tree modes (-want +got):\n%s", diff)
	}
	fc, _, _, err := e.inst.Repositories.GetContents(ctx, testOwner, testRepo, "y", &gh.RepositoryContentGetOptions{Ref: sha})
	if err != nil {
		t.Fatal(err)
	}
	if fc.GetType() != "symlink" || fc.GetTarget() != "x/.." {
		t.Errorf("contents of y: type %q target %q, want symlink x/..", fc.GetType(), fc.GetTarget())
	}

	ps := pushes(t, e.sink)
	if len(ps) != 1 {
		t.Fatalf("%d push webhooks, want 1", len(ps))
	}
	head, _ := ps[0]["head_commit"].(map[string]any)
	if diff := cmp.Diff([]any{"x", "y"}, head["added"]); diff != "" {
		t.Errorf("head_commit added (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{stagingKustomization}, head["modified"]); diff != "" {
		t.Errorf("head_commit modified (-want +got):\n%s", diff)
	}

	link := must(e.inst.Repositories.GetArchiveLink(ctx, testOwner, testRepo, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: sha}, 0)).ok(t)
	resp, err := http.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	prefix := "acme-gitops-" + sha[:7] + "/"
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := links[strings.TrimPrefix(h.Name, prefix)]; ok {
			if h.Typeflag != tar.TypeSymlink {
				t.Errorf("tarball entry %s: type %q, want a symlink", h.Name, h.Typeflag)
			}
			got[strings.TrimPrefix(h.Name, prefix)] = h.Linkname
		}
	}
	if diff := cmp.Diff(links, got); diff != "" {
		t.Errorf("tarball links (-want +got):\n%s", diff)
	}
}

// TestMergeMessageInPush: the message a person writes in the merge dialog
// is the merge commit's, and so the push webhook's head_commit message;
// without one GitHub's defaults apply.
func TestMergeMessageInPush(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	tests := []struct {
		name, method, title, message, want string
	}{
		{name: "merge, default", method: "merge", want: "Merge pull request #{n} from acme/{branch}\n\nChange {branch}"},
		{name: "merge, message", method: "merge", message: "Retire the jobs\n\npromobot: allow-mass-prune",
			want: "Merge pull request #{n} from acme/{branch}\n\nRetire the jobs\n\npromobot: allow-mass-prune"},
		{name: "squash, default", method: "squash", want: "Change {branch} (#{n})"},
		{name: "squash, title and message", method: "squash", title: "Shrink", message: "promobot: allow-mass-prune",
			want: "Shrink\n\npromobot: allow-mass-prune"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			branch := fmt.Sprintf("change-%d", i)
			if _, err := e.srv.Push(ctx, testOwner, testRepo, branch, Commit{Files: map[string]string{branch + ".txt": "x\n"}}); err != nil {
				t.Fatal(err)
			}
			n, err := e.srv.OpenPR(ctx, testOwner, testRepo, NewPR{Title: "Change " + branch, Head: branch})
			if err != nil {
				t.Fatal(err)
			}
			e.sink.reset()
			sha, err := e.srv.MergePRWithMessage(ctx, testOwner, testRepo, n, "", tt.method, tt.title, tt.message)
			if err != nil {
				t.Fatal(err)
			}
			ps := pushes(t, e.sink)
			if len(ps) != 1 {
				t.Fatalf("%d push webhooks, want 1", len(ps))
			}
			head, _ := ps[0]["head_commit"].(map[string]any)
			if head["id"] != sha {
				t.Errorf("head_commit %v, want the merge commit %s", head["id"], sha)
			}
			if diff := cmp.Diff(strings.NewReplacer("{n}", strconv.Itoa(n), "{branch}", branch).Replace(tt.want), head["message"]); diff != "" {
				t.Errorf("head_commit message (-want +got):\n%s", diff)
			}
		})
	}
}
