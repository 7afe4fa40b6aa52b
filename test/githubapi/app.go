package githubapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// getApp: GET /app.
func (s *Server) getApp(c *call) (int, any) { return http.StatusOK, s.appJSON() }

func (s *Server) sortedInstallations() []*installation {
	var out []*installation
	for _, in := range s.installations {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// listInstallations: GET /app/installations.
func (s *Server) listInstallations(c *call) (int, any) {
	var out []*installationJSON
	for _, in := range s.sortedInstallations() {
		out = append(out, s.installationJSON(in))
	}
	return http.StatusOK, page(c, out)
}

func (s *Server) installationParam(c *call) *installation {
	id, _ := strconv.ParseInt(c.param("installation_id"), 10, 64)
	return s.installations[id]
}

// getInstallation: GET /app/installations/{installation_id}.
func (s *Server) getInstallation(c *call) (int, any) {
	in := s.installationParam(c)
	if in == nil {
		return notFound()
	}
	return http.StatusOK, s.installationJSON(in)
}

type tokenJSON struct {
	Token               string            `json:"token"`
	ExpiresAt           time.Time         `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
	Repositories        []*repoJSON       `json:"repositories,omitempty"`
}

var permRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// createToken: POST /app/installations/{installation_id}/access_tokens,
// honouring "repositories", "repository_ids" and "permissions".
func (s *Server) createToken(c *call) (int, any) {
	in := s.installationParam(c)
	if in == nil {
		return notFound()
	}
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	t := &token{value: newToken(), inst: in, expiresAt: now().Add(s.opts.TokenTTL), permissions: map[string]string{}}
	for k, v := range in.permissions {
		t.permissions[k] = v
	}
	if len(req.Permissions) > 0 {
		t.permissions = map[string]string{}
		for k, v := range req.Permissions {
			if permRank[v] == 0 || permRank[v] > permRank[in.permissions[k]] {
				return invalid("The permissions requested are not granted to this installation.")
			}
			t.permissions[k] = v
		}
		if _, ok := t.permissions["metadata"]; !ok {
			t.permissions["metadata"] = "read"
		}
	}
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		t.repos = []*repo{}
		for _, name := range req.Repositories {
			var found *repo
			for _, r := range in.repos {
				if strings.EqualFold(r.name, name) {
					found = r
				}
			}
			if found == nil {
				return invalid("There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
			t.repos = append(t.repos, found)
		}
		for _, id := range req.RepositoryIDs {
			var found *repo
			for _, r := range in.repos {
				if r.id == id {
					found = r
				}
			}
			if found == nil {
				return invalid("There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
			t.repos = append(t.repos, found)
		}
	}
	s.tokens[t.value] = t
	out := &tokenJSON{Token: t.value, ExpiresAt: t.expiresAt, Permissions: t.permissions, RepositorySelection: "selected"}
	for _, r := range t.repos {
		out.Repositories = append(out.Repositories, s.repoJSON(r))
	}
	return http.StatusCreated, out
}

// repoInstallation: GET /repos/{owner}/{repo}/installation (App JWT).
func (s *Server) repoInstallation(c *call) (int, any) {
	r := s.repoByName(c.param("owner"), c.param("repo"))
	if r == nil || r.inst == nil {
		return notFound()
	}
	return http.StatusOK, s.installationJSON(r.inst)
}

// installationRepos: GET /installation/repositories (installation token).
func (s *Server) installationRepos(c *call) (int, any) {
	var all []*repoJSON
	for _, r := range c.tok.inst.repos {
		if c.tok.canSee(r) {
			all = append(all, s.repoJSON(r))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return http.StatusOK, map[string]any{"total_count": len(all), "repositories": page(c, all), "repository_selection": "selected"}
}

// rateLimit: GET /rate_limit (does not count against the limit on GitHub;
// here it reports the caller's window).
func (s *Server) rateLimit(c *call) (int, any) {
	h := c.w.Header()
	limit, _ := strconv.Atoi(h.Get("X-Ratelimit-Limit"))
	used, _ := strconv.Atoi(h.Get("X-Ratelimit-Used"))
	reset, _ := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
	rl := map[string]any{"limit": limit, "used": used, "remaining": limit - used, "reset": reset, "resource": "core"}
	search := map[string]any{"limit": 30, "used": 0, "remaining": 30, "reset": reset, "resource": "search"}
	return http.StatusOK, map[string]any{"resources": map[string]any{"core": rl, "search": search}, "rate": rl}
}

// NewManifestCode registers an App manifest as if a user had submitted it on
// GitHub's "create App from manifest" page and returns the temporary code
// GitHub would send to the manifest's redirect_url. The web form at
// /settings/apps/new does the same for browser-driven flows.
func (s *Server) NewManifestCode(manifest []byte) (string, error) {
	var m map[string]any
	if err := json.Unmarshal(manifest, &m); err != nil {
		return "", fmt.Errorf("githubapi: manifest: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code := randomHex(10)
	s.manifests[code] = &manifestCode{manifest: m, expiresAt: now().Add(time.Hour)}
	return code, nil
}

// convertManifest: POST /app-manifests/{code}/conversions. The App it
// "creates" is this server's App (its id, key and webhook secret), so the
// credentials a setup flow stores work against this server; the manifest's
// hook_attributes.url becomes the webhook URL.
func (s *Server) convertManifest(c *call) (int, any) {
	code := c.param("code")
	m := s.manifests[code]
	if m == nil || now().After(m.expiresAt) {
		return notFound()
	}
	delete(s.manifests, code)
	if hook, ok := m.manifest["hook_attributes"].(map[string]any); ok {
		if u, ok := hook["url"].(string); ok && u != "" {
			s.hooks.mu.Lock()
			s.hooks.url = u
			s.hooks.mu.Unlock()
		}
	}
	app := s.appJSON()
	if name, ok := m.manifest["name"].(string); ok && name != "" {
		app.Name = name
	}
	secret := s.opts.WebhookSecret
	return http.StatusCreated, struct {
		*appJSON
		ClientSecret  string  `json:"client_secret"`
		WebhookSecret *string `json:"webhook_secret"`
		PEM           string  `json:"pem"`
	}{app, randomHex(20), &secret, string(s.AppPrivateKeyPEM())}
}

// serveManifestForm handles the browser side of the manifest flow: the form
// POST to /settings/apps/new (or /organizations/{org}/settings/apps/new)
// is accepted at once and redirected to the manifest's redirect_url with
// ?code=...&state=..., as GitHub does after the user confirms.
func (s *Server) serveManifestForm(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a manifest", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	raw := r.PostForm.Get("manifest")
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		http.Error(w, "manifest is not JSON", http.StatusUnprocessableEntity)
		return
	}
	redirect, _ := m["redirect_url"].(string)
	if redirect == "" {
		http.Error(w, "manifest has no redirect_url", http.StatusUnprocessableEntity)
		return
	}
	code, err := s.NewManifestCode([]byte(raw))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_url", http.StatusUnprocessableEntity)
		return
	}
	q := u.Query()
	q.Set("code", code)
	if st := r.URL.Query().Get("state"); st != "" {
		q.Set("state", st)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
