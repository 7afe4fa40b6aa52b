package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

// A pull request that replaces an overlay's files with a link chain out of
// the checkout (x -> . and y -> x/.., so y is the checkout's parent,
// promobot serve's TMPDIR, then a link through y) gets, from promobot
// serve, a diff comment that refuses naming the link; nothing of the
// outside file shows in any comment, status, fact or log line.
func TestServeRefusesLinkChainsInPullRequests(t *testing.T) {
	const overlay = "kustomize/overlays/staging/"
	tests := []struct {
		name string
		// files and links the pull request changes (besides x and y).
		files, links map[string]string
		// want is in the diff comment.
		want string
	}{
		{
			name:  "overlay kustomization",
			links: map[string]string{overlay + "kustomization.yaml": "../../../y/kustomization.yaml"},
			want:  overlay + "kustomization.yaml: symbolic link y points outside the repository",
		},
		{
			name:  "resource of the overlay",
			files: map[string]string{overlay + "kustomization.yaml": "resources:\n  - ../../base\n  - stolen.yaml\n"},
			links: map[string]string{overlay + "stolen.yaml": "../../../y/stolen.yaml"},
			want:  overlay + "stolen.yaml: symbolic link y points outside the repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp) // promobot serve's checkouts land here
			outside := map[string]string{
				// Renders a ConfigMap holding the token, if followed.
				"kustomization.yaml": "configMapGenerator:\n- name: stolen\n  literals:\n  - token=" + linkSecret + "\n",
				"stolen.yaml":        configMap("stolen", "", linkSecret),
			}
			for name, content := range outside {
				if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s := startStack(t, stackOptions{})
			s.addUsers()

			links := map[string]string{"x": ".", "y": "x/.."}
			for p, target := range tt.links {
				links[p] = target
			}
			n := s.openLinkChange("link-chain", "Tidy the staging overlay", tt.files, links)

			var body string
			kit.Eventually(t, 60*time.Second, "the diff comment", func() (bool, string) {
				c, ok := diffComment(t, s, n)
				body = c
				return ok, "no diff comment"
			})
			if !strings.Contains(body, tt.want) {
				t.Errorf("the diff comment lacks %q:\n%s", tt.want, body)
			}
			s.noOutsideBytes(linkSecret)
		})
	}
}

// A merged change that makes the production overlay's kustomization a
// link chain out of the checkout fails production's status; a later
// /promote into production, which reads and edits that file, is refused
// with a reply naming the link, and no promotion pull request carries the
// outside file.
func TestServeRefusesPromotionThroughALinkChain(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // promobot serve's checkouts land here
	outside := "images:\n- name: ghcr.io/my-org/my-api-service\n  newTag: 1.0.0\nconfigMapGenerator:\n- name: stolen\n  literals:\n  - token=" + linkSecret + "\n"
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(outside), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{})
	s.addUsers()
	s.waitInitialSync()

	const prod = "kustomize/overlays/production/kustomization.yaml"
	linked := s.merge(s.openLinkChange("link-chain", "Share the production settings", nil,
		map[string]string{"x": ".", "y": "x/..", prod: "../../../y/kustomization.yaml"}))
	want := prod + ": symbolic link y points outside the repository"
	if st := s.waitStatus(linked, productionApp); st.State != "failure" || !strings.Contains(st.Description, "symbolic link y points outside") {
		t.Errorf("production status of the merged link chain: %s %q, want a failure naming the link", st.State, st.Description)
	}

	n := s.openChange("bump-staging", "Bump staging to 1.1.0", s.bumpOverlay("staging", "1.1.0"))
	if st := s.waitStatus(s.merge(n), stagingApp); st.State != "success" {
		t.Fatalf("staging status: %s %q, want success", st.State, st.Description)
	}
	id, err := s.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote")
	if err != nil {
		t.Fatal(err)
	}
	var reply string
	kit.Eventually(t, 60*time.Second, "promobot's reply to /promote", func() (bool, string) {
		cs, err := s.gh.Comments(owner, repoName, n)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, c := range cs {
			if c.Author == "promobot[bot]" && c.ID > id && !strings.Contains(c.Body, "<!-- promobot:diff") {
				reply = c.Body
				return true, ""
			}
			seen = append(seen, c.Author+": "+c.Body)
		}
		return false, strings.Join(seen, "\n---\n")
	})
	if !strings.Contains(reply, want) {
		t.Errorf("the reply to /promote lacks %q:\n%s", want, reply)
	}
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range prs {
		if pr.Author == "promobot[bot]" {
			t.Errorf("promotion pull request #%d %q opened through the link", pr.Number, pr.Title)
		}
	}
	s.noOutsideBytes(linkSecret)
}

// openLinkChange pushes files and symbolic links (path → target) to a new
// branch as the developer and opens a pull request from it; it returns the
// pull request's number.
func (s *stack) openLinkChange(branch, title string, files, links map[string]string) int {
	s.t.Helper()
	ctx := context.Background()
	c := githubapi.Commit{Message: title, Author: developer, Files: files, Links: links, From: "main"}
	if _, err := s.gh.Push(ctx, owner, repoName, branch, c); err != nil {
		s.t.Fatal(err)
	}
	n, err := s.gh.OpenPR(ctx, owner, repoName, githubapi.NewPR{Title: title, Head: branch, Author: developer})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// noOutsideBytes fails the test if secret shows in any pull request's
// title, body or comment, any commit status of a pull request's head or
// of main, any fact on the bus, either overlay's kustomization on any branch, or
// promobot's log.
func (s *stack) noOutsideBytes(secret string) {
	s.t.Helper()
	ctx := context.Background()
	var seen []string
	prs, err := s.gh.PRs(owner, repoName)
	if err != nil {
		s.t.Fatal(err)
	}
	shas := []string{}
	for _, pr := range prs {
		seen = append(seen, pr.Title, pr.Body)
		shas = append(shas, pr.HeadSHA)
		cs, err := s.gh.Comments(owner, repoName, pr.Number)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, c := range cs {
			seen = append(seen, c.Body)
		}
	}
	branches, err := s.gh.Branches(ctx, owner, repoName)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, sha := range append(shas, branches["main"]) {
		seen = append(seen, s.reportTexts(sha)...)
	}
	for branch := range branches {
		for _, p := range []string{"kustomize/overlays/production/kustomization.yaml", "kustomize/overlays/staging/kustomization.yaml"} {
			if raw, err := s.gh.File(ctx, owner, repoName, branch, p); err == nil {
				seen = append(seen, string(raw))
			}
		}
	}
	for _, f := range s.facts("promobot.>") {
		raw, _ := json.Marshal(f)
		seen = append(seen, string(raw))
	}
	seen = append(seen, s.logs.String())
	for _, text := range seen {
		if strings.Contains(text, secret) {
			s.t.Errorf("the outside file shows:\n%s", text)
		}
	}
}
