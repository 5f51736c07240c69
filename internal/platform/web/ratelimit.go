package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter allows a number of events per key (such as a client address)
// per minute, with a burst of the same size. Idle keys are forgotten.
type RateLimiter struct {
	mu      sync.Mutex
	perMin  int
	keys    map[string]*limiterEntry
	lastGC  time.Time
	maxKeys int
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter allows perMinute events per key per minute.
func NewRateLimiter(perMinute int) *RateLimiter {
	return &RateLimiter{perMin: perMinute, keys: map[string]*limiterEntry{}, maxKeys: 100000}
}

// Exhausted reports whether key has used up its allowance for now, without
// counting an event.
func (l *RateLimiter) Exhausted(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	return ok && e.lim.TokensAt(time.Now()) < 1
}

// Allow reports whether one more event for key is allowed now.
func (l *RateLimiter) Allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute || len(l.keys) > l.maxKeys {
		for k, e := range l.keys {
			if now.Sub(e.seen) > 2*time.Minute {
				delete(l.keys, k)
			}
		}
		l.lastGC = now
	}
	e, ok := l.keys[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)}
		l.keys[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}
