package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/store"
)

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		dsn  string
		// want are the substrings the error must show; hide must not be shown.
		want []string
		hide string
	}{
		{"empty", "", []string{"sqlite:PATH", "postgres://"}, ""},
		{"unknown scheme", "mysql://root:hunter2@db/glossa", []string{`"mysql:"`, "sqlite:PATH"}, "hunter2"},
		{"sqlite without path", "sqlite:", []string{"file path"}, ""},
		{"sqlite in memory", "sqlite::memory:", []string{"not supported"}, ""},
		{"sqlite path with ?", "sqlite:/tmp/x.db?mode=ro", []string{"'?'"}, ""},
		{"sqlite missing directory", "sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "g.db"),
			[]string{"cannot open the SQLite database", "no/such/dir", "directory exists"}, ""},
		{"postgres unreachable", "postgres://glossa:hunter2@127.0.0.1:1/glossa?sslmode=disable&connect_timeout=5",
			[]string{"cannot reach PostgreSQL at 127.0.0.1:1/glossa", "server runs"}, "hunter2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := store.Open(ctx, tc.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = nil error", tc.dsn)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.hide != "" && strings.Contains(err.Error(), tc.hide) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestOpenDialect(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db := MustOpen(t, e.dsn(t))
			if got := db.Dialect(); got != e.name {
				t.Errorf("Dialect() = %q, want %q", got, e.name)
			}
			if err := db.Ping(context.Background()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := db.Ping(context.Background()); err == nil {
				t.Errorf("Ping after Close = nil, want an error")
			}
		})
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glossa.db")
	MustOpen(t, "sqlite:"+path)
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), mode)
		}
	}
}
