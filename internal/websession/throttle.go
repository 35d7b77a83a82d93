package websession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Throttle limits failed logins per account and per client address over a
// sliding window, in the login_failures table (so it holds across server
// processes). Check it before verifying a password: while an account is
// throttled even the right password is refused.
type Throttle struct {
	pool       *pgxpool.Pool
	now        func() time.Time
	scope      string
	window     time.Duration
	perAccount int
	perIP      int
}

// ThrottleConfig configures a Throttle.
type ThrottleConfig struct {
	Scope      string        // "guardian" or "staff": keeps the two logins apart
	Window     time.Duration // default 15 min
	PerAccount int           // failures allowed per account in the window (default 5)
	PerIP      int           // failures allowed per address in the window (default 30)
	Now        func() time.Time
}

// NewThrottle returns a Throttle.
func NewThrottle(pool *pgxpool.Pool, cfg ThrottleConfig) *Throttle {
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.PerAccount <= 0 {
		cfg.PerAccount = 5
	}
	if cfg.PerIP <= 0 {
		cfg.PerIP = 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{pool: pool, now: cfg.Now, scope: cfg.Scope, window: cfg.Window, perAccount: cfg.PerAccount, perIP: cfg.PerIP}
}

func accountKey(account string) string {
	return "account:" + strings.ToLower(strings.TrimSpace(account))
}
func ipKey(ip string) string { return "ip:" + ip }

// Check reports whether a login attempt for account from ip may proceed. When
// it may not, retryAfter says how long until the oldest counted failure
// leaves the window.
func (t *Throttle) Check(ctx context.Context, account, ip string) (ok bool, retryAfter time.Duration, err error) {
	now := t.now()
	since := now.Add(-t.window)
	for _, k := range []struct {
		key   string
		limit int
	}{{accountKey(account), t.perAccount}, {ipKey(ip), t.perIP}} {
		// The limit-th most recent failure decides when one more attempt is allowed.
		var at time.Time
		err := t.pool.QueryRow(ctx, `SELECT at FROM login_failures
			WHERE scope = $1 AND key = $2 AND at > $3 ORDER BY at DESC OFFSET $4 - 1 LIMIT 1`,
			t.scope, k.key, since, k.limit).Scan(&at)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, 0, fmt.Errorf("websession: throttle check: %w", err)
		}
		if err == nil {
			wait := at.Add(t.window).Sub(now)
			if wait > retryAfter {
				retryAfter = wait
			}
		}
	}
	if retryAfter > 0 {
		return false, retryAfter.Round(time.Second), nil
	}
	return true, 0, nil
}

// Failed records a failed attempt for account from ip, and drops failures
// that left the window.
func (t *Throttle) Failed(ctx context.Context, account, ip string) error {
	now := t.now()
	if _, err := t.pool.Exec(ctx, `INSERT INTO login_failures (scope, key, at) VALUES ($1, $2, $4), ($1, $3, $4)`,
		t.scope, accountKey(account), ipKey(ip), now); err != nil {
		return fmt.Errorf("websession: throttle record: %w", err)
	}
	if _, err := t.pool.Exec(ctx, `DELETE FROM login_failures WHERE scope = $1 AND key IN ($2, $3) AND at <= $4`,
		t.scope, accountKey(account), ipKey(ip), now.Add(-t.window)); err != nil {
		return fmt.Errorf("websession: throttle prune: %w", err)
	}
	return nil
}

// Succeeded forgets the account's failures after a successful login.
func (t *Throttle) Succeeded(ctx context.Context, account string) error {
	if _, err := t.pool.Exec(ctx, `DELETE FROM login_failures WHERE scope = $1 AND key = $2`, t.scope, accountKey(account)); err != nil {
		return fmt.Errorf("websession: throttle reset: %w", err)
	}
	return nil
}
