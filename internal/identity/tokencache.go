package identity

import (
	"sync"
	"time"
)

// tokenCache keeps API tokens checked recently in memory for a short time
// (Settings.SessionCacheTTL, as sessions), so that a program calling the API
// many times a second (envelope encryption through the key service, a log
// shipper) does not make the database look its token up on every request;
// on PostgreSQL that lookup costs more than the rest of such a request.
//
// A revocation through this Service empties the cache at once. One made by
// another anzen instance sharing the database, or by `anzen token revoke`
// in another process, takes effect within the TTL. Expiry is checked on
// every use, from the cache too. The zero value is an empty cache.
type tokenCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]cachedToken
}

type cachedToken struct {
	t   Token
	gen uint64
	at  time.Time // wall-clock time of the lookup
}

// maxCachedTokens bounds the cache; past it, it is emptied.
const maxCachedTokens = 10000

// get returns the token with the secret hash, when it was looked up within
// ttl and no revocation came since.
func (c *tokenCache) get(hash string, ttl time.Duration) (Token, bool) {
	if ttl <= 0 {
		return Token{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || e.gen != c.gen || time.Since(e.at) > ttl {
		return Token{}, false
	}
	return e.t, true
}

// generation returns the current generation, read before a lookup so that
// a revocation during the lookup keeps its result out of the cache.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers a token looked up at generation gen.
func (c *tokenCache) put(hash string, t Token, gen uint64, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedTokens {
		c.entries = map[string]cachedToken{}
	}
	c.entries[hash] = cachedToken{t: t, gen: gen, at: time.Now()}
}

// used notes that the token's last use was written as now.
func (c *tokenCache) used(hash string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[hash]; ok {
		e.t.LastUsedAt = now
		c.entries[hash] = e
	}
}

// invalidate empties the cache.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}
