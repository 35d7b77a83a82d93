package websession

import (
	"sync"
	"time"
)

// Session cache (issue 17: at the 8:00 rush every portal request read its
// session, a round trip and a statement out of the few a page needs). A
// session loaded from the database is kept in memory for cacheTTL; within
// it a request with the same cookie is answered from memory, its end and
// idle limit checked against the kept values as before, and its last-seen
// time still written at most once a minute (an update that finds no row
// ends the session: it was deleted elsewhere).
//
// The cache is the process's, shared by every Manager: a session ends
// through one manager (LogoutEverywhere from the back office ends the staff
// screens' sessions of the same person) and is gone from all at once. Every
// write that ends sessions goes through this package (Login, Logout,
// LogoutEverywhere, expiry), which drops them from the cache; only another
// process deleting rows is seen late, at most cacheTTL (or at the next
// last-seen update).

const (
	cacheTTL = 10 * time.Second
	// cacheMax bounds the entries; beyond, the stale ones are dropped,
	// and the whole cache when none is.
	cacheMax = 50_000
)

type cachedSession struct {
	s        Session
	lastSeen time.Time
	loadedAt time.Time // real time, for cacheTTL
}

type sessionCache struct {
	mu sync.Mutex
	m  map[string]*cachedSession // by string(id hash)
}

var sessions = &sessionCache{m: map[string]*cachedSession{}}

// get returns a copy of the fresh entry of idHash.
func (c *sessionCache) get(idHash []byte) (Session, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(idHash)]
	if !ok {
		return Session{}, time.Time{}, false
	}
	if time.Since(e.loadedAt) >= cacheTTL {
		delete(c.m, string(idHash))
		return Session{}, time.Time{}, false
	}
	return e.s.clone(), e.lastSeen, true
}

func (c *sessionCache) put(s *Session, lastSeen time.Time) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cacheMax {
		for k, e := range c.m {
			if now.Sub(e.loadedAt) >= cacheTTL {
				delete(c.m, k)
			}
		}
		if len(c.m) >= cacheMax {
			clear(c.m)
		}
	}
	c.m[string(s.idHash)] = &cachedSession{s: s.clone(), lastSeen: lastSeen, loadedAt: now}
}

// touched records a last-seen time written to the database.
func (c *sessionCache) touched(idHash []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[string(idHash)]; ok {
		e.lastSeen = at
	}
}

func (c *sessionCache) drop(idHash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, string(idHash))
}

// dropPrincipal drops every session of p.
func (c *sessionCache) dropPrincipal(p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if q := e.s.Principal; q != nil && q.Kind == p.Kind && q.ID == p.ID && q.TenantID == p.TenantID {
			delete(c.m, k)
		}
	}
}

// clone copies s, its principal too (callers get their own).
func (s Session) clone() Session {
	if s.Principal != nil {
		p := *s.Principal
		s.Principal = &p
	}
	s.idHash = append([]byte(nil), s.idHash...)
	return s
}
