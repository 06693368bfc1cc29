// Package web is Glossa's HTTP face: the JSON API at Label Studio's paths,
// the server-rendered browser UI, and the middleware around both (request
// IDs, logs, metrics, authentication, CSRF and security headers).
//
// Every route is listed in routes.go. Handlers return *glossa.Error values;
// encode.go maps their codes to HTTP statuses in one place. Permission
// decisions come from the pure authz package and credential primitives from
// the auth package: both are policy without I/O, which is why web may use
// them directly while the store reaches web only through the glossa
// service interfaces.
package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// Pinger reports whether the database answers; /readyz uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds the HTTP server's dependencies and settings.
type Server struct {
	Orgs        glossa.OrganizationService
	Members     glossa.MemberService
	Workspaces  glossa.WorkspaceService
	Projects    glossa.ProjectService
	Tasks       glossa.TaskService
	Annotations glossa.AnnotationService
	Sessions    glossa.SessionService
	Tokens      glossa.TokenService
	Audit       glossa.AuditService
	SSO         glossa.SAMLService
	Storages    glossa.StorageService
	// Labeling stores drafts, task leases, reviews and answers the data
	// manager; nil answers that labeling work is not configured.
	Labeling glossa.LabelingService
	// TaskLease is how long "next task" holds a task for a person;
	// DefaultTaskLease if 0.
	TaskLease time.Duration
	// Storage reaches buckets (validate, visibility, media) and wakes the
	// background worker; nil answers that cloud storage is not configured.
	Storage  StorageAccess
	Throttle *auth.Throttle
	// SAML builds organizations' SAML service providers; nil disables SSO
	// sign-in. AfterSSO, if set, runs after each accepted SAML sign-in.
	SAML     SAMLProviders
	AfterSSO SSOHook
	// Metadata fetches IdP metadata URLs; nil refuses metadata_url.
	Metadata MetadataFetcher
	DB       Pinger

	Logger  *slog.Logger
	Metrics *prometheus.Registry
	Now     func() time.Time

	// BaseURL is the public URL of this server. An https base URL makes
	// cookies Secure and __Host- prefixed.
	BaseURL *url.URL
	// TrustProxy takes the client address from X-Forwarded-For (set it only
	// behind a proxy that overwrites that header).
	TrustProxy bool

	// MaxBodyBytes limits ordinary JSON bodies; MaxImportBytes limits a
	// task import (Label Studio allows 200 MB).
	MaxBodyBytes   int64
	MaxImportBytes int64

	// SetupToken, when set and no organization exists yet, lets the first
	// visitor with the link create the first organization and its Owner.
	setupMu    sync.Mutex
	setupToken string

	metrics *httpMetrics
	handler http.Handler
}

// Defaults for the limits.
const (
	DefaultMaxBodyBytes   = 1 << 20   // 1 MiB
	DefaultMaxImportBytes = 256 << 20 // 256 MiB, above Label Studio's 200 MB
)

// Handler returns the server's root handler, building it on first use.
func (s *Server) Handler() http.Handler {
	if s.handler == nil {
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.MaxBodyBytes == 0 {
			s.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if s.MaxImportBytes == 0 {
			s.MaxImportBytes = DefaultMaxImportBytes
		}
		if s.BaseURL == nil {
			s.BaseURL = &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}
		}
		if s.Storage == nil {
			s.Storage = noStorage{}
		}
		if s.Labeling == nil {
			s.Labeling = noLabeling{}
		}
		if s.TaskLease == 0 {
			s.TaskLease = DefaultTaskLease
		}
		if s.Metrics == nil {
			s.Metrics = prometheus.NewRegistry()
		}
		s.metrics = newHTTPMetrics(s.Metrics)
		s.handler = s.routes()
	}
	return s.handler
}

// noStorage is the StorageAccess of a server without cloud storage.
type noStorage struct{}

var errNoStorage = glossa.Errorf(glossa.EUNAVAILABLE, "Cloud storage is not configured on this server.")

func (noStorage) SealSecret(*glossa.Storage, string, string) error          { return errNoStorage }
func (noStorage) CheckAccess(context.Context, *glossa.Storage, int64) error { return errNoStorage }
func (noStorage) Validate(context.Context, *glossa.Storage, int64) error    { return errNoStorage }
func (noStorage) ReadableFolders(context.Context, *glossa.Storage, int64, []string) ([]string, error) {
	return nil, errNoStorage
}
func (noStorage) MediaURL(context.Context, *glossa.Storage, int64, string) (string, error) {
	return "", errNoStorage
}
func (noStorage) OpenMedia(context.Context, *glossa.Storage, int64, string, string) (*Media, error) {
	return nil, errNoStorage
}
func (noStorage) Kick() {}

// SetSetupToken arms first-run setup with a one-time token.
func (s *Server) SetSetupToken(token string) {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	s.setupToken = token
}

// takeSetupToken checks the one-time setup token and disarms it on match.
func (s *Server) takeSetupToken(token string) bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupToken == "" || subtle.ConstantTimeCompare([]byte(s.setupToken), []byte(token)) != 1 {
		return false
	}
	s.setupToken = ""
	return true
}

// peekSetupToken checks the one-time setup token without disarming it.
func (s *Server) peekSetupToken(token string) bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.setupToken != "" && subtle.ConstantTimeCompare([]byte(s.setupToken), []byte(token)) == 1
}

// secure reports whether cookies must be Secure and __Host- prefixed.
func (s *Server) secure(r *http.Request) bool {
	return s.BaseURL.Scheme == "https" || r.TLS != nil
}

// clientAddr is the address failed sign-ins are counted against.
func (s *Server) clientAddr(r *http.Request) string {
	if s.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ListenAndServe serves on addr until ctx ends, then shuts down gracefully,
// letting in-flight requests finish within the grace period.
func (s *Server) ListenAndServe(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Logger.Info("shutting down: waiting for in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
