package store

import (
	"container/list"
	"context"
	"database/sql"
	"sync"
)

// stmtCacheSize bounds the statements a SQLite pool keeps prepared. Glossa
// runs a few hundred distinct statements; the rest (IN lists and VALUES
// rows of varying length, data-manager filters) come and go, and the
// least recently used is dropped to make room.
const stmtCacheSize = 512

// maxCachedParams bounds the placeholders of a statement the cache keeps.
// The statements with more are the ones built for a list of varying
// length (an import's VALUES rows, IN lists): each text comes once, so
// preparing it for the cache would compile it twice for nothing and push
// a statement that does come again out of the LRU.
const maxCachedParams = 64

// stmtCache keeps the prepared statements of one SQLite pool by their
// text. SQLite compiles every statement it is given, and modernc's driver
// compiles again for each unprepared query: on a returning member's
// sign-in that compiling was about an eighth of the request. A
// *sql.Stmt is prepared once per pooled connection and then only bound
// and stepped. PostgreSQL needs none of this: pgx keeps a statement cache
// on each connection itself.
type stmtCache struct {
	pool *sql.DB

	mu      sync.Mutex
	entries map[string]*list.Element // of *cachedStmt
	lru     list.List                // front is the most recently used
}

// cachedStmt is one prepared statement and how many calls use it now: an
// evicted statement is closed only when the last of them is done, since
// closing it under a call that has not started yet would fail that call.
type cachedStmt struct {
	query   string
	stmt    *sql.Stmt
	users   int
	evicted bool
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, entries: map[string]*list.Element{}}
}

// acquire returns the prepared statement for query, preparing it on first
// use; the caller calls release when its call has returned (rows being
// read hold the statement open on their own).
func (c *stmtCache) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	if cs := c.cached(query); cs != nil {
		return cs, nil
	}

	// Prepared outside the lock: preparing waits for a connection, and the
	// writer's only one may be held by a long transaction.
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[query]; ok { // prepared meanwhile by another call
		st.Close()
		c.lru.MoveToFront(el)
		cs := el.Value.(*cachedStmt)
		cs.users++
		return cs, nil
	}
	cs := &cachedStmt{query: query, stmt: st, users: 1}
	c.entries[query] = c.lru.PushFront(cs)
	if c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		oldest := old.Value.(*cachedStmt)
		delete(c.entries, oldest.query)
		oldest.evicted = true
		if oldest.users == 0 {
			oldest.stmt.Close()
		}
	}
	return cs, nil
}

// cached returns query's statement if it is prepared already, acquired as
// by acquire, and nil otherwise.
func (c *stmtCache) cached(query string) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[query]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	cs := el.Value.(*cachedStmt)
	cs.users++
	return cs
}

// release ends a call's use of cs.
func (c *stmtCache) release(cs *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.users--
	if cs.evicted && cs.users == 0 {
		cs.stmt.Close()
	}
}

// close closes every statement; the pool is closing.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.entries {
		el.Value.(*cachedStmt).stmt.Close()
	}
	clear(c.entries)
	c.lru.Init()
}
