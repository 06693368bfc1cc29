package auth

import (
	"time"

	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"github.com/glossa-dev/glossa"
	"strings"
)

// tokenPrefix starts every API token, so that a leaked token is easy to
// recognize (by people and by secret scanners) as a Glossa token.
const tokenPrefix = "glo_"

// tokenDisplayLen is how many characters after "glo_" TokenPrefix shows:
// 48 bits, enough to tell a person's tokens apart, leaving 208 secret.
const tokenDisplayLen = 8

// randomString returns n bytes from crypto/rand, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewToken returns a new personal API token: "glo_" followed by 32 bytes
// (256 bits) from crypto/rand in unpadded base64url, 47 characters in all,
// for example "glo_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA". Show it once;
// store only HashSecret(token) and TokenPrefix(token).
//
// Security-sensitive: the token is a bearer credential.
func NewToken() string { return tokenPrefix + randomString(32) }

// NewSessionID returns a new session ID for the cookie: 32 bytes from
// crypto/rand, unpadded base64url. Store only HashSecret(id).
//
// Security-sensitive: the session ID is a bearer credential.
func NewSessionID() string { return randomString(32) }

// NewCSRFToken returns a new CSRF token for a session: 32 bytes from
// crypto/rand, unpadded base64url.
func NewCSRFToken() string { return randomString(32) }

// HashSecret returns the hex SHA-256 of a token or session ID, the form in
// which the store keeps and looks them up, so that a database dump opens
// nothing. A fast hash is right here, unlike for passwords: the secret has
// 256 random bits, so there is nothing to guess and a slow hash would only
// slow down every request.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix returns the first 8 characters after "glo_" of an API token,
// to show in a token list so a person can tell which token is which. It
// returns "" for a string that is not a Glossa token.
func TokenPrefix(token string) string {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(rest) < tokenDisplayLen {
		return ""
	}
	return rest[:tokenDisplayLen]
}

// NewAPIToken makes a personal API token for a member: the record to store,
// which holds only the hash and a display prefix, and the secret itself,
// to be shown once.
func NewAPIToken(orgID, userID int64, name string, expiresAt time.Time) (*glossa.APIToken, string) {
	secret := NewToken()
	return &glossa.APIToken{OrgID: orgID, UserID: userID, Name: name, Hash: HashSecret(secret),
		Prefix: TokenPrefix(secret), ExpiresAt: &expiresAt}, secret
}
