package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/internal/testpg"
	"github.com/glossa-dev/glossa/store"
	"github.com/glossa-dev/glossa/web"
)

// testPassword is every test account's password.
const testPassword = "correct horse battery staple"

// Clock is a test clock that tests move forward by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// TestServer is the whole server (real store, real handlers) on a
// loopback port.
type TestServer struct {
	*httptest.Server
	Web   *web.Server
	DB    *store.DB
	Clock *Clock
}

// engines lists the database engines every API test runs on.
var engines = []string{"sqlite", "postgres"}

// forEachEngine runs f as a subtest on a fresh server per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, ts *TestServer)) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { f(t, MustServer(t, engine)) })
	}
}

// MustServer starts a server on a fresh database of the given engine
// ("sqlite" or "postgres").
func MustServer(tb testing.TB, engine string) *TestServer {
	tb.Helper()
	dsn := "sqlite:" + filepath.Join(tb.TempDir(), "glossa.db")
	if engine == "postgres" {
		dsn = testpg.DSN(tb)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", engine, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	clock := &Clock{now: time.Now().UTC().Truncate(time.Second)}
	db.Now = clock.Now
	srv := &web.Server{
		Orgs: db, Members: db, Workspaces: db, Projects: db, Tasks: db, Annotations: db,
		Sessions: db, Tokens: db, Audit: db, SSO: db, Storages: db, Labeling: db, DB: db,
		Throttle: &auth.Throttle{Store: db, Now: clock.Now},
		Now:      clock.Now,
	}
	if os.Getenv("GLOSSA_TEST_LOG") != "" {
		// Server errors (500s) to stderr, to see why a test got one.
		srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ts := &TestServer{Web: srv, DB: db, Clock: clock}
	ts.Server = httptest.NewServer(srv.Handler())
	srv.BaseURL, _ = url.Parse(ts.URL)
	tb.Cleanup(ts.Close)
	return ts
}

// MustOrg creates an organization with an Owner whose email is
// owner@<slug>.example and whose password is testPassword.
func (ts *TestServer) MustOrg(tb testing.TB, slug string) (*glossa.Organization, *glossa.Member) {
	tb.Helper()
	org := &glossa.Organization{Title: strings.ToUpper(slug[:1]) + slug[1:] + " Labs", Slug: slug}
	owner := &glossa.User{Email: "owner@" + slug + ".example", PasswordHash: mustHash(tb)}
	if err := ts.DB.CreateOrganization(context.Background(), org, owner); err != nil {
		tb.Fatalf("create organization: %v", err)
	}
	org, err := ts.DB.FindOrganizationByID(context.Background(), org.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return org, &glossa.Member{User: *owner, Role: glossa.RoleOwner}
}

var (
	hashOnce sync.Once
	hash     string
)

// mustHash hashes testPassword once per test binary: Argon2id is slow on
// purpose.
func mustHash(tb testing.TB) string {
	hashOnce.Do(func() {
		var err error
		if hash, err = auth.HashPassword(testPassword); err != nil {
			tb.Fatal(err)
		}
	})
	return hash
}

// MustMember adds a member with a role and testPassword.
func (ts *TestServer) MustMember(tb testing.TB, orgID int64, email string, role glossa.Role) *glossa.Member {
	tb.Helper()
	u := &glossa.User{OrgID: orgID, Email: email, PasswordHash: mustHash(tb)}
	if err := ts.DB.CreateMember(context.Background(), u, role); err != nil {
		tb.Fatalf("create member: %v", err)
	}
	return &glossa.Member{User: *u, Role: role}
}

// MustToken creates an API token for m directly in the store.
func (ts *TestServer) MustToken(tb testing.TB, m *glossa.Member) string {
	tb.Helper()
	t, secret := auth.NewAPIToken(m.OrgID, m.ID, "test", ts.Clock.Now().Add(24*time.Hour))
	if err := ts.DB.CreateToken(context.Background(), t); err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return secret
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

// ErrorCode returns the code of a JSON error response.
func (r *Response) ErrorCode(tb testing.TB) string {
	tb.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.JSON(tb, &e)
	return e.Error.Code
}

// Client makes API calls as one caller: a token, or a browser-like
// cookie jar with the CSRF token from sign-in.
type Client struct {
	ts    *TestServer
	http  *http.Client
	token string
	csrf  string
}

// AsToken returns a client that authenticates with an API token. Like a
// browser client it does not follow redirects: tests look at them.
func (ts *TestServer) AsToken(token string) *Client {
	hc := *ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{ts: ts, http: &hc, token: token}
}

// As returns a client for a member, authenticated with a fresh token.
func (ts *TestServer) As(tb testing.TB, m *glossa.Member) *Client {
	return ts.AsToken(ts.MustToken(tb, m))
}

// Anonymous returns a client with a cookie jar and no credentials.
func (ts *TestServer) Anonymous() *Client {
	jar, _ := cookiejar.New(nil)
	hc := *ts.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{ts: ts, http: &hc}
}

// SignIn signs in with a password through the JSON API and keeps the
// session cookie and CSRF token.
func (ts *TestServer) SignIn(tb testing.TB, email, password string) *Client {
	tb.Helper()
	c := ts.Anonymous()
	resp := c.Do(tb, "POST", "/api/auth/login", map[string]string{"email": email, "password": password})
	if resp.Status != http.StatusOK {
		tb.Fatalf("sign-in as %s: %d %s", email, resp.Status, resp.Body)
	}
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	resp.JSON(tb, &body)
	c.csrf = body.CSRF
	return c
}

// Do sends a request with a JSON body (unless body is nil, a string sent
// as is, or []byte sent as is) and returns the response.
func (c *Client) Do(tb testing.TB, method, path string, body any) *Response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.ts.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must is Do that fails the test unless the status is want, and decodes
// a JSON answer into out (if not nil).
func (c *Client) Must(tb testing.TB, want int, method, path string, body, out any) *Response {
	tb.Helper()
	resp := c.Do(tb, method, path, body)
	if resp.Status != want {
		tb.Fatalf("%s %s = %d, want %d: %s", method, path, resp.Status, want, resp.Body)
	}
	if out != nil {
		resp.JSON(tb, out)
	}
	return resp
}
