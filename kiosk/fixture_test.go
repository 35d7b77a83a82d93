package kiosk

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var brussels = func() *time.Location {
	l, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		panic(err)
	}
	return l
}()

// monday is a school day of the FWB 2026-27 calendar.
var monday = time.Date(2026, 11, 30, 11, 52, 0, 0, brussels)

// fixture (the staff screens' one without the taps, staff/fixture_test.go)
// is a tenant with one school, a class, pupils with wallets, a kiosk with
// its cash drawer and a canteen station.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	clk    *clock
	pool   *pgxpool.Pool
	led    *ledger.Ledger
	store  *school.Store
	svc    *Service
	tenant int64
	school int64
	pupils map[string]school.Pupil // by badge uid
	emma   school.Pupil
	bank   int64
}

const (
	uidEmma  = "0100CDA4EC"
	uidLucas = "0100CDA4ED"
	uidGone  = "0100CDA4F1" // inactive pupil
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	clk := &clock{t: monday}
	f := &fixture{t: t, ctx: ctx, clk: clk, pool: pool, pupils: map[string]school.Pupil{}}
	f.led = ledger.New(pool, clk.Now)
	f.store = school.New(pool, f.led, clk.Now)
	ten, err := f.store.EnsureTenant(ctx, "po1", "PO de test")
	must(t, err)
	f.tenant = ten.ID
	sch, err := f.store.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "ecole1", Name: "École des Tilleuls"})
	must(t, err)
	f.school = sch.ID
	cls, err := f.store.EnsureClass(ctx, f.tenant, f.school, "P3A", "P3")
	must(t, err)
	mk := func(uid, first, last string, in school.PupilInput) school.Pupil {
		in.SchoolID, in.ClassID, in.FirstName, in.LastName = f.school, cls.ID, first, last
		p, err := f.store.CreatePupil(ctx, f.tenant, in, "test")
		must(t, err)
		_, err = f.store.CreateBadge(ctx, f.tenant, school.BadgeInput{UID: uid, Tech: school.TechEM4100, PupilID: p.ID}, "test")
		must(t, err)
		f.pupils[uid] = p
		return p
	}
	f.emma = mk(uidEmma, "Emma", "Dubois", school.PupilInput{})
	mk(uidLucas, "Lucas", "Martin", school.PupilInput{FreeMeals: true})
	mk(uidGone, "Hugo", "Leroy", school.PupilInput{Inactive: true})
	for code, kind := range map[string]school.StationKind{"canteen-1": school.Canteen, "kiosk-1": school.Kiosk} {
		_, err := f.store.EnsureStation(ctx, f.tenant, school.StationInput{SchoolID: f.school, Code: code, Name: code, Kind: kind}, "test")
		must(t, err)
	}
	bank, err := f.led.AccountByCode(ctx, f.tenant, school.AccountBank)
	must(t, err)
	f.bank = bank.ID
	f.topUp(uidEmma, "20.00")
	f.topUp(uidLucas, "20.00")
	f.svc, err = New(Config{Pool: pool, Ledger: f.led, School: f.store, Now: clk.Now})
	must(t, err)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// topUp credits a pupil's wallet from the bank.
func (f *fixture) topUp(uid, amount string) {
	f.t.Helper()
	p := f.pupils[uid]
	a := dec(amount)
	_, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: fmt.Sprint("topup:", uid, amount, f.clk.Now().UnixNano()),
		Kind: "topup", Actor: "test", Postings: []ledger.Posting{{AccountID: f.bank, Amount: a}, {AccountID: p.WalletAccountID, Amount: a.Neg()}}})
	must(f.t, err)
}

// balance returns the available balance of a pupil's wallet.
func (f *fixture) balance(uid string) decimal.Decimal {
	f.t.Helper()
	b, err := f.led.Balance(f.ctx, f.tenant, f.pupils[uid].WalletAccountID)
	must(f.t, err)
	return b.Available
}

func (f *fixture) accountBalance(code string) decimal.Decimal {
	f.t.Helper()
	a, err := f.led.AccountByCode(f.ctx, f.tenant, code)
	must(f.t, err)
	b, err := f.led.Balance(f.ctx, f.tenant, a.ID)
	must(f.t, err)
	return b.Posted
}

// verify fails the test when the ledger invariants do not hold.
func (f *fixture) verify() {
	f.t.Helper()
	v, _, err := f.led.Verify(f.ctx)
	must(f.t, err)
	if len(v) > 0 {
		f.t.Fatalf("ledger.Verify: %+v", v)
	}
}
