package booking

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRushMoreBookingsThanConnections is issue 17: 20 families booking and
// cancelling at once on a pool of 4 connections must all finish. Before,
// Book and Cancel held a transaction and asked the pool for a second
// connection to place or void the hold: with every connection held by a
// booking waiting for another, the pool deadlocked.
func TestRushMoreBookingsThanConnections(t *testing.T) {
	const conns, families = 4, 20
	f := newFixtureConns(t, `{}`, conns)
	pupils := make([]int64, families)
	for i := range pupils {
		pupils[i] = f.pupil(t, fmt.Sprintf("p%d", i), "P3", "0", "50", false)
	}
	day := d("2026-11-12")
	ctx, cancel := context.WithTimeout(f.ctx, 60*time.Second)
	defer cancel()
	start := make(chan struct{})
	errs := make(chan error, families)
	var wg sync.WaitGroup
	for i, p := range pupils {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			actor := fmt.Sprintf("guardian:%d", i)
			for round := 0; round < 3; round++ {
				b, err := f.m.Book(ctx, BookRequest{TenantID: f.tenant, PupilID: p, Day: day, Service: "repas", Actor: actor})
				if err != nil {
					errs <- fmt.Errorf("pupil %d, round %d: book: %w", p, round, err)
					return
				}
				if b.HoldID == nil {
					errs <- fmt.Errorf("pupil %d: booking without a hold", p)
					return
				}
				if round < 2 {
					if _, err := f.m.Cancel(ctx, f.tenant, b.ID, actor); err != nil {
						errs <- fmt.Errorf("pupil %d, round %d: cancel: %w", p, round, err)
						return
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%d bookings on %d connections did not finish in time: %v", families, conns, ctx.Err())
	}
	for _, p := range pupils {
		if got, want := f.available(t, p), dec("46.30"); !got.Equal(want) {
			t.Errorf("pupil %d: available %s, want %s (50 less one booked meal)", p, got, want)
		}
	}
	f.verify(t)
}

// TestDayEndInOneConnection checks that the day-end job, which holds a
// transaction per booking, posts and voids holds in it (the guard of
// newFixture fails the test otherwise), on a pool of one connection.
func TestDayEndInOneConnection(t *testing.T) {
	for _, charged := range []bool{true, false} {
		t.Run(fmt.Sprintf("charged=%v", charged), func(t *testing.T) {
			settings := `{"meal_no_show": "release"}`
			if charged {
				settings = `{"meal_no_show": "charge"}`
			}
			f := newFixtureConns(t, settings, 1)
			p := f.pupil(t, "a", "P3", "0", "10", false)
			day := d("2026-11-12")
			if _, err := f.m.Book(f.ctx, BookRequest{TenantID: f.tenant, PupilID: p, Day: day, Service: "repas", Actor: "guardian:1"}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(f.ctx, 20*time.Second)
			defer cancel()
			rep, err := f.m.DayEnd(ctx, f.tenant, f.school, day)
			if err != nil {
				t.Fatal(err)
			}
			want := dec("10")
			if charged {
				want = dec("6.30")
				if rep.Charged != 1 {
					t.Errorf("charged %d, want 1", rep.Charged)
				}
			} else if rep.Released != 1 {
				t.Errorf("released %d, want 1", rep.Released)
			}
			if got := f.available(t, p); !got.Equal(want) {
				t.Errorf("available %s, want %s", got, want)
			}
			f.verify(t)
		})
	}
}
