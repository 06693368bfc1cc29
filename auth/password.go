// Package auth owns Glossa's credential primitives: password hashing and
// policy, random secrets (API tokens, session IDs, CSRF tokens) and their
// hashes, the session cookie and session lifetime, the CSRF check, and the
// throttling of failed sign-ins.
//
// It decides nothing about who may do what (that is package authz) and
// stores nothing itself: sessions, tokens and failure counts live in the
// store, reached through the small interfaces declared here.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	glossa "github.com/glossa-dev/glossa"
	"golang.org/x/crypto/argon2"
)

// Password policy bounds.
const (
	// MinPasswordLength is the shortest password ValidatePassword accepts,
	// in characters (runes), not bytes: Label Studio's rule.
	MinPasswordLength = 8
	// MaxPasswordBytes is the longest password accepted, in bytes, so that
	// a hostile client cannot make us hash megabytes.
	MaxPasswordBytes = 1024
)

// Argon2id parameters: OWASP Password Storage Cheat Sheet's first
// recommended configuration (19 MiB of memory, 2 iterations, 1 lane), about
// 20-40 ms per hash on a server core. Changing them makes CheckPassword report
// needsRehash for older hashes, so they are upgraded at the next sign-in.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on parameters read back from a stored hash, so that a tampered or
// foreign hash cannot make one sign-in allocate gigabytes or spin for minutes.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// ValidatePassword checks a new password against the policy: at least 8
// characters, at most 1024 bytes, not only whitespace. It says what to do in
// a glossa EINVALID error. Call it wherever a person chooses a password; it
// is not applied to sign-in, which must accept whatever was once allowed.
func ValidatePassword(pw string) error {
	switch {
	case len(pw) > MaxPasswordBytes:
		return glossa.Errorf(glossa.EINVALID, "This password is too long: use at most %d bytes (about %d plain letters or digits).", MaxPasswordBytes, MaxPasswordBytes)
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return glossa.Errorf(glossa.EINVALID, "This password is too short: use at least %d characters.", MinPasswordLength)
	case strings.TrimSpace(pw) == "":
		return glossa.Errorf(glossa.EINVALID, "A password cannot be only spaces: use letters, digits or symbols too.")
	}
	return nil
}

// HashPassword returns an Argon2id hash of pw in PHC string form,
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (salt and hash in unpadded
// standard base64, as the PHC format specifies), with a fresh random salt.
// It does not apply the password policy (call ValidatePassword for that) but
// refuses a password over MaxPasswordBytes with EINVALID.
//
// Security-sensitive: this is how passwords are stored.
func HashPassword(pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", glossa.Errorf(glossa.EINVALID, "This password is too long: use at most %d bytes.", MaxPasswordBytes)
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails (crypto/rand since Go 1.24)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return encodePHC(phc{memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt, key: key}), nil
}

// CheckPassword reports whether pw matches hash, comparing in constant
// time, and whether the hash should be replaced (by HashPassword(pw), right
// after a successful sign-in) because it was made with other parameters.
//
// A malformed or empty hash (an SSO-only account) is simply no match; err
// then says why, for the logs only. Such a check still costs one full
// Argon2id computation, so it cannot be told apart by timing.
//
// Security-sensitive: this is how passwords are verified.
func CheckPassword(hash, pw string) (ok, needsRehash bool, err error) {
	h, err := parsePHC(hash)
	if err != nil {
		DummyCheckPassword(pw)
		return false, false, err
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return false, false, nil
	}
	needsRehash = h.memory != argonMemory || h.time != argonTime || h.threads != argonThreads ||
		len(h.salt) < argonSaltLen || len(h.key) != argonKeyLen
	return true, needsRehash, nil
}

// dummyHash is an Argon2id hash with the current parameters of a random
// password that was thrown away; the tests check that its parameters are
// the current ones, so it always costs what a real check costs.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$Jn22nloVhr9ItnWFO7gG5g$ffV0b6pxVirL/OOpx1SYsv3ktQPIYvefbs3bV5TUFls"

// DummyCheckPassword spends the time of one CheckPassword and always fails.
// Call it when sign-in finds no account for an email, so that answering
// "wrong email or password" takes as long as for a real account and the
// timing does not reveal which emails have accounts.
//
// Security-sensitive: removing it enables user enumeration by timing.
func DummyCheckPassword(pw string) {
	h, err := parsePHC(dummyHash)
	if err != nil {
		panic("auth: dummyHash is malformed: " + err.Error())
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	subtle.ConstantTimeCompare(key, h.key)
}

// phc is a decoded Argon2id PHC string.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var b64 = base64.RawStdEncoding

func encodePHC(h phc) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.time, h.threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

var errNoPassword = errors.New("auth: account has no password (SSO only)")

// parsePHC decodes $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly: only
// Argon2id, only version 19, parameters in that order and within bounds.
func parsePHC(s string) (phc, error) {
	var h phc
	if s == "" {
		return h, errNoPassword
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return h, errors.New("auth: password hash is not a PHC string")
	}
	if parts[1] != "argon2id" {
		return h, fmt.Errorf("auth: password hash algorithm %q is not argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("auth: argon2id version %q is not supported", parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, fmt.Errorf("auth: argon2id parameters %q are malformed", parts[3])
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return h, fmt.Errorf("auth: argon2id parameters %q are malformed", parts[3])
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return h, fmt.Errorf("auth: argon2id parameter %s=%q is malformed", name, v)
		}
		vals[i] = n
	}
	if vals[2] < 1 || vals[2] > maxArgonThreads || vals[1] < 1 || vals[1] > maxArgonTime ||
		vals[0] < 8*vals[2] || vals[0] > maxArgonMemory {
		return h, fmt.Errorf("auth: argon2id parameters %q are out of bounds", parts[3])
	}
	h.memory, h.time, h.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	var err error
	if h.salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return h, errors.New("auth: argon2id salt is malformed")
	}
	if h.key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, errors.New("auth: argon2id hash is malformed")
	}
	return h, nil
}
