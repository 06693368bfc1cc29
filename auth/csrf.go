package auth

import (
	"crypto/subtle"
	"mime"
	"net/http"

	glossa "github.com/glossa-dev/glossa"
)

// Where CheckCSRF looks for the token.
const (
	// CSRFHeader is the request header scripts send the token in.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField is the hidden form field server-rendered forms send it in.
	CSRFField = "csrf_token"
)

// CheckCSRF checks an unsafe request (anything but GET, HEAD, OPTIONS and
// TRACE) of a session-authenticated browser for the session's synchronizer
// token, in the X-CSRF-Token header or else the csrf_token form field,
// compared in constant time. Safe methods pass, since they change nothing.
// An empty sessionToken fails every unsafe request. The error is a glossa
// EFORBIDDEN error.
//
// Only URL-encoded and multipart form bodies are read for the field. For a
// multipart body that means parsing the whole form (up to 32 MB in memory,
// the rest in temporary files) before the handler runs; clients that stream
// uploads send the header instead, which leaves the body untouched. The web
// layer should cap request bodies before this check, and adds origin checks
// (http.CrossOriginProtection) on top: this token is the second line.
//
// API requests authenticated by token need no CSRF check: browsers never
// attach an Authorization header on their own.
//
// Security-sensitive: this is the CSRF defence for cookie sessions.
func CheckCSRF(r *http.Request, sessionToken string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
			got = r.PostFormValue(CSRFField)
		}
	}
	if sessionToken == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sessionToken)) != 1 {
		return glossa.Errorf(glossa.EFORBIDDEN, "This form has expired or did not come from Glossa. Reload the page and try again.")
	}
	return nil
}
