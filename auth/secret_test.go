package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/glossa-dev/glossa/auth"
)

// decode32 checks that s is unpadded base64url of exactly 32 bytes.
func decode32(t *testing.T, what, s string) {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Errorf("%s %q: want unpadded base64url of 32 bytes (decoded %d bytes, err %v)", what, s, len(b), err)
	}
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := auth.NewToken()
		if len(tok) != 47 {
			t.Errorf("NewToken() = %q, length %d, want 47", tok, len(tok))
		}
		rest, ok := strings.CutPrefix(tok, "glo_")
		if !ok {
			t.Fatalf("NewToken() = %q, want prefix glo_", tok)
		}
		decode32(t, "token", rest)
		if seen[tok] {
			t.Fatalf("NewToken() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestNewSessionIDAndCSRFToken(t *testing.T) {
	for name, f := range map[string]func() string{"NewSessionID": auth.NewSessionID, "NewCSRFToken": auth.NewCSRFToken} {
		seen := map[string]bool{}
		for range 100 {
			s := f()
			decode32(t, name, s)
			if seen[s] {
				t.Fatalf("%s() repeated %q", name, s)
			}
			seen[s] = true
		}
	}
}

func TestHashSecret(t *testing.T) {
	// FIPS 180-2 test vector.
	if got, want := auth.HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashSecret(abc) = %s, want %s", got, want)
	}
	tok := auth.NewToken()
	if auth.HashSecret(tok) != auth.HashSecret(tok) {
		t.Error("HashSecret is not deterministic")
	}
	if auth.HashSecret(tok) == auth.HashSecret(tok+"x") {
		t.Error("HashSecret ignores a change")
	}
}

func TestTokenPrefix(t *testing.T) {
	tests := []struct{ token, want string }{
		{"glo_AbCdEfGhIjKlMnOp", "AbCdEfGh"},
		{"glo_AbCdEfGh", "AbCdEfGh"},
		{"glo_AbCdEfG", ""},
		{"glo_", ""},
		{"AbCdEfGhIjKlMnOp", ""},
		{"ghp_AbCdEfGhIjKlMnOp", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := auth.TokenPrefix(tt.token); got != tt.want {
			t.Errorf("TokenPrefix(%q) = %q, want %q", tt.token, got, tt.want)
		}
	}
	tok := auth.NewToken()
	if got := auth.TokenPrefix(tok); got != tok[4:12] {
		t.Errorf("TokenPrefix(%q) = %q, want %q", tok, got, tok[4:12])
	}
}
