package s3

import (
	"container/list"
	"strconv"
	"sync"
	"time"
)

// lru is a bounded map whose entries also expire: what the connector keeps
// per credential (S3 clients, visibility decisions) must neither outlive
// the credential nor grow with the number of people and objects.
type lru[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	ll  *list.List // front: most recently used
	m   map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
	exp time.Time // zero: until evicted
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, ll: list.New(), m: make(map[K]*list.Element)}
}

// get returns the value of k unless it is absent or expired at now.
func (c *lru[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*lruEntry[K, V])
	if !e.exp.IsZero() && !now.Before(e.exp) {
		c.ll.Remove(el)
		delete(c.m, k)
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// put stores v under k until exp (zero: no expiry), evicting the least
// recently used entry when full.
func (c *lru[K, V]) put(k K, v V, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		e := el.Value.(*lruEntry[K, V])
		e.val, e.exp = v, exp
		c.ll.MoveToFront(el)
		return
	}
	c.m[k] = c.ll.PushFront(&lruEntry[K, V]{key: k, val: v, exp: exp})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*lruEntry[K, V]).key)
	}
}

// len reports the number of entries, expired ones included.
func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
