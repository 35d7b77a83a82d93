package terminal

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
)

// WarmConn prepares, on a new connection of the device API's pool, the
// statements that every group of taps runs, and makes PostgreSQL plan
// them, so that the first group to use the connection does not pay for
// it (issue 17). A group's statements use generic plans, made once per
// connection at their first execution: on a cold connection the first
// group's reads took 50–200 ms more than a warm one's, on a loaded
// machine, and a server just started — or a pool that opened connections
// under load — ran its first seconds of taps on cold connections one
// after the other (16 devices at 1,000 taps/s: answers up to 0.7 s for
// the first second, p99 of the run 170–430 ms on an idle machine).
//
// It runs the group's first round trip (the locks, the stored results,
// the pupils of the badges, their duplicate windows, the day's bookings,
// the open daycare sessions), the tap rows' insert, the ledger's group
// statement, a booking consumed and a daycare session closed, for a tenant
// that does not exist and no tap, in a transaction rolled back: nothing is
// locked, read or written. (A daycare session opened is left to the first
// group.) Use it as the pool's AfterConnect.
func WarmConn(ctx context.Context, conn *pgx.Conn) error {
	r := warmReads(time.Now())
	b := r.queue()
	b.Queue(insertTapsSQL, int64(0), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	// The writes of a unit that change nothing here: the ledger's group
	// statement (and its triggers), a booking consumed, a daycare session
	// closed — of tenant 0.
	now := time.Now()
	ledger.QueueWarmUp(b, now)
	booking.QueueConsumed(b, booking.Booking{}, "warm-up", now)
	b.Queue(closeSessionSQL, int64(0), int64(0), now, "warm-up", "warm-up", decimal.Zero, "warm-up")
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("warm connection: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Rollback below: a no-op
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("warm connection: %w", err)
	}
	return tx.Rollback(ctx)
}

// warmReads is a unit's first round trip with every statement queued (a
// canteen and a daycare tap of a badge) and no element to read: tenant 0,
// no tap ids or lock keys, a badge uid that no badge has.
func warmReads(now time.Time) *unitReads {
	r := newUnitReads(0, map[int64]ledger.Hold{})
	r.uids = []string{"warm-up"}
	r.days = []string{now.Format(time.DateOnly)}
	r.stationIDs = []int64{0}
	r.window = 90 * time.Second
	r.minAt, r.maxAt = now, now
	r.canteen, r.daycareTaps = true, true
	return r
}
