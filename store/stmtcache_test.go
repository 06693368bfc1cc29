package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func openTestSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "glossa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStmtCacheBounded: distinct statements beyond the cache's size evict
// the least recently used, which is closed only after the calls using it;
// calls racing with eviction all succeed.
func TestStmtCacheBounded(t *testing.T) {
	db := openTestSQLite(t)
	ctx := context.Background()
	hot := "SELECT 1 + ?"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range stmtCacheSize {
				var n int
				q := fmt.Sprintf("SELECT %d + ?", w*stmtCacheSize+i) // a statement never seen before
				if i%2 == 0 {
					q = hot // and one that stays in use
				}
				if err := db.reader().queryRow(ctx, q, 1).Scan(&n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := db.readStmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Len() != stmtCacheSize || len(c.entries) != stmtCacheSize {
		t.Errorf("cache holds %d (map %d), want %d", c.lru.Len(), len(c.entries), stmtCacheSize)
	}
	el, ok := c.entries[hot]
	if !ok {
		t.Fatal("the statement in constant use was evicted")
	}
	if cs := el.Value.(*cachedStmt); cs.users != 0 || cs.evicted {
		t.Errorf("hot statement: users %d, evicted %v; want 0, false", cs.users, cs.evicted)
	}
}

// TestStmtCacheTransaction: a statement first met inside a transaction
// runs as text (the writer's only connection is the transaction's) and is
// prepared once the transaction is committed; the next transaction runs
// it prepared. A rolled-back transaction prepares nothing.
func TestStmtCacheTransaction(t *testing.T) {
	db := openTestSQLite(t)
	ctx := context.Background()
	if _, err := db.writer().exec(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	insert := db.rebind("INSERT INTO t (v) VALUES (?)")
	run := func(fail bool) error {
		return db.inTx(ctx, "test", func(tx conn) error {
			if _, err := tx.exec(ctx, insert, 1); err != nil {
				return err
			}
			if fail {
				return fmt.Errorf("roll back")
			}
			return nil
		})
	}
	if err := run(true); err == nil {
		t.Fatal("the failing transaction committed")
	}
	if cs := db.writeStmts.cached(insert); cs != nil {
		t.Fatal("a rolled-back transaction's statement was prepared")
	}
	for range 2 {
		if err := run(false); err != nil {
			t.Fatal(err)
		}
		cs := db.writeStmts.cached(insert)
		if cs == nil {
			t.Fatal("the committed transaction's statement was not prepared")
		}
		db.writeStmts.release(cs)
	}
	var n int
	if err := db.reader().queryRow(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows = %d, %v; want 2", n, err)
	}
}

// TestStmtCacheSkipsLongLists: a statement with more placeholders than
// maxCachedParams (a VALUES or IN list of varying length) runs as text and
// takes no place in the cache, inside a transaction or out.
func TestStmtCacheSkipsLongLists(t *testing.T) {
	db := openTestSQLite(t)
	ctx := context.Background()
	long := "SELECT 1 WHERE 1 IN (" + strings.TrimSuffix(strings.Repeat("?,", maxCachedParams+1), ",") + ")"
	args := make([]any, maxCachedParams+1)
	for i := range args {
		args[i] = 1
	}
	var n int
	if err := db.reader().queryRow(ctx, long, args...).Scan(&n); err != nil || n != 1 {
		t.Fatalf("long list = %d, %v", n, err)
	}
	if err := db.inTx(ctx, "test", func(tx conn) error { return tx.queryRow(ctx, long, args...).Scan(&n) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*stmtCache{db.readStmts, db.writeStmts} {
		if cs := c.cached(long); cs != nil {
			t.Error("a statement with a long list was cached")
		}
	}
}
