package githubapi

import (
	"net/http"
	"net/http/cgi"
	"os/exec"
	"strings"
)

// serveWeb answers what is not the REST API: tarball downloads, the App
// manifest form, and read-only git over HTTP (clone/fetch with an
// installation token as the password, as GitHub allows with
// x-access-token). Pushing over HTTP is refused: changes go through the API
// or the scripting methods, so webhooks always follow.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, codeloadPrefix):
		s.serveCodeload(w, r)
	case p == "/settings/apps/new" || (strings.HasPrefix(p, "/organizations/") && strings.HasSuffix(p, "/settings/apps/new")):
		s.serveManifestForm(w, r)
	case strings.Contains(p, ".git/"):
		s.serveGit(w, r)
	default:
		return false
	}
	return true
}

func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	repoPart, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git/")
	owner, name, ok := strings.Cut(repoPart, "/")
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	if rest == "git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack" {
		http.Error(w, "pushing over HTTP is not supported by the local GitHub API; use the API", http.StatusForbidden)
		return
	}
	_, password, _ := r.BasicAuth()
	s.mu.Lock()
	rp := s.repoByName(owner, name)
	t := s.tokens[password]
	allowed := rp != nil && t != nil && now().Before(t.expiresAt) && t.canSee(rp) && t.allows("contents", "read")
	var dir string
	if rp != nil {
		dir = rp.git.dir
	}
	s.mu.Unlock()
	if !allowed {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token.", http.StatusUnauthorized)
		return
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git not found", http.StatusInternalServerError)
		return
	}
	root := strings.TrimSuffix(dir, "/"+name+".git")
	root = strings.TrimSuffix(root, "/"+owner)
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  append(gitEnv(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1"),
	}
	h.ServeHTTP(w, r)
}
