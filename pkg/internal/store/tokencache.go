package store

import (
	"sync"
	"time"
)

// TokenCacheTTL is how long a web server trusts a token it has checked
// before asking the database again: a token revoked through another web
// server (or expired) stops working within it; one revoked through this
// process stops at once.
const TokenCacheTTL = time.Second

// tokenCache keeps TokenUser's positive answers for TokenCacheTTL, so that a
// client sending many requests costs one token query a second, not one per
// request.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	u     User
	until time.Time
}

// maxCachedTokens bounds the cache; past it, it starts again empty.
const maxCachedTokens = 10_000

func (c *tokenCache) get(hash string) (*User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || !time.Now().Before(e.until) {
		return nil, false
	}
	u := e.u
	return &u, true
}

func (c *tokenCache) put(hash string, u *User, expires *time.Time) {
	until := time.Now().Add(TokenCacheTTL)
	if expires != nil && expires.Before(until) {
		until = *expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[string]tokenEntry{}
	}
	c.m[hash] = tokenEntry{u: *u, until: until}
}

// forget drops every cached answer: a token or user was revoked here.
func (c *tokenCache) forget() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
