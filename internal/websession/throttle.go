package websession

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Throttle slows down password guessing per account and per client
// address, in the login_failures table (so it holds across server
// processes).
//
// Call Check before verifying a password: it counts the failures of the
// window and the attempts still in flight, under a lock per key, and when
// the attempt may proceed records it as in flight, all in one transaction.
// Parallel attempts therefore cannot slip past the count while the first
// ones are being hashed. Then call Failed (the attempt becomes a failure)
// or Succeeded (the account's failures are forgotten); an attempt left in
// flight stops counting after a minute.
//
// Up to the limit (PerAccount, PerIP) failures pass freely; past it each
// further attempt waits a delay that doubles from one second with every
// failure, up to MaxDelay for an account (default 1 min) and MaxDelayIP
// for an address (default 15 min). An account never gets a hard lock that
// anyone could trigger: its owner waits at most MaxDelay.
type Throttle struct {
	pool       *pgxpool.Pool
	now        func() time.Time
	scope      string
	window     time.Duration
	perAccount int
	perIP      int
	maxDelay   time.Duration
	maxDelayIP time.Duration
}

// ThrottleConfig configures a Throttle.
type ThrottleConfig struct {
	Scope      string        // "guardian" or "staff": keeps the two logins apart
	Window     time.Duration // failures older than this are forgotten (default 15 min)
	PerAccount int           // failures per account before delays (default 5)
	PerIP      int           // failures per address before delays (default 30)
	MaxDelay   time.Duration // longest delay of an account (default 1 min)
	MaxDelayIP time.Duration // longest delay of an address (default 15 min)
	Now        func() time.Time
}

// inFlightTTL is how long an attempt without outcome counts.
const inFlightTTL = time.Minute

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
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Minute
	}
	if cfg.MaxDelayIP <= 0 {
		cfg.MaxDelayIP = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{pool: pool, now: cfg.Now, scope: cfg.Scope, window: cfg.Window, perAccount: cfg.PerAccount, perIP: cfg.PerIP,
		maxDelay: cfg.MaxDelay, maxDelayIP: cfg.MaxDelayIP}
}

func accountKey(account string) string {
	return "account:" + strings.ToLower(strings.TrimSpace(account))
}
func ipKey(ip string) string { return "ip:" + ip }

// delay is the wait after the n-th failure past the limit (n ≥ 1): one
// second doubled each time, at most max.
func delay(n int, max time.Duration) time.Duration {
	if n > 30 {
		return max
	}
	d := time.Second << (n - 1)
	if d > max {
		return max
	}
	return d
}

// Check reports whether a login attempt for account from ip may proceed,
// and if so records it as in flight. When it may not, retryAfter says how
// long to wait.
func (t *Throttle) Check(ctx context.Context, account, ip string) (ok bool, retryAfter time.Duration, err error) {
	now := t.now()
	keys := []struct {
		key   string
		limit int
		max   time.Duration
	}{{accountKey(account), t.perAccount, t.maxDelay}, {ipKey(ip), t.perIP, t.maxDelayIP}}
	err = pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		// One lock per key, taken in a fixed order.
		names := []string{t.scope + "|" + keys[0].key, t.scope + "|" + keys[1].key}
		sort.Strings(names)
		for _, n := range names {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 12))`, n); err != nil {
				return err
			}
		}
		for _, k := range keys {
			var n int
			var last *time.Time
			if err := tx.QueryRow(ctx, `SELECT count(*), max(at) FROM login_failures
				WHERE scope = $1 AND key = $2 AND at > $3 AND (NOT in_flight OR at > $4)`,
				t.scope, k.key, now.Add(-t.window), now.Add(-inFlightTTL)).Scan(&n, &last); err != nil {
				return err
			}
			if n < k.limit || last == nil {
				continue
			}
			if wait := last.Add(delay(n-k.limit+1, k.max)).Sub(now); wait > retryAfter {
				retryAfter = wait
			}
		}
		if retryAfter > 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO login_failures (scope, key, at, in_flight) VALUES ($1, $2, $4, true), ($1, $3, $4, true)`,
			t.scope, keys[0].key, keys[1].key, now)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("websession: throttle check: %w", err)
	}
	if retryAfter > 0 {
		return false, (retryAfter + time.Second - 1).Truncate(time.Second), nil
	}
	return true, 0, nil
}

// Failed records a failed attempt for account from ip (the attempt in
// flight since Check becomes a failure; without one, a failure is added),
// and drops failures that left the window.
func (t *Throttle) Failed(ctx context.Context, account, ip string) error {
	now := t.now()
	for _, key := range []string{accountKey(account), ipKey(ip)} {
		tag, err := t.pool.Exec(ctx, `UPDATE login_failures SET in_flight = false, at = $3
			WHERE ctid = (SELECT ctid FROM login_failures WHERE scope = $1 AND key = $2 AND in_flight AND at > $4 ORDER BY at DESC LIMIT 1)`,
			t.scope, key, now, now.Add(-inFlightTTL))
		if err != nil {
			return fmt.Errorf("websession: throttle record: %w", err)
		}
		if tag.RowsAffected() == 0 {
			if _, err := t.pool.Exec(ctx, `INSERT INTO login_failures (scope, key, at) VALUES ($1, $2, $3)`, t.scope, key, now); err != nil {
				return fmt.Errorf("websession: throttle record: %w", err)
			}
		}
	}
	if _, err := t.pool.Exec(ctx, `DELETE FROM login_failures WHERE scope = $1 AND key IN ($2, $3) AND at <= $4`,
		t.scope, accountKey(account), ipKey(ip), now.Add(-t.window)); err != nil {
		return fmt.Errorf("websession: throttle prune: %w", err)
	}
	return nil
}

// Succeeded forgets the account's failures after a successful login (the
// address's attempt in flight stops counting after a minute).
func (t *Throttle) Succeeded(ctx context.Context, account string) error {
	if _, err := t.pool.Exec(ctx, `DELETE FROM login_failures WHERE scope = $1 AND key = $2`, t.scope, accountKey(account)); err != nil {
		return fmt.Errorf("websession: throttle reset: %w", err)
	}
	return nil
}

// WithScope returns a Throttle with the same settings that counts in
// another scope, so that, say, password reset requests or registration
// attempts do not slow down the logins from the same address.
func (t *Throttle) WithScope(scope string) *Throttle {
	c := *t
	c.scope = scope
	return &c
}
