package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/githubapi"
)

// linkSecret is in files beside promobot serve's checkouts (its TMPDIR),
// which link chains in the repository point at.
const linkSecret = "s3cr3t-outside-token"

// A repository holding a link chain out of its checkout (x -> . and
// y -> x/.., so y is the checkout's parent, promobot's TMPDIR) gets, from
// promobot serve, a refusal naming the link on the commit status and the
// apply fact; nothing of the outside file is applied, reported or logged.
func TestServeRefusesLinkChainsOutOfTheRepository(t *testing.T) {
	tests := []struct {
		name string
		// links are added to the fixture (replacing files).
		links map[string]string
		// context is the commit status that fails; want is in its
		// description and in the apply.failed fact.
		context, want string
		// applied are the apps that still apply.
		applied []string
	}{
		{
			name:    "production kustomization",
			links:   map[string]string{"kustomize/overlays/production/kustomization.yaml": "../../../y/kustomization.yaml"},
			context: "promobot/" + productionApp,
			want:    "kustomize/overlays/production/kustomization.yaml: symbolic link y points outside the repository",
			applied: []string{stagingApp},
		},
		{
			name:    "repository configuration",
			links:   map[string]string{".promobot.yaml": "y/promobot.yaml"},
			context: "promobot",
			want:    ".promobot.yaml: symbolic link y points outside the repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp) // promobot serve's checkouts land here
			outside := map[string]string{
				// Renders a ConfigMap holding the token, if followed.
				"kustomization.yaml": "configMapGenerator:\n- name: stolen\n  literals:\n  - token=" + linkSecret + "\n",
				// A strict parse would name the unknown field, if followed.
				"promobot.yaml": linkSecret + ": true\n",
			}
			for name, content := range outside {
				if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			fixture := filepath.Join(t.TempDir(), "fixture")
			if err := os.CopyFS(fixture, os.DirFS(fixtureDir(t))); err != nil {
				t.Fatal(err)
			}
			links := map[string]string{"x": ".", "y": "x/.."}
			for p, target := range tt.links {
				links[p] = target
			}
			for p, target := range links {
				full := filepath.Join(fixture, filepath.FromSlash(p))
				_ = os.Remove(full)
				if err := os.Symlink(target, full); err != nil {
					t.Fatal(err)
				}
			}

			s := startStack(t, stackOptions{fixture: fixture})
			branches, err := s.gh.Branches(context.Background(), owner, repoName)
			if err != nil {
				t.Fatal(err)
			}
			sha := branches["main"]
			for _, app := range tt.applied {
				if st := s.waitStatus(sha, app); st.State != "success" {
					t.Errorf("%s: %s %q, want success", app, st.State, st.Description)
				}
			}
			st := s.waitStatusContext(sha, tt.context)
			if st.State != "failure" || !strings.Contains(st.Description, "symbolic link y points outside") {
				t.Errorf("status %s = %s %q, want a failure naming the link", tt.context, st.State, st.Description)
			}
			var failed []string
			for _, f := range s.facts("promobot.apply.failed.>") {
				raw, _ := json.Marshal(f)
				failed = append(failed, string(raw))
			}
			if !strings.Contains(strings.Join(failed, "\n"), tt.want) {
				t.Errorf("apply.failed facts lack %q:\n%s", tt.want, strings.Join(failed, "\n"))
			}

			// Nothing of the outside file anywhere.
			cms, err := s.home.Client.CoreV1().ConfigMaps("").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cm := range cms.Items {
				if strings.HasPrefix(cm.Name, "stolen") {
					t.Errorf("ConfigMap %s/%s from the outside file was applied", cm.Namespace, cm.Name)
				}
			}
			seen := s.reportTexts(sha)
			for _, f := range s.facts("promobot.>") {
				raw, _ := json.Marshal(f)
				seen = append(seen, string(raw))
			}
			seen = append(seen, s.logs.String())
			for _, text := range seen {
				if strings.Contains(text, linkSecret) {
					t.Errorf("the outside file shows:\n%s", text)
				}
			}
		})
	}
}

// waitStatusContext waits for the commit status named context on sha to
// leave pending and returns it.
func (s *stack) waitStatusContext(sha, context string) githubapi.Status {
	s.t.Helper()
	return s.waitRepoStatus(owner, repoName, sha, context)
}

// A repository over the operator's checkout limit (--checkout-max-bytes)
// is refused whole at install: the commit's promobot status says why, and
// nothing of it is applied.
func TestServeRefusesACheckoutOverItsLimit(t *testing.T) {
	s := startStack(t, stackOptions{args: []string{"--checkout-max-bytes", "1Ki"}})
	branches, err := s.gh.Branches(context.Background(), owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	st := s.waitStatusContext(branches["main"], "promobot")
	if want := "untar: files larger than 1 KiB in total: repository too large"; st.State != "failure" || !strings.Contains(st.Description, want) {
		t.Errorf("status promobot = %s %q, want a failure saying %q", st.State, st.Description, want)
	}
	for _, ns := range []string{"staging", "production"} {
		deps, err := s.home.Client.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
		if err == nil && len(deps.Items) > 0 {
			t.Errorf("%s holds %d Deployments, want none applied", ns, len(deps.Items))
		}
	}
}
