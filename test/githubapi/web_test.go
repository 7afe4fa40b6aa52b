package githubapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCloneOverHTTPWithInstallationToken(t *testing.T) {
	e := newEnv(t)
	tok := mustToken(t, e)
	u, _ := url.Parse(e.srv.WebURL())
	u.User = url.UserPassword("x-access-token", tok)
	u.Path = "/acme/gitops.git"
	dir := t.TempDir()
	run(t, "", "git", "clone", "-q", u.String(), dir)
	branches, _ := e.srv.Branches(e.ctx, testOwner, testRepo)
	if diff := cmp.Diff(branches["main"]+"\n", run(t, dir, "git", "rev-parse", "HEAD")); diff != "" {
		t.Errorf("cloned HEAD (-want +got):\n%s", diff)
	}

	u.User = url.UserPassword("x-access-token", "ghs_wrong")
	cmd := gitCmd("", "clone", "-q", u.String(), t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("clone with a bad token succeeded: %s", out)
	}
}

func TestManifestFlow(t *testing.T) {
	e := newEnv(t)
	manifest := `{"name":"promobot-dev","url":"https://example.com","redirect_url":"https://setup.example/callback","hook_attributes":{"url":"https://hooks.example/webhook"}}`
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.srv.WebURL()+"/settings/apps/new?state=xyz", url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), "https://setup.example/callback?") || loc.Query().Get("state") != "xyz" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cfg := must(e.app.Apps.CompleteAppManifest(e.ctx, loc.Query().Get("code"))).ok(t)
	if cfg.GetID() != 42 || cfg.GetName() != "promobot-dev" || cfg.GetWebhookSecret() != testSecret || cfg.GetPEM() != string(e.srv.AppPrivateKeyPEM()) {
		t.Errorf("app config: id %d name %q secret %q", cfg.GetID(), cfg.GetName(), cfg.GetWebhookSecret())
	}
	_, _, err = e.app.Apps.CompleteAppManifest(e.ctx, loc.Query().Get("code"))
	if statusOf(err) != http.StatusNotFound {
		t.Errorf("code used twice: %v", err)
	}
}
