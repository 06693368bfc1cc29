package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrations holds the schema, one directory per dialect. Files are named
// NNNN_name.sql and applied in order of NNNN, once each, never edited after
// release: a change to the schema is a new file.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrateLockKey is the pg_advisory_xact_lock key that serializes Migrate
// across processes on PostgreSQL ("glossa" in ASCII).
const migrateLockKey = 0x676c6f737361

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the embedded migrations of a dialect.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		num, rest, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s is not named NNNN_name.sql", dir, e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("store: migrations %s and %s share the number %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate brings the schema up to date: it applies, in order, each embedded
// migration that the schema_migrations table does not list, each in its own
// transaction together with its schema_migrations row. It is idempotent, and
// safe when several processes start at once: on PostgreSQL each transaction
// first takes a transaction-level advisory lock, on SQLite BEGIN IMMEDIATE
// takes the database's write lock; either way the second process waits, then
// sees the migration recorded and skips it. A database migrated by a newer
// Glossa (a version this binary does not know) is refused rather than
// used with a schema this code was not written for.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(db.dialect)
	if err != nil {
		return err
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	// One pass to check the newest applied version, even when nothing is
	// pending, so that an older binary refuses a newer schema.
	pending := append([]migration{{version: 0}}, ms...)
	for _, m := range pending {
		err := db.migrateOne(ctx, m, known)
		if err != nil {
			if m.version == 0 {
				return fmt.Errorf("store: migrate %s: %w", db.name, err)
			}
			return fmt.Errorf("store: migration %04d_%s on %s: %w", m.version, m.name, db.name, err)
		}
	}
	return nil
}

// errSchemaNewer is returned when the database has migrations this binary lacks.
var errSchemaNewer = errors.New("the database schema is newer than this Glossa: upgrade Glossa, or point it at another database")

// migrateOne applies m unless it is recorded; version 0 only creates the
// bookkeeping table and checks that the schema is not newer than known.
func (db *DB) migrateOne(ctx context.Context, m migration, known int) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	c := conn{q: tx, db: db}
	if db.dialect == Postgres {
		// Held until this transaction ends; a second process blocks here.
		if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(migrateLockKey)); err != nil {
			return err
		}
	}
	// Under the lock, because concurrent CREATE TABLE IF NOT EXISTS can
	// fail on PostgreSQL.
	if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return err
	}
	if m.version == 0 {
		var newest int
		if err := c.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&newest); err != nil {
			return err
		}
		if newest > known {
			return fmt.Errorf("%w (database at %d, this Glossa knows up to %d)", errSchemaNewer, newest, known)
		}
		return tx.Commit()
	}
	done, err := c.exists(ctx, "SELECT 1 FROM schema_migrations WHERE version = ?", m.version)
	if err != nil {
		return err
	}
	if done {
		return tx.Commit()
	}
	// Migrations carry no parameters, so both drivers run the whole file
	// as a script (pgx uses the simple protocol for an Exec without arguments).
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := c.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, db.now().Format(sqliteTime)); err != nil {
		return err
	}
	return tx.Commit()
}
