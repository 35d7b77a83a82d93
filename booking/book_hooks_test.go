package booking

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// TestBookAndCancelInTx (issue 17, fifth pass): what the caller writes in
// InTx commits with the booking or the cancellation, and its error undoes
// them; the hook runs only for a booking made or cancelled now;
// CancelBooking refuses another pupil's booking as unknown and works with
// a wrong school given.
func TestBookAndCancelInTx(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	lucas := f.pupil(t, "lucas", "P3", "0", "20.00", false)
	boom := errors.New("boom")
	calls := 0
	var seen Booking
	var avail WalletBalance
	hook := func(fail bool) func(context.Context, pgx.Tx, Booking) error {
		return func(ctx context.Context, tx pgx.Tx, b Booking) error {
			calls++
			seen = b
			var w int64
			if err := tx.QueryRow(ctx, `SELECT wallet_account_id FROM pupils WHERE id = $1`, b.PupilID).Scan(&w); err != nil {
				return err
			}
			var err error
			if avail, err = f.m.WalletTx(ctx, tx, b.TenantID, w); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		}
	}
	book := func(pupil int64, fail bool) (Booking, error) {
		return f.m.Book(f.ctx, BookRequest{TenantID: f.tenant, PupilID: pupil, Day: d("2026-11-05"), Service: "repas", Actor: "guardian:1", InTx: hook(fail)})
	}
	// The hook fails: no booking, no hold.
	if _, err := book(emma, true); !errors.Is(err, boom) {
		t.Fatalf("Book with a failing hook: %v, want boom", err)
	}
	if _, err := f.m.BookingFor(f.ctx, f.tenant, emma, d("2026-11-05"), "repas"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a booking stands after its hook failed: %v", err)
	}
	wantAvail(t, f, emma, "20.00")
	// It succeeds: it saw the booking and the wallet with its hold.
	b, err := book(emma, false)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || seen.ID != b.ID || seen.HoldID == nil || !avail.Available.Equal(dec("16.30")) {
		t.Fatalf("hook: %d calls, saw %+v, available %s", calls, seen, avail.Available)
	}
	// Booked already: the booking is returned, the hook not called.
	if again, err := book(emma, false); err != nil || again.ID != b.ID || calls != 2 {
		t.Fatalf("Book again: %+v, %v, %d calls", again, err, calls)
	}

	cancel := func(pupil, schoolID int64, fail bool) (Booking, error) {
		return f.m.CancelBooking(f.ctx, CancelRequest{TenantID: f.tenant, BookingID: b.ID, PupilID: pupil, SchoolID: schoolID, Actor: "guardian:1", InTx: hook(fail)})
	}
	// Another pupil's booking: unknown, nothing returned.
	if got, err := cancel(lucas, f.school, false); !errors.Is(err, ErrNotFound) || got.ID != 0 {
		t.Fatalf("cancel of another pupil's booking: %+v, %v", got, err)
	}
	// The hook fails: still booked, the hold pending, the booking returned
	// as it stands.
	if got, err := cancel(emma, f.school, true); !errors.Is(err, boom) || got.ID != b.ID || got.Status != StatusBooked {
		t.Fatalf("cancel with a failing hook: %+v, %v", got, err)
	}
	if h, _ := f.led.GetHold(f.ctx, f.tenant, *b.HoldID); h.Status != ledger.HoldPending {
		t.Fatalf("hold %s after a failed cancellation", h.Status)
	}
	wantAvail(t, f, emma, "16.30")
	// A wrong school given (another tenant's id): the booking's own is read.
	calls = 0
	c, err := cancel(emma, f.school+1000, false)
	if err != nil || c.Status != StatusCancelled || calls != 1 || seen.Status != StatusCancelled || !avail.Available.Equal(dec("20.00")) {
		t.Fatalf("cancel: %+v, %v; hook %d calls, saw %s, available %s", c, err, calls, seen.Status, avail.Available)
	}
	// Cancelled already: returned, the hook not called.
	if again, err := cancel(emma, f.school, false); err != nil || again.Status != StatusCancelled || calls != 1 {
		t.Fatalf("cancel again: %+v, %v, %d calls", again, err, calls)
	}
	// Unknown booking.
	if _, err := f.m.CancelBooking(f.ctx, CancelRequest{TenantID: f.tenant, BookingID: b.ID + 1000, Actor: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown booking: %v", err)
	}
	f.verify(t)
}

// TestCancelCutoffReturnsTheBooking: a cancellation refused at the cut-off
// says which booking (the portal sends the family back to its day).
func TestCancelCutoffReturnsTheBooking(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	b, err := f.book(emma, "2026-11-05", "repas")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(d("2026-11-05").Add(12 * time.Hour))
	got, err := f.m.CancelBooking(f.ctx, CancelRequest{TenantID: f.tenant, BookingID: b.ID, PupilID: emma, SchoolID: f.school, Actor: "guardian:1"})
	if !errors.Is(err, ErrCutoffPassed) || got.ID != b.ID || !got.Day.Equal(b.Day) {
		t.Fatalf("cancel after the cut-off: %+v, %v", got, err)
	}
	if _, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "guardian:1"); !errors.Is(err, ErrCutoffPassed) {
		t.Fatalf("Cancel after the cut-off: %v", err)
	}
}
