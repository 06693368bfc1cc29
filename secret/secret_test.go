package secret_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glossa-dev/glossa/secret"
)

func MustNew(tb testing.TB, key []byte) *secret.Sealer {
	tb.Helper()
	s, err := secret.New(key)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func randomKey() []byte {
	k := make([]byte, secret.KeySize)
	rand.Read(k)
	return k
}

func MustSeal(tb testing.TB, s *secret.Sealer, pt, ad []byte) []byte {
	tb.Helper()
	sealed, err := s.Seal(pt, ad)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestRoundTrip(t *testing.T) {
	s := MustNew(t, randomKey())
	tests := []struct {
		name   string
		pt, ad []byte
	}{
		{"secret with AD", []byte("AKIAIOSFODNN7EXAMPLE/wJalrXUtnFEMI"), []byte("storage:42:secret_key")},
		{"empty plaintext", []byte{}, []byte("x")},
		{"nil AD", []byte("key"), nil},
		{"binary", bytes.Repeat([]byte{0, 255}, 4096), []byte("sp:1:private_key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := MustSeal(t, s, tt.pt, tt.ad)
			if len(sealed) != len(tt.pt)+secret.Overhead {
				t.Errorf("sealed length = %d, want %d", len(sealed), len(tt.pt)+secret.Overhead)
			}
			if sealed[0] != 1 {
				t.Errorf("version byte = %d, want 1", sealed[0])
			}
			if len(tt.pt) >= 8 && bytes.Contains(sealed, tt.pt[:8]) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := s.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.pt) {
				t.Errorf("Open = %q, want %q", got, tt.pt)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	s := MustNew(t, randomKey())
	a := MustSeal(t, s, []byte("same"), []byte("ad"))
	b := MustSeal(t, s, []byte("same"), []byte("ad"))
	if bytes.Equal(a, b) {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Error("two seals share a nonce")
	}
}

func TestTamperDetected(t *testing.T) {
	s := MustNew(t, randomKey())
	ad := []byte("storage:42:secret_key")
	sealed := MustSeal(t, s, []byte("wJalrXUtnFEMI/K7MDENG"), ad)
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			if _, err := s.Open(bad, ad); err == nil {
				t.Errorf("Open accepted the value with byte %d xor %#x", i, bit)
			}
		}
	}
	for _, bad := range [][]byte{
		nil,
		{},
		sealed[:1],
		sealed[:secret.Overhead-1],
		sealed[:len(sealed)-1],
		append(bytes.Clone(sealed), 0),
	} {
		if _, err := s.Open(bad, ad); err == nil {
			t.Errorf("Open accepted a value of length %d (sealed %d)", len(bad), len(sealed))
		}
	}
}

func TestWrongAssociatedData(t *testing.T) {
	s := MustNew(t, randomKey())
	sealed := MustSeal(t, s, []byte("secret"), []byte("storage:42:secret_key"))
	for _, ad := range [][]byte{
		[]byte("storage:43:secret_key"),
		[]byte("storage:42:access_key"),
		[]byte("storage:42:secret_key "),
		nil,
	} {
		if _, err := s.Open(sealed, ad); err == nil {
			t.Errorf("Open with AD %q accepted a value sealed for another", ad)
		}
	}
}

func TestWrongKey(t *testing.T) {
	sealed := MustSeal(t, MustNew(t, randomKey()), []byte("secret"), []byte("ad"))
	if _, err := MustNew(t, randomKey()).Open(sealed, []byte("ad")); err == nil {
		t.Error("Open under another key succeeded")
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := secret.New(make([]byte, n)); err == nil {
			t.Errorf("New(%d-byte key) succeeded, want an error", n)
		}
	}
}

func noEnv(string) string { return "" }

func MustLoad(tb testing.TB, dir string, getenv func(string) string) *secret.Sealer {
	tb.Helper()
	s, err := secret.LoadOrCreateKey(dir, getenv)
	if err != nil {
		tb.Fatalf("LoadOrCreateKey: %v", err)
	}
	return s
}

// canOpen reports whether b opens what a sealed.
func canOpen(t *testing.T, a, b *secret.Sealer) bool {
	t.Helper()
	sealed := MustSeal(t, a, []byte("probe"), []byte("probe"))
	got, err := b.Open(sealed, []byte("probe"))
	return err == nil && string(got) == "probe"
}

func TestKeyFileCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "glossa")
	s1 := MustLoad(t, dir, noEnv)

	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %04o, want 0700", perm)
	}
	path := filepath.Join(dir, "master.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(string(b), "\n"))
	if err != nil || len(key) != 32 {
		t.Fatalf("key file holds %q: want one line of base64 of 32 bytes", b)
	}
	if !canOpen(t, s1, MustNew(t, key)) {
		t.Error("the Sealer does not use the key in the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only master.key (no temporary files)", len(entries))
	}

	// The second run loads the same key and leaves the file alone.
	s2 := MustLoad(t, dir, noEnv)
	if !canOpen(t, s1, s2) {
		t.Error("second LoadOrCreateKey returned another key")
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Error("second LoadOrCreateKey changed the key file")
	}
}

func TestKeyFileInExistingDirectory(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	MustLoad(t, dir, noEnv)
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
}

func TestKeyFileModeRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o666} {
		dir := t.TempDir()
		MustLoad(t, dir, noEnv)
		path := filepath.Join(dir, "master.key")
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := secret.LoadOrCreateKey(dir, noEnv)
		if err == nil {
			t.Errorf("mode %04o: LoadOrCreateKey accepted the key file", mode)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: error %q does not say how to fix it", mode, err)
		}
	}
	// Stricter than 0600 is fine.
	dir := t.TempDir()
	MustLoad(t, dir, noEnv)
	os.Chmod(filepath.Join(dir, "master.key"), 0o400)
	MustLoad(t, dir, noEnv)
}

func TestKeyFileDamaged(t *testing.T) {
	for name, content := range map[string]string{
		"empty":      "",
		"not base64": "this is not a key\n",
		"too short":  base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := secret.LoadOrCreateKey(dir, noEnv); err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Errorf("LoadOrCreateKey = %v, want a damaged-file error", err)
			}
		})
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "master.key"), 0o700)
	if _, err := secret.LoadOrCreateKey(dir, noEnv); err == nil {
		t.Error("LoadOrCreateKey accepted a directory as key file")
	}
}

func TestEnvOverride(t *testing.T) {
	key := randomKey()
	dir := t.TempDir()
	for name, v := range map[string]string{
		"standard":        base64.StdEncoding.EncodeToString(key),
		"standard no pad": base64.RawStdEncoding.EncodeToString(key),
		"url":             base64.URLEncoding.EncodeToString(key),
		"url no pad":      base64.RawURLEncoding.EncodeToString(key),
		"with newline":    base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GLOSSA_MASTER_KEY" {
					return v
				}
				return ""
			}
			s := MustLoad(t, dir, getenv)
			if !canOpen(t, s, MustNew(t, key)) {
				t.Error("the Sealer does not use the key from the environment")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("a key file was created although GLOSSA_MASTER_KEY is set (stat: %v)", err)
	}

	// The variable wins over an existing key file.
	fileSealer := MustLoad(t, dir, noEnv)
	envSealer := MustLoad(t, dir, func(string) string { return base64.StdEncoding.EncodeToString(key) })
	if canOpen(t, fileSealer, envSealer) {
		t.Error("GLOSSA_MASTER_KEY did not override the key file")
	}
}

func TestEnvKeyInvalid(t *testing.T) {
	for name, v := range map[string]string{
		"not base64": "not a key!",
		"16 bytes":   base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"33 bytes":   base64.StdEncoding.EncodeToString(make([]byte, 33)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := secret.LoadOrCreateKey(t.TempDir(), func(string) string { return v })
			if err == nil || !strings.Contains(err.Error(), "GLOSSA_MASTER_KEY") {
				t.Errorf("LoadOrCreateKey = %v, want an error naming GLOSSA_MASTER_KEY", err)
			}
		})
	}
}

func TestNoKeySource(t *testing.T) {
	if _, err := secret.LoadOrCreateKey("", noEnv); err == nil {
		t.Error("LoadOrCreateKey with neither variable nor directory succeeded")
	}
}

// Processes starting together on a fresh data directory end up with one key.
func TestConcurrentCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sealers := make([]*secret.Sealer, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range sealers {
		wg.Go(func() { sealers[i], errs[i] = secret.LoadOrCreateKey(dir, noEnv) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("LoadOrCreateKey #%d: %v", i, err)
		}
	}
	for i := 1; i < len(sealers); i++ {
		if !canOpen(t, sealers[0], sealers[i]) {
			t.Errorf("LoadOrCreateKey #%d got another key than #0", i)
		}
	}
}
