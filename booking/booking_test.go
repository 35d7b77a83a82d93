package booking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is an injectable, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type fixture struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	led    *ledger.Ledger
	m      *Manager
	clock  *clock
	tenant int64
	school int64
	bank   int64
	loc    *time.Location
}

func brussels(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// newFixture makes a tenant with one school (settings as given), the
// 2026-27 calendar, meal types repas (subsidised) and potage, and tariffs.
// The pool is watched by dbtest.Guarded: a test fails when code asks for
// a second connection while holding one.
func newFixture(t *testing.T, settings string) *fixture {
	t.Helper()
	return newFixtureConns(t, settings, 0)
}

// newFixtureConns is newFixture with a pool of maxConns connections.
func newFixtureConns(t *testing.T, settings string, maxConns int32) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, _ := dbtest.Guarded(t, maxConns)
	f := &fixture{ctx: ctx, pool: pool, clock: &clock{}, loc: brussels(t)}
	f.clock.set(time.Date(2026, 11, 2, 12, 0, 0, 0, f.loc))
	f.led = ledger.New(pool, f.clock.now)
	f.m = New(pool, f.led, f.clock.now)
	var err error
	if f.tenant, err = f.led.EnsureTenant(ctx, "t", "PO test"); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO schools (tenant_id, code, name, settings) VALUES ($1, 'ecole', 'École test', $2) RETURNING id`,
		f.tenant, settings).Scan(&f.school); err != nil {
		t.Fatal(err)
	}
	bank, err := f.led.EnsureAccount(ctx, f.tenant, ledger.AccountSpec{Code: "bank", Name: "Banque", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	f.bank = bank.ID
	if _, err := f.m.GenerateYear(ctx, f.tenant, f.school, 2026); err != nil {
		t.Fatal(err)
	}
	for _, mt := range []MealType{{Code: "repas", Name: "Repas complet", Subsidised: true}, {Code: "potage", Name: "Potage", Position: 1}} {
		if err := f.m.EnsureMealType(ctx, f.tenant, mt); err != nil {
			t.Fatal(err)
		}
	}
	for _, mt := range []MealTariff{
		{SchoolID: f.school, MealType: "repas", Level: "P", BookedPrice: dec("3.70"), UnbookedPrice: dec("4.50"), ValidFrom: d("2026-08-31")},
		{SchoolID: f.school, MealType: "repas", Level: "M", BookedPrice: dec("3.20"), UnbookedPrice: dec("4.50"), ValidFrom: d("2026-08-31")},
		{SchoolID: f.school, MealType: "potage", Level: "*", BookedPrice: dec("0.60"), UnbookedPrice: dec("0.80"), ValidFrom: d("2026-08-31")},
	} {
		if _, err := f.m.AddMealTariff(ctx, f.tenant, mt); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// pupil creates a pupil with a wallet (floor) topped up with balance.
func (f *fixture) pupil(t *testing.T, name, level string, floor, balance string, free bool) int64 {
	t.Helper()
	fl := dec(floor)
	w, err := f.led.EnsureAccount(f.ctx, f.tenant, ledger.AccountSpec{Code: "wallet:" + name, Name: name, Type: ledger.Liability, Floor: &fl})
	if err != nil {
		t.Fatal(err)
	}
	if b := dec(balance); b.IsPositive() {
		if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: "topup:" + name, Kind: "topup",
			Postings: []ledger.Posting{{AccountID: f.bank, Amount: b}, {AccountID: w.ID, Amount: b.Neg()}}}); err != nil {
			t.Fatal(err)
		}
	}
	var id int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO pupils (tenant_id, school_id, first_name, last_name, level, free_meals, wallet_account_id)
		VALUES ($1, $2, $3, 'Test', $4, $5, $6) RETURNING id`, f.tenant, f.school, name, level, free, w.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) available(t *testing.T, pupilID int64) decimal.Decimal {
	t.Helper()
	var w int64
	if err := f.pool.QueryRow(f.ctx, `SELECT wallet_account_id FROM pupils WHERE tenant_id = $1 AND id = $2`, f.tenant, pupilID).Scan(&w); err != nil {
		t.Fatal(err)
	}
	b, err := f.led.Balance(f.ctx, f.tenant, w)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}

func (f *fixture) verify(t *testing.T) {
	t.Helper()
	v, _, err := f.led.Verify(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > 0 {
		t.Fatalf("ledger.Verify: %+v", v)
	}
}

func (f *fixture) book(pupilID int64, day string, svc Service) (Booking, error) {
	return f.m.Book(f.ctx, BookRequest{TenantID: f.tenant, PupilID: pupilID, Day: d(day), Service: svc, Actor: "guardian:1"})
}

func wantAvail(t *testing.T, f *fixture, pupilID int64, want string) {
	t.Helper()
	if got := f.available(t, pupilID); !got.Equal(dec(want)) {
		t.Errorf("available = %s, want %s", got, want)
	}
}

func TestBookHoldsAndCancelVoids(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	b, err := f.book(emma, "2026-11-05", "repas")
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != StatusBooked || !b.Price.Equal(dec("3.70")) || b.HoldID == nil {
		t.Fatalf("booking = %+v", b)
	}
	wantAvail(t, f, emma, "16.30")
	h, err := f.led.GetHold(f.ctx, f.tenant, *b.HoldID)
	if err != nil || h.Status != ledger.HoldPending || !h.Amount.Equal(dec("3.70")) {
		t.Fatalf("hold = %+v, %v", h, err)
	}

	again, err := f.book(emma, "2026-11-05", "repas")
	if err != nil || again.ID != b.ID || *again.HoldID != *b.HoldID {
		t.Fatalf("second Book = %+v, %v; want the same booking %d", again, err, b.ID)
	}
	wantAvail(t, f, emma, "16.30")

	c, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "guardian:1")
	if err != nil || c.Status != StatusCancelled {
		t.Fatalf("Cancel = %+v, %v", c, err)
	}
	wantAvail(t, f, emma, "20.00")
	if h, _ := f.led.GetHold(f.ctx, f.tenant, *b.HoldID); h.Status != ledger.HoldVoided {
		t.Errorf("hold status %s, want voided", h.Status)
	}
	if _, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "guardian:1"); err != nil {
		t.Errorf("cancelling twice: %v", err)
	}
	// Booking again after a cancellation is a new booking with a new hold.
	nb, err := f.book(emma, "2026-11-05", "repas")
	if err != nil || nb.ID == b.ID {
		t.Fatalf("rebook = %+v, %v", nb, err)
	}
	wantAvail(t, f, emma, "16.30")
	f.verify(t)
}

func TestCutoff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	tests := []struct {
		day, want string
	}{
		{"2026-11-05", "2026-11-04 09:00"}, // Thursday: Wednesday before
		{"2026-11-09", "2026-11-06 09:00"}, // Monday: Friday before
		{"2026-11-12", "2026-11-10 09:00"}, // Thursday after 11/11 (closed): Tuesday
		{"2026-11-02", "2026-10-16 09:00"}, // after the autumn break
		{"2026-08-31", "2026-08-28 09:00"}, // first day: last weekday before
	}
	for _, tc := range tests {
		got, err := f.m.Cutoff(f.ctx, f.tenant, f.school, d(tc.day))
		if err != nil {
			t.Fatal(err)
		}
		if got.Format("2006-01-02 15:04") != tc.want || got.Location().String() != "Europe/Brussels" {
			t.Errorf("Cutoff(%s) = %s, want %s Brussels", tc.day, got, tc.want)
		}
	}
}

func TestBookCutoffBeforeAndAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	// Thursday 12/11: cut-off Tuesday 10/11 09:00 (11/11 is closed).
	f.clock.set(time.Date(2026, 11, 10, 8, 59, 59, 0, f.loc))
	b, err := f.book(emma, "2026-11-12", "repas")
	if err != nil {
		t.Fatalf("just before cut-off: %v", err)
	}
	f.clock.set(time.Date(2026, 11, 10, 9, 0, 0, 0, f.loc))
	if _, err := f.book(emma, "2026-11-12", "potage"); !errors.Is(err, ErrCutoffPassed) {
		t.Errorf("at cut-off: err = %v, want ErrCutoffPassed", err)
	}
	if got := MessageKey(fmt.Errorf("x: %w", ErrCutoffPassed)); got != "booking.error.cutoff" {
		t.Errorf("MessageKey = %q", got)
	}
	if _, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "guardian:1"); !errors.Is(err, ErrCutoffPassed) {
		t.Errorf("cancel after cut-off: err = %v, want ErrCutoffPassed", err)
	}
	wantAvail(t, f, emma, "16.30")
	// An existing booking is returned even after the cut-off.
	if again, err := f.book(emma, "2026-11-12", "repas"); err != nil || again.ID != b.ID {
		t.Errorf("rebook after cut-off = %v, %v", again.ID, err)
	}
}

func TestCancelAfterCutoffWithRefundPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `{"refund_after_cutoff": true}`)
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	b, err := f.book(emma, "2026-11-12", "repas")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(time.Date(2026, 11, 12, 10, 0, 0, 0, f.loc))
	if _, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "staff:1"); err != nil {
		t.Fatalf("cancel with refund policy: %v", err)
	}
	wantAvail(t, f, emma, "20.00")
}

func TestBookClosedDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	for _, tc := range []struct{ day, reason string }{
		{"2026-11-11", "Armistice"},
		{"2026-11-07", ReasonWeekend},
		{"2026-12-22", "Vacances d'hiver"},
		{"2027-07-05", ReasonOutsideYear},
		{"2026-11-04", ReasonNoWednesday},
	} {
		_, err := f.book(emma, tc.day, "repas")
		if !errors.Is(err, ErrClosedDay) {
			t.Errorf("Book on %s: err = %v, want ErrClosedDay", tc.day, err)
			continue
		}
		if want := tc.reason; !contains(err.Error(), want) {
			t.Errorf("Book on %s: %v, want reason %q", tc.day, err, want)
		}
	}
	// Daycare is booked on Wednesdays; a school-decided closure closes it.
	if _, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.book(emma, "2026-11-04", DaycareEvening); err != nil {
		t.Errorf("daycare on Wednesday: %v", err)
	}
	if err := f.m.AddClosedDay(f.ctx, f.tenant, f.school, d("2026-11-06"), "", "Journée pédagogique"); err != nil {
		t.Fatal(err)
	}
	if open, reason, err := f.m.IsOpen(f.ctx, f.tenant, f.school, d("2026-11-06")); err != nil || open || reason != "Journée pédagogique" {
		t.Errorf("IsOpen(6/11) = %v, %q, %v", open, reason, err)
	}
	if _, err := f.book(emma, "2026-11-06", "repas"); !errors.Is(err, ErrClosedDay) {
		t.Errorf("closed by the school: %v", err)
	}
	if ok, err := f.m.RemoveClosedDay(f.ctx, f.tenant, f.school, d("2026-11-06")); err != nil || !ok {
		t.Fatalf("RemoveClosedDay = %v, %v", ok, err)
	}
	if _, err := f.book(emma, "2026-11-06", "repas"); err != nil {
		t.Errorf("reopened day: %v", err)
	}
	// Regenerating the year keeps the edits.
	if _, err := f.m.GenerateYear(f.ctx, f.tenant, f.school, 2026); err != nil {
		t.Fatal(err)
	}
	if open, _, _ := f.m.IsOpen(f.ctx, f.tenant, f.school, d("2026-11-06")); !open {
		t.Error("GenerateYear undid an edit")
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestInsufficientFunds(t *testing.T) {
	t.Parallel()
	t.Run("allow down to the floor", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "{}")
		lucas := f.pupil(t, "lucas", "P1", "-5", "2.00", false)
		if _, err := f.book(lucas, "2026-11-05", "repas"); err != nil {
			t.Fatalf("within the grace: %v", err)
		}
		wantAvail(t, f, lucas, "-1.70")
		_, err := f.book(lucas, "2026-11-06", "repas")
		if !errors.Is(err, ErrInsufficientFunds) || !errors.Is(err, ledger.ErrFloorBreach) {
			t.Fatalf("below the floor: err = %v, want ErrInsufficientFunds wrapping ErrFloorBreach", err)
		}
		var fe *ledger.FloorError
		if !errors.As(err, &fe) {
			t.Errorf("no *ledger.FloorError in %v", err)
		}
		if MessageKey(err) != "booking.error.insufficient_funds" {
			t.Errorf("MessageKey = %q", MessageKey(err))
		}
		if _, err := f.m.BookingFor(f.ctx, f.tenant, lucas, d("2026-11-06"), "repas"); !errors.Is(err, ErrNotFound) {
			t.Errorf("refused booking left a row: %v", err)
		}
		wantAvail(t, f, lucas, "-1.70")
		f.verify(t)
	})
	t.Run("refuse policy keeps out of the grace", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, `{"insufficient_funds": "refuse"}`)
		lucas := f.pupil(t, "lucas", "P1", "-10", "5.00", false)
		if _, err := f.book(lucas, "2026-11-05", "repas"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.book(lucas, "2026-11-06", "repas"); !errors.Is(err, ErrInsufficientFunds) {
			t.Errorf("err = %v, want ErrInsufficientFunds", err)
		}
		wantAvail(t, f, lucas, "1.30")
	})
}

func TestBookConcurrentSameTriple(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := f.book(emma, "2026-11-05", "repas")
			ids[i], errs[i] = b.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent Book %d = %d, %v; want %d", i, ids[i], errs[i], ids[0])
		}
	}
	wantAvail(t, f, emma, "16.30")
	f.verify(t)
}

func TestBookPattern(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "12.00", false)
	// Already booked Thursday 5/11.
	if _, err := f.book(emma, "2026-11-05", "repas"); err != nil {
		t.Fatal(err)
	}
	f.clock.set(time.Date(2026, 11, 3, 10, 0, 0, 0, f.loc)) // after Tuesday 3/11's and Wednesday's cut-off... Wednesday is no-meal anyway
	rep, err := f.m.BookPattern(f.ctx, PatternRequest{TenantID: f.tenant, PupilID: emma, Service: "repas",
		Weekdays: []time.Weekday{time.Monday, time.Wednesday, time.Thursday}, From: d("2026-11-02"), Until: d("2026-11-16"), Actor: "guardian:1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Outcome{}
	for _, r := range rep.Days {
		got[r.Day.Format(time.DateOnly)] = r.Outcome
	}
	want := map[string]Outcome{
		"2026-11-02": OutcomeCutoffPassed,      // Monday, today-ish
		"2026-11-04": OutcomeClosed,            // Wednesday: no meals
		"2026-11-05": OutcomeAlreadyBooked,     // 20.00 − 3.70 → 8.30 left
		"2026-11-09": OutcomeBooked,            // 4.60 left
		"2026-11-11": OutcomeClosed,            // Armistice
		"2026-11-12": OutcomeBooked,            // 0.90 left
		"2026-11-16": OutcomeInsufficientFunds, // floor 0
	}
	if len(got) != len(want) {
		t.Errorf("days = %v, want %v", got, want)
	}
	for day, o := range want {
		if got[day] != o {
			t.Errorf("%s: %s, want %s", day, got[day], o)
		}
	}
	if rep.Count(OutcomeBooked) != 2 {
		t.Errorf("booked %d, want 2", rep.Count(OutcomeBooked))
	}
	wantAvail(t, f, emma, "0.90")
	end, err := f.m.TermEnd(f.ctx, f.tenant, f.school, d("2026-11-03"))
	if err != nil || end.Format(time.DateOnly) != "2026-12-18" {
		t.Errorf("TermEnd = %s, %v; want 2026-12-18", end.Format(time.DateOnly), err)
	}
	f.verify(t)
}

func TestConsumeAndDayEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	emma := f.pupil(t, "emma", "P3", "0", "20.00", false)
	lucas := f.pupil(t, "lucas", "M2", "0", "20.00", false)
	nora := f.pupil(t, "nora", "P5", "0", "0", true) // free meals
	day := "2026-11-05"
	be, err := f.book(emma, day, "repas")
	if err != nil {
		t.Fatal(err)
	}
	bl, err := f.book(lucas, day, "repas")
	if err != nil {
		t.Fatal(err)
	}
	bn, err := f.book(nora, day, "repas")
	if err != nil {
		t.Fatal(err)
	}
	if !bn.FreeMeal || !bn.Price.IsZero() || bn.HoldID != nil || !bn.ListPrice.Equal(dec("3.70")) {
		t.Fatalf("free-meal booking = %+v", bn)
	}
	if !bl.Price.Equal(dec("3.20")) {
		t.Errorf("maternelle price %s, want 3.20", bl.Price)
	}
	bp, err := f.book(lucas, day, "potage")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(time.Date(2026, 11, 5, 12, 0, 0, 0, f.loc))
	tapAt := time.Date(2026, 11, 5, 11, 52, 3, 0, f.loc)
	found, err := f.m.BookingFor(f.ctx, f.tenant, emma, d(day), "repas")
	if err != nil || found.ID != be.ID {
		t.Fatalf("BookingFor = %+v, %v", found, err)
	}
	c, err := f.m.Consume(f.ctx, found, "tap-1", tapAt)
	if err != nil || !c.Charged.Equal(dec("3.70")) || c.TransferID == nil || c.Replayed {
		t.Fatalf("Consume = %+v, %v", c, err)
	}
	if c2, err := f.m.Consume(f.ctx, found, "tap-1", tapAt); err != nil || !c2.Replayed || *c2.TransferID != *c.TransferID {
		t.Errorf("replayed Consume = %+v, %v", c2, err)
	}
	if _, err := f.m.Consume(f.ctx, found, "tap-2", tapAt); !errors.Is(err, ErrAlreadyConsumed) {
		t.Errorf("second tap: %v, want ErrAlreadyConsumed", err)
	}
	cn, err := f.m.Consume(f.ctx, bn, "tap-3", tapAt)
	if err != nil || !cn.Subsidised.Equal(dec("3.70")) || !cn.Charged.IsZero() {
		t.Fatalf("free meal Consume = %+v, %v", cn, err)
	}
	wantAvail(t, f, emma, "16.30")
	wantAvail(t, f, nora, "0")

	// Lucas did not come: both bookings become no-shows, charged once.
	f.clock.set(time.Date(2026, 11, 5, 18, 30, 0, 0, f.loc))
	rep, err := f.m.DayEnd(f.ctx, f.tenant, f.school, d(day))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Charged != 2 || !rep.Amount.Equal(dec("3.80")) {
		t.Errorf("DayEnd = %+v, want 2 charged, 3.80", rep)
	}
	rep2, err := f.m.DayEnd(f.ctx, f.tenant, f.school, d(day))
	if err != nil || rep2.Charged+rep2.Released+rep2.Marked != 0 {
		t.Errorf("second DayEnd = %+v, %v; want nothing to do", rep2, err)
	}
	var w int64
	_ = f.pool.QueryRow(f.ctx, `SELECT wallet_account_id FROM pupils WHERE tenant_id = $1 AND id = $2`, f.tenant, lucas).Scan(&w)
	bal, err := f.led.Balance(f.ctx, f.tenant, w)
	if err != nil || !bal.Posted.Equal(dec("16.20")) || !bal.Available.Equal(dec("16.20")) {
		t.Errorf("lucas balance = %+v, %v; want 16.20 posted and available", bal, err)
	}
	for _, id := range []int64{bl.ID, bp.ID} {
		b, _ := f.m.Get(f.ctx, f.tenant, id)
		if b.Status != StatusNoShow || b.TransferID == nil {
			t.Errorf("booking %d = %s, transfer %v", id, b.Status, b.TransferID)
		}
	}
	if _, err := f.m.Consume(f.ctx, bl, "tap-late", tapAt); !errors.Is(err, ErrBookingEnded) {
		t.Errorf("tap after day end: %v, want ErrBookingEnded", err)
	}
	if _, err := f.m.Cancel(f.ctx, f.tenant, bl.ID, "guardian:1"); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("cancel no-show: %v, want ErrNotCancellable", err)
	}
	f.verify(t)
}

func TestDayEndReleasePolicyAndCrashRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `{"meal_no_show": "release"}`)
	emma := f.pupil(t, "emma", "P3", "0", "10.00", false)
	b, err := f.book(emma, "2026-11-05", "repas")
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a day-end that voided the hold and crashed before the row
	// update: the rerun must not fail nor void twice.
	if err := f.led.VoidHold(f.ctx, f.tenant, *b.HoldID, "test"); err != nil {
		t.Fatal(err)
	}
	rep, err := f.m.DayEnd(f.ctx, f.tenant, f.school, d("2026-11-05"))
	if err != nil || rep.Released != 1 {
		t.Fatalf("DayEnd = %+v, %v", rep, err)
	}
	wantAvail(t, f, emma, "10.00")
	f.verify(t)
}

func TestTariffPrecedence(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	// Exact level beats cycle; a later tariff supersedes from its first day.
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: "P6",
		BookedPrice: dec("4.00"), UnbookedPrice: dec("5.00"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: "P",
		BookedPrice: dec("3.90"), UnbookedPrice: dec("4.70"), ValidFrom: d("2027-01-01")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ level, day, want string }{
		{"P3", "2026-12-31", "3.70"}, {"P3", "2027-01-04", "3.90"}, {"P6", "2027-01-04", "4.00"}, {"M1", "2027-01-04", "3.20"},
	} {
		tr, err := f.m.MealTariffFor(f.ctx, f.tenant, f.school, "repas", tc.level, d(tc.day))
		if err != nil || !tr.BookedPrice.Equal(dec(tc.want)) {
			t.Errorf("%s on %s: %s, %v; want %s", tc.level, tc.day, tr.BookedPrice, err, tc.want)
		}
	}
	if _, err := f.m.MealTariffFor(f.ctx, f.tenant, f.school, "repas", "S1", d("2027-01-04")); !errors.Is(err, ErrNoTariff) {
		t.Errorf("secondary: %v, want ErrNoTariff", err)
	}
	if _, err := f.m.MealTariffFor(f.ctx, f.tenant, f.school, "repas", "P3", d("2026-08-01")); !errors.Is(err, ErrNoTariff) {
		t.Errorf("before valid_from: %v, want ErrNoTariff", err)
	}
	if _, err := f.book(f.pupil(t, "sam", "P2", "0", "5", false), "2026-11-05", "frites"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
	cap := dec("6.00")
	id, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("0.75"), DailyCap: &cap,
		FreeWindows: []Window{{From: MustClock("15:30"), To: MustClock("15:45")}}, ValidFrom: d("2026-08-31")})
	if err != nil {
		t.Fatal(err)
	}
	dt, err := f.m.DaycareTariffFor(f.ctx, f.tenant, f.school, "P3", d("2026-11-05"))
	if err != nil || dt.ID != id || dt.PeriodMinutes != 30 || dt.Opens != MustClock("07:00") || dt.Closes != MustClock("18:00") ||
		len(dt.FreeWindows) != 1 || dt.FreeWindows[0].From != MustClock("15:30") || !dt.DailyCap.Equal(cap) {
		t.Errorf("DaycareTariffFor = %+v, %v", dt, err)
	}
	if _, err := f.m.AddDaycareTariff(f.ctx, f.tenant, DaycareTariff{SchoolID: f.school, PeriodPrice: dec("1"), Opens: MustClock("18:00"), Closes: MustClock("07:00"), ValidFrom: d("2026-08-31")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("closing before opening: %v, want ErrInvalid", err)
	}
}

func TestMenus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	items := []MenuItem{
		{Course: "potage", Dish: "Potage aux poireaux", Allergens: []string{"celery"}},
		{Course: "plat", Dish: "Vol-au-vent, purée", Allergens: []string{"gluten", "milk", "eggs"}},
	}
	if err := f.m.SetMenu(f.ctx, f.tenant, f.school, d("2026-11-05"), "repas", items); err != nil {
		t.Fatal(err)
	}
	if err := f.m.SetMenu(f.ctx, f.tenant, f.school, d("2026-11-05"), "repas", items[1:]); err != nil {
		t.Fatal(err)
	}
	got, err := f.m.Menus(f.ctx, f.tenant, f.school, d("2026-11-01"), d("2026-11-30"))
	if err != nil || len(got) != 1 || got[0].Dish != "Vol-au-vent, purée" || len(got[0].Allergens) != 3 || got[0].Position != 1 {
		t.Errorf("Menus = %+v, %v", got, err)
	}
	err = f.m.SetMenu(f.ctx, f.tenant, f.school, d("2026-11-06"), "repas", []MenuItem{{Dish: "Scampis", Allergens: []string{"shrimp"}}})
	if !errors.Is(err, ErrInvalid) || !contains(err.Error(), "shrimp") {
		t.Errorf("unknown allergen: %v", err)
	}
}

func TestSeedDemoIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "{}")
	f.pupil(t, "Emma", "P3", "-10", "30.00", false)
	for i := 0; i < 2; i++ {
		if err := SeedDemo(f.ctx, f.pool, f.led, f.tenant, f.clock.now); err != nil {
			t.Fatalf("SeedDemo run %d: %v", i+1, err)
		}
	}
	var tariffs, menus int
	_ = f.pool.QueryRow(f.ctx, `SELECT (SELECT count(*) FROM meal_tariffs), (SELECT count(*) FROM menu_items)`).Scan(&tariffs, &menus)
	if tariffs != 3 { // the fixture's: existing tariffs are kept
		t.Errorf("%d meal tariffs, want 3", tariffs)
	}
	if menus == 0 {
		t.Error("no menus seeded")
	}
	f.verify(t)
}
