// Package testpg gives tests a fresh, empty PostgreSQL database on the
// throwaway cluster that scripts/test.sh (make test) starts. Each call
// creates a new database, so tests never see each other's rows.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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
	base := os.Getenv("GLOSSA_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "" {
			tb.Fatal("GLOSSA_TEST_POSTGRES is not set: run the tests with make test")
		}
		tb.Skip("no PostgreSQL: run make test to start one")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	rand.Read(b)
	name := "glossa_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testpg: create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
