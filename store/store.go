// Package store is Glossa's one SQL implementation of the service interfaces
// of package glossa, for two engines: SQLite (modernc.org/sqlite, pure Go, the
// embedded default) and PostgreSQL (pgx through database/sql, the engine for
// scale). It owns the schema and its embedded forward-only migrations, the
// translation of database errors into glossa errors, and tenant isolation:
// every query of organization data names the organization in its WHERE
// clause, so a row of another organization is as absent as a missing one.
//
// SQL is written by hand, once, with ? placeholders; the few differences
// between the dialects live in small helpers (rebind, timeValue, jsonValue,
// projectMatch, isUnique, isForeignKey) and in the two migration
// directories.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/glossa-dev/glossa"
)

// The dialects Dialect returns.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Compile-time proof that *DB implements every service of package glossa.
var (
	_ glossa.OrganizationService = (*DB)(nil)
	_ glossa.MemberService       = (*DB)(nil)
	_ glossa.WorkspaceService    = (*DB)(nil)
	_ glossa.ProjectService      = (*DB)(nil)
	_ glossa.TaskService         = (*DB)(nil)
	_ glossa.AnnotationService   = (*DB)(nil)
	_ glossa.SessionService      = (*DB)(nil)
	_ glossa.TokenService        = (*DB)(nil)
	_ glossa.AuditService        = (*DB)(nil)
	_ glossa.ThrottleService     = (*DB)(nil)
	_ glossa.SAMLService         = (*DB)(nil) // connections, SP keys, requests, replay, identities
	_ glossa.LabelingService     = (*DB)(nil) // drafts, task leases, reviews, the data manager
)

// DB is an open Glossa database. It is safe for concurrent use.
type DB struct {
	// Now is the clock used for created_at, updated_at and the like; tests
	// replace it. It defaults to time.Now. Times are stored in UTC, at
	// microsecond precision (PostgreSQL's), on both engines.
	Now func() time.Time

	dialect string
	name    string // the database, for messages: a path, or host/dbname without the password

	// write runs every write and every transaction; read runs queries. On
	// PostgreSQL they are the same pool. On SQLite, write has exactly one
	// connection: SQLite allows one writer at a time anyway, and queuing
	// writers in database/sql (which honours contexts and is fair) beats
	// letting them spin in SQLite's busy handler, which is neither and
	// ends in "database is locked" under load. Readers have their own
	// pool, opened query_only, and never wait for the writer in WAL mode.
	write *sql.DB
	read  *sql.DB
	// writeStmts and readStmts keep each SQLite pool's prepared
	// statements; nil on PostgreSQL.
	writeStmts, readStmts *stmtCache
}

// Open opens the database that dsn names and checks that it answers:
//
//	sqlite:PATH                       a SQLite file, created if missing (sqlite:./glossa.db)
//	postgres://user:pass@host/dbname  PostgreSQL (postgresql:// works too)
//
// Open does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	}
	// The DSN may hold a password: name only its scheme.
	scheme, _, ok := strings.Cut(dsn, ":")
	if !ok || dsn == "" {
		return nil, errors.New("store: no database given: use sqlite:PATH (e.g. sqlite:./glossa.db) or postgres://user:password@host:5432/dbname")
	}
	return nil, fmt.Errorf("store: unsupported database %q: use sqlite:PATH (e.g. sqlite:./glossa.db) or postgres://user:password@host:5432/dbname", scheme+":")
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	switch {
	case path == "":
		return nil, errors.New("store: sqlite: needs a file path, e.g. sqlite:./glossa.db")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		// Every pooled connection would get its own empty in-memory database.
		return nil, fmt.Errorf("store: sqlite:%s is not supported: give a file path, e.g. sqlite:./glossa.db", path)
	case strings.ContainsAny(path, "?#"):
		// The driver would read what follows '?' as connection options.
		return nil, fmt.Errorf("store: the SQLite path %q contains '?' or '#': choose a path without them", path)
	}
	// The file holds password hashes and sealed secrets: create it readable
	// by this user only (SQLite gives its -wal and -shm files the same mode).
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("store: cannot open the SQLite database %s: check that its directory exists and is writable by this process: %w", path, err)
	} else {
		f.Close()
	}
	// busy_timeout covers other processes holding the write lock (a second
	// Glossa, a backup); _txlock=immediate takes the write lock at BEGIN,
	// so a transaction never fails upgrading a read lock to a write lock,
	// which busy_timeout cannot help with.
	common := "_busy_timeout=10000&_foreign_keys=1&_pragma=cache_size(-16000)&_pragma=temp_store(MEMORY)"
	write, err := sql.Open("sqlite", path+"?"+common+"&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	db := &DB{Now: time.Now, dialect: SQLite, name: path, write: write}
	// The writer connects first, so the file exists and is in WAL mode
	// before any reader opens it.
	if err := db.pingWrite(ctx); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read
	db.writeStmts, db.readStmts = newStmtCache(write), newStmtCache(read)
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	name := "PostgreSQL"
	if u, err := url.Parse(dsn); err == nil {
		name = "PostgreSQL at " + u.Host + u.Path
	}
	pool, err := sql.Open("pgx", withoutJIT(dsn))
	if err != nil {
		// The parse error may quote the DSN, password and all.
		return nil, fmt.Errorf("store: the %s address is not a valid connection URL: see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS", name)
	}
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{Now: time.Now, dialect: Postgres, name: name, write: pool, read: pool}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// withoutJIT turns PostgreSQL's JIT compilation off for Glossa's
// sessions, unless the address sets jit itself (pgx sends a parameter it
// does not know as a run-time setting). JIT pays off for long analytic
// queries; Glossa's are short, but the planner decides by estimated cost,
// and it prices a LIMIT query that probes an index per row (the hand-out
// of tasks, the data manager's filters) as a scan of the whole table:
// past a few hundred thousand tasks every such query was compiled first,
// 50 to 100 ms each time, for a query that then ran in one.
func withoutJIT(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	if q.Has("jit") {
		return dsn
	}
	q.Set("jit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers, for health checks. Its error says
// which database failed and what to check.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pingWrite(ctx); err != nil {
		return err
	}
	if db.read != db.write {
		if err := db.pingPool(ctx, db.read); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) pingWrite(ctx context.Context) error { return db.pingPool(ctx, db.write) }

func (db *DB) pingPool(ctx context.Context, pool *sql.DB) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	err := pool.PingContext(ctx)
	if err == nil {
		return nil
	}
	if db.dialect == SQLite {
		return fmt.Errorf("store: cannot open the SQLite database %s: check that its directory exists and is writable by this process: %w", db.name, err)
	}
	return fmt.Errorf("store: cannot reach %s: check that the server runs and accepts connections, and that the host, port, database, user and password in the address are right: %w", db.name, err)
}

// Close closes the database.
func (db *DB) Close() error {
	for _, c := range []*stmtCache{db.readStmts, db.writeStmts} {
		if c != nil {
			c.close()
		}
	}
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// now returns the clock's time as stored: UTC, truncated to microseconds.
func (db *DB) now() time.Time {
	if db.Now == nil {
		return norm(time.Now())
	}
	return norm(db.Now())
}

// norm brings a time to the form the store keeps: UTC, microseconds.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// sqliteTime is how SQLite stores times: fixed width, so that comparing
// the text compares the times, and readable in the sqlite3 shell.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// timeValue converts t into the argument the driver stores: a time.Time for
// PostgreSQL's timestamptz, fixed-width text for SQLite.
func (db *DB) timeValue(t time.Time) any {
	t = norm(t)
	if db.dialect == SQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// nullTimeValue is timeValue for nullable columns.
func (db *DB) nullTimeValue(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.timeValue(*t)
}

// timeScan scans a time column of either engine into *t.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(src any) error {
	t, ok, err := parseTime(src)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("store: NULL in a NOT NULL time column")
	}
	*s.t = t
	return nil
}

// nullTimeScan scans a nullable time column into *t (nil for NULL).
type nullTimeScan struct{ t **time.Time }

func (s nullTimeScan) Scan(src any) error {
	t, ok, err := parseTime(src)
	if err != nil {
		return err
	}
	if ok {
		*s.t = &t
	} else {
		*s.t = nil
	}
	return nil
}

func parseTime(src any) (time.Time, bool, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return v.UTC(), true, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		return t.UTC(), err == nil, err
	case []byte:
		t, err := time.Parse(time.RFC3339Nano, string(v))
		return t.UTC(), err == nil, err
	}
	return time.Time{}, false, fmt.Errorf("store: cannot scan %T into a time", src)
}

// jsonValue is the argument for a JSON column: the text as given, or NULL
// for none. A string, not []byte: pgx sends a string to a json column as
// is, and SQLite stores it as TEXT rather than BLOB.
func jsonValue(raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// rebind turns the ? placeholders of SQL written once for both engines into
// PostgreSQL's $1, $2, ... It skips quoted text; no query of this package
// uses ? in any other sense.
func (db *DB) rebind(query string) string {
	if db.dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// projectMatch returns the condition that selects one project's tasks in a
// query ordered by (project_id, id), and its argument.
//
// On PostgreSQL, "project_id = $1 ... ORDER BY id" lets the planner serve
// the order from the primary key and filter on project_id as it goes,
// which it does when it believes the project holds a large share of all
// tasks; if the project's rows sit at the far end of the ID range (oldest
// first on the newer of two big projects), that walks past every task of
// the other. "project_id = ANY($1)" with a one-element array selects the
// same rows, but is not an equality the planner folds into the sort order,
// so ORDER BY project_id, id stays an order that only the tasks indexes
// provide, and the scan of (project_id, [is_labeled,] id) is positioned
// on all its columns, cursor included. SQLite has no arrays and plans the
// equality right.
func (db *DB) projectMatch(projectID int64) (string, any) {
	if db.dialect == Postgres {
		return "project_id = ANY(?)", []int64{projectID}
	}
	return "project_id = ?", projectID
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs SQL written with ? placeholders on a pool or a transaction,
// through the pool's prepared statements when it has a cache (SQLite).
type conn struct {
	q     querier
	db    *DB
	stmts *stmtCache // nil: every statement is sent as text
	tx    *sql.Tx    // set when q is this transaction
	// pending collects, inside a transaction, the statements that were not
	// prepared yet: the writer's one connection is the transaction's, so
	// they are prepared once it is committed (see inTx).
	pending *[]string
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = c.db.rebind(query)
	if cs := c.acquire(ctx, query); cs != nil {
		defer c.stmts.release(cs)
		return c.bound(ctx, cs).ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, query, args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = c.db.rebind(query)
	if cs := c.acquire(ctx, query); cs != nil {
		defer c.stmts.release(cs)
		return c.bound(ctx, cs).QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, query, args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = c.db.rebind(query)
	if cs := c.acquire(ctx, query); cs != nil {
		defer c.stmts.release(cs)
		return c.bound(ctx, cs).QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, query, args...)
}

// acquire returns query's prepared statement, or nil to send it as text:
// when there is no cache, when it has more than maxCachedParams
// placeholders, when a transaction meets it first (it is noted
// for inTx to prepare), or when preparing fails (the text then fails the
// same way and the caller gets the error from there).
func (c conn) acquire(ctx context.Context, query string) *cachedStmt {
	if c.stmts == nil || strings.Count(query, "?") > maxCachedParams {
		return nil
	}
	if c.tx != nil {
		cs := c.stmts.cached(query)
		// A statement run in a loop is noted once, not once per row.
		if p := *c.pending; cs == nil && (len(p) == 0 || p[len(p)-1] != query) {
			*c.pending = append(p, query)
		}
		return cs
	}
	cs, err := c.stmts.acquire(ctx, query)
	if err != nil {
		return nil
	}
	return cs
}

// bound is cs's statement as this conn runs it: bound to the transaction
// if there is one (on the same connection, so not prepared again).
func (c conn) bound(ctx context.Context, cs *cachedStmt) *sql.Stmt {
	if c.tx != nil {
		return c.tx.StmtContext(ctx, cs.stmt)
	}
	return cs.stmt
}

// execOne runs a statement that must change one row; none is notFound.
func (c conn) execOne(ctx context.Context, notFound error, query string, args ...any) error {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// exists runs a SELECT 1 ... query and reports whether it found a row.
func (c conn) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := c.queryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// reader is for queries outside a transaction.
func (db *DB) reader() conn { return conn{q: db.read, db: db, stmts: db.readStmts} }

// writer is for single-statement writes outside a transaction.
func (db *DB) writer() conn { return conn{q: db.write, db: db, stmts: db.writeStmts} }

// inTx runs fn in a write transaction: committed if fn returns nil, rolled
// back otherwise. Errors are mapped by op (see dbError).
func (db *DB) inTx(ctx context.Context, op string, fn func(tx conn) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return dbError(op, err)
	}
	var unprepared []string
	if err := fn(conn{q: tx, db: db, stmts: db.writeStmts, tx: tx, pending: &unprepared}); err != nil {
		tx.Rollback()
		return dbError(op, err)
	}
	if err := tx.Commit(); err != nil {
		return dbError(op, err)
	}
	db.prepare(ctx, unprepared)
	return nil
}

// prepare adds the statements a transaction ran unprepared to the
// writer's cache, once the transaction has given its connection back, so
// that the next transaction finds them prepared. It happens once per
// statement text; a failure leaves the statement to be sent as text.
func (db *DB) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		if cs, err := db.writeStmts.acquire(ctx, q); err == nil {
			db.writeStmts.release(cs)
		}
	}
}

// dbError lets *glossa.Error through unchanged and wraps anything else as
// EINTERNAL with a fixed message, so that no SQL text or driver message
// reaches a user; the detail stays in the chain for the logs.
func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *glossa.Error
	if errors.As(err, &e) {
		return err
	}
	return glossa.Wrap(glossa.EINTERNAL, fmt.Errorf("%s: %w", op, err), "The database could not complete the request.")
}

// isUnique reports whether err is a unique (or primary key) violation, on
// either engine.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a foreign key violation, on either
// engine: a parent that is missing, or a parent that still has children.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// notFoundIfNoRows turns sql.ErrNoRows into glossa.NotFound(what).
func notFoundIfNoRows(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return glossa.NotFound(what)
	}
	return err
}

// placeholders returns "(?,?,?),(?,?,?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	one := "(" + strings.Repeat("?,", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(one) + 1))
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	return b.String()
}

// pageLimit applies the default (100) and maximum (1000) page size.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// qualify prefixes each column of a comma-separated list with alias.
func qualify(alias, columns string) string {
	cs := strings.Split(columns, ",")
	for i, c := range cs {
		cs[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cs, ", ")
}
