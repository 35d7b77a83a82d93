package statements

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/ledger"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// outbox records the emails sent.
type outbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) to() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, m := range o.msgs {
		out = append(out, m.To)
	}
	return out
}

type fixture struct {
	t      testing.TB
	ctx    context.Context
	clock  *clock
	led    *ledger.Ledger
	school *school.Store
	fees   *fees.Service
	svc    *Service
	mail   *outbox
	tenant school.Tenant
	sch    school.School
	class  school.Class
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// at is a Brussels wall-clock instant.
func at(y int, m time.Month, d, h int) time.Time {
	loc, _ := time.LoadLocation("Europe/Brussels")
	return time.Date(y, m, d, h, 0, 0, 0, loc)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	c := &clock{t: at(2026, time.June, 15, 10)}
	led := ledger.New(pool, c.now)
	st := school.New(pool, led, c.now)
	tn, err := st.EnsureTenant(ctx, "po", "PO de Namur")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.EnsureSchool(ctx, tn.ID, school.SchoolInput{Code: "ecole", Name: "École Saint-Aubain", Address: "Rue de l'Été 1, 5000 Namur",
		IBAN: "BE68539007547034", BIC: "GKCCBEBB", Beneficiary: "ASBL École Saint-Aubain"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := st.EnsureClass(ctx, tn.ID, sc.ID, "P4A", "P4")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := fees.LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	fs := fees.New(pool, led, st, fees.NewRules(shipped, c.now), c.now)
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, cat, c.now)
	ob := &outbox{}
	svc.Mail = ob
	return &fixture{t: t, ctx: ctx, clock: c, led: led, school: st, fees: fs, svc: svc, mail: ob, tenant: tn, sch: sc, class: cl}
}

// pupil creates a P4 pupil with guardians (first name, email).
func (f *fixture) pupil(first, last string, guardians ...[2]string) school.Pupil {
	f.t.Helper()
	p, err := f.school.CreatePupil(f.ctx, f.tenant.ID, school.PupilInput{SchoolID: f.sch.ID, ClassID: f.class.ID, FirstName: first, LastName: last, Level: "P4"}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	for _, g := range guardians {
		gd, err := f.school.CreateGuardian(f.ctx, f.tenant.ID, school.GuardianInput{FirstName: g[0], LastName: last, Email: g[1]}, "test")
		if err != nil {
			f.t.Fatal(err)
		}
		if err := f.school.LinkGuardian(f.ctx, f.tenant.ID, gd.ID, p.ID, "parent", "test"); err != nil {
			f.t.Fatal(err)
		}
	}
	return p
}

// fee charges an obligatoire fee to the pupils on a date.
func (f *fixture) fee(object, category string, amount string, on time.Time, pupils ...int64) fees.Fee {
	f.t.Helper()
	fe, err := f.fees.Create(f.ctx, f.tenant.ID, fees.CreateInput{SchoolID: f.sch.ID, Object: object, Category: category, Kind: fees.Obligatoire,
		Dates: []time.Time{on}, Amount: decimal.RequireFromString(amount), PupilIDs: pupils}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return fe
}

// periods sets the 2026-27 periods (before the year starts) as three
// periods: Sep–Oct, Nov–Dec, Jan–Apr.
func (f *fixture) periods() []Period {
	f.t.Helper()
	ps, err := f.svc.SetPeriods(f.ctx, f.tenant.ID, "2026-27", []PeriodInput{
		{From: day(2026, 9, 1), To: day(2026, 10, 31)},
		{From: day(2026, 11, 1), To: day(2026, 12, 31)},
		{From: day(2027, 1, 1), To: day(2027, 4, 30)},
	}, "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return ps
}

func (f *fixture) override() {
	f.t.Helper()
	if err := f.svc.OverrideEstimate(f.ctx, f.tenant.ID, "2026-27", "estimation remise sur papier", "staff:1"); err != nil {
		f.t.Fatal(err)
	}
}
