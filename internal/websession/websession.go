// Package websession keeps server-side web sessions in PostgreSQL for the
// parent portal and the staff screens, and protects every state-changing
// request against cross-site request forgery.
//
// # Sessions
//
// A session id is 32 random bytes (crypto/rand), sent to the browser
// base64url-encoded in an HttpOnly, SameSite=Lax cookie (Secure, with the
// "__Host-" name prefix, when the base URL is https). The database stores only
// SHA-256(id), so reading the table gives no usable cookie. A session belongs
// to a Principal (a guardian account or a staff user) or to nobody
// (anonymous: it only carries the CSRF token of the login and registration
// forms). Login always replaces the current session by a new id (no session
// fixation); Logout deletes it; LogoutEverywhere deletes every session of a
// principal (after a password change, or on request). A session ends after
// Config.IdleTimeout without requests or Config.MaxAge after login.
// A loaded session is kept in memory a few seconds (cache.go), so that a
// page does not read it again on every request.
//
// # Cross-site request forgery
//
// Middleware refuses (403) every request with a method other than GET, HEAD
// and OPTIONS unless both hold:
//   - the browser says it is same-origin: Sec-Fetch-Site is same-origin or
//     none, or, without it, the Origin header matches the host or the base
//     URL (net/http.CrossOriginProtection);
//   - the request carries the session's synchronizer token, in the form field
//     "csrf_token" (FieldName) or the header "X-CSRF-Token", compared in
//     constant time. A request without a session has no token and is refused.
//
// Endpoints called by other machines (payment webhooks, the device API) are
// mounted outside the group that uses Middleware.
package websession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/i18n"
)

// Principal kinds.
const (
	KindGuardian = "guardian" // a parent portal account (may span tenants)
	KindStaff    = "staff"    // a staff user of one tenant
)

// FieldName is the form field that carries the CSRF token.
const FieldName = "csrf_token"

// HeaderName is the request header that may carry the CSRF token instead.
const HeaderName = "X-CSRF-Token"

// ErrNoSession is returned when a request has no valid session.
var ErrNoSession = errors.New("websession: no session")

// Principal is who a session belongs to.
type Principal struct {
	Kind     string // KindGuardian or KindStaff
	ID       int64
	TenantID int64 // 0 for principals that span tenants (guardian accounts)
}

// Session is a loaded session.
type Session struct {
	Principal *Principal // nil when anonymous
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	idHash    []byte
}

// Config configures a Manager.
type Config struct {
	// BaseURL is the public URL of the server. With https the cookie is
	// Secure and named "__Host-"+CookieName; its origin is trusted for CSRF.
	BaseURL string
	// CookieName defaults to "tartine_session".
	CookieName string
	// IdleTimeout ends a session after this long without a request
	// (default 12 h).
	IdleTimeout time.Duration
	// MaxAge ends a logged-in session this long after login (default 30 days).
	MaxAge time.Duration
	// AnonymousTTL is the lifetime of an anonymous session (default 2 h).
	AnonymousTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Deny writes the answer to a refused request (default: 403, a page
	// that shows an old form again for a bad CSRF token — expired.go —, plain
	// text for a cross-origin request).
	Deny func(c *gin.Context, reason string)
}

// Manager creates, loads and ends sessions.
type Manager struct {
	pool   *pgxpool.Pool
	cfg    Config
	secure bool
	cookie string
	cop    *http.CrossOriginProtection
	cat    *i18n.Catalog // the expired form's page (expired.go)
}

type ctxKey struct{}

// New returns a Manager. It returns an error when BaseURL is not an absolute
// http(s) URL.
func New(pool *pgxpool.Pool, cfg Config) (*Manager, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("websession: base URL %q: want http(s)://host[:port]", cfg.BaseURL)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "tartine_session"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 12 * time.Hour
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 30 * 24 * time.Hour
	}
	if cfg.AnonymousTTL <= 0 {
		cfg.AnonymousTTL = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cat, err := i18n.New()
	if err != nil {
		return nil, fmt.Errorf("websession: %w", err)
	}
	m := &Manager{pool: pool, cfg: cfg, secure: u.Scheme == "https", cookie: cfg.CookieName, cat: cat}
	if m.cfg.Deny == nil {
		m.cfg.Deny = func(c *gin.Context, reason string) {
			if reason == "csrf" {
				m.denyExpired(c) // an old form: explained, shown again
				return
			}
			c.String(http.StatusForbidden, "Requête refusée / Request refused (%s)\n", reason)
		}
	}
	if m.secure {
		m.cookie = "__Host-" + cfg.CookieName
	}
	m.cop = http.NewCrossOriginProtection()
	if err := m.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
		return nil, fmt.Errorf("websession: trusted origin: %w", err)
	}
	return m, nil
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.cookie }

// Middleware loads the session of the request (if any) and enforces the CSRF
// rules of the package comment on non-safe methods.
func (m *Manager) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		s, err := m.load(c)
		if err != nil && !errors.Is(err, ErrNoSession) {
			_ = c.Error(err)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		if s != nil {
			c.Set(ctxKey{}, s)
		}
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			c.Next()
			return
		}
		if err := m.cop.Check(c.Request); err != nil {
			m.cfg.Deny(c, "cross-origin")
			c.Abort()
			return
		}
		token := c.GetHeader(HeaderName)
		if token == "" {
			token = c.PostForm(FieldName)
		}
		if s == nil || token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) != 1 {
			m.cfg.Deny(c, "csrf")
			c.Abort()
			return
		}
		c.Next()
	}
}

// Current returns the session loaded by Middleware, or nil.
func Current(c *gin.Context) *Session {
	v, ok := c.Get(ctxKey{})
	if !ok {
		return nil
	}
	return v.(*Session)
}

// CurrentPrincipal returns the principal of the request's session, or nil.
func CurrentPrincipal(c *gin.Context) *Principal {
	if s := Current(c); s != nil {
		return s.Principal
	}
	return nil
}

// Require aborts the request with onMissing unless its session belongs to a
// principal of the given kind.
func Require(kind string, onMissing gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := CurrentPrincipal(c)
		if p == nil || p.Kind != kind {
			onMissing(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// Ensure returns the request's session, creating an anonymous one (and
// setting its cookie) when there is none. Pages that render a form call it
// to get the CSRF token.
func (m *Manager) Ensure(c *gin.Context) (*Session, error) {
	if s := Current(c); s != nil {
		return s, nil
	}
	s, err := m.create(c, nil)
	if err != nil {
		return nil, err
	}
	c.Set(ctxKey{}, s)
	return s, nil
}

// Token returns the CSRF token for the request, creating an anonymous
// session if needed.
func (m *Manager) Token(c *gin.Context) (string, error) {
	s, err := m.Ensure(c)
	if err != nil {
		return "", err
	}
	return s.CSRFToken, nil
}

// Login ends the request's current session, if any, and starts a new one for
// p with a new id and a new CSRF token (so an id planted before login is
// worthless after it).
func (m *Manager) Login(c *gin.Context, p Principal) (*Session, error) {
	if p.Kind != KindGuardian && p.Kind != KindStaff {
		return nil, fmt.Errorf("websession: login: unknown principal kind %q", p.Kind)
	}
	if old := Current(c); old != nil {
		sessions.drop(old.idHash)
		if _, err := m.pool.Exec(c.Request.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, old.idHash); err != nil {
			return nil, fmt.Errorf("websession: end previous session: %w", err)
		}
	} else if ck, err := c.Request.Cookie(m.cookie); err == nil {
		h := hashID(ck.Value)
		sessions.drop(h)
		if _, err := m.pool.Exec(c.Request.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, h); err != nil {
			return nil, fmt.Errorf("websession: end previous session: %w", err)
		}
	}
	s, err := m.create(c, &p)
	if err != nil {
		return nil, err
	}
	c.Set(ctxKey{}, s)
	return s, nil
}

// Logout deletes the request's session and clears its cookie.
func (m *Manager) Logout(c *gin.Context) error {
	if s := Current(c); s != nil {
		sessions.drop(s.idHash)
		if _, err := m.pool.Exec(c.Request.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, s.idHash); err != nil {
			return fmt.Errorf("websession: logout: %w", err)
		}
	}
	c.Set(ctxKey{}, (*Session)(nil))
	m.setCookie(c, "", -1)
	return nil
}

// LogoutEverywhere deletes every session of p and returns how many ended.
func (m *Manager) LogoutEverywhere(ctx context.Context, p Principal) (int64, error) {
	sessions.dropPrincipal(p)
	tag, err := m.pool.Exec(ctx, `DELETE FROM web_sessions WHERE principal_kind = $1 AND principal_id = $2
		AND coalesce(tenant_id, 0) = $3`, p.Kind, p.ID, p.TenantID)
	if err != nil {
		return 0, fmt.Errorf("websession: logout everywhere: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Alive reports whether the session s (loaded by Middleware) still holds:
// not logged out, not ended everywhere, not past its end. Long-lived
// answers (a station's event stream) ask it from time to time and end with
// the session.
func (m *Manager) Alive(ctx context.Context, s *Session) (bool, error) {
	if s == nil {
		return false, nil
	}
	var n int
	if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM web_sessions WHERE id_hash = $1 AND expires_at > $2`, s.idHash, m.cfg.Now()).Scan(&n); err != nil {
		return false, fmt.Errorf("websession: alive: %w", err)
	}
	return n == 1, nil
}

// DeleteExpired removes the sessions past their end (of every kind: the
// table is shared) and returns how many; the session cleanup job runs it.
// Sessions idle past their manager's IdleTimeout are refused at load and
// deleted once past their end too (their idle limits differ by manager).
func (m *Manager) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := m.pool.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= $1`, m.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("websession: delete expired: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (m *Manager) create(c *gin.Context, p *Principal) (*Session, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	s := &Session{Principal: p, CSRFToken: csrf, CreatedAt: now, idHash: hashID(id)}
	var kind *string
	var pid, tenant *int64
	maxAge := 0 // anonymous: browser-session cookie
	if p != nil {
		s.ExpiresAt = now.Add(m.cfg.MaxAge)
		kind, pid = &p.Kind, &p.ID
		if p.TenantID != 0 {
			tenant = &p.TenantID
		}
		maxAge = int(m.cfg.MaxAge / time.Second)
	} else {
		s.ExpiresAt = now.Add(m.cfg.AnonymousTTL)
	}
	ua := c.Request.UserAgent()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	if _, err := m.pool.Exec(c.Request.Context(), `INSERT INTO web_sessions
		(id_hash, tenant_id, principal_kind, principal_id, csrf_token, created_at, last_seen_at, expires_at, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`, s.idHash, tenant, kind, pid, csrf, now, s.ExpiresAt, ua); err != nil {
		return nil, fmt.Errorf("websession: create: %w", err)
	}
	m.setCookie(c, id, maxAge)
	return s, nil
}

func (m *Manager) load(c *gin.Context) (*Session, error) {
	ck, err := c.Request.Cookie(m.cookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return nil, ErrNoSession
	}
	h := hashID(ck.Value)
	now := m.cfg.Now()
	if s, lastSeen, ok := sessions.get(h); ok {
		return m.loadCached(c, s, lastSeen, now)
	}
	var (
		s        Session
		kind     *string
		pid      *int64
		tenant   *int64
		lastSeen time.Time
	)
	err = m.pool.QueryRow(c.Request.Context(), `SELECT tenant_id, principal_kind, principal_id, csrf_token, created_at, last_seen_at, expires_at
		FROM web_sessions WHERE id_hash = $1`, h).Scan(&tenant, &kind, &pid, &s.CSRFToken, &s.CreatedAt, &lastSeen, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("websession: load: %w", err)
	}
	if !now.Before(s.ExpiresAt) || !now.Before(lastSeen.Add(m.cfg.IdleTimeout)) {
		if _, err := m.pool.Exec(c.Request.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, h); err != nil {
			return nil, fmt.Errorf("websession: drop expired: %w", err)
		}
		return nil, ErrNoSession
	}
	if kind != nil && pid != nil {
		s.Principal = &Principal{Kind: *kind, ID: *pid}
		if tenant != nil {
			s.Principal.TenantID = *tenant
		}
	}
	s.idHash = h
	if now.Sub(lastSeen) > time.Minute {
		if _, err := m.pool.Exec(c.Request.Context(), `UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1`, h, now); err != nil {
			return nil, fmt.Errorf("websession: touch: %w", err)
		}
		lastSeen = now
	}
	sessions.put(&s, lastSeen)
	return &s, nil
}

// loadCached is load for a session in the cache (cache.go): the same
// checks on the kept end and last-seen times, no statement but the
// last-seen update at most once a minute.
func (m *Manager) loadCached(c *gin.Context, s Session, lastSeen, now time.Time) (*Session, error) {
	if !now.Before(s.ExpiresAt) || !now.Before(lastSeen.Add(m.cfg.IdleTimeout)) {
		sessions.drop(s.idHash)
		if _, err := m.pool.Exec(c.Request.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, s.idHash); err != nil {
			return nil, fmt.Errorf("websession: drop expired: %w", err)
		}
		return nil, ErrNoSession
	}
	if now.Sub(lastSeen) > time.Minute {
		tag, err := m.pool.Exec(c.Request.Context(), `UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1`, s.idHash, now)
		if err != nil {
			return nil, fmt.Errorf("websession: touch: %w", err)
		}
		if tag.RowsAffected() == 0 { // deleted by another process
			sessions.drop(s.idHash)
			return nil, ErrNoSession
		}
		sessions.touched(s.idHash, now)
	}
	return &s, nil
}

func (m *Manager) setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     m.cookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   m.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("websession: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(strings.TrimSpace(id)))
	return sum[:]
}
