package auth_test

import (
	"regexp"
	"strings"
	"testing"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// Hashes made by the Argon2 reference implementation (libargon2's
// argon2id_hash_encoded) of refPassword with the salt "glossa-test-salt",
// so that our PHC encoding is checked against another implementation.
const (
	refPassword = "correct horse battery staple"
	// Current parameters.
	refCurrent = "$argon2id$v=19$m=19456,t=2,p=1$Z2xvc3NhLXRlc3Qtc2FsdA$NrPRjfslAs9yGffduQhxWcMzjOI63VFZO9Qn+4Ba3D8"
	// Other parameters (argon2-cffi's old defaults): valid, but to be rehashed.
	refOld = "$argon2id$v=19$m=65536,t=3,p=4$Z2xvc3NhLXRlc3Qtc2FsdA$rmz0sBAWayxsoiqnBPtCoEPSHxK9HssSbv7rRTgRnTY"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func MustHashPassword(tb testing.TB, pw string) string {
	tb.Helper()
	h, err := auth.HashPassword(pw)
	if err != nil {
		tb.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestHashPasswordFormat(t *testing.T) {
	h1 := MustHashPassword(t, refPassword)
	h2 := MustHashPassword(t, refPassword)
	for _, h := range []string{h1, h2} {
		if !phcPattern.MatchString(h) {
			t.Errorf("HashPassword = %q, want PHC string matching %s", h, phcPattern)
		}
	}
	if h1 == h2 {
		t.Errorf("two hashes of the same password are equal (%q): the salt is not random", h1)
	}
}

func TestHashPasswordTooLong(t *testing.T) {
	_, err := auth.HashPassword(strings.Repeat("a", auth.MaxPasswordBytes+1))
	if glossa.ErrorCode(err) != glossa.EINVALID {
		t.Errorf("HashPassword(1025 bytes) error = %v, want EINVALID", err)
	}
	if _, err := auth.HashPassword(strings.Repeat("a", auth.MaxPasswordBytes)); err != nil {
		t.Errorf("HashPassword(1024 bytes) error = %v, want nil", err)
	}
}

func TestCheckPassword(t *testing.T) {
	fresh := MustHashPassword(t, refPassword)
	tests := []struct {
		name       string
		hash, pw   string
		ok, rehash bool
		wantErr    bool
	}{
		{"fresh hash, right password", fresh, refPassword, true, false, false},
		{"fresh hash, wrong password", fresh, "correct horse battery stapl", false, false, false},
		{"fresh hash, empty password", fresh, "", false, false, false},
		{"fresh hash, case differs", fresh, strings.ToUpper(refPassword), false, false, false},
		{"reference hash, right password", refCurrent, refPassword, true, false, false},
		{"reference hash, wrong password", refCurrent, "wrong", false, false, false},
		{"old parameters, right password", refOld, refPassword, true, true, false},
		{"old parameters, wrong password", refOld, "wrong", false, false, false},

		// Well-formed but tampered: no match.
		{"hash byte changed", strings.Replace(refCurrent, "NrPR", "NrPS", 1), refPassword, false, false, false},
		{"salt changed", strings.Replace(refCurrent, "Z2xvc3Nh", "Z2xvc3Ni", 1), refPassword, false, false, false},
		{"memory changed", strings.Replace(refCurrent, "m=19456", "m=19457", 1), refPassword, false, false, false},
		{"time changed", strings.Replace(refCurrent, "t=2", "t=1", 1), refPassword, false, false, false},
		{"parallelism changed", strings.Replace(refCurrent, "p=1", "p=2", 1), refPassword, false, false, false},

		// Malformed: no match, and an error for the logs.
		{"empty hash (SSO only)", "", refPassword, false, false, true},
		{"argon2i", strings.Replace(refCurrent, "argon2id", "argon2i", 1), refPassword, false, false, true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", refPassword, false, false, true},
		{"version 16", strings.Replace(refCurrent, "v=19", "v=16", 1), refPassword, false, false, true},
		{"no version", strings.Replace(refCurrent, "$v=19", "", 1), refPassword, false, false, true},
		{"parameters reordered", strings.Replace(refCurrent, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1), refPassword, false, false, true},
		{"leading zero", strings.Replace(refCurrent, "m=19456", "m=019456", 1), refPassword, false, false, true},
		{"memory too large", strings.Replace(refCurrent, "m=19456", "m=4194304", 1), refPassword, false, false, true},
		{"time zero", strings.Replace(refCurrent, "t=2", "t=0", 1), refPassword, false, false, true},
		{"time too large", strings.Replace(refCurrent, "t=2", "t=1000", 1), refPassword, false, false, true},
		{"parallelism zero", strings.Replace(refCurrent, "p=1", "p=0", 1), refPassword, false, false, true},
		{"padded base64", refCurrent + "=", refPassword, false, false, true},
		{"hash not base64", strings.Replace(refCurrent, "NrPR", "Nr!R", 1), refPassword, false, false, true},
		{"hash truncated", refCurrent[:len(refCurrent)-30], refPassword, false, false, true},
		{"extra field", refCurrent + "$x", refPassword, false, false, true},
		{"plain text", refPassword, refPassword, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := auth.CheckPassword(tt.hash, tt.pw)
			if ok != tt.ok || rehash != tt.rehash {
				t.Errorf("CheckPassword = ok %v, needsRehash %v; want %v, %v", ok, rehash, tt.ok, tt.rehash)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("CheckPassword error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

// The dummy hash must cost what a real check costs: same algorithm and
// parameters, same salt and key lengths as HashPassword makes today.
func TestDummyHashUsesCurrentParameters(t *testing.T) {
	fresh := MustHashPassword(t, "whatever-password")
	shape := func(h string) string {
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("not a PHC string: %q", h)
		}
		return strings.Join(parts[:4], "$") + "$" + strings.Repeat("s", len(parts[4])) + "$" + strings.Repeat("h", len(parts[5]))
	}
	if got, want := shape(auth.DummyHash), shape(fresh); got != want {
		t.Errorf("dummy hash shape = %q, want %q (regenerate dummyHash after changing parameters)", got, want)
	}
	if ok, _, err := auth.CheckPassword(auth.DummyHash, "whatever-password"); ok || err != nil {
		t.Errorf("CheckPassword(DummyHash) = %v, %v; want false, nil", ok, err)
	}
	auth.DummyCheckPassword("whatever-password") // must not panic
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantMsg string // "" for valid
	}{
		{"8 ASCII characters", "abcdefgh", ""},
		{"7 ASCII characters", "abcdefg", "This password is too short: use at least 8 characters."},
		{"empty", "", "This password is too short: use at least 8 characters."},
		{"7 runes in 14 bytes", "ééééééé", "This password is too short: use at least 8 characters."},
		{"8 runes in 16 bytes", "éééééééé", ""},
		{"1024 bytes", strings.Repeat("x", 1024), ""},
		{"1025 bytes", strings.Repeat("x", 1025), "This password is too long: use at most 1024 bytes (about 1024 plain letters or digits)."},
		{"8 spaces", "        ", "A password cannot be only spaces: use letters, digits or symbols too."},
		{"mixed whitespace", " \t\n\u00a0  \u2003 ", "A password cannot be only spaces: use letters, digits or symbols too."},
		{"inner space", "pass word", ""},
		{"leading and trailing spaces", "  secret  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.ValidatePassword(tt.pw)
			if tt.wantMsg == "" {
				if err != nil {
					t.Errorf("ValidatePassword = %v, want nil", err)
				}
				return
			}
			if glossa.ErrorCode(err) != glossa.EINVALID || glossa.ErrorMessage(err) != tt.wantMsg {
				t.Errorf("ValidatePassword = %v, want EINVALID %q", err, tt.wantMsg)
			}
		})
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		MustHashPassword(b, refPassword)
	}
}
