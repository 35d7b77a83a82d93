package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/policy"
	"tartine/internal/tz"
	"tartine/ledger"
	schools "tartine/school"
)

// Ledger account codes used by the package (created on first use).
const (
	AccountRevenueMeals = "revenue:meals"
	AccountSubsidyMeals = "subsidy:fwb-meals"
)

// Ledger kinds of the package's holds and transfers.
const (
	KindMealBooking = "meal-booking" // hold placed by a booking
	KindMeal        = "meal"         // consumed meal (posted hold or subsidy transfer)
	KindMealNoShow  = "meal-noshow"  // booked meal not taken, charged at day end
)

// Status is the state of a booking.
type Status string

// Booking states: booked → consumed (tap), cancelled (family, before the
// cut-off) or noshow (day-end job).
const (
	StatusBooked    Status = "booked"
	StatusCancelled Status = "cancelled"
	StatusConsumed  Status = "consumed"
	StatusNoShow    Status = "noshow"
)

// Booking is a pupil's booking of a service on a day.
type Booking struct {
	TenantID  int64
	ID        int64
	SchoolID  int64
	PupilID   int64
	Day       time.Time
	Service   Service
	Status    Status
	Price     decimal.Decimal // what the family pays: the amount held on the wallet
	ListPrice decimal.Decimal // tariff booked price (charged to the subsidy for free meals)
	FreeMeal  bool            // FWB free-meal programme: no hold, subsidy pays ListPrice
	HoldID    *int64          // ledger hold "booking:<id>"; nil when Price is 0
	// TransferID is the ledger transfer that charged the booking (tap or
	// no-show), if any.
	TransferID  *int64
	TapID       string
	BookedBy    string
	BookedAt    time.Time
	CancelledBy string
	CancelledAt *time.Time
	ConsumedAt  *time.Time
	EndedAt     *time.Time
}

// Manager books services and keeps the school's offer (tariffs, calendar,
// menus). It is safe for concurrent use.
type Manager struct {
	pool *pgxpool.Pool
	led  *ledger.Ledger
	now  func() time.Time

	mu       sync.Mutex
	accounts map[accountKey]int64
	zones    map[string]*time.Location
}

type accountKey struct {
	tenant int64
	code   string
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// New returns a Manager over pool, holding and posting money in led. now
// gives the current time (cut-offs, timestamps); nil means time.Now.
func New(pool *pgxpool.Pool, led *ledger.Ledger, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{pool: pool, led: led, now: now, accounts: map[accountKey]int64{}, zones: map[string]*time.Location{}}
}

// account returns the id of the tenant's account code (revenue:meals,
// subsidy:fwb-meals), created on first use, through the pool.
func (m *Manager) account(ctx context.Context, tenantID int64, code string) (int64, error) {
	return m.accountIn(ctx, nil, tenantID, code)
}

// accountSpec is how the package creates its accounts on first use.
func accountSpec(code string) ledger.AccountSpec {
	if code == AccountSubsidyMeals {
		return ledger.AccountSpec{Code: code, Name: "FWB : repas gratuits", Type: ledger.Asset}
	}
	return ledger.AccountSpec{Code: code, Name: "Repas", Type: ledger.Income}
}

// accountIn is account read in tx when tx is not nil: a function holding a
// transaction never asks the pool for another connection. An account tx
// had to create is not cached (tx may roll back); an error wrapping
// ledger.ErrTxAborted requires rolling tx back.
func (m *Manager) accountIn(ctx context.Context, tx pgx.Tx, tenantID int64, code string) (int64, error) {
	k := accountKey{tenantID, code}
	m.mu.Lock()
	id, ok := m.accounts[k]
	m.mu.Unlock()
	if ok {
		return id, nil
	}
	if tx != nil {
		a, err := m.led.AccountByCodeTx(ctx, tx, tenantID, code)
		if errors.Is(err, ledger.ErrUnknownAccount) {
			a, err = m.led.EnsureAccountTx(ctx, tx, tenantID, accountSpec(code))
			if err != nil {
				return 0, fmt.Errorf("account %s: %w", code, err)
			}
			return a.ID, nil
		}
		if err != nil {
			return 0, fmt.Errorf("account %s: %w", code, err)
		}
		m.mu.Lock()
		m.accounts[k] = a.ID
		m.mu.Unlock()
		return a.ID, nil
	}
	a, err := m.led.EnsureAccount(ctx, tenantID, accountSpec(code))
	if err != nil {
		return 0, fmt.Errorf("account %s: %w", code, err)
	}
	m.mu.Lock()
	m.accounts[k] = a.ID
	m.mu.Unlock()
	return a.ID, nil
}

func (m *Manager) zone(name string) (*time.Location, error) {
	m.mu.Lock()
	loc, ok := m.zones[name]
	m.mu.Unlock()
	if ok {
		return loc, nil
	}
	loc, err := tz.Load(name)
	if err != nil {
		return nil, fmt.Errorf("school: %w", err)
	}
	m.mu.Lock()
	m.zones[name] = loc
	m.mu.Unlock()
	return loc, nil
}

// school is what bookings need to know of a school.
type school struct {
	id     int64
	loc    *time.Location
	free   bool
	pol    policy.Policy
	polErr error // the stored settings could not be used
}

// policy returns the school's rules (schools.settings, read by package
// school with the one policy type). It returns ErrInvalid (also wrapping
// policy.ErrInvalid) for malformed settings.
func (s school) policy() (policy.Policy, error) {
	if s.polErr != nil {
		return s.pol, fmt.Errorf("%w: %w", ErrInvalid, s.polErr)
	}
	return s.pol, nil
}

// schoolOf is what bookings need of sc.
func (m *Manager) schoolOf(sc schools.School) (school, error) {
	loc, err := m.zone(sc.Timezone)
	if err != nil {
		return school{}, err
	}
	return school{id: sc.ID, loc: loc, free: sc.FreeMeals, pol: sc.Policy, polErr: sc.PolicyErr}, nil
}

func (m *Manager) school(ctx context.Context, tenantID, schoolID int64) (school, error) {
	sc, err := schools.ReadSchool(ctx, m.pool, tenantID, schoolID)
	if errors.Is(err, schools.ErrNotFound) {
		return school{}, fmt.Errorf("%w: school %d", ErrNotFound, schoolID)
	}
	if err != nil {
		return school{}, fmt.Errorf("read school %d: %w", schoolID, err)
	}
	return m.schoolOf(sc)
}

// Policy returns the school's booking policy (schools.settings). It returns
// ErrNotFound or ErrInvalid (malformed settings).
func (m *Manager) Policy(ctx context.Context, tenantID, schoolID int64) (policy.Policy, error) {
	s, err := m.school(ctx, tenantID, schoolID)
	if err != nil {
		return policy.Policy{}, err
	}
	return s.policy()
}

// pupil is what bookings need to know of a pupil.
type pupil struct {
	id       int64
	schoolID int64
	level    string
	free     bool
	wallet   *int64
	active   bool
	leaves   time.Time // the leaving day (first day no longer at school); zero when none
}

// leftBy reports whether day is on or after the pupil's leaving day.
func (p pupil) leftBy(day time.Time) bool {
	return !p.leaves.IsZero() && !civil(day).Before(civil(p.leaves))
}

// pupilOf is what bookings need of sp. A leaving day set ahead keeps the
// pupil active until that day (school.ApplyLeavings): the days before it
// can still be booked.
func pupilOf(sp schools.Pupil) pupil {
	p := pupil{id: sp.ID, schoolID: sp.SchoolID, level: sp.Level, free: sp.FreeMeals, active: sp.Active, leaves: sp.LeftAt}
	if sp.WalletAccountID != 0 {
		w := sp.WalletAccountID
		p.wallet = &w
	}
	return p
}

// pupilErr is err of a pupil read, with ErrNotFound for an unknown pupil.
func pupilErr(err error, pupilID int64) error {
	if errors.Is(err, schools.ErrNotFound) {
		return fmt.Errorf("%w: pupil %d", ErrNotFound, pupilID)
	}
	return fmt.Errorf("read pupil %d: %w", pupilID, err)
}

func (m *Manager) pupil(ctx context.Context, tenantID, pupilID int64) (pupil, error) {
	sp, err := schools.ReadPupil(ctx, m.pool, tenantID, pupilID)
	if err != nil {
		return pupil{}, pupilErr(err, pupilID)
	}
	return pupilOf(sp), nil
}

// cutoff returns the cut-off instant for day under p, counting school days
// (weekdays that are not stored closed days) in cal backwards.
func cutoff(p policy.Policy, cal calendar, day time.Time, loc *time.Location) time.Time {
	d := civil(day)
	for n := p.BookingCutoffDaysBefore; n > 0; {
		d = d.AddDate(0, 0, -1)
		if cal.schoolDay(d) {
			n--
		}
	}
	h, mi := p.CutoffClock()
	return time.Date(d.Year(), d.Month(), d.Day(), h, mi, 0, 0, loc)
}

// Cutoff returns the instant after which bookings of day at the school can
// no longer be made or cancelled: the policy's time of day on the school day
// CutoffDaysBefore school days before day (weekends and closed days are
// skipped; with the default, a Monday's cut-off is the Friday before at
// 09:00).
func (m *Manager) Cutoff(ctx context.Context, tenantID, schoolID int64, day time.Time) (time.Time, error) {
	s, err := m.school(ctx, tenantID, schoolID)
	if err != nil {
		return time.Time{}, err
	}
	pol, err := s.policy()
	if err != nil {
		return time.Time{}, err
	}
	cal, err := m.loadCalendar(ctx, m.pool, tenantID, schoolID, civil(day).AddDate(0, 0, -60), day)
	if err != nil {
		return time.Time{}, err
	}
	return cutoff(pol, cal, day, s.loc), nil
}

// BookRequest asks to book a service for a pupil on a day.
type BookRequest struct {
	TenantID int64
	PupilID  int64
	Day      time.Time
	Service  Service
	Actor    string // "guardian:5", "staff:3"
	// InTx, when set, is called in the booking's transaction once a new
	// booking's row and hold are written (not for a booking that existed):
	// what must commit with the booking (the portal's confirmation email
	// job) is written there, in the same round trips. An error rolls the
	// booking back and is returned.
	InTx func(ctx context.Context, tx pgx.Tx, b Booking) error
}

// Book books req.Service for the pupil on req.Day and, for a paying meal,
// places a hold of the booked price (tariff effective that day) on the
// pupil's wallet. Booking the same pupil, day and service again returns the
// existing booking unchanged. A daycare booking holds nothing but needs a
// daycare tariff for the pupil's level that day, as a meal needs its meal
// tariff. It returns ErrNotFound, ErrInactivePupil, ErrPupilLeaving (a day
// on or after the pupil's leaving day), ErrUnknownService, ErrNoTariff, ErrClosedDay (school closed, or no meals on
// Wednesdays), ErrCutoffPassed, ErrNoWallet, or ErrInsufficientFunds (which
// wraps the ledger's *FloorError when the ledger refused the hold).
func (m *Manager) Book(ctx context.Context, req BookRequest) (Booking, error) {
	b, _, err := m.book(ctx, req)
	return b, err
}

func (m *Manager) book(ctx context.Context, req BookRequest) (Booking, bool, error) {
	day := civil(req.Day)
	// The pupil and its school in one query (the 8:00 rush path).
	sp, sc, err := schools.ReadPupilAndSchool(ctx, m.pool, req.TenantID, req.PupilID)
	if err != nil {
		return Booking{}, false, pupilErr(err, req.PupilID)
	}
	p := pupilOf(sp)
	if !p.active {
		return Booking{}, false, fmt.Errorf("%w: pupil %d", ErrInactivePupil, p.id)
	}
	if p.leftBy(day) {
		return Booking{}, false, fmt.Errorf("%w: pupil %d leaves on %s, not bookable on %s", ErrPupilLeaving, p.id,
			p.leaves.Format(time.DateOnly), day.Format(time.DateOnly))
	}
	s, err := m.schoolOf(sc)
	if err != nil {
		return Booking{}, false, err
	}
	pol, err := s.policy()
	if err != nil {
		return Booking{}, false, err
	}
	if req.Service.IsDaycare() {
		if _, err := m.DaycareTariffFor(ctx, req.TenantID, p.schoolID, p.level, day); err != nil {
			// Daycare holds nothing, but a day without a tariff cannot be
			// billed: the terminal would refuse the check-in ("no_tariff").
			return Booking{}, false, err
		}
	}
	// The meal type and its tariff, the live booking and the calendar in
	// one round trip (the 8:00 rush path), checked in Book's order: service,
	// tariff, an existing booking, the day open, the cut-off.
	r, err := readForBook(ctx, m.pool, req.TenantID, p.schoolID, p.id, p.level, day, req.Service)
	if err != nil {
		return Booking{}, false, fmt.Errorf("book %s for pupil %d on %s: %w", req.Service, p.id, day.Format(time.DateOnly), err)
	}
	price, list, free := decimal.Zero, decimal.Zero, false
	if !req.Service.IsDaycare() {
		if r.meal == nil {
			return Booking{}, false, fmt.Errorf("%w: %q", ErrUnknownService, string(req.Service))
		}
		if r.tariff == nil {
			return Booking{}, false, fmt.Errorf("%w: %s for level %s at school %d on %s", ErrNoTariff, r.meal.Code, p.level, p.schoolID, day.Format(time.DateOnly))
		}
		list = r.tariff.BookedPrice
		free = r.meal.Subsidised && (p.free || (s.free && p.level[0] != 'S'))
		if !free {
			price = r.tariff.BookedPrice
		}
	}
	if r.existing != nil {
		b, err := m.ensureHold(ctx, *r.existing)
		return b, false, err
	}
	cal := r.cal
	if st := cal.status(day); !st.Open {
		return Booking{}, false, fmt.Errorf("%w: %s (%s)", ErrClosedDay, day.Format(time.DateOnly), st.Reason)
	}
	if !req.Service.IsDaycare() && day.Weekday() == time.Wednesday && !pol.WednesdayMeals {
		return Booking{}, false, fmt.Errorf("%w: %s (%s)", ErrClosedDay, day.Format(time.DateOnly), ReasonNoWednesday)
	}
	now := m.now()
	if co := cutoff(pol, cal, day, s.loc); !now.Before(co) {
		return Booking{}, false, fmt.Errorf("%w: bookings for %s closed at %s", ErrCutoffPassed, day.Format(time.DateOnly), co.Format("2006-01-02 15:04"))
	}
	if price.IsPositive() {
		if p.wallet == nil {
			return Booking{}, false, fmt.Errorf("%w: pupil %d", ErrNoWallet, p.id)
		}
		if pol.InsufficientFunds == policy.FundsRefuse {
			bal, err := m.led.Balance(ctx, req.TenantID, *p.wallet)
			if err != nil {
				return Booking{}, false, fmt.Errorf("read wallet balance: %w", err)
			}
			if bal.Available.LessThan(price) {
				return Booking{}, false, fmt.Errorf("%w: available %s, price %s", ErrInsufficientFunds, bal.Available.StringFixed(2), price.StringFixed(2))
			}
		}
	}
	var b Booking
	created := false
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `
			INSERT INTO bookings (tenant_id, school_id, pupil_id, day, service, price, list_price, free_meal, booked_by, booked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id, pupil_id, day, service) WHERE status <> 'cancelled' DO NOTHING
			RETURNING `+bookingCols, req.TenantID, p.schoolID, p.id, day, string(req.Service), price, list, free, req.Actor, now)
		b, err = scanBooking(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // booked meanwhile: returned below
		}
		if err != nil {
			return err
		}
		created = true
		if price.IsPositive() {
			if err := m.holdNew(ctx, tx, &b, *p.wallet); err != nil {
				return err
			}
		}
		if req.InTx != nil {
			return req.InTx(ctx, tx, b)
		}
		return nil
	})
	if err != nil {
		return Booking{}, false, fmt.Errorf("book %s for pupil %d on %s: %w", req.Service, p.id, day.Format(time.DateOnly), err)
	}
	if !created {
		existing, err := m.BookingFor(ctx, req.TenantID, req.PupilID, day, req.Service)
		if err != nil {
			return Booking{}, false, err
		}
		b, err := m.ensureHold(ctx, existing)
		return b, false, err
	}
	return b, true, nil
}

// holdNew places the hold of b, a booking just written in tx, on wallet
// and records it on the booking's row.
func (m *Manager) holdNew(ctx context.Context, tx pgx.Tx, b *Booking, wallet int64) error {
	// The hold is placed in this transaction, while the new row is
	// uncommitted: a concurrent Book of the same triple waits on the
	// unique index, and the row and the hold commit together.
	h, err := m.placeHoldTx(ctx, tx, *b, wallet)
	if err != nil {
		return err
	}
	b.HoldID = &h.ID
	_, err = tx.Exec(ctx, `UPDATE bookings SET hold_id = $3 WHERE tenant_id = $1 AND id = $2`, b.TenantID, b.ID, h.ID)
	return err
}

// placeHoldTx places the hold of booking b on wallet in tx.
func (m *Manager) placeHoldTx(ctx context.Context, tx pgx.Tx, b Booking, wallet int64) (ledger.Hold, error) {
	expires := b.Day.AddDate(0, 0, 14)
	h, err := m.led.PlaceHoldTx(ctx, tx, ledger.HoldRequest{
		TenantID: b.TenantID, AccountID: wallet, Amount: b.Price,
		IdempotencyKey: "booking:" + strconv.FormatInt(b.ID, 10), Kind: KindMealBooking, Actor: b.BookedBy,
		Memo:     fmt.Sprintf("Réservation %s du %s", b.Service, b.Day.Format(time.DateOnly)),
		Metadata: bookingMeta(b), ExpiresAt: &expires,
	})
	if errors.Is(err, ledger.ErrFloorBreach) {
		return ledger.Hold{}, fmt.Errorf("%w: %w", ErrInsufficientFunds, err)
	}
	if err != nil {
		return ledger.Hold{}, fmt.Errorf("place hold: %w", err)
	}
	return h, nil
}

// ensureHold completes a booking left without its hold (a crash between
// the row and the hold); other bookings are returned as they are.
func (m *Manager) ensureHold(ctx context.Context, b Booking) (Booking, error) {
	if b.Status != StatusBooked || b.HoldID != nil || !b.Price.IsPositive() {
		return b, nil
	}
	p, err := m.pupil(ctx, b.TenantID, b.PupilID)
	if err != nil {
		return b, err
	}
	if p.wallet == nil {
		return b, fmt.Errorf("%w: pupil %d", ErrNoWallet, p.id)
	}
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		h, err := m.placeHoldTx(ctx, tx, b, *p.wallet)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bookings SET hold_id = $3 WHERE tenant_id = $1 AND id = $2 AND hold_id IS NULL`, b.TenantID, b.ID, h.ID); err != nil {
			return fmt.Errorf("record hold of booking %d: %w", b.ID, err)
		}
		b.HoldID = &h.ID
		return nil
	})
	if err != nil {
		return b, err
	}
	return b, nil
}

func bookingMeta(b Booking) map[string]string {
	return map[string]string{
		"booking": strconv.FormatInt(b.ID, 10), "pupil": strconv.FormatInt(b.PupilID, 10),
		"day": b.Day.Format(time.DateOnly), "service": string(b.Service),
	}
}

const bookingCols = `tenant_id, id, school_id, pupil_id, day, service, status, price, list_price, free_meal, hold_id, transfer_id,
	coalesce(tap_id, ''), booked_by, booked_at, coalesce(cancelled_by, ''), cancelled_at, consumed_at, ended_at`

// qualifiedBookingCols is bookingCols on a table named b.
const qualifiedBookingCols = `b.tenant_id, b.id, b.school_id, b.pupil_id, b.day, b.service, b.status, b.price, b.list_price, b.free_meal,
	b.hold_id, b.transfer_id, coalesce(b.tap_id, ''), b.booked_by, b.booked_at, coalesce(b.cancelled_by, ''), b.cancelled_at,
	b.consumed_at, b.ended_at`

func scanBooking(r pgx.Row) (Booking, error) {
	var b Booking
	var svc, st string
	err := r.Scan(&b.TenantID, &b.ID, &b.SchoolID, &b.PupilID, &b.Day, &svc, &st, &b.Price, &b.ListPrice, &b.FreeMeal,
		&b.HoldID, &b.TransferID, &b.TapID, &b.BookedBy, &b.BookedAt, &b.CancelledBy, &b.CancelledAt, &b.ConsumedAt, &b.EndedAt)
	b.Service, b.Status = Service(svc), Status(st)
	return b, err
}

// Get returns a booking by id, or ErrNotFound.
func (m *Manager) Get(ctx context.Context, tenantID, bookingID int64) (Booking, error) {
	b, err := scanBooking(m.pool.QueryRow(ctx, `SELECT `+bookingCols+` FROM bookings WHERE tenant_id = $1 AND id = $2`, tenantID, bookingID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, fmt.Errorf("%w: booking %d", ErrNotFound, bookingID)
	}
	if err != nil {
		return Booking{}, fmt.Errorf("read booking %d: %w", bookingID, err)
	}
	return b, nil
}

// BookingFor returns the pupil's booking (not cancelled) of service on day,
// with its hold id and price, or ErrNotFound. The terminal calls it on a tap.
func (m *Manager) BookingFor(ctx context.Context, tenantID, pupilID int64, day time.Time, service Service) (Booking, error) {
	b, err := scanBooking(m.pool.QueryRow(ctx, `SELECT `+bookingCols+` FROM bookings
		WHERE tenant_id = $1 AND pupil_id = $2 AND day = $3 AND service = $4 AND status <> 'cancelled'`,
		tenantID, pupilID, civil(day), string(service)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, fmt.Errorf("%w: no %s booking for pupil %d on %s", ErrNotFound, service, pupilID, civil(day).Format(time.DateOnly))
	}
	if err != nil {
		return Booking{}, fmt.Errorf("read booking: %w", err)
	}
	return b, nil
}

// Bookings lists the pupil's bookings from from to to (inclusive), every
// status, by day and service.
func (m *Manager) Bookings(ctx context.Context, tenantID, pupilID int64, from, to time.Time) ([]Booking, error) {
	rows, _ := m.pool.Query(ctx, `SELECT `+bookingCols+` FROM bookings
		WHERE tenant_id = $1 AND pupil_id = $2 AND day BETWEEN $3 AND $4 ORDER BY day, service, id`,
		tenantID, pupilID, civil(from), civil(to))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
	if err != nil {
		return nil, fmt.Errorf("list bookings: %w", err)
	}
	return out, nil
}

// PupilRef names a pupil of a tenant.
type PupilRef struct{ TenantID, PupilID int64 }

// BookingsOf lists the bookings of several pupils, of any tenants, from
// from to to (inclusive), every status, by pupil, day and service, in one
// query: a family's children at once.
func (m *Manager) BookingsOf(ctx context.Context, pupils []PupilRef, from, to time.Time) ([]Booking, error) {
	if len(pupils) == 0 {
		return nil, nil
	}
	tenants, ids := make([]int64, len(pupils)), make([]int64, len(pupils))
	for i, p := range pupils {
		tenants[i], ids[i] = p.TenantID, p.PupilID
	}
	rows, _ := m.pool.Query(ctx, `SELECT `+qualifiedBookingCols+`
		FROM unnest($1::bigint[], $2::bigint[]) AS u(t, p)
		JOIN bookings b ON b.tenant_id = u.t AND b.pupil_id = u.p AND b.day BETWEEN $3 AND $4
		ORDER BY b.tenant_id, b.pupil_id, b.day, b.service, b.id`, tenants, ids, civil(from), civil(to))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
	if err != nil {
		return nil, fmt.Errorf("list bookings of %d pupils: %w", len(pupils), err)
	}
	return out, nil
}

// lockBooking reads a booking FOR UPDATE in tx.
func lockBooking(ctx context.Context, tx pgx.Tx, tenantID, id int64) (Booking, error) {
	b, err := scanBooking(tx.QueryRow(ctx, `SELECT `+bookingCols+` FROM bookings WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, fmt.Errorf("%w: booking %d", ErrNotFound, id)
	}
	return b, err
}

// Cancel cancels a booking and voids its hold, so the wallet's available
// balance is restored. Cancelling a cancelled booking returns it unchanged.
// After the cut-off it returns ErrCutoffPassed, unless the school's policy
// refunds after the cut-off; a consumed or no-show booking gives
// ErrNotCancellable. ErrNotFound for an unknown booking.
func (m *Manager) Cancel(ctx context.Context, tenantID, bookingID int64, actor string) (Booking, error) {
	b, err := m.CancelBooking(ctx, CancelRequest{TenantID: tenantID, BookingID: bookingID, Actor: actor})
	if err != nil {
		return Booking{}, err
	}
	return b, nil
}

// CancelRequest asks to cancel a booking.
type CancelRequest struct {
	TenantID  int64
	BookingID int64
	// PupilID, when set, is the pupil the booking must be of: another
	// pupil's booking is ErrNotFound (a family cancels its own only).
	PupilID int64
	// SchoolID, when set, is the school the booking is expected at (the
	// pupil's): its policy is read with the booking, in the same round
	// trip; a booking of another school has its own read after.
	SchoolID int64
	Actor    string
	// InTx, when set, is called in the cancellation's transaction once
	// the booking is cancelled (not for a booking cancelled before): what
	// must commit with the cancellation is written there. An error rolls
	// the cancellation back and is returned.
	InTx func(ctx context.Context, tx pgx.Tx, b Booking) error
}

// cancelCalendarSQL is calendarSQL for the school and the 60 days up to
// the day of booking $2 ($1 the tenant).
var cancelCalendarSQL = `WITH bk AS (SELECT school_id, day FROM bookings WHERE tenant_id = $1 AND id = $2)` + strings.NewReplacer(
	"school_years y WHERE", "school_years y, bk WHERE", "school_closures c WHERE", "school_closures c, bk WHERE",
	"$2", "bk.school_id", "$3", "(bk.day - 60)", "$4", "bk.day").Replace(calendarSQL)

// CancelBooking is Cancel with the request's checks and hook. The booking
// locked, its school's policy and the calendar of its cut-off are read in
// one round trip. On an error after the booking was found (the cut-off
// passed, not cancellable) it returns the booking as it stands with the
// error.
func (m *Manager) CancelBooking(ctx context.Context, req CancelRequest) (Booking, error) {
	var b, read Booking
	found := false
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var (
			sc      schools.School
			scFound bool
			cal     calendar
		)
		bt := &pgx.Batch{}
		bt.Queue(`SELECT `+bookingCols+` FROM bookings WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, req.TenantID, req.BookingID).QueryRow(func(row pgx.Row) error {
			var err error
			b, err = scanBooking(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
		if req.SchoolID != 0 {
			schools.QueueSchoolAndLeaving(bt, req.TenantID, req.SchoolID, req.PupilID, func(s schools.School, _ time.Time) { sc, scFound = s, true })
		}
		bt.Queue(cancelCalendarSQL, req.TenantID, req.BookingID).QueryRow(func(row pgx.Row) error { return scanCalendar(row, &cal) })
		if err := tx.SendBatch(ctx, bt).Close(); err != nil {
			return fmt.Errorf("read booking: %w", err)
		}
		if !found || (req.PupilID != 0 && b.PupilID != req.PupilID) {
			found = false
			return fmt.Errorf("%w: booking %d", ErrNotFound, req.BookingID)
		}
		read = b
		if !scFound || sc.ID != b.SchoolID {
			var err error
			if sc, err = schools.ReadSchool(ctx, tx, req.TenantID, b.SchoolID); errors.Is(err, schools.ErrNotFound) {
				return fmt.Errorf("%w: school %d", ErrNotFound, b.SchoolID)
			} else if err != nil {
				return fmt.Errorf("read school %d: %w", b.SchoolID, err)
			}
		}
		s, err := m.schoolOf(sc)
		if err != nil {
			return err
		}
		pol, err := s.policy()
		if err != nil {
			return err
		}
		switch b.Status {
		case StatusCancelled:
			return nil
		case StatusConsumed, StatusNoShow:
			return fmt.Errorf("%w: booking %d is %s", ErrNotCancellable, b.ID, b.Status)
		}
		now := m.now()
		if co := cutoff(pol, cal, b.Day, s.loc); !now.Before(co) && !pol.RefundAfterCutoff {
			return fmt.Errorf("%w: cancellations for %s closed at %s", ErrCutoffPassed, b.Day.Format(time.DateOnly), co.Format("2006-01-02 15:04"))
		}
		if err := m.cancelLocked(ctx, tx, &b, req.Actor, now); err != nil {
			return err
		}
		if req.InTx != nil {
			return req.InTx(ctx, tx, b)
		}
		return nil
	})
	if err != nil {
		if !found {
			return Booking{}, fmt.Errorf("cancel booking %d: %w", req.BookingID, err)
		}
		return read, fmt.Errorf("cancel booking %d: %w", req.BookingID, err)
	}
	return b, nil
}

// cancelLocked cancels b, a booked booking locked FOR UPDATE in tx: it voids
// its hold (a hold already voided, e.g. by an attempt that failed after the
// void, counts as voided, so the hold ends once) and records the
// cancellation by actor at now. A hold already posted gives
// ErrNotCancellable.
func (m *Manager) cancelLocked(ctx context.Context, tx pgx.Tx, b *Booking, actor string, now time.Time) error {
	if b.HoldID != nil {
		err := m.led.VoidHoldTx(ctx, tx, b.TenantID, *b.HoldID, actor)
		if errors.Is(err, ledger.ErrHoldEnded) && !errors.Is(err, ledger.ErrTxAborted) {
			h, herr := m.led.GetHoldTx(ctx, tx, b.TenantID, *b.HoldID)
			if herr != nil {
				return herr
			}
			if h.Status == ledger.HoldPosted {
				return fmt.Errorf("%w: booking %d was charged", ErrNotCancellable, b.ID)
			}
		} else if err != nil {
			return fmt.Errorf("void hold %d: %w", *b.HoldID, err)
		}
	}
	b.Status, b.CancelledBy, b.CancelledAt = StatusCancelled, actor, &now
	_, err := tx.Exec(ctx, `UPDATE bookings SET status = 'cancelled', cancelled_by = $3, cancelled_at = $4 WHERE tenant_id = $1 AND id = $2`,
		b.TenantID, b.ID, actor, now)
	return err
}

// Consumption is the result of consuming a booking at a tap.
type Consumption struct {
	Booking    Booking
	Charged    decimal.Decimal // debited from the wallet (the posted hold)
	Subsidised decimal.Decimal // charged to subsidy:fwb-meals (free-meal pupils)
	TransferID *int64
	Replayed   bool // the same tap consumed it before: nothing new happened
}

// Consume records that the booked service was taken at a tap, and does the
// money side in one step, so the terminal makes one call for a booked meal:
// a paying meal's hold is posted to revenue:meals (idempotency key
// "tap:<tapID>", kind "meal", at occurredAt); a free meal is charged at its
// ListPrice to subsidy:fwb-meals (same key); a daycare booking is only
// marked (the terminal bills daycare at check-out with DaycareCharge).
// Consuming again with the same tapID returns the first result with
// Replayed set. It returns ErrNotFound, ErrAlreadyConsumed (another tap
// consumed it), ErrBookingEnded (cancelled, no-show, or its hold ended).
func (m *Manager) Consume(ctx context.Context, b Booking, tapID string, occurredAt time.Time) (Consumption, error) {
	var out Consumption
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var err error
		out, err = m.ConsumeTx(ctx, tx, b, tapID, occurredAt)
		return err
	})
	if err != nil {
		return Consumption{}, err
	}
	return out, nil
}

func consumption(b Booking) Consumption {
	c := Consumption{Booking: b, Charged: decimal.Zero, Subsidised: decimal.Zero, TransferID: b.TransferID}
	switch {
	case b.Service.IsDaycare():
	case b.HoldID != nil:
		c.Charged = b.Price
	case b.FreeMeal:
		c.Subsidised = b.ListPrice
	}
	return c
}

// DayEndReport says what DayEnd did.
type DayEndReport struct {
	Charged  int             // no-shows whose hold was posted
	Released int             // no-shows whose hold was voided
	Marked   int             // no-shows with no money (free meals, daycare)
	Amount   decimal.Decimal // total charged
}

// DayEnd closes the school's bookings of day that were not consumed: each
// becomes a no-show; a meal hold is posted to revenue:meals (key
// "noshow:<booking id>", kind "meal-noshow") when the policy charges
// no-shows (default), else voided; free meals and daycare bookings hold
// nothing and are only marked. On a day the school's calendar closed (a
// day closed after the bookings were made) nothing is charged: the
// bookings are cancelled by "system:day-end" and their holds voided. Run it
// after the day's last service. It is safe to run twice or concurrently:
// each booking and each hold ends once.
func (m *Manager) DayEnd(ctx context.Context, tenantID, schoolID int64, day time.Time) (DayEndReport, error) {
	rep := DayEndReport{Amount: decimal.Zero}
	s, err := m.school(ctx, tenantID, schoolID)
	if err != nil {
		return rep, err
	}
	pol, err := s.policy()
	if err != nil {
		return rep, err
	}
	d := civil(day)
	occurred := time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 0, 0, s.loc)
	rows, _ := m.pool.Query(ctx, `SELECT id FROM bookings WHERE tenant_id = $1 AND school_id = $2 AND day = $3 AND status = 'booked' ORDER BY id`,
		tenantID, schoolID, d)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return rep, fmt.Errorf("find open bookings of %s: %w", d.Format(time.DateOnly), err)
	}
	// A closed day (a strike, a day closed after the bookings were made)
	// charges nobody: its bookings are cancelled and their holds voided.
	cal, err := m.loadCalendar(ctx, m.pool, tenantID, schoolID, d, d)
	if err != nil {
		return rep, err
	}
	closed := !cal.status(d).Open
	var rev int64
	if pol.MealNoShow == policy.NoShowCharge && !closed && len(ids) > 0 {
		if rev, err = m.account(ctx, tenantID, AccountRevenueMeals); err != nil {
			return rep, err
		}
	}
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			b, err := lockBooking(ctx, tx, tenantID, id)
			if err != nil || b.Status != StatusBooked {
				return err
			}
			if closed {
				if err := m.cancelLocked(ctx, tx, &b, "system:day-end", m.now()); err != nil {
					return err
				}
				rep.Released++
				return nil
			}
			var transferID *int64
			switch {
			case b.HoldID == nil:
				rep.Marked++
			case pol.MealNoShow == policy.NoShowCharge:
				t, err := m.led.PostHoldTx(ctx, tx, ledger.PostHoldRequest{TenantID: tenantID, HoldID: *b.HoldID, Amount: b.Price, To: rev,
					IdempotencyKey: "noshow:" + strconv.FormatInt(b.ID, 10), Kind: KindMealNoShow, OccurredAt: occurred, Actor: "system:day-end",
					Memo: fmt.Sprintf("Repas réservé non pris (%s) du %s", b.Service, d.Format(time.DateOnly)), Metadata: bookingMeta(b)})
				switch {
				case errors.Is(err, ledger.ErrHoldEnded) && !errors.Is(err, ledger.ErrTxAborted):
					h, herr := m.led.GetHoldTx(ctx, tx, tenantID, *b.HoldID)
					if herr != nil {
						return herr
					}
					transferID = h.TransferID
					rep.Marked++
				case err != nil:
					return fmt.Errorf("post no-show hold %d: %w", *b.HoldID, err)
				default:
					transferID = &t.ID
					rep.Charged++
					rep.Amount = rep.Amount.Add(b.Price)
				}
			default:
				if err := m.led.VoidHoldTx(ctx, tx, tenantID, *b.HoldID, "system:day-end"); err != nil &&
					(!errors.Is(err, ledger.ErrHoldEnded) || errors.Is(err, ledger.ErrTxAborted)) {
					return fmt.Errorf("void no-show hold %d: %w", *b.HoldID, err)
				}
				rep.Released++
			}
			_, err = tx.Exec(ctx, `UPDATE bookings SET status = 'noshow', ended_at = $3, transfer_id = $4 WHERE tenant_id = $1 AND id = $2`,
				tenantID, b.ID, m.now(), transferID)
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("day end %s, booking %d: %w", d.Format(time.DateOnly), id, err)
		}
	}
	return rep, nil
}
