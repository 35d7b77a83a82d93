package booking

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

func TestConsumeTx(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	nora := f.pupil(t, "nora", "P5", "0", "0", true) // free meals
	day := "2026-11-05"
	be, err := f.book(emma, day, "repas")
	if err != nil {
		t.Fatal(err)
	}
	bn, err := f.book(nora, day, "repas")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(time.Date(2026, 11, 5, 12, 0, 0, 0, f.loc))
	tapAt := time.Date(2026, 11, 5, 11, 52, 3, 0, f.loc)
	before := f.available(t, emma)

	// Rolled back with the caller: still booked, hold still pending.
	_ = pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := f.m.ConsumeTx(f.ctx, tx, be, "tap-1", tapAt); err != nil {
			t.Fatal(err)
		}
		return errors.New("rollback")
	})
	if b, err := f.m.Get(f.ctx, f.tenant, be.ID); err != nil || b.Status != StatusBooked {
		t.Fatalf("after rollback: %+v, %v; want booked", b.Status, err)
	}
	if got := f.available(t, emma); !got.Equal(before) {
		t.Fatalf("available after rollback %s, want %s", got, before)
	}

	var c Consumption
	err = pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = f.m.ConsumeTx(f.ctx, tx, be, "tap-1", tapAt); err != nil {
			return err
		}
		// Another tap in the same transaction: already consumed, clean.
		_, err = f.m.ConsumeTx(f.ctx, tx, be, "tap-2", tapAt)
		if !errors.Is(err, ErrAlreadyConsumed) || errors.Is(err, ledger.ErrTxAborted) {
			t.Errorf("second tap = %v, want ErrAlreadyConsumed", err)
		}
		cn, err := f.m.ConsumeTx(f.ctx, tx, bn, "tap-3", tapAt)
		if err != nil || !cn.Subsidised.Equal(dec("3.70")) || cn.TransferID == nil {
			t.Errorf("free meal = %+v, %v", cn, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Charged.Equal(dec("3.70")) || c.TransferID == nil || c.Replayed {
		t.Fatalf("ConsumeTx = %+v", c)
	}
	// The hold was already reserved: consuming it leaves available as is.
	if got := f.available(t, emma); !got.Equal(before) {
		t.Errorf("available after the meal %s, want %s", got, before)
	}
	var again Consumption
	_ = pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		again, err = f.m.ConsumeTx(f.ctx, tx, be, "tap-1", tapAt)
		return err
	})
	if err != nil || !again.Replayed || *again.TransferID != *c.TransferID {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	f.verify(t)
}
