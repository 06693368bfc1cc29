package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
		maxAge time.Duration
		want   string // the Set-Cookie header
	}{
		{"secure", true, time.Hour, "__Host-glossa_session=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"},
		{"plain", false, time.Hour, "glossa_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"},
		{"browser session", true, 0, "__Host-glossa_session=abc; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"sub-second rounds up to one", false, 500 * time.Millisecond, "glossa_session=abc; Path=/; Max-Age=1; HttpOnly; SameSite=Lax"},
		{"fraction rounds down", false, 90*time.Second + 900*time.Millisecond, "glossa_session=abc; Path=/; Max-Age=90; HttpOnly; SameSite=Lax"},
		{"14 days", true, 14 * 24 * time.Hour, "__Host-glossa_session=abc; Path=/; Max-Age=1209600; HttpOnly; Secure; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := auth.SessionCookie("abc", tt.secure, tt.maxAge)
			if got := c.String(); got != tt.want {
				t.Errorf("SessionCookie = %q, want %q", got, tt.want)
			}
			if c.Domain != "" {
				t.Errorf("Domain = %q, want none", c.Domain)
			}
		})
	}
}

func TestClearSessionCookie(t *testing.T) {
	for secure, want := range map[bool]string{
		true:  "__Host-glossa_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		false: "glossa_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
	} {
		if got := auth.ClearSessionCookie(secure).String(); got != want {
			t.Errorf("ClearSessionCookie(%v) = %q, want %q", secure, got, want)
		}
	}
}

func TestSessionIDFromRequest(t *testing.T) {
	id := auth.NewSessionID()
	tests := []struct {
		name    string
		cookies string
		secure  bool
		want    string
	}{
		{"secure cookie, secure", "__Host-glossa_session=" + id, true, id},
		{"plain cookie, plain", "glossa_session=" + id, false, id},
		{"plain cookie ignored when secure", "glossa_session=" + id, true, ""},
		{"secure cookie ignored when plain", "__Host-glossa_session=" + id, false, ""},
		{"among others", "a=1; __Host-glossa_session=" + id + "; b=2", true, id},
		{"none", "other=1", true, ""},
		{"no header", "", false, ""},
		{"too long", "glossa_session=" + strings.Repeat("x", 129), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.cookies != "" {
				r.Header.Set("Cookie", tt.cookies)
			}
			if got := auth.SessionIDFromRequest(r, tt.secure); got != tt.want {
				t.Errorf("SessionIDFromRequest = %q, want %q", got, tt.want)
			}
		})
	}
}

// What SessionCookie sets, a browser sends back, and SessionIDFromRequest reads.
func TestSessionCookieRoundTrip(t *testing.T) {
	for _, secure := range []bool{true, false} {
		id := auth.NewSessionID()
		w := httptest.NewRecorder()
		http.SetCookie(w, auth.SessionCookie(id, secure, time.Hour))
		r := httptest.NewRequest("GET", "/", nil)
		for _, c := range w.Result().Cookies() {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		if got := auth.SessionIDFromRequest(r, secure); got != id {
			t.Errorf("secure=%v: round trip gave %q, want %q", secure, got, id)
		}
	}
}

func TestSessionValid(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	sess := func(lastSeen, expires time.Time) *glossa.Session {
		return &glossa.Session{IDHash: "h", OrgID: 1, UserID: 2, CreatedAt: t0, LastSeenAt: lastSeen, ExpiresAt: expires}
	}
	day := 24 * time.Hour
	tests := []struct {
		name  string
		s     *glossa.Session
		idle  time.Duration
		now   time.Time
		valid bool
	}{
		{"fresh", sess(t0, t0.Add(14*day)), time.Hour, t0, true},
		{"just before absolute end", sess(t0.Add(14*day-time.Minute), t0.Add(14*day)), time.Hour, t0.Add(14*day - time.Nanosecond), true},
		{"at absolute end", sess(t0.Add(14*day-time.Minute), t0.Add(14*day)), time.Hour, t0.Add(14 * day), false},
		{"after absolute end", sess(t0.Add(14*day-time.Minute), t0.Add(14*day)), time.Hour, t0.Add(15 * day), false},
		{"just before idle end", sess(t0, t0.Add(14*day)), time.Hour, t0.Add(time.Hour - time.Nanosecond), true},
		{"at idle end", sess(t0, t0.Add(14*day)), time.Hour, t0.Add(time.Hour), false},
		{"after idle end", sess(t0, t0.Add(14*day)), time.Hour, t0.Add(2 * time.Hour), false},
		{"no idle setting: default 5 days, before", sess(t0, t0.Add(14*day)), 0, t0.Add(5*day - time.Second), true},
		{"no idle setting: default 5 days, at", sess(t0, t0.Add(14*day)), 0, t0.Add(5 * day), false},
		{"negative idle is the default", sess(t0, t0.Add(14*day)), -time.Hour, t0.Add(6 * day), false},
		{"no absolute end", sess(t0, time.Time{}), time.Hour, t0, false},
		{"nil", nil, time.Hour, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.SessionValid(tt.s, tt.idle, tt.now)
			if tt.valid {
				if err != nil {
					t.Errorf("SessionValid = %v, want nil", err)
				}
				return
			}
			if glossa.ErrorCode(err) != glossa.EUNAUTHORIZED || glossa.ErrorMessage(err) != "Your session has expired. Sign in again." {
				t.Errorf("SessionValid = %v, want EUNAUTHORIZED \"Your session has expired. Sign in again.\"", err)
			}
		})
	}
}
