// Package testpg gives tests a fresh, empty PostgreSQL database on the
// throwaway cluster that scripts/test.sh (make test) starts. Each call
// creates a new database, so tests never see each other's rows.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// DSN creates a new database and returns its connection string; the
// database is dropped when the test ends. Without a cluster it skips the
// test, except under make test (GLOSSA_TEST_REQUIRE_ALL=1), where it fails:
// no test may be skipped in CI for want of PostgreSQL.
func DSN(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("GLOSSA_TEST_POSTGRES") == "" {
		if os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "" {
			tb.Fatal("GLOSSA_TEST_POSTGRES is not set: run the tests with make test")
		}
		tb.Skip("no PostgreSQL: run make test to start one")
	}
	dsn, drop, err := NewDatabase()
	if err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	tb.Cleanup(drop)
	return dsn
}

// NewDatabase creates a new database on the cluster named by
// GLOSSA_TEST_POSTGRES and returns its connection string and a function
// that drops it. Benchmarks that keep a seeded database for the whole test
// binary use it directly.
func NewDatabase() (dsn string, drop func(), err error) {
	base := os.Getenv("GLOSSA_TEST_POSTGRES")
	if base == "" {
		return "", nil, errors.New("GLOSSA_TEST_POSTGRES is not set: run make test or make bench")
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	b := make([]byte, 8)
	rand.Read(b)
	name := "glossa_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
