package auth

import (
	"net/http"
	"time"

	glossa "github.com/glossa-dev/glossa"
)

// Session cookie names.
const (
	// CookieName is the session cookie's name over plain HTTP (development).
	CookieName = "glossa_session"
	// SecureCookieName is the session cookie's name over HTTPS. Browsers
	// accept a __Host- cookie only with Secure, Path=/ and no Domain, so no
	// subdomain and no plain-HTTP page can set or overwrite it (cookie
	// tossing).
	SecureCookieName = "__Host-glossa_session"
)

// maxSessionIDLen bounds a cookie value worth looking up; a real session ID
// is 43 characters.
const maxSessionIDLen = 128

func cookieName(secure bool) string {
	if secure {
		return SecureCookieName
	}
	return CookieName
}

// SessionCookie returns the session cookie carrying value. secure is true
// when the base URL is HTTPS or the request came over TLS; it selects the
// __Host- name and the Secure attribute. The cookie is HttpOnly (scripts
// never see it), SameSite=Lax (not sent on cross-site POSTs), Path=/ and has
// no Domain (this host only). maxAge > 0 makes it persist that long (rounded
// down to seconds, at least one); otherwise it lasts until the browser closes.
//
// Security-sensitive: these attributes are the session's protection in the
// browser.
func SessionCookie(value string, secure bool, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     cookieName(secure),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		c.MaxAge = max(1, int(maxAge/time.Second))
	}
	return c
}

// ClearSessionCookie returns a cookie that makes the browser delete the
// session cookie (Max-Age=0), with the same name and attributes it was set
// with, which browsers require to match.
func ClearSessionCookie(secure bool) *http.Cookie {
	c := SessionCookie("", secure, 0)
	c.MaxAge = -1
	return c
}

// SessionIDFromRequest returns the session ID from the request's cookie, or
// "" if there is none. When secure, only the __Host- cookie counts: a plain
// "glossa_session" cookie could have been planted over HTTP or by a sibling
// domain.
func SessionIDFromRequest(r *http.Request, secure bool) string {
	c, err := r.Cookie(cookieName(secure))
	if err != nil || len(c.Value) > maxSessionIDLen {
		return ""
	}
	return c.Value
}

// SessionValid checks a session's lifetime at now: it has expired at its
// absolute end (ExpiresAt) and after idle without activity (LastSeenAt +
// idle), both boundaries included. idle <= 0 means the organization has no
// setting, and Label Studio's default applies: a session never lives
// without an idle limit. A nil session or one without ExpiresAt is invalid.
// The error is a glossa EUNAUTHORIZED error.
//
// Security-sensitive: this is what ends sessions.
func SessionValid(s *glossa.Session, idle time.Duration, now time.Time) error {
	expired := glossa.Errorf(glossa.EUNAUTHORIZED, "Your session has expired. Sign in again.")
	if s == nil || s.ExpiresAt.IsZero() || !now.Before(s.ExpiresAt) {
		return expired
	}
	if idle <= 0 {
		idle = glossa.DefaultSessionIdleTimeout
	}
	if !now.Before(s.LastSeenAt.Add(idle)) {
		return expired
	}
	return nil
}
