// Package secret seals Glossa's secrets at rest (cloud storage keys, cached
// cloud credentials, SAML service provider private keys) with AES-256-GCM
// under one master key, and owns where that key comes from: the environment
// variable GLOSSA_MASTER_KEY, or else a key file in the data directory that
// Glossa creates on first run.
//
// A sealed value is
//
//	version (1 byte, 0x01) || nonce (12 bytes, random) || ciphertext || GCM tag (16 bytes)
//
// and the caller's associated data (with the version byte in front) is
// authenticated with it, so a value sealed for one row or purpose cannot be
// copied into another: Open fails. Build associated data from what
// identifies the slot, such as "storage:42:secret_key".
//
// Random 96-bit nonces are safe for about 2^32 seals under one key, far more
// than the secrets of one Glossa instance. The version byte leaves room for
// key rotation later (a version that names the key).
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeySize is the master key's length in bytes (AES-256).
const KeySize = 32

// EnvKey is the environment variable that holds the master key, base64.
const EnvKey = "GLOSSA_MASTER_KEY"

// KeyFile is the key file's name inside the data directory.
const KeyFile = "master.key"

// version1 marks a value sealed with AES-256-GCM, random 12-byte nonce.
const version1 byte = 1

// Overhead is how many bytes Seal adds to a plaintext: the version byte,
// the nonce and the tag.
const Overhead = 1 + 12 + 16

// Sealer seals and opens secrets under the master key. It is safe for
// concurrent use. It does not keep the raw key, so printing it shows nothing.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte key. Most callers want LoadOrCreateKey.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: the master key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext, bound to associatedData.
//
// Security-sensitive: this is how secrets are stored.
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, 1, Overhead+len(plaintext))
	out[0] = version1
	return s.aead.Seal(out, nil, plaintext, adWithVersion(version1, associatedData)), nil
}

// errOpen is the one error Open returns for anything wrong with a sealed
// value, so that it tells an attacker nothing about which check failed.
var errOpen = errors.New("secret: cannot open the sealed value: it was sealed under another key or for another purpose, or it was altered")

// Open checks and decrypts a value made by Seal with the same key and the
// same associatedData. Any change to the value, any other associated data or
// another key makes it fail.
//
// Security-sensitive: this is how secrets are read back.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version1 {
		return nil, errOpen
	}
	pt, err := s.aead.Open(nil, nil, sealed[1:], adWithVersion(version1, associatedData))
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// adWithVersion authenticates the version byte along with the caller's data.
func adWithVersion(v byte, ad []byte) []byte {
	return append([]byte{v}, ad...)
}

// LoadOrCreateKey returns a Sealer for the instance's master key. The key
// comes from the environment variable GLOSSA_MASTER_KEY (32 bytes, base64,
// standard or URL alphabet, padded or not) if it is set; then no key file is
// read or created. Otherwise it comes from <dataDir>/master.key, which is
// created on first run with 32 bytes from crypto/rand, mode 0600, in a
// directory created with mode 0700. The file holds the key as one line of
// base64, the form GLOSSA_MASTER_KEY takes, so moving to the environment
// variable is a copy. A key file that group or others may
// read or write is refused, with the chmod that fixes it.
//
// Several Glossa processes sharing one database must share one key: set
// GLOSSA_MASTER_KEY in each, or give them the same key file. Losing the key
// loses every sealed secret, so back it up apart from the database.
//
// Security-sensitive: this is the root of every secret at rest.
func LoadOrCreateKey(dataDir string, getenv func(string) string) (*Sealer, error) {
	if v := strings.TrimSpace(getenv(EnvKey)); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("secret: %s: %w; create one with: openssl rand -base64 32", EnvKey, err)
		}
		return New(key)
	}
	if dataDir == "" {
		return nil, fmt.Errorf("secret: no master key: set %s or a data directory", EnvKey)
	}
	path := filepath.Join(dataDir, KeyFile)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, err
	}
	return New(key)
}

// decodeKey accepts the base64 forms people paste: standard or URL
// alphabet, with or without padding.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.Strict().DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("the key is %d bytes, want %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("the key is not base64")
}

// readKeyFile reads and checks an existing key file.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secret: opening the master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret: the master key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits to check.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("secret: refusing the master key file %s: its mode %04o lets other users read or change it; run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("secret: reading the master key file %s: %w", path, err)
	}
	key, err := decodeKey(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("secret: the master key file %s is damaged: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new key, atomically: it is written to a temporary
// file in the same directory and linked into place, which fails if another
// process got there first; then that process's key is used.
func createKeyFile(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret: creating the data directory: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key) // never fails (crypto/rand since Go 1.24)

	tmp, err := os.CreateTemp(dir, KeyFile+".tmp*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("secret: creating the master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret: creating the master key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret: writing the master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret: writing the master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("secret: writing the master key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("secret: creating the master key file: %w", err)
	}
	// Make the new name durable too, so a crash cannot lose the key after
	// secrets were sealed with it. Best effort: some file systems cannot
	// sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}
