package identity

import (
	"context"
	"sync"
	"time"

	"github.com/anzen-health/anzen/internal/platform/authz"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/selfaudit"
	"github.com/anzen-health/anzen/internal/platform/web"
)

// sessionCache keeps the result of recent session checks in memory for a
// short time (Settings.SessionCacheTTL), so that a page with many requests
// does not query the database for each; on PostgreSQL that query is the
// larger part of a request's cost.
//
// Every change identity makes is recorded through its audit recorder (the
// self-audit rule), and every recorded event empties the cache: a sign-out,
// a role change or a disabled account in this process takes effect at once.
// Another anzen instance sharing the database sees such a change within the
// TTL.
type sessionCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	gen     uint64
	entries map[string]cachedSession
}

type cachedSession struct {
	p       authz.Principal
	stage   web.Stage
	user    User // status and validity, for the checks on every use
	seen    time.Time
	expires time.Time
	gen     uint64
	at      time.Time // wall-clock time of the lookup
}

// maxCachedSessions bounds the cache; past it, it is emptied.
const maxCachedSessions = 50000

func newSessionCache(ttl time.Duration) *sessionCache {
	return &sessionCache{ttl: ttl, entries: map[string]cachedSession{}}
}

// get returns a fresh entry for the session, if any.
func (c *sessionCache) get(idHash string) (cachedSession, bool) {
	if c.ttl <= 0 {
		return cachedSession{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[idHash]
	if !ok || e.gen != c.gen || time.Since(e.at) > c.ttl {
		return cachedSession{}, false
	}
	return e, true
}

// generation returns the current generation, read before a lookup so that
// a change recorded during the lookup keeps its result out of the cache.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *sessionCache) put(idHash string, e cachedSession) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	e.at = time.Now()
	c.entries[idHash] = e
}

// invalidate empties the cache.
func (c *sessionCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

// invalidatingRecorder empties the session cache whenever identity records
// a change.
type invalidatingRecorder struct {
	next  selfaudit.Recorder
	cache *sessionCache
}

func (r invalidatingRecorder) Record(ctx context.Context, q db.Querier, e selfaudit.Event) error {
	r.cache.invalidate()
	return r.next.Record(ctx, q, e)
}

// cachedPrincipal answers a session check from the cache when it can: the
// entry is fresh, and the idle timeout, lifetime and account validity still
// hold at now (else the database path ends the session and records why).
func (s *Service) cachedPrincipal(idHash string, now time.Time) (*authz.Principal, web.Stage, bool) {
	e, ok := s.sessions.get(idHash)
	if !ok {
		return nil, web.StageNone, false
	}
	if now.Sub(e.seen) > s.set.SessionIdle || !now.Before(e.expires) || !e.user.Usable(now) {
		return nil, web.StageNone, false
	}
	touch := min(s.set.SessionIdle/10, time.Minute)
	if now.Sub(e.seen) > touch {
		return nil, web.StageNone, false // time to note activity in the database
	}
	p := e.p
	return &p, e.stage, true
}
