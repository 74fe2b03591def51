package auth

import (
	"context"
	"sync"
	"time"

	"github.com/restored/restored/internal/platform/events"
)

// viewerCache keeps recently authenticated viewers for a few seconds, so a
// busy client does not cost two database reads per request. Revocation
// stays immediate: the cache of a workspace is dropped on every access
// change of that workspace (events.AccessTopic, published by every process
// that revokes a token or changes a membership, and dropped directly in the
// process that made the change), and a workspace whose change feed is
// interrupted is not cached until it is watched again.
type viewerCache struct {
	bus *events.Bus
	ttl time.Duration

	mu       sync.Mutex
	byHash   map[string]cachedViewer
	watching map[string]bool // workspace id → its access feed is followed
}

type cachedViewer struct {
	v  Viewer
	at time.Time
}

// maxCached bounds the cache; past it, entries are dropped wholesale (the
// next requests read the database, as without a cache).
const maxCached = 10000

func newViewerCache(bus *events.Bus, ttl time.Duration) *viewerCache {
	return &viewerCache{bus: bus, ttl: ttl, byHash: map[string]cachedViewer{}, watching: map[string]bool{}}
}

// get returns the cached viewer of a token hash, if fresh and unexpired.
func (c *viewerCache) get(hash string, now time.Time) (*Viewer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[hash]
	if !ok || now.Sub(e.at) > c.ttl || !c.watching[e.v.WorkspaceID] ||
		(e.v.ExpiresAt != nil && !now.Before(*e.v.ExpiresAt)) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// put caches v once its workspace's access changes are followed.
func (c *viewerCache) put(hash string, v *Viewer, now time.Time) {
	if !c.watch(v.WorkspaceID) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byHash) >= maxCached {
		clear(c.byHash)
	}
	c.byHash[hash] = cachedViewer{v: *v, at: now}
}

// forget drops every cached viewer of a workspace.
func (c *viewerCache) forget(workspaceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.byHash {
		if e.v.WorkspaceID == workspaceID {
			delete(c.byHash, h)
		}
	}
}

// watch follows a workspace's access changes (once), reporting whether
// they are followed.
func (c *viewerCache) watch(workspaceID string) bool {
	c.mu.Lock()
	if c.watching[workspaceID] {
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	sub, err := c.bus.Subscribe(context.Background(), events.AccessTopic(workspaceID))
	if err != nil {
		return false
	}
	c.mu.Lock()
	if c.watching[workspaceID] {
		c.mu.Unlock()
		sub.Close() // another request started watching meanwhile
		return true
	}
	c.watching[workspaceID] = true
	c.mu.Unlock()
	go func() {
		for range sub.C() {
			c.forget(workspaceID)
		}
		// The feed ended (bus closed or reconnected): changes may have been
		// missed, so nothing of the workspace is trusted until re-watched.
		c.mu.Lock()
		delete(c.watching, workspaceID)
		c.mu.Unlock()
		c.forget(workspaceID)
	}()
	return true
}
