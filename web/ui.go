package web

// The browser UI: server-rendered pages (html/template) and their static
// assets, both embedded in the binary so that there is no front-end build
// step. The routes are listed in routes.go with the API's.
//
// Pages go through the same middleware as the API. Their CSP allows
// scripts and styles only from /static/, so templates carry no inline
// script, style attribute or event handler. Forms post with the session's
// CSRF token in a hidden field; the one small script (static/app.js) reads
// it from <meta name="csrf-token"> and sends it as X-CSRF-Token.

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/authz"
)

//go:embed templates/*.html static/*
var uiFiles embed.FS

// uiAssets are the parsed page templates and the content hashes of the
// static files, which versioned asset URLs carry so that browsers may
// cache them for long and still see a new release at once.
type uiAssets struct {
	pages   map[string]*template.Template // page name ("login") -> layout + page
	version map[string]string             // static file name -> short content hash
	static  fs.FS
}

// loadUI parses the embedded templates once. The files are part of the
// binary, so an error here is a programming error; the tests render every
// page, which catches it before a release.
var loadUI = sync.OnceValues(func() (*uiAssets, error) {
	static, err := fs.Sub(uiFiles, "static")
	if err != nil {
		return nil, err
	}
	ui := &uiAssets{pages: map[string]*template.Template{}, version: map[string]string{}, static: static}
	names, err := fs.Glob(static, "*")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ui.version[name] = hex.EncodeToString(sum[:6])
	}
	funcs := template.FuncMap{
		"asset": func(name string) string {
			return "/static/" + name + "?v=" + ui.version[name]
		},
		"when":   formatTime,
		"whenp":  formatTimePtr,
		"roles":  assignableRoles,
		"itoa":   idString,
		"lower":  strings.ToLower,
		"plural": plural,
		"count":  formatCount,
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(uiFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(uiFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(uiFiles, file)
		}
		if err != nil {
			return nil, err
		}
		ui.pages[name] = t
	}
	return ui, nil
})

// pageData is what every page template receives: the layout's fields and
// the page's own Data.
type pageData struct {
	Title     string
	Principal *glossa.Principal
	OrgTitle  string
	CSRFToken string
	Nav       []navLink
	// Notice is a success message, Error a problem to fix; both are safe
	// sentences, never internal error text.
	Notice    string
	Error     string
	RequestID string
	Data      any
	// Refresh, when set, reloads the page after that many seconds (a page
	// that shows a running job's progress).
	Refresh int
	// Styles and Scripts are static files a page loads besides app.css
	// and app.js (the labeling page's); Wide lets it use the whole window.
	Styles, Scripts []string
	Wide            bool
}

// NotActivated tells the layout to explain why a signed-in person sees
// nothing.
func (pd *pageData) NotActivated() bool {
	return pd.Principal != nil && pd.Principal.Role == glossa.RoleNotActivated
}

type navLink struct {
	Href, Label string
	Current     bool
}

// notices are the success messages a redirect may ask for by key. Only
// these fixed sentences can appear, so a crafted link cannot put words in
// Glossa's mouth.
var notices = map[string]string{
	"signed-out":        "You are signed out. Sign in again to continue.",
	"setup-done":        "Your organization is ready. Create a workspace and a project to start labeling, and add members on the Members page.",
	"project-created":   "Project created. Import tasks below to start labeling.",
	"workspace-created": "Workspace created. Create projects in it on the Projects page.",
	"role-changed":      "Role saved. It applies from the member's next request.",
	"member-added":      "Member added. Give them their email and initial password so they can sign in.",
	"token-revoked":     "Token revoked. Scripts that use it now get 401 errors.",
	"sync-queued":       "Sync queued. Its progress shows below and updates by itself.",
	"storage-created":   "Storage added. Sync it to bring in its objects (a source), or save annotations to send them (a target).",
	"sync-canceled":     "Cancellation requested. The sync stops after its current batch.",
	"annotation-saved":  "Annotation saved.",
	"task-skipped":      "Task skipped.",
	"review-saved":      "Review saved. The annotator sees your verdict on this page.",
	"tasks-deleted":     "The selected tasks are deleted.",
	"config-saved":      "Labeling configuration saved. The labeling page uses it from now on.",
}

// newPage starts the data of a page for p, who may be nil (sign-in, setup
// and error pages). It loads the organization's name for the header; if
// that fails the header shows the slug, since a page must still render.
func (s *Server) newPage(r *http.Request, p *glossa.Principal, title string) *pageData {
	pd := &pageData{
		Title:     title,
		Principal: p,
		RequestID: glossa.RequestIDFromContext(r.Context()),
		Notice:    notices[r.URL.Query().Get("notice")],
	}
	if sess := sessionFromContext(r.Context()); sess != nil {
		pd.CSRFToken = sess.CSRFToken
	}
	if p != nil {
		pd.OrgTitle = p.OrgSlug
		if org, err := s.Orgs.FindOrganizationByID(r.Context(), p.OrgID); err == nil {
			pd.OrgTitle = org.Title
		} else {
			s.Logger.WarnContext(r.Context(), "loading the organization for the page header", "err", err)
		}
		pd.Nav = navFor(p, r.URL.Path)
	}
	return pd
}

// navFor lists the header links p may follow: a link to a page p cannot
// open would only lead to a 403.
func navFor(p *glossa.Principal, current string) []navLink {
	org := authz.Resource{OrgID: p.OrgID}
	links := []navLink{{Href: "/projects", Label: "Projects"}, {Href: "/workspaces", Label: "Workspaces"}}
	if authz.Can(p, authz.MembersView, org) == authz.Allow {
		links = append(links, navLink{Href: "/organization/members", Label: "Members"})
	}
	if authz.Can(p, authz.AuditView, org) == authz.Allow {
		links = append(links, navLink{Href: "/organization/audit", Label: "Activity log"})
	}
	if authz.Can(p, authz.SSOManage, org) == authz.Allow {
		links = append(links, navLink{Href: "/organization/sso", Label: "Single sign-on"})
	}
	if authz.Can(p, authz.TokenCreate, authz.Resource{OrgID: p.OrgID, OwnerID: p.UserID}) == authz.Allow {
		links = append(links, navLink{Href: "/tokens", Label: "API tokens"})
	}
	for i := range links {
		links[i].Current = current == links[i].Href || strings.HasPrefix(current, links[i].Href+"/")
	}
	return links
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page, then sends it. Pages carry
// CSRF tokens and private data: no cache may keep them.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, pd *pageData) {
	ui, err := loadUI()
	var buf bytes.Buffer
	if err == nil {
		t, ok := ui.pages[name]
		if !ok {
			err = glossa.Errorf(glossa.EINTERNAL, "no page template %q", name)
		} else {
			err = t.ExecuteTemplate(&buf, "layout", pd)
		}
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "rendering a page failed", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side. Request ID: "+glossa.RequestIDFromContext(r.Context()), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the status is sent; a write error means the client left
}

// errorPageData is the Data of the error page.
type errorPageData struct {
	Status  int
	Heading string
	Message string
}

// writeErrorPage is writeError for browser pages: the same status, log
// line and safe message, as a page with the request ID instead of JSON.
func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	code := glossa.ErrorCode(err)
	if code == glossa.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "request failed", "err", err)
	} else {
		s.Logger.DebugContext(r.Context(), "request refused", "code", code, "err", err)
	}
	status := errorStatus(code)
	heading := http.StatusText(status)
	switch code {
	case glossa.ENOTFOUND:
		heading = "Page not found"
	case glossa.EFORBIDDEN:
		heading = "Not allowed"
	case glossa.EINTERNAL:
		heading = "Something went wrong"
	}
	p := glossa.PrincipalFromContext(r.Context())
	pd := s.newPage(r, p, heading)
	pd.Notice = ""
	pd.Data = errorPageData{Status: status, Heading: heading, Message: glossa.ErrorMessage(err)}
	s.render(w, r, status, "error", pd)
}

// isAPIPath reports whether a path belongs to the JSON API or the
// operations endpoints, whose errors are JSON; every other path is a page
// (or would be one), whose errors are pages.
func isAPIPath(p string) bool {
	switch p {
	case "/api", "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(p, "/api/")
}

// pageHandler is the signature of page handlers: like API handlers they
// return errors, which become error pages.
type pageHandler func(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error

// page adapts a pageHandler: a visitor who is not signed in is sent to the
// sign-in page, which brings them back here afterwards.
func (s *Server) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := glossa.PrincipalFromContext(r.Context())
		if p == nil {
			s.redirectToLogin(w, r)
			return
		}
		if err := h(w, r, p); err != nil {
			switch glossa.ErrorCode(err) {
			case glossa.EUNAUTHORIZED:
				s.redirectToLogin(w, r)
				return
			case glossa.EREAUTH:
				// Fresh cloud credentials come with a new SAML response:
				// through the IdP (silent while its session lives) and back.
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, reauthPath(p.OrgSlug, r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
			}
			s.writeErrorPage(w, r, err)
		}
	})
}

// publicPage adapts a page handler that needs no principal.
func (s *Server) publicPage(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeErrorPage(w, r, err)
		}
	})
}

// redirectToLogin sends the browser to the sign-in page. After a GET it
// asks to come back; after a form post there is nothing to come back to.
func (s *Server) redirectToLogin(w http.ResponseWriter, r *http.Request) {
	target := "/user/login"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns next if it is a path on this server, and "" otherwise.
// Browsers read "//host" and "/\host" as other hosts, and drop tabs and
// newlines before parsing ("/\t/host"), so those are refused too.
//
// Security-sensitive: this is what keeps the sign-in page from being an
// open redirect.
func localPath(next string) string {
	if len(next) == 0 || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

// afterSignIn is where a fresh session goes: next when it is a local path
// other than the sign-in pages themselves (which would loop), else the
// projects.
func afterSignIn(next string) string {
	next = localPath(next)
	if next == "" || next == "/" || strings.HasPrefix(next, "/user/") || strings.HasPrefix(next, "/setup") {
		return "/projects"
	}
	return next
}

// parseForm reads a URL-encoded form body within the server's body limit.
// The CSRF check may have parsed it already (for a signed-in browser); it
// did so within net/http's own 10 MB limit for forms.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm == nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	}
	if err := r.ParseForm(); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return glossa.Errorf(glossa.ETOOLARGE, "The form is larger than the limit of %d bytes.", maxErr.Limit)
		}
		return glossa.Errorf(glossa.EINVALID, "The form could not be read. Reload the page and try again.")
	}
	return nil
}

// handleUIStatic serves the embedded CSS and JavaScript. URLs made by the
// asset template function carry a content hash, so those may be cached
// for a year; a request without it gets a short lifetime.
func (s *Server) handleUIStatic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ui, err := loadUI()
		if err != nil {
			s.writeErrorPage(w, r, err)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		v, ok := ui.version[name]
		if !ok {
			s.writeErrorPage(w, r, glossa.NotFound("Page"))
			return
		}
		if r.URL.Query().Get("v") == v {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		http.ServeFileFS(w, r, ui.static, name)
	})
}

// handleUIHome sends visitors to their projects, or to sign in.
func (s *Server) handleUIHome(w http.ResponseWriter, r *http.Request) error {
	if glossa.PrincipalFromContext(r.Context()) == nil {
		http.Redirect(w, r, "/user/login", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/projects", http.StatusSeeOther)
	return nil
}

// handleUINotFound is the page for any path that no route knows.
func (s *Server) handleUINotFound(w http.ResponseWriter, r *http.Request) error {
	return glossa.Errorf(glossa.ENOTFOUND, "There is no page at this address. Check the link, or start again from your projects.")
}

// formatTime shows a time in UTC to the minute, the same for everyone.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return formatTime(*t)
}

// assignableRoles are the roles a role <select> offers: every role but
// Owner, which nobody can assign.
func assignableRoles() []glossa.Role {
	var out []glossa.Role
	for _, r := range glossa.Roles {
		if r != glossa.RoleOwner {
			out = append(out, r)
		}
	}
	return out
}

// plural says "1 member" or "3 members".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
