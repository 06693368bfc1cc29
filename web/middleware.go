package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// Middleware is the shape of every middleware here.
type Middleware func(http.Handler) http.Handler

func chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush on the real writer, which
// streamed exports need.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withRequestID gives every request an ID, echoes it in X-Request-ID and
// puts it in the context, where the log handler picks it up. An incoming ID
// is kept only if it looks like one of ours, so logs cannot be forged.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			b := make([]byte, 12)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(glossa.NewContextWithRequestID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// httpMetrics are the Prometheus series of the HTTP layer.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glossa_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "glossa_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe logs each request, counts it and recovers from panics so that
// one bad request never takes the process down.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, glossa.Errorf(glossa.EINTERNAL, "panic"))
				}
			}
			elapsed := s.Now().Sub(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			// The query string is left out: it can carry one-time secrets
			// such as the setup token.
			s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", elapsed), slog.String("route", route))
		}()
		next.ServeHTTP(rec, r)
	})
}

// securityHeaders sets the headers every response carries. Pages get a
// strict Content-Security-Policy: scripts and styles only from our own
// embedded assets, never inline.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", contentSecurityPolicy(nil))
		if s.secure(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is the policy of every page; mediaOrigins adds the
// buckets a page's presigned images, audio and video come from.
func contentSecurityPolicy(mediaOrigins []string) string {
	media := strings.Join(append([]string{"'self'", "data:"}, mediaOrigins...), " ")
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + media + "; media-src " + media +
		"; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// crossOrigin refuses unsafe cross-site browser requests (Go's
// Sec-Fetch-Site/Origin check), a second fence behind the CSRF token.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, glossa.Errorf(glossa.EFORBIDDEN, "Cross-site request refused."))
	}))
	// The IdP posts sign-in responses and logout messages from its own
	// site: those endpoints authenticate the message itself (signature,
	// InResponseTo bound to this browser, one-time use), not the origin.
	cop.AddInsecureBypassPattern("POST /saml/{org}/acs")
	cop.AddInsecureBypassPattern("POST /saml/{org}/slo")
	return cop.Handler(next)
}

// authenticate resolves the caller from an API token or a session cookie
// and puts the principal in the context. A request with a bad token fails
// here with 401; a bad or expired session is treated as signed out. A
// session-authenticated unsafe request must carry the session's CSRF token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if header := r.Header.Get("Authorization"); header != "" {
			p, err := s.principalFromToken(ctx, header)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(glossa.NewContextWithPrincipal(ctx, p)))
			return
		}
		id := auth.SessionIDFromRequest(r, s.secure(r))
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		p, sess, err := s.principalFromSession(ctx, id)
		if err != nil {
			if glossa.ErrorCode(err) == glossa.EINTERNAL {
				s.writeError(w, r, err)
				return
			}
			http.SetCookie(w, auth.ClearSessionCookie(s.secure(r)))
			next.ServeHTTP(w, r)
			return
		}
		if isFormBody(r) {
			// CheckCSRF parses form bodies to find the token: bound them
			// first, and remove any temporary files the parse made once the
			// request is done (net/http only cleans up its own copy).
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			defer func() {
				if r.MultipartForm != nil {
					r.MultipartForm.RemoveAll()
				}
			}()
		}
		if err := auth.CheckCSRF(r, sess.CSRFToken); err != nil {
			if isSignInPath(r.URL.Path) {
				// Signing in again while a session exists is not an act of
				// that session: go on as anonymous (a successful sign-in
				// replaces the session). Cross-site posts were already
				// refused by crossOrigin.
				next.ServeHTTP(w, r)
				return
			}
			s.writeError(w, r, err)
			return
		}
		ctx = context.WithValue(ctx, sessionKey{}, sess)
		next.ServeHTTP(w, r.WithContext(glossa.NewContextWithPrincipal(ctx, p)))
	})
}

// isSignInPath reports whether a path signs a person in (password forms,
// the SAML ACS and logout endpoints): those requests do not act on behalf
// of a session the browser may already have.
func isSignInPath(path string) bool {
	switch path {
	case "/api/auth/login", "/user/login":
		return true
	}
	if rest, ok := strings.CutPrefix(path, "/saml/"); ok {
		_, endpoint, _ := strings.Cut(rest, "/")
		return endpoint == "acs" || endpoint == "slo"
	}
	return false
}

// maxFormBytes bounds a browser form body (the largest is an uploaded IdP
// metadata file of at most 1 MiB).
const maxFormBytes = 4 << 20

// isFormBody reports whether an unsafe request carries a browser form.
func isFormBody(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "multipart/form-data") || strings.HasPrefix(ct, "application/x-www-form-urlencoded")
}

type sessionKey struct{}

// sessionFromContext returns the request's browser session, or nil.
func sessionFromContext(ctx context.Context) *glossa.Session {
	s, _ := ctx.Value(sessionKey{}).(*glossa.Session)
	return s
}

// principalFromToken checks an "Authorization: Token <t>" or "Bearer <t>"
// header. Security-sensitive: unknown, expired and revoked tokens and
// deactivated members all get the same 401.
func (s *Server) principalFromToken(ctx context.Context, header string) (*glossa.Principal, error) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || token == "" || !(strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) {
		return nil, glossa.Errorf(glossa.EUNAUTHORIZED, "Send the API token as \"Authorization: Token <token>\" or \"Authorization: Bearer <token>\".")
	}
	refused := glossa.Errorf(glossa.EUNAUTHORIZED, "The API token is not valid: it is unknown, expired or revoked. Create a new one on the Tokens page.")
	t, err := s.Tokens.FindTokenByHash(ctx, auth.HashSecret(token))
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return nil, refused
	} else if err != nil {
		return nil, err
	}
	now := s.Now()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return nil, refused
	}
	org, err := s.Orgs.FindOrganizationByID(ctx, t.OrgID)
	var p *glossa.Principal
	if err == nil {
		p, err = s.loadPrincipal(ctx, org, t.UserID)
	}
	if err != nil {
		if glossa.ErrorCode(err) == glossa.ENOTFOUND || glossa.ErrorCode(err) == glossa.EUNAUTHORIZED {
			return nil, refused
		}
		return nil, err
	}
	p.Method = "token"
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := s.Tokens.TouchToken(ctx, t.ID, now); err != nil {
			s.Logger.WarnContext(ctx, "recording token use failed", "err", err)
		}
	}
	return p, nil
}

// principalFromSession checks a session ID from the cookie against the
// store, the absolute and idle timeouts (per organization) and the member's
// current role.
func (s *Server) principalFromSession(ctx context.Context, id string) (*glossa.Principal, *glossa.Session, error) {
	hash := auth.HashSecret(id)
	sess, err := s.Sessions.FindSession(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	org, err := s.Orgs.FindOrganizationByID(ctx, sess.OrgID)
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	if err := auth.SessionValid(sess, org.SessionIdleTimeout, now); err != nil || !now.Before(sess.CreatedAt.Add(org.SessionMaxAge)) {
		_ = s.Sessions.DeleteSession(ctx, hash)
		return nil, nil, glossa.Errorf(glossa.EUNAUTHORIZED, "Your session has expired. Sign in again.")
	}
	p, err := s.loadPrincipal(ctx, org, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	p.Method = "session"
	p.SessionMethod = sess.Method
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.Sessions.TouchSession(ctx, hash, now); err != nil {
			s.Logger.WarnContext(ctx, "recording session activity failed", "err", err)
		}
	}
	return p, sess, nil
}

// loadPrincipal loads a member of org with their role and access.
// Deactivated members are refused here, so neither sessions nor tokens work
// for them.
func (s *Server) loadPrincipal(ctx context.Context, org *glossa.Organization, userID int64) (*glossa.Principal, error) {
	m, err := s.Members.FindMemberByID(ctx, org.ID, userID)
	if err != nil {
		return nil, err
	}
	if !m.Role.Active() {
		return nil, glossa.Errorf(glossa.EUNAUTHORIZED, "This account is deactivated. Ask an administrator of your organization to reactivate it.")
	}
	access, err := s.Members.FindAccess(ctx, org.ID, userID)
	if err != nil {
		return nil, err
	}
	return &glossa.Principal{
		OrgID: org.ID, OrgSlug: org.Slug, UserID: userID, Email: m.Email, Role: m.Role, Access: access,
	}, nil
}

// apiHandler is the signature of JSON API handlers: they return an error
// rather than writing one.
type apiHandler func(w http.ResponseWriter, r *http.Request, p *glossa.Principal) error

// api adapts an apiHandler: it requires a signed-in principal and writes
// any returned error in the JSON error shape.
func (s *Server) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := glossa.PrincipalFromContext(r.Context())
		if p == nil {
			s.writeError(w, r, glossa.Errorf(glossa.EUNAUTHORIZED, "Sign in first: send an API token in the Authorization header, or sign in at /user/login."))
			return
		}
		if err := h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// public adapts a handler that needs no principal.
func (s *Server) public(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// LogHandler wraps a slog.Handler so that every record logged with a
// request's context carries that request's ID.
type LogHandler struct{ slog.Handler }

// Handle adds request_id from the context.
func (h LogHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := glossa.RequestIDFromContext(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

// WithAttrs keeps the wrapper around derived handlers.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around derived handlers.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }
