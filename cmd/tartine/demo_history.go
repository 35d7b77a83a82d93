package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/tz"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
	"tartine/terminal"
)

// Seeding once
//
// The demo's menus, bookings, fees and history are seeded the first time
// only: claimDemoSeed records the organising body in demo_seeds, and a
// restart that finds it seeds nothing of that again, so what the user
// changed (a menu edited, a meal cancelled) stays as it is.

// claimDemoSeed records that the tenant's demo is being seeded and reports
// whether it is the first time.
func claimDemoSeed(ctx context.Context, pool *pgxpool.Pool, tenantID int64, now func() time.Time) (bool, error) {
	tag, err := pool.Exec(ctx, `INSERT INTO demo_seeds (tenant_id, demo_day) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`,
		tenantID, now().In(tz.Brussels).Format(time.DateOnly))
	if err != nil {
		return false, fmt.Errorf("demo seed marker: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// historyClock is the clock the history is played on: set before each
// step.
type historyClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *historyClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *historyClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// historyDays is how far back the demo's history goes.
const historyDays = 30

// seedHistory plays a month of school life before the demo day, as the
// terminal would have recorded it: each Monday a cash top-up at the kiosk
// for every pupil with a badge, each open day lunch taps at the canteen
// (booked or not), morning and evening daycare check-ins and check-outs,
// then the day end (no-shows, sessions left open). Tap ids and form tokens
// are derived from the day and pupil, so playing it again changes nothing.
func seedHistory(ctx context.Context, pool *pgxpool.Pool, demoNow func() time.Time, sd school.DemoInfo) error {
	clk := &historyClock{}
	led := ledger.New(pool, clk.Now)
	store := school.New(pool, led, clk.Now)
	book := booking.New(pool, led, clk.Now)
	svc, err := terminal.New(terminal.Config{Pool: pool, Ledger: led, School: store, Booking: book, Now: clk.Now, CacheTTL: time.Nanosecond})
	if err != nil {
		return err
	}
	desk, err := kiosk.New(kiosk.Config{Pool: pool, Ledger: led, School: store, Now: clk.Now})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sd.Badges))
	for n, uid := range sd.Badges {
		if len(uid) == 10 { // EM4100 fobs; the QR pupil stays out of the history
			names = append(names, n)
		}
	}
	sort.Strings(names)
	last := latestOpenDay(demoNow()).AddDate(0, 0, -1)
	var days []time.Time
	for d := last.AddDate(0, 0, -historyDays); !d.After(last); d = d.AddDate(0, 0, 1) {
		open, _, err := book.IsOpen(ctx, sd.TenantID, sd.SchoolID, d)
		if err != nil {
			return err
		}
		if open && d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			days = append(days, d)
		}
	}
	at := func(d time.Time, hm string) time.Time {
		var h, m int
		fmt.Sscanf(hm, "%d:%d", &h, &m)
		return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, tz.Brussels)
	}
	tap := func(station, uid string, when time.Time) error {
		clk.Set(when)
		_, err := svc.Apply(ctx, sd.TenantID, "device:"+sd.DeviceID, terminal.Tap{ID: stableUUID(station, uid, when), Station: station,
			UID: uid, Tech: "em4100", ReadAt: when})
		return err
	}
	for i, d := range days {
		if d.Weekday() == time.Monday || i == 0 {
			for j, n := range names {
				clk.Set(at(d, "08:05").Add(time.Duration(j) * time.Minute))
				_, err := desk.KioskTopUp(ctx, kiosk.TopUpRequest{TenantID: sd.TenantID, Station: "kiosk-1", PupilID: sd.Pupils[n],
					Amount: decimal.NewFromInt(int64(10 + 5*(j%3))), FormToken: stableToken("topup", n, d), Actor: "system:demo"})
				if err != nil && !errors.Is(err, kiosk.ErrPupilUnavailable) {
					return fmt.Errorf("history top-up %s %s: %w", n, d.Format(time.DateOnly), err)
				}
			}
		}
		for j, n := range names {
			uid := sd.Badges[n]
			// Most children eat at the canteen; one in five days a child
			// stays home.
			if (j+d.Day())%5 != 0 && d.Weekday() != time.Wednesday {
				if err := tap("canteen-1", uid, at(d, "12:02").Add(time.Duration(j*40)*time.Second)); err != nil {
					return fmt.Errorf("history lunch %s %s: %w", n, d.Format(time.DateOnly), err)
				}
			}
			switch j % 4 {
			case 0: // morning daycare
				for _, hm := range []string{"07:35", "08:15"} {
					if err := tap("daycare-1", uid, at(d, hm).Add(time.Duration(j)*time.Minute)); err != nil {
						return fmt.Errorf("history daycare %s %s: %w", n, d.Format(time.DateOnly), err)
					}
				}
			case 1: // evening daycare
				for _, hm := range []string{"15:50", "17:20"} {
					if err := tap("daycare-1", uid, at(d, hm).Add(time.Duration(j)*time.Minute)); err != nil {
						return fmt.Errorf("history daycare %s %s: %w", n, d.Format(time.DateOnly), err)
					}
				}
			}
		}
		clk.Set(at(d, "19:00"))
		if _, err := svc.DayEnd(ctx, sd.TenantID, sd.SchoolID, d); err != nil {
			return fmt.Errorf("history day end %s: %w", d.Format(time.DateOnly), err)
		}
	}
	return nil
}

// stableUUID is a version-4-shaped UUID derived from its parts.
func stableUUID(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// stableToken is a kiosk form token derived from its parts.
func stableToken(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:16])
}
