package githubapi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

func TestAppEndpoints(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	app := must(e.app.Apps.Get(ctx, "")).ok(t)
	if app.GetID() != 42 || app.GetSlug() != "promobot" {
		t.Errorf("app: %d %s", app.GetID(), app.GetSlug())
	}
	insts := must(e.app.Apps.ListInstallations(ctx, nil)).ok(t)
	if len(insts) != 1 || insts[0].GetID() != e.instID || insts[0].GetAccount().GetLogin() != testOwner {
		t.Errorf("installations: %v", insts)
	}
	inst := must(e.app.Apps.FindRepositoryInstallation(ctx, testOwner, testRepo)).ok(t)
	if inst.GetID() != e.instID {
		t.Errorf("repository installation %d, want %d", inst.GetID(), e.instID)
	}
	must(e.app.Apps.GetInstallation(ctx, e.instID)).ok(t)
	repos := must(e.inst.Apps.ListRepos(ctx, nil)).ok(t)
	if repos.GetTotalCount() != 1 || repos.Repositories[0].GetFullName() != "acme/gitops" {
		t.Errorf("installation repositories: %v", repos)
	}

	// Every response carries the rate-limit headers go-github reads.
	_, resp, err := e.inst.Repositories.Get(ctx, testOwner, testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining >= 5000 || resp.Rate.Reset.IsZero() || resp.Header.Get("X-Ratelimit-Resource") != "core" {
		t.Errorf("rate: %+v resource %q", resp.Rate, resp.Header.Get("X-Ratelimit-Resource"))
	}
	limits := must(e.inst.RateLimit.Get(ctx)).ok(t)
	if limits.GetCore().Limit != 5000 {
		t.Errorf("rate_limit core: %+v", limits.GetCore())
	}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, iss any, iat, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()})
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	key, err := x509.ParsePKCS1PrivateKey(mustPEM(t, e.srv.AppPrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	n := time.Now()

	// A second organization with its own installation.
	if err := e.srv.CreateRepo(ctx, "globex", "deploy", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Install(ctx, "globex", "deploy"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.CreateRepo(ctx, testOwner, "second", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Install(ctx, testOwner, "second"); err != nil {
		t.Fatal(err)
	}

	tok := must(e.app.Apps.CreateInstallationToken(ctx, e.instID, nil)).ok(t)
	readOnly := must(e.app.Apps.CreateInstallationToken(ctx, e.instID, &gh.InstallationTokenOptions{
		Permissions: &gh.InstallationPermissions{Contents: gh.String("read")}})).ok(t)
	oneRepo := must(e.app.Apps.CreateInstallationToken(ctx, e.instID, &gh.InstallationTokenOptions{Repositories: []string{testRepo}})).ok(t)
	_, _, err = e.app.Apps.CreateInstallationToken(ctx, e.instID, &gh.InstallationTokenOptions{
		Permissions: &gh.InstallationPermissions{Administration: gh.String("write")}})
	if got := statusOf(err); got != http.StatusUnprocessableEntity {
		t.Errorf("token with ungranted permission: status %d, want 422", got)
	}

	jwtClient := func(s string) *gh.Client { return e.tokenClient(s) }
	id := strconv.FormatInt(e.srv.AppID(), 10)
	getRepo := func(c *gh.Client, owner, name string) int {
		_, resp, _ := c.Repositories.Get(ctx, owner, name)
		if resp == nil {
			return 0
		}
		return resp.StatusCode
	}
	getApp := func(c *gh.Client) int {
		_, resp, _ := c.Apps.Get(ctx, "")
		if resp == nil {
			return 0
		}
		return resp.StatusCode
	}
	putFile := func(c *gh.Client, name string) int {
		_, resp, _ := c.Repositories.CreateFile(ctx, testOwner, name, "new.txt", &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("x")})
		if resp == nil {
			return 0
		}
		return resp.StatusCode
	}
	anonymous, err := gh.NewClient(nil).WithEnterpriseURLs(e.srv.URL(), e.srv.URL())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		do   func() int
		want int
	}{
		{"valid JWT reaches /app", func() int {
			return getApp(jwtClient(signJWT(t, key, id, n.Add(-30*time.Second), n.Add(5*time.Minute))))
		}, 200},
		{"numeric iss accepted", func() int { return getApp(jwtClient(signJWT(t, key, e.srv.AppID(), n, n.Add(time.Minute)))) }, 200},
		{"JWT signed by another key", func() int { return getApp(jwtClient(signJWT(t, other, id, n, n.Add(time.Minute)))) }, 401},
		{"expired JWT", func() int {
			return getApp(jwtClient(signJWT(t, key, id, n.Add(-20*time.Minute), n.Add(-10*time.Minute))))
		}, 401},
		{"JWT valid for too long", func() int { return getApp(jwtClient(signJWT(t, key, id, n, n.Add(20*time.Minute)))) }, 401},
		{"JWT issued in the future", func() int { return getApp(jwtClient(signJWT(t, key, id, n.Add(5*time.Minute), n.Add(9*time.Minute)))) }, 401},
		{"JWT for another App", func() int { return getApp(jwtClient(signJWT(t, key, "7", n, n.Add(time.Minute)))) }, 401},
		{"installation token on an App endpoint", func() int { return getApp(e.tokenClient(tok.GetToken())) }, 401},
		{"JWT on a repository endpoint", func() int { return getRepo(jwtClient(signJWT(t, key, id, n, n.Add(time.Minute))), testOwner, testRepo) }, 403},
		{"no credentials", func() int { return getRepo(anonymous, testOwner, testRepo) }, 401},
		{"unknown token", func() int { return getRepo(e.tokenClient("ghs_notarealtoken"), testOwner, testRepo) }, 401},
		{"token reads its repository", func() int { return getRepo(e.tokenClient(tok.GetToken()), testOwner, testRepo) }, 200},
		{"foreign installation's repository", func() int { return getRepo(e.tokenClient(tok.GetToken()), "globex", "deploy") }, 404},
		{"token narrowed to one repository", func() int { return getRepo(e.tokenClient(oneRepo.GetToken()), testOwner, "second") }, 404},
		{"narrowed token still reads its repository", func() int { return getRepo(e.tokenClient(oneRepo.GetToken()), testOwner, testRepo) }, 200},
		{"read-only token cannot write contents", func() int { return putFile(e.tokenClient(readOnly.GetToken()), testRepo) }, 403},
		{"read-only token reads", func() int { return getRepo(e.tokenClient(readOnly.GetToken()), testOwner, testRepo) }, 200},
		{"full token writes", func() int { return putFile(e.tokenClient(tok.GetToken()), testRepo) }, 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.do()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}

	// Expired installation tokens are refused; ghinstallation gets a new one.
	e.srv.ExpireTokens()
	if got := getRepo(e.tokenClient(tok.GetToken()), testOwner, testRepo); got != 401 {
		t.Errorf("expired token: status %d, want 401", got)
	}
	fresh := e.instClient(e.instID, nil)
	if got := getRepo(fresh, testOwner, testRepo); got != 200 {
		t.Errorf("ghinstallation after expiry: status %d, want 200", got)
	}

	// Uninstalling revokes the installation's tokens.
	if err := e.srv.Uninstall(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	insts := must(e.app.Apps.ListInstallations(ctx, nil)).ok(t)
	if len(insts) != 1 {
		t.Errorf("installations after uninstall: %d", len(insts))
	}
}

func mustPEM(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// Contract: "Generating a JSON Web Token (JWT) for a GitHub App"
// (docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app):
// iss is the App's client id or its App id; iat is best set 60 seconds in
// the past against clock drift; exp is no more than 10 minutes into the
// future. GitHub judges exp against its clock, not against iat: the
// documented JWT (iat 60 s ago, exp in 10 minutes) is accepted.
func TestAppJWTContract(t *testing.T) {
	e := newEnv(t)
	key, err := x509.ParsePKCS1PrivateKey(mustPEM(t, e.srv.AppPrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	// go-github v60's App lacks client_id.
	req, err := e.app.NewRequest("GET", "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		ClientID string `json:"client_id"`
	}
	if _, err := e.app.Do(e.ctx, req, &app); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(app.ClientID, e.srv.AppClientID()); diff != "" {
		t.Fatalf("AppClientID and GET /app disagree (-app +AppClientID):\n%s", diff)
	}
	id := strconv.FormatInt(e.srv.AppID(), 10)
	n := time.Now()
	tests := []struct {
		name     string
		iss      any
		iat, exp time.Time
		want     int
	}{
		{name: "documented shape: iat 60 s ago, exp in 10 minutes", iss: id, iat: n.Add(-time.Minute), exp: n.Add(10 * time.Minute), want: 200},
		{name: "iss is the client id", iss: app.ClientID, iat: n.Add(-time.Minute), exp: n.Add(5 * time.Minute), want: 200},
		{name: "iss is the numeric App id", iss: e.srv.AppID(), iat: n, exp: n.Add(time.Minute), want: 200},
		{name: "iat within clock drift ahead", iss: id, iat: n.Add(30 * time.Second), exp: n.Add(5 * time.Minute), want: 200},
		{name: "another App's client id", iss: "Iv1.0000000000000007", iat: n, exp: n.Add(time.Minute), want: 401},
		{name: "exp more than 10 minutes ahead", iss: id, iat: n.Add(-time.Minute), exp: n.Add(11 * time.Minute), want: 401},
		{name: "exp in the past", iss: id, iat: n.Add(-9 * time.Minute), exp: n.Add(-time.Minute), want: 401},
		{name: "iat beyond clock drift ahead", iss: id, iat: n.Add(3 * time.Minute), exp: n.Add(9 * time.Minute), want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := e.tokenClient(signJWT(t, key, tt.iss, tt.iat, tt.exp)).Apps.Get(e.ctx, "")
			got := statusOf(err)
			if err == nil {
				got = resp.StatusCode
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}
