package promoter

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/promoter/prbody"
	"github.com/promobot/promobot/test/kit"
)

func TestSelect(t *testing.T) {
	root := filepath.Join("..", "test", "fixtures", "gitops")
	repo, err := gitops.LoadDir(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := repo.Config.Pipeline(repo.Apps)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sel  Selection
		want []string // "base from→to"; nil: nothing selected
	}{
		{"the staging overlay changed", Selection{Changed: []string{stagingFile}}, []string{"my-api-service staging→production"}},
		{"the base changed", Selection{Changed: []string{"kustomize/base/deployment.yaml"}}, []string{"my-api-service staging→production"}},
		{"only production changed", Selection{Changed: []string{prodFile}}, nil},
		{"a README changed", Selection{Changed: []string{"README.md"}}, nil},
		{"an app by base name", Selection{App: "my-api-service", Changed: []string{"README.md"}}, []string{"my-api-service staging→production"}},
		{"an app by Application name", Selection{App: "my-api-service-production"}, []string{"my-api-service staging→production"}},
		{"an app that is not promoted", Selection{App: "guestbook-staging"}, nil},
		{"into the first environment", Selection{To: "staging", Changed: []string{stagingFile}}, nil},
		{"from and to", Selection{From: "staging", To: "production"}, []string{"my-api-service staging→production"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, ps, err := Select(steps, tt.sel, root)
			if tt.want == nil {
				if !errors.Is(err, ErrNothingSelected) {
					t.Errorf("Select = %v, %v; want ErrNothingSelected", ps, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, p := range ps {
				got = append(got, p.Base+" "+ss[i].From+"→"+ss[i].To)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	apps, envs := KnownNames(steps)
	if diff := cmp.Diff([]string{"my-api-service", "my-api-service-production", "my-api-service-staging"}, apps); diff != "" {
		t.Errorf("known apps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"staging", "production"}, envs); diff != "" {
		t.Errorf("known environments (-want +got):\n%s", diff)
	}
}

func TestReplyOutcomes(t *testing.T) {
	step := gitops.Step{From: "staging", To: "production"}
	plan := func(app string) Plan { return Plan{App: app, Step: step} }
	outs := []outcome{
		{Kind: outcomeOpened, Plan: plan("api"), PR: github.PR{Number: 14}},
		{Kind: outcomeUpdated, Plan: plan("web"), PR: github.PR{Number: 9}},
		{Kind: outcomeAlreadyOpen, Plan: plan("worker"), PR: github.PR{Number: 11}},
		{Kind: outcomeUnchanged, Plan: plan("cron")},
		{Kind: outcomeRefused, Plan: plan("jobs"), Reason: "Promotions into `production` are frozen now (weekend)."},
	}
	kit.Golden(t, "testdata/reply-outcomes.md", replyOutcomes("/promote to production", outs))
	if !needsReply(outs) || needsReply(outs[:2]) {
		t.Error("needsReply: a reply is needed unless every promotion opened or updated a pull request")
	}
}

func TestSameTargets(t *testing.T) {
	a := []prbody.Image{{Name: "x", To: prbody.Ref{NewTag: "1"}}, {Name: "y", To: prbody.Ref{Digest: "sha256:ab"}}}
	b := []prbody.Image{{Name: "y", From: prbody.Ref{NewTag: "0"}, To: prbody.Ref{Digest: "sha256:ab"}}, {Name: "x", To: prbody.Ref{NewTag: "1"}}}
	c := []prbody.Image{{Name: "x", To: prbody.Ref{NewTag: "2"}}, {Name: "y", To: prbody.Ref{Digest: "sha256:ab"}}}
	p := func(imgs []prbody.Image, rev string) prbody.Promotion {
		out := prbody.Promotion{Images: imgs}
		if rev != "" {
			out.Revision = &prbody.Revision{From: "v1", To: rev}
		}
		return out
	}
	if !sameTargets(p(a, ""), p(b, "")) || !sameTargets(p(nil, "abc"), prbody.Promotion{Revision: &prbody.Revision{From: "v0", To: "abc"}}) {
		t.Error("the same targets in another order and with other sources differ")
	}
	if sameTargets(p(a, ""), p(c, "")) || sameTargets(p(a, ""), p(a[:1], "")) || sameTargets(p(nil, "abc"), p(nil, "abd")) || sameTargets(p(a, ""), p(a, "abc")) {
		t.Error("different targets are the same")
	}
}

// An app in several steps is promoted out of the environment the change
// touched.
func TestSelectPicksTheStepTheChangeTouched(t *testing.T) {
	dir := t.TempDir()
	for _, env := range []string{"dev", "staging", "production"} {
		writeFile(t, dir, "apps/api-"+env+".yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api-"+env+
			"\nspec:\n  source:\n    repoURL: https://example.com/r.git\n    path: overlays/"+env+"\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: "+env+"\n")
		writeFile(t, dir, "overlays/"+env+"/kustomization.yaml", "resources: []\nimages:\n  - name: api\n    newTag: \"1\"\n")
	}
	repo, err := gitops.LoadDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := repo.Config.Pipeline(repo.Apps)
	if err != nil {
		t.Fatal(err)
	}
	for changed, want := range map[string]string{"overlays/staging/kustomization.yaml": "staging→production", "overlays/dev/kustomization.yaml": "dev→staging"} {
		ss, ps, err := Select(steps, Selection{App: "api", Changed: []string{changed}}, dir)
		if err != nil || len(ps) != 1 {
			t.Fatalf("Select(api, %s) = %v, %v", changed, ps, err)
		}
		if got := ss[0].From + "→" + ss[0].To; got != want {
			t.Errorf("Select(api, %s) = %s, want %s", changed, got, want)
		}
	}
}

func writeFile(t *testing.T, dir, p, content string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
