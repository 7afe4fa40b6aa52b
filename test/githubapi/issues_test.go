package githubapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// openTestPR pushes a branch and opens a PR from it as alice.
func openTestPR(t *testing.T, e *env) int {
	t.Helper()
	if _, err := e.srv.Push(e.ctx, testOwner, testRepo, "change", Commit{Author: "alice", Files: map[string]string{"a.txt": "a\n"}}); err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.OpenPR(e.ctx, testOwner, testRepo, NewPR{Title: "Change", Head: "change", Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCommentsReactionsLabels(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	n := openTestPR(t, e)
	userComment, err := e.srv.Comment(ctx, testOwner, testRepo, n, "alice", "/promote")
	if err != nil {
		t.Fatal(err)
	}

	// The bot acknowledges with a reaction and a reply.
	r1 := must(e.inst.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "eyes")).ok(t)
	_, resp, err := e.inst.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "eyes")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("same reaction again: %v %v, want 200", resp.StatusCode, err)
	}
	_, _, err = e.inst.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "party")
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("invalid reaction: status %d, want 422", got)
	}
	must(e.inst.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "rocket")).ok(t)
	reactions := must(e.inst.Reactions.ListIssueCommentReactions(ctx, testOwner, testRepo, userComment, nil)).ok(t)
	var contents []string
	for _, r := range reactions {
		contents = append(contents, r.GetUser().GetLogin()+":"+r.GetContent())
	}
	if diff := cmp.Diff([]string{"promobot[bot]:eyes", "promobot[bot]:rocket"}, contents); diff != "" {
		t.Errorf("reactions (-want +got):\n%s", diff)
	}
	if _, err := e.inst.Reactions.DeleteIssueCommentReaction(ctx, testOwner, testRepo, userComment, r1.GetID()); err != nil {
		t.Fatal(err)
	}

	reply := must(e.inst.Issues.CreateComment(ctx, testOwner, testRepo, n, &gh.IssueComment{Body: gh.String("<!-- promobot:diff -->\nfirst")})).ok(t)
	if reply.GetUser().GetLogin() != "promobot[bot]" || reply.GetUser().GetType() != "Bot" {
		t.Errorf("bot comment author %s/%s", reply.GetUser().GetLogin(), reply.GetUser().GetType())
	}
	edited := must(e.inst.Issues.EditComment(ctx, testOwner, testRepo, reply.GetID(), &gh.IssueComment{Body: gh.String("<!-- promobot:diff -->\nsecond")})).ok(t)
	if edited.GetID() != reply.GetID() || !strings.HasSuffix(edited.GetBody(), "second") {
		t.Errorf("edited comment: %d %q", edited.GetID(), edited.GetBody())
	}
	_, _, err = e.inst.Issues.CreateComment(ctx, testOwner, testRepo, n, &gh.IssueComment{Body: gh.String(strings.Repeat("x", 65537))})
	if got := statusOf(err); got != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "too long") {
		t.Errorf("oversized comment: %v", err)
	}

	// Paging through comments finds the sticky one by its marker.
	for i := 0; i < 3; i++ {
		if _, err := e.srv.Comment(ctx, testOwner, testRepo, n, "alice", "noise"); err != nil {
			t.Fatal(err)
		}
	}
	var all []*gh.IssueComment
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 2}}
	pages := 0
	for {
		page, resp, err := e.inst.Issues.ListComments(ctx, testOwner, testRepo, n, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 5 || pages != 3 {
		t.Errorf("paged comments: %d in %d pages, want 5 in 3", len(all), pages)
	}
	got := must(e.inst.Issues.GetComment(ctx, testOwner, testRepo, reply.GetID())).ok(t)
	if !strings.HasSuffix(got.GetBody(), "second") {
		t.Errorf("get comment: %q", got.GetBody())
	}
	repoWide := must(e.inst.Issues.ListComments(ctx, testOwner, testRepo, 0, nil)).ok(t)
	if len(repoWide) != 5 {
		t.Errorf("repository comments: %d, want 5", len(repoWide))
	}
	if _, err := e.inst.Issues.DeleteComment(ctx, testOwner, testRepo, all[len(all)-1].GetID()); err != nil {
		t.Fatal(err)
	}

	// What a user sees on the PR.
	comments, err := e.srv.Comments(testOwner, testRepo, n)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, c := range comments {
		seen = append(seen, c.Author+": "+c.Body)
	}
	if !comments[1].Bot {
		t.Error("the bot's comment is not marked as posted through the App")
	}
	want := []string{"alice: /promote", "promobot[bot]: <!-- promobot:diff -->\nsecond", "alice: noise", "alice: noise"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("comments on the PR (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Reaction{{User: "promobot[bot]", Content: "rocket"}}, comments[0].Reactions); diff != "" {
		t.Errorf("reactions on the command (-want +got):\n%s", diff)
	}

	// Labels are created on first use.
	labels := must(e.inst.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, n, []string{"promotion", "env/production"})).ok(t)
	if len(labels) != 2 {
		t.Errorf("labels after add: %d", len(labels))
	}
	must(e.inst.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, n, []string{"promotion"})).ok(t)
	// go-github v60 does not escape the label name; "/" must be sent as %2F.
	if _, err := e.inst.Issues.RemoveLabelForIssue(ctx, testOwner, testRepo, n, url.PathEscape("env/production")); err != nil {
		t.Fatal(err)
	}
	_, err = e.inst.Issues.RemoveLabelForIssue(ctx, testOwner, testRepo, n, url.PathEscape("env/production"))
	if got := statusOf(err); got != http.StatusNotFound {
		t.Errorf("removing an absent label: status %d, want 404", got)
	}
	listed := must(e.inst.Issues.ListLabelsByIssue(ctx, testOwner, testRepo, n, nil)).ok(t)
	if len(listed) != 1 || listed[0].GetName() != "promotion" {
		t.Errorf("labels listed: %v", listed)
	}
	replaced := must(e.inst.Issues.ReplaceLabelsForIssue(ctx, testOwner, testRepo, n, []string{"env/staging"})).ok(t)
	if len(replaced) != 1 || replaced[0].GetName() != "env/staging" {
		t.Errorf("labels replaced: %v", replaced)
	}
	issue := must(e.inst.Issues.Get(ctx, testOwner, testRepo, n)).ok(t)
	if !issue.IsPullRequest() || issue.GetComments() != 4 {
		t.Errorf("issue view of the PR: pr %v comments %d", issue.IsPullRequest(), issue.GetComments())
	}
}

func TestCollaboratorPermission(t *testing.T) {
	e := newEnv(t)
	for login, p := range map[string]Permission{"mia": PermissionMaintain, "rita": PermissionRead, "tom": PermissionTriage, "wes": PermissionWrite, "ada": PermissionAdmin} {
		if err := e.srv.AddCollaborator(testOwner, testRepo, login, p); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.AddUser("stranger")
	if err := e.srv.AddBot("dependabot[bot]"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddBot("dependabot"); err == nil {
		t.Error("a bot login without [bot] was accepted")
	}
	// Bots are not users: GitHub answers 404 for them, as for an unknown
	// login, whether the App's own bot or another App's.
	tests := []struct {
		name, user, permission, role string
		status                       int
	}{
		{name: "maintain reports write", user: "mia", permission: "write", role: "maintain", status: 200},
		{name: "read", user: "rita", permission: "read", role: "read", status: 200},
		{name: "triage reports read", user: "tom", permission: "read", role: "triage", status: 200},
		{name: "write", user: "wes", permission: "write", role: "write", status: 200},
		{name: "admin", user: "ada", permission: "admin", role: "admin", status: 200},
		{name: "owner is admin", user: "acme", permission: "admin", role: "admin", status: 200},
		{name: "no access", user: "stranger", permission: "none", role: "none", status: 200},
		{name: "unknown user", user: "ghost", status: 404},
		{name: "another App's bot", user: "dependabot[bot]", status: 404},
		{name: "the App's own bot", user: "promobot[bot]", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// go-github v60 has no role_name; read the response directly.
			req, err := e.inst.NewRequest("GET", "repos/acme/gitops/collaborators/"+url.PathEscape(tc.user)+"/permission", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Permission string `json:"permission"`
				RoleName   string `json:"role_name"`
			}
			resp, err := e.inst.Do(e.ctx, req, &got)
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("status %v (%v), want %d", resp, err, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if diff := cmp.Diff(tc.permission+"/"+tc.role, got.Permission+"/"+got.RoleName); diff != "" {
				t.Errorf("permission/role (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCustomRolesAndRenames(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.AddCollaboratorRole(testOwner, testRepo, "dee", "deployer", PermissionWrite); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddCollaboratorRole(testOwner, testRepo, "dee", "write", PermissionWrite); err == nil {
		t.Error("a built-in role was accepted as a custom one")
	}
	if err := e.srv.AddCollaborator(testOwner, testRepo, "alice", PermissionWrite); err != nil {
		t.Fatal(err)
	}
	id := e.srv.UserID("alice")
	if err := e.srv.RenameUser("alice", "alice-renamed"); err != nil {
		t.Fatal(err)
	}
	e.srv.AddUser("alice")
	if e.srv.UserID("alice-renamed") != id || e.srv.UserID("alice") == id || e.srv.UserID("alice") == 0 {
		t.Fatalf("ids after the rename: renamed %d, new alice %d, old id %d", e.srv.UserID("alice-renamed"), e.srv.UserID("alice"), id)
	}
	tests := []struct {
		name, user, permission, role string
		pushPerm                     bool
	}{
		{name: "custom role based on write", user: "dee", permission: "write", role: "deployer", pushPerm: true},
		{name: "renamed keeps the role", user: "alice-renamed", permission: "write", role: "write", pushPerm: true},
		{name: "new owner of the old login has none", user: "alice", permission: "none", role: "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				Permission string `json:"permission"`
				RoleName   string `json:"role_name"`
				User       struct {
					Login       string          `json:"login"`
					ID          int64           `json:"id"`
					Permissions map[string]bool `json:"permissions"`
				} `json:"user"`
			}
			req, err := e.inst.NewRequest("GET", "repos/acme/gitops/collaborators/"+tc.user+"/permission", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.inst.Do(e.ctx, req, &got); err != nil {
				t.Fatal(err)
			}
			if got.Permission != tc.permission || got.RoleName != tc.role || got.User.Login != tc.user || got.User.Permissions["push"] != tc.pushPerm {
				t.Errorf("got %+v, want permission %s role %s push %v", got, tc.permission, tc.role, tc.pushPerm)
			}
		})
	}
}
