package fees

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/dbtest"
	"tartine/ledger"
	"tartine/school"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type fixture struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	led     *ledger.Ledger
	school  *school.Store
	svc     *Service
	clock   *clock
	tenant  int64
	sch     int64
	classes map[string]int64 // code → id
	pupils  map[string]school.Pupil
}

// newFixture: one school with classes M1A, M3A, P2A, P5A, S3A and two
// pupils in each ("<class>-1", "<class>-2"), the clock on 1 October 2025.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, _ := dbtest.Guarded(t, 0)
	f := &fixture{ctx: ctx, pool: pool, clock: &clock{}, classes: map[string]int64{}, pupils: map[string]school.Pupil{}}
	f.clock.set(time.Date(2025, 10, 1, 10, 0, 0, 0, time.UTC))
	f.led = ledger.New(pool, f.clock.now)
	f.school = school.New(pool, f.led, f.clock.now)
	shipped, err := LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	f.svc = New(pool, f.led, f.school, NewRules(shipped, f.clock.now), f.clock.now)
	ten, err := f.school.EnsureTenant(ctx, "po", "PO test")
	if err != nil {
		t.Fatal(err)
	}
	f.tenant = ten.ID
	sc, err := f.school.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "ecole", Name: "École test"})
	if err != nil {
		t.Fatal(err)
	}
	f.sch = sc.ID
	for _, c := range []struct{ code, level string }{{"M1A", "M1"}, {"M3A", "M3"}, {"P2A", "P2"}, {"P5A", "P5"}, {"S3A", "S3"}} {
		cl, err := f.school.EnsureClass(ctx, f.tenant, f.sch, c.code, c.level)
		if err != nil {
			t.Fatal(err)
		}
		f.classes[c.code] = cl.ID
		for _, n := range []string{"1", "2"} {
			p, err := f.school.CreatePupil(ctx, f.tenant, school.PupilInput{SchoolID: f.sch, ClassID: cl.ID, FirstName: "Élève" + n, LastName: c.code}, "test")
			if err != nil {
				t.Fatal(err)
			}
			f.pupils[c.code+"-"+n] = p
		}
	}
	return f
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func eur(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func (f *fixture) create(t *testing.T, in CreateInput) (Fee, error) {
	t.Helper()
	in.SchoolID = f.sch
	if in.Object == "" {
		in.Object = "Activité " + in.Category
	}
	if in.Dates == nil {
		in.Dates = []time.Time{day(2025, 11, 5)}
	}
	return f.svc.Create(f.ctx, f.tenant, in, "staff:1")
}

func (f *fixture) mustCreate(t *testing.T, in CreateInput) Fee {
	t.Helper()
	fee, err := f.create(t, in)
	if err != nil {
		t.Fatalf("create %s %s: %v", in.Kind, in.Category, err)
	}
	return fee
}

// receivable returns a pupil's fees receivable balance (fees:<pupil>; 0
// before the first fee). The receivable:<pupil> of service debts must stay
// untouched by fees.
func (f *fixture) receivable(t *testing.T, key string) decimal.Decimal {
	t.Helper()
	if b, err := f.led.Balance(f.ctx, f.tenant, f.pupils[key].ReceivableAccountID); err != nil || !b.Posted.IsZero() {
		t.Fatalf("fees booked on receivable:<pupil> (service debts): %v, %v", b.Posted, err)
	}
	a, err := f.led.AccountByCode(f.ctx, f.tenant, ReceivableAccountCode(f.pupils[key].ID))
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return decimal.Zero
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.led.Balance(f.ctx, f.tenant, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b.Posted
}

func (f *fixture) verify(t *testing.T) {
	t.Helper()
	v, _, err := f.led.Verify(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("ledger invariant: %s", x)
	}
}

func ruleError(t *testing.T, err error, rule string) *RuleError {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a *RuleError %s", err, rule)
	}
	if re.Rule != rule {
		t.Fatalf("rule = %s, want %s (%v)", re.Rule, rule, err)
	}
	if re.Source == "" {
		t.Fatalf("refusal %s names no source", rule)
	}
	return re
}

func TestShippedRulesLoad(t *testing.T) {
	s, err := LoadShipped()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Years(); len(got) < 2 || got[0] != "2025-26" || got[1] != "2026-27" {
		t.Fatalf("years = %v, want 2025-26 and 2026-27", got)
	}
	rs, ok, err := s.Set("2025-26", GroupMaternel)
	if err != nil || !ok {
		t.Fatal(err, ok)
	}
	if len(rs.Facultatif) != 0 || len(rs.Caps) != 2 || !rs.Caps[0].Unconfirmed || !rs.Unconfirmed() {
		t.Errorf("maternel 2025-26: facultatif %v caps %+v: want none, two [U] caps", rs.Facultatif, rs.Caps)
	}
	sec, _, _ := s.Set("2026-27", GroupSecondary)
	if c := sec.CapsFor("photocopies"); len(c) != 1 || !c[0].Amount.Equal(eur("75")) || c[0].Unconfirmed {
		t.Errorf("secondary photocopies cap = %+v, want 75 € confirmed", c)
	}
	later, exact, err := s.Set("2031-32", GroupMaternel)
	if err != nil || exact || later.SchoolYear != "2031-32" || !later.Caps[0].Unconfirmed {
		t.Errorf("an unshipped year: exact %v, %+v, %v: want a copy of the latest year flagged to confirm", exact, later, err)
	}
	for _, tc := range []struct {
		day  time.Time
		want string
	}{
		{day(2025, 8, 25), "2025-26"}, {day(2026, 7, 3), "2025-26"}, {day(2026, 8, 31), "2026-27"}, {day(2027, 1, 4), "2026-27"},
	} {
		if got := SchoolYearOf(tc.day); got != tc.want {
			t.Errorf("SchoolYearOf(%s) = %s, want %s", tc.day.Format(time.DateOnly), got, tc.want)
		}
	}
}

// Legal rule: forbidden categories (minerval, enrolment fees, bulletin,
// journal de classe, the communication tool, a forfait…) are refused at
// every level whatever the label; photocopies are forbidden in maternel
// and primaire; supplies are forbidden in a year group where they are free.
func TestRuleForbiddenCategory(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, category, class string
		kind                  Kind
		rule                  string
	}{
		{"minerval in secondary", "minerval", "S3A", Obligatoire, RuleForbiddenCategory},
		{"enrolment fee as facultatif", "inscription", "P5A", Facultatif, RuleForbiddenCategory},
		{"journal de classe", "journal-de-classe", "P2A", Obligatoire, RuleForbiddenCategory},
		{"bulletin", "bulletin", "M1A", Obligatoire, RuleForbiddenCategory},
		{"diploma or CEB", "diplome", "P5A", Obligatoire, RuleForbiddenCategory},
		{"the payment tool itself", "outil-communication", "S3A", Facultatif, RuleForbiddenCategory},
		{"a forfait", "forfait", "P5A", Obligatoire, RuleForbiddenCategory},
		{"photocopies in primaire", "photocopies", "P5A", Obligatoire, RuleForbiddenCategory},
		{"photocopies in maternel", "photocopies", "M3A", Obligatoire, RuleForbiddenCategory},
		{"supplies in maternel (free)", "fournitures", "M1A", Obligatoire, RuleFreeSupplies},
		{"supplies in P2 (free since 2023-24)", "fournitures", "P2A", Facultatif, RuleFreeSupplies},
		{"a category not in the exhaustive obligatoire list", "abonnements", "P5A", Obligatoire, RuleNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.create(t, CreateInput{Category: tc.category, Kind: tc.kind, Amount: eur("5"), ClassIDs: []int64{f.classes[tc.class]}})
			ruleError(t, err, tc.rule)
		})
	}
	// A mixed selection is refused as a whole when one level forbids it.
	_, err := f.create(t, CreateInput{Category: "photocopies", Kind: Obligatoire, Amount: eur("5"), ClassIDs: []int64{f.classes["S3A"], f.classes["P5A"]}})
	if re := ruleError(t, err, RuleForbiddenCategory); re.Level != "P5" {
		t.Errorf("refused level = %s, want P5", re.Level)
	}
	var n int
	if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM fees`).Scan(&n); err != nil || n != 0 {
		t.Errorf("fees recorded after refusals: %d (%v)", n, err)
	}
	// Supplies may be a facultatif group purchase in P5 (not free in 2025-26).
	f.mustCreate(t, CreateInput{Category: "fournitures", Kind: Facultatif, Amount: eur("12.40"), ClassIDs: []int64{f.classes["P5A"]}})
}

// Legal rule: no facultatif fee in maternel (décret 2019); in P1–P3 only
// the group purchase of manuals and workbooks.
func TestRuleLevelWithoutFacultatif(t *testing.T) {
	f := newFixture(t)
	_, err := f.create(t, CreateInput{Category: "activites-facultatives", Kind: Facultatif, Amount: eur("4"), ClassIDs: []int64{f.classes["M3A"]}})
	re := ruleError(t, err, RuleNoFacultatif)
	if !strings.Contains(re.Source, "7134") {
		t.Errorf("source %q does not name circular 7134", re.Source)
	}
	_, err = f.create(t, CreateInput{Category: "abonnements", Kind: Facultatif, Amount: eur("4"), ClassIDs: []int64{f.classes["P2A"]}})
	ruleError(t, err, RuleNotAllowed)
	fee := f.mustCreate(t, CreateInput{Category: "manuels-achat-groupe", Kind: Facultatif, Amount: eur("18.90"), ClassIDs: []int64{f.classes["P2A"]}})
	if fee.AwaitingOptIn != 2 || fee.Charged != 0 {
		t.Errorf("P2 manuals: %d awaiting, %d charged; want 2 awaiting opt-in, 0 charged", fee.AwaitingOptIn, fee.Charged)
	}
	f.mustCreate(t, CreateInput{Category: "abonnements", Kind: Facultatif, Amount: eur("4"), ClassIDs: []int64{f.classes["P5A"]}})
}

func capError(t *testing.T, err error) *CapError {
	t.Helper()
	var ce *CapError
	if !errors.As(err, &ce) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want a *CapError", err)
	}
	return ce
}

// Legal rule: maternel activities are capped per pupil per school year
// (pool inside by default, switchable), and the school may lower a
// pupil's amount to stay under the cap.
func TestRuleMaternelActivitiesCapPerYear(t *testing.T) {
	f := newFixture(t)
	m3 := []int64{f.classes["M3A"]}
	f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("30"), ClassIDs: m3})
	f.mustCreate(t, CreateInput{Category: "piscine", Kind: Obligatoire, Amount: eur("10"), ClassIDs: m3, PupilIDs: nil})
	_, err := f.create(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("20"), ClassIDs: m3})
	ce := capError(t, err)
	if len(ce.Over) != 2 {
		t.Fatalf("over = %+v, want both M3 pupils", ce.Over)
	}
	u := ce.Over[0]
	if u.Cap.ID != "maternel-activities" || !u.Used.Equal(eur("40")) || !u.Remaining().Equal(eur("16")) || !u.Cap.Unconfirmed {
		t.Errorf("usage = %s used, %s left of %s (%s); want 40 used (pool inside), 16 left, [U]", u.Used, u.Remaining(), u.Cap.Amount, u.Cap.ID)
	}
	// The school lowers one pupil's amount; the other still passes the cap.
	p1, p2 := f.pupils["M3A-1"].ID, f.pupils["M3A-2"].ID
	_, err = f.create(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("20"), ClassIDs: m3, Amounts: map[int64]decimal.Decimal{p1: eur("16")}})
	if ce := capError(t, err); len(ce.Over) != 1 || ce.Over[0].PupilID != p2 {
		t.Fatalf("over = %+v, want only pupil %d", ce.Over, p2)
	}
	fee := f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("20"), ClassIDs: m3,
		Amounts: map[int64]decimal.Decimal{p1: eur("16"), p2: eur("16")}})
	if !fee.Total.Equal(eur("32")) {
		t.Errorf("total = %s, want 32", fee.Total)
	}
	if got := f.receivable(t, "M3A-1"); !got.Equal(eur("56")) {
		t.Errorf("receivable = %s, want 56 (the cap, reached)", got)
	}
	usage, err := f.svc.CapUsages(f.ctx, f.tenant, p1, "2025-26")
	if err != nil || len(usage) != 2 || !usage[0].Used.Equal(eur("56")) {
		t.Errorf("cap usage = %+v, %v", usage, err)
	}
	// A new school year starts from zero.
	f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("30"), ClassIDs: m3, Dates: []time.Time{day(2026, 9, 15)}})
	// With the pool switched out of the cap, pool fees no longer count.
	rs, err := f.svc.Rules().Get(f.ctx, f.pool, f.tenant, "2025-26", GroupMaternel)
	if err != nil {
		t.Fatal(err)
	}
	rs.PoolInActivitiesCap.Value, rs.PoolInActivitiesCap.Unconfirmed = false, false
	if _, err := f.svc.Rules().Save(f.ctx, f.pool, f.tenant, rs, rs.Version, "staff:1", "PO decision"); err != nil {
		t.Fatal(err)
	}
	f.mustCreate(t, CreateInput{Category: "piscine", Kind: Obligatoire, Amount: eur("12"), ClassIDs: m3})
	f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("10"), ClassIDs: m3, Amounts: map[int64]decimal.Decimal{p2: eur("10")}})
	f.verify(t)
}

// Legal rule: maternel overnight stays are capped per pupil over the whole
// maternel cycle (M1–M3 together), not per year.
func TestRuleMaternelStaysCapPerCycle(t *testing.T) {
	f := newFixture(t)
	m1 := f.pupils["M1A-1"]
	f.mustCreate(t, CreateInput{Category: "sejours", Kind: Obligatoire, Amount: eur("100"), PupilIDs: []int64{m1.ID}})
	// Next school year, the pupil is in M2: the cycle's usage carries over.
	if _, err := f.pool.Exec(f.ctx, `UPDATE pupils SET level = 'M2' WHERE tenant_id = $1 AND id = $2`, f.tenant, m1.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.create(t, CreateInput{Category: "sejours", Kind: Obligatoire, Amount: eur("40"), PupilIDs: []int64{m1.ID}, Dates: []time.Time{day(2027, 5, 10)}})
	ce := capError(t, err)
	if u := ce.Over[0]; u.Cap.ID != "maternel-stays" || u.Cap.Scope != ScopeCycle || !u.Used.Equal(eur("100")) || !u.Remaining().Equal(eur("25")) {
		t.Errorf("usage = %+v; want the cycle cap with 100 used and 25 left", u)
	}
	f.mustCreate(t, CreateInput{Category: "sejours", Kind: Obligatoire, Amount: eur("25"), PupilIDs: []int64{m1.ID}, Dates: []time.Time{day(2027, 5, 10)}})
	// Stays do not count in the activities cap.
	f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("50"), PupilIDs: []int64{m1.ID}, Dates: []time.Time{day(2027, 5, 11)}})
	f.verify(t)
}

// Legal rule: photocopies in secondary at real cost, at most 75 € per
// pupil per school year.
func TestRuleSecondaryPhotocopiesCap(t *testing.T) {
	f := newFixture(t)
	s3 := []int64{f.classes["S3A"]}
	f.mustCreate(t, CreateInput{Category: "photocopies", Kind: Obligatoire, Amount: eur("60"), ClassIDs: s3, Object: "Photocopies 1er trimestre"})
	_, err := f.create(t, CreateInput{Category: "photocopies", Kind: Obligatoire, Amount: eur("15.01"), ClassIDs: s3, Dates: []time.Time{day(2026, 3, 2)}})
	ce := capError(t, err)
	if u := ce.Over[0]; u.Cap.ID != "secondary-photocopies" || !u.Cap.Amount.Equal(eur("75")) || !u.Remaining().Equal(eur("15")) {
		t.Errorf("usage = %+v; want 75 € cap with 15 left", u)
	}
	f.mustCreate(t, CreateInput{Category: "photocopies", Kind: Obligatoire, Amount: eur("15"), ClassIDs: s3, Dates: []time.Time{day(2026, 3, 2)}})
	f.mustCreate(t, CreateInput{Category: "photocopies", Kind: Obligatoire, Amount: eur("20"), ClassIDs: s3, Dates: []time.Time{day(2026, 9, 7)}})
}

// Legal rule: a facultatif fee is charged only to pupils whose guardian
// opted in; the answer is kept as proof (who, when, how). The fee never
// touches the wallet.
func TestRuleOptInRequiredForFacultatif(t *testing.T) {
	f := newFixture(t)
	p5 := f.pupils["P5A-1"]
	fee := f.mustCreate(t, CreateInput{Category: "abonnements", Kind: Facultatif, Amount: eur("12.50"), ClassIDs: []int64{f.classes["P5A"]}, Object: "Revue Tremplin"})
	lines, err := LinesForPeriod(f.ctx, f.pool, f.tenant, []int64{p5.ID}, day(2025, 9, 1), day(2025, 12, 31))
	if err != nil || len(lines) != 0 {
		t.Fatalf("lines before opt-in = %+v, %v; want none", lines, err)
	}
	if got := f.receivable(t, "P5A-1"); !got.IsZero() {
		t.Fatalf("receivable before opt-in = %s, want 0", got)
	}
	g, err := f.school.CreateGuardian(f.ctx, f.tenant, school.GuardianInput{FirstName: "Anne", LastName: "P5A", Email: "anne@example.be"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RecordOptIn(f.ctx, f.tenant, OptInInput{FeeID: fee.ID, PupilID: p5.ID, Accepted: true, Channel: ChannelPortal}, "guardian:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("portal opt-in without the guardian: %v, want ErrInvalid", err)
	}
	f.clock.set(time.Date(2025, 10, 3, 8, 30, 0, 0, time.UTC))
	o, err := f.svc.RecordOptIn(f.ctx, f.tenant, OptInInput{FeeID: fee.ID, PupilID: p5.ID, Accepted: true, Channel: ChannelStaff, GuardianID: g.ID, Note: "talon papier"}, "staff:7")
	if err != nil {
		t.Fatal(err)
	}
	if o.Actor != "staff:7" || o.Channel != ChannelStaff || o.GuardianID != g.ID || !o.At.Equal(f.clock.now()) {
		t.Errorf("opt-in proof = %+v", o)
	}
	lines, err = LinesForPeriod(f.ctx, f.pool, f.tenant, []int64{p5.ID, f.pupils["P5A-2"].ID}, day(2025, 9, 1), day(2025, 12, 31))
	if err != nil || len(lines) != 1 || lines[0].PupilID != p5.ID || lines[0].Kind != Facultatif || !lines[0].Amount.Equal(eur("12.5")) || lines[0].Object != "Revue Tremplin" {
		t.Fatalf("lines after one opt-in = %+v, %v; want the opted-in pupil's facultatif line only", lines, err)
	}
	if got := f.receivable(t, "P5A-1"); !got.Equal(eur("12.5")) {
		t.Errorf("receivable = %s, want 12.50", got)
	}
	if b, err := f.led.Balance(f.ctx, f.tenant, p5.WalletAccountID); err != nil || !b.Posted.IsZero() {
		t.Errorf("wallet = %+v, %v; a fee never touches the wallet", b, err)
	}
	// The guardian changes their mind before any statement: uncharged,
	// both answers kept.
	if _, err := f.svc.RecordOptIn(f.ctx, f.tenant, OptInInput{FeeID: fee.ID, PupilID: p5.ID, Accepted: false, Channel: ChannelPortal, GuardianID: g.ID}, "guardian:1"); err != nil {
		t.Fatal(err)
	}
	if got := f.receivable(t, "P5A-1"); !got.IsZero() {
		t.Errorf("receivable after withdrawal = %s, want 0", got)
	}
	proof, err := f.svc.OptIns(f.ctx, f.tenant, fee.ID, p5.ID)
	if err != nil || len(proof) != 2 || proof[0].Accepted || !proof[1].Accepted {
		t.Errorf("proof = %+v, %v; want both answers, newest first", proof, err)
	}
	// An obligatoire fee takes no opt-in.
	ob := f.mustCreate(t, CreateInput{Category: "piscine", Kind: Obligatoire, Amount: eur("3"), ClassIDs: []int64{f.classes["P5A"]}})
	if _, err := f.svc.RecordOptIn(f.ctx, f.tenant, OptInInput{FeeID: ob.ID, PupilID: p5.ID, Accepted: true, Channel: ChannelStaff}, "staff:7"); !errors.Is(err, ErrNotFacultatif) {
		t.Errorf("opt-in to an obligatoire fee: %v, want ErrNotFacultatif", err)
	}
	offers, err := f.svc.Offers(f.ctx, f.tenant, []int64{p5.ID})
	if err != nil || len(offers) != 1 || offers[0].Answer == nil || offers[0].Answer.Accepted {
		t.Errorf("offers = %+v, %v", offers, err)
	}
	f.verify(t)
}

// Legal rule: a fee is corrected or cancelled freely before it is on an
// issued statement; afterwards only by a credit line on the next one.
func TestRuleNoEditAfterIssue(t *testing.T) {
	f := newFixture(t)
	p5 := []int64{f.classes["P5A"]}
	a := f.mustCreate(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("10"), ClassIDs: p5, Object: "Théâtre"})
	// Before issue: correct the amount, then cancel another fee.
	a, err := f.svc.Correct(f.ctx, f.tenant, a.ID, CorrectInput{Object: "Théâtre (car compris)", Dates: []time.Time{day(2025, 11, 6)}, Amount: eur("8.50")}, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.receivable(t, "P5A-1"); !got.Equal(eur("8.5")) || !a.Total.Equal(eur("17")) {
		t.Fatalf("after correction: receivable %s, total %s; want 8.50 and 17.00", got, a.Total)
	}
	b := f.mustCreate(t, CreateInput{Category: "piscine", Kind: Obligatoire, Amount: eur("4"), ClassIDs: p5})
	if err := f.svc.Cancel(f.ctx, f.tenant, b.ID, "annulé (piscine fermée)", "staff:1"); err != nil {
		t.Fatal(err)
	}
	if got := f.receivable(t, "P5A-1"); !got.Equal(eur("8.5")) {
		t.Fatalf("after cancel: receivable %s, want 8.50", got)
	}
	// The statements package issues the lines.
	p := f.pupils["P5A-1"].ID
	lines, err := LinesForPeriod(f.ctx, f.pool, f.tenant, []int64{p}, day(2025, 9, 1), day(2025, 12, 31))
	if err != nil || len(lines) != 1 || lines[0].Object != "Théâtre (car compris)" || !lines[0].Date.Equal(day(2025, 11, 6)) {
		t.Fatalf("lines = %+v, %v", lines, err)
	}
	all, _ := f.svc.FeeLines(f.ctx, f.tenant, a.ID)
	ids := []int64{all[0].ID, all[1].ID}
	if err := pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error { return MarkIssued(f.ctx, tx, f.tenant, ids, "ST-1") }); err != nil {
		t.Fatal(err)
	}
	if err := MarkIssued(f.ctx, f.pool, f.tenant, ids, "ST-1"); err != nil {
		t.Errorf("marking again with the same ref: %v, want nil", err)
	}
	if err := MarkIssued(f.ctx, f.pool, f.tenant, ids, "ST-2"); !errors.Is(err, ErrIssued) {
		t.Errorf("marking with another ref: %v, want ErrIssued", err)
	}
	if _, err := f.svc.Correct(f.ctx, f.tenant, a.ID, CorrectInput{Object: "x", Dates: []time.Time{day(2025, 11, 6)}, Amount: eur("5")}, "staff:1"); !errors.Is(err, ErrIssued) {
		t.Errorf("correct after issue: %v, want ErrIssued", err)
	}
	if err := f.svc.Cancel(f.ctx, f.tenant, a.ID, "oops", "staff:1"); !errors.Is(err, ErrIssued) {
		t.Errorf("cancel after issue: %v, want ErrIssued", err)
	}
	if _, err := f.svc.Assign(f.ctx, f.tenant, b.ID, AssignInput{ClassIDs: p5}, "staff:1"); !errors.Is(err, ErrCancelled) {
		t.Errorf("assign to a cancelled fee: %v, want ErrCancelled", err)
	}
	// The only way: a credit line, dated today, on the next statement.
	f.clock.set(time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC))
	if _, err := f.svc.Credit(f.ctx, f.tenant, ids[0], eur("9"), "trop perçu", "staff:1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("credit above the line: %v, want ErrInvalid", err)
	}
	c, err := f.svc.Credit(f.ctx, f.tenant, ids[0], eur("3.50"), "sortie écourtée", "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Credit || c.CreditsLineID != ids[0] || c.IssuedRef != "" || !c.Date.Equal(day(2026, 1, 12)) || !c.Signed().Equal(eur("-3.5")) {
		t.Errorf("credit line = %+v", c)
	}
	next, err := LinesForPeriod(f.ctx, f.pool, f.tenant, []int64{p}, day(2026, 1, 1), day(2026, 3, 31))
	if err != nil || len(next) != 1 || next[0].ID != c.ID {
		t.Errorf("next period's lines = %+v, %v; want the credit line", next, err)
	}
	if got := f.receivable(t, "P5A-1"); !got.Equal(eur("5")) {
		t.Errorf("receivable after credit = %s, want 5.00", got)
	}
	if err := MarkIssued(f.ctx, f.pool, f.tenant, []int64{c.ID}, "ST-3"); err != nil {
		t.Fatal(err)
	}
	unissued, err := UnissuedBefore(f.ctx, f.pool, f.tenant, nil, day(2026, 6, 1))
	if err != nil || len(unissued) != 0 {
		t.Errorf("unissued = %+v, %v; want none", unissued, err)
	}
	f.verify(t)
}

func TestRulesEditVersions(t *testing.T) {
	f := newFixture(t)
	r := f.svc.Rules()
	rs, err := r.Get(f.ctx, f.pool, f.tenant, "2026-27", GroupMaternel)
	if err != nil || rs.Version != 1 || rs.Actor != actorShipped {
		t.Fatalf("first read = v%d by %s, %v; want the shipped set as version 1", rs.Version, rs.Actor, err)
	}
	rs.Caps[0].Amount, rs.Caps[0].Unconfirmed = eur("57.20"), false
	saved, err := r.Save(f.ctx, f.pool, f.tenant, rs, 1, "staff:3", "montant 2026-27 publié")
	if err != nil || saved.Version != 2 || !saved.Caps[0].Amount.Equal(eur("57.2")) || saved.Actor != "staff:3" {
		t.Fatalf("saved = %+v, %v", saved, err)
	}
	if _, err := r.Save(f.ctx, f.pool, f.tenant, rs, 1, "staff:4", "concurrent edit"); !errors.Is(err, ErrStale) {
		t.Errorf("save on a stale version: %v, want ErrStale", err)
	}
	bad := saved
	bad.Facultatif = []Rule{{Category: "minerval", Source: "x"}}
	if _, err := r.Save(f.ctx, f.pool, f.tenant, bad, 2, "staff:3", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("forbidden and facultatif at once: %v, want ErrInvalid", err)
	}
	hist, err := r.History(f.ctx, f.pool, f.tenant, "2026-27", GroupMaternel)
	if err != nil || len(hist) != 2 || hist[0].Version != 2 {
		t.Errorf("history = %d versions, %v", len(hist), err)
	}
	// Another tenant still has the shipped rules.
	other, err := f.school.EnsureTenant(f.ctx, "po2", "PO 2")
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Get(f.ctx, f.pool, other.ID, "2026-27", GroupMaternel)
	if err != nil || !o.Caps[0].Amount.Equal(eur("56")) {
		t.Errorf("other tenant's cap = %s, %v; want the shipped 56.00", o.Caps[0].Amount, err)
	}
}

func TestSeedDemo(t *testing.T) {
	f := newFixture(t)
	// A school shaped like the demo's: classes P3A, P5B, M2, P1A.
	for _, c := range []struct{ code, level string }{{"P3A", "P3"}, {"P5B", "P5"}, {"M2", "M2"}, {"P1A", "P1"}} {
		cl, err := f.school.EnsureClass(f.ctx, f.tenant, f.sch, c.code, c.level)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.school.CreatePupil(f.ctx, f.tenant, school.PupilInput{SchoolID: f.sch, ClassID: cl.ID, FirstName: "Arthur", LastName: c.code}, "test")
		if err != nil {
			t.Fatal(err)
		}
		f.pupils[c.code] = p
	}
	// The first days of a school year: every date falls back to today.
	f.clock.set(time.Date(2026, 8, 26, 9, 0, 0, 0, time.UTC))
	arthur := map[string]int64{"Arthur": f.pupils["P5B"].ID}
	for range 2 {
		if err := SeedDemo(f.ctx, f.svc, f.tenant, f.sch, arthur); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.svc.Fees(f.ctx, f.tenant, f.sch, "2026-27")
	if err != nil || len(list) != 4 {
		t.Fatalf("demo fees = %d, %v; want 4, once", len(list), err)
	}
	lines, err := LinesForPeriod(f.ctx, f.pool, f.tenant, []int64{f.pupils["P5B"].ID}, day(2026, 8, 1), day(2026, 8, 31))
	if err != nil || len(lines) != 2 {
		t.Errorf("P5B lines = %+v, %v; want the pool and the magazine (opted in)", lines, err)
	}
	f.verify(t)
}

// Two charges of one pupil at once check the cap one after the other: of
// five concurrent 20 € activities for a maternel pupil (cap 56 €), two
// pass, whatever the interleaving.
func TestCapUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	p := f.pupils["M3A-1"].ID
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.create(t, CreateInput{Category: "activites", Kind: Obligatoire, Amount: eur("20"), PupilIDs: []int64{p}, Object: fmt.Sprint("Sortie ", i)})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRefused):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 2 {
		t.Errorf("%d charges passed, want 2 (56 € cap)", ok)
	}
	if got := f.receivable(t, "M3A-1"); !got.Equal(eur("40")) {
		t.Errorf("receivable = %s, want 40", got)
	}
}
