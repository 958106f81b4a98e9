package cachefmt

import (
	"container/list"
	"sync"
)

// groupCache keeps recently decoded row groups up to a byte budget, least recently used out
// first. Concurrent requests for the same group wait for one decode instead of repeating it.
// One cache may serve several Readers (the shards of a Cache).
type groupCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	m    map[groupKey]*cacheEntry
	lru  list.List // of *cacheEntry, most recent first; only decoded entries
}

type groupKey struct {
	r *Reader
	g int
}

type cacheEntry struct {
	key   groupKey
	ready chan struct{} // closed when grp or err is set
	grp   *group
	err   error
	elem  *list.Element
}

func newGroupCache(maxBytes int64) *groupCache {
	return &groupCache{max: maxBytes, m: make(map[groupKey]*cacheEntry)}
}

func (c *groupCache) get(k groupKey, load func() (*group, error)) (*group, error) {
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		<-e.ready
		return e.grp, e.err
	}
	e := &cacheEntry{key: k, ready: make(chan struct{})}
	c.m[k] = e
	c.mu.Unlock()

	e.grp, e.err = load()

	c.mu.Lock()
	if e.err != nil || e.grp.bytes > c.max {
		delete(c.m, k) // errors are not kept: the next call retries (and fails again if corrupt)
	} else {
		e.elem = c.lru.PushFront(e)
		c.used += e.grp.bytes
		for c.used > c.max {
			old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
			delete(c.m, old.key)
			c.used -= old.grp.bytes
		}
	}
	c.mu.Unlock()
	close(e.ready)
	return e.grp, e.err
}

// drop forgets r's groups, when r is closed.
func (c *groupCache) drop(r *Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if k.r != r || e.elem == nil {
			continue
		}
		c.lru.Remove(e.elem)
		c.used -= e.grp.bytes
		delete(c.m, k)
	}
}
