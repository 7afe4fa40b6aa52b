package githubapi

import (
	"net/http"
	"net/url"
)

// hookConfig is the App's webhook configuration beside its URL (which
// hookState keeps, as deliveries need it): GitHub's content_type and
// insecure_ssl. Zero values read as GitHub's for an App: "json" and "0".
// Guarded by Server.mu.
type hookConfig struct {
	contentType string
	insecureSSL string
}

// HookConfig is the App's webhook configuration as GET /app/hook/config
// serves it (the secret is never served, only whether one is set).
type HookConfig struct {
	URL string
	// ContentType is "json" or "form".
	ContentType string
	// InsecureSSL is "0" (certificates verified) or "1".
	InsecureSSL string
}

// hookConfigJSON is GitHub's webhook-config schema.
type hookConfigJSON struct {
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type"`
	Secret      string `json:"secret,omitempty"`
	InsecureSSL string `json:"insecure_ssl"`
}

// hookConfigRoutes are the App's webhook configuration routes (JWT).
func (s *Server) hookConfigRoutes() {
	s.handle("GET", "/app/hook/config", authApp, perm{}, s.getHookConfig)
	s.handle("PATCH", "/app/hook/config", authApp, perm{}, s.updateHookConfig)
}

// WebhookConfig returns the App's webhook configuration.
func (s *Server) WebhookConfig() HookConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookConfigLocked()
}

// SetWebhookConfig sets the App's webhook configuration, as the App's
// settings page does: the URL is where webhooks go ("" stops them), as
// SetWebhookURL; empty ContentType and InsecureSSL mean "json" and "0".
// Deliveries are sent as JSON whatever ContentType says.
func (s *Server) SetWebhookConfig(c HookConfig) {
	s.mu.Lock()
	s.hookConfig = hookConfig{contentType: c.ContentType, insecureSSL: c.InsecureSSL}
	s.mu.Unlock()
	s.SetWebhookURL(c.URL)
}

func (s *Server) webhookConfigLocked() HookConfig {
	s.hooks.mu.Lock()
	u := s.hooks.url
	s.hooks.mu.Unlock()
	c := HookConfig{URL: u, ContentType: s.hookConfig.contentType, InsecureSSL: s.hookConfig.insecureSSL}
	if c.ContentType == "" {
		c.ContentType = "json"
	}
	if c.InsecureSSL == "" {
		c.InsecureSSL = "0"
	}
	return c
}

func (s *Server) hookConfigJSON() *hookConfigJSON {
	c := s.webhookConfigLocked()
	out := &hookConfigJSON{URL: c.URL, ContentType: c.ContentType, InsecureSSL: c.InsecureSSL}
	if s.opts.WebhookSecret != "" {
		out.Secret = "********"
	}
	return out
}

// getHookConfig: GET /app/hook/config.
func (s *Server) getHookConfig(c *call) (int, any) { return http.StatusOK, s.hookConfigJSON() }

// updateHookConfig: PATCH /app/hook/config. GitHub validates the URL and
// the two enumerations; insecure_ssl may be a string or a number. The
// secret signs every delivery of this server (Options.WebhookSecret) and
// cannot be changed here.
func (s *Server) updateHookConfig(c *call) (int, any) {
	var req struct {
		URL         *string `json:"url"`
		ContentType *string `json:"content_type"`
		Secret      *string `json:"secret"`
		InsecureSSL any     `json:"insecure_ssl"`
	}
	if err := c.decode(&req); err != nil {
		return badJSON()
	}
	if req.Secret != nil {
		return invalid("githubapi: the webhook secret is fixed by Options.WebhookSecret")
	}
	next := s.webhookConfigLocked()
	if req.URL != nil {
		u, err := url.Parse(*req.URL)
		if *req.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return invalid("", fieldError{Resource: "Hook", Field: "url", Code: "custom", Message: "url is not supported because it isn't reachable over the public Internet"})
		}
		next.URL = *req.URL
	}
	if req.ContentType != nil {
		if *req.ContentType != "json" && *req.ContentType != "form" {
			return invalid("", fieldError{Resource: "Hook", Field: "content_type", Code: "invalid"})
		}
		next.ContentType = *req.ContentType
	}
	switch v := req.InsecureSSL.(type) {
	case nil:
	case string:
		if v != "0" && v != "1" {
			return invalid("", fieldError{Resource: "Hook", Field: "insecure_ssl", Code: "invalid"})
		}
		next.InsecureSSL = v
	case float64:
		if v != 0 && v != 1 {
			return invalid("", fieldError{Resource: "Hook", Field: "insecure_ssl", Code: "invalid"})
		}
		next.InsecureSSL = map[float64]string{0: "0", 1: "1"}[v]
	default:
		return invalid("", fieldError{Resource: "Hook", Field: "insecure_ssl", Code: "invalid"})
	}
	s.hookConfig = hookConfig{contentType: next.ContentType, insecureSSL: next.InsecureSSL}
	s.hooks.mu.Lock()
	s.hooks.url = next.URL
	s.hooks.mu.Unlock()
	return http.StatusOK, s.hookConfigJSON()
}
