package ui

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// fragments are the parts of the status page that live updates replace,
// each the id of its element and the name of its template.
var fragments = []string{"matrix", "promotions", "feed", "dead"}

var pageTemplates = template.Must(template.ParseFS(templateFiles, "templates/layout.html", "templates/status.html"))

// Layout returns promobot's page layout with content, the text of a
// template set that defines "title" and "content" (and may define
// "script", "status" and "footer"): executing "layout" renders a whole
// page in the status page's look, its style sheet linked at
// static/style.css (see Static).
func Layout(content string) (*template.Template, error) {
	base, err := template.ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	return base.Parse(content)
}

// Static serves the pages' style sheet and script under /static/.
func Static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

// servePage renders the whole page: it works without JavaScript.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "layout", s.view(r.Context())); err != nil {
		s.log.Error("status page: render", "error", err)
		http.Error(w, "the status page did not render; see promobot's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
