package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
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

const (
	devID     = "dev-test-1"
	devSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// fixture is a tenant with one school, a class, pupils with badges, the four
// station kinds, a device, meal and daycare tariffs and the FWB calendar.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	clk     *clock
	led     *ledger.Ledger
	store   *school.Store
	book    *booking.Manager
	svc     *Service
	srv     *httptest.Server
	tenant  int64
	school  int64
	pupils  map[string]school.Pupil // by badge uid
	emma    school.Pupil
	bank    int64
	station map[string]int64
}

const (
	uidEmma    = "0100CDA4EC"
	uidLucas   = "0100CDA4ED" // free meals
	uidNora    = "0100CDA4EE" // empty wallet
	uidBlocked = "0100CDA4EF"
	uidStock   = "0100CDA4F0" // not assigned
	uidGone    = "0100CDA4F1" // inactive pupil
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t)
	clk := &clock{t: monday}
	f := &fixture{t: t, ctx: ctx, clk: clk, pupils: map[string]school.Pupil{}, station: map[string]int64{}}
	f.led = ledger.New(pool, clk.Now)
	f.store = school.New(pool, f.led, clk.Now)
	f.book = booking.New(pool, f.led, clk.Now)
	ten, err := f.store.EnsureTenant(ctx, "po1", "PO de test")
	must(t, err)
	f.tenant = ten.ID
	sch, err := f.store.EnsureSchool(ctx, f.tenant, school.SchoolInput{Code: "ecole1", Name: "École des Tilleuls"})
	must(t, err)
	f.school = sch.ID
	cls, err := f.store.EnsureClass(ctx, f.tenant, f.school, "P3A", "P3")
	must(t, err)
	mk := func(uid, first, last string, in school.PupilInput, status school.BadgeStatus) school.Pupil {
		in.SchoolID, in.ClassID, in.FirstName, in.LastName = f.school, cls.ID, first, last
		p, err := f.store.CreatePupil(ctx, f.tenant, in, "test")
		must(t, err)
		b, err := f.store.CreateBadge(ctx, f.tenant, school.BadgeInput{UID: uid, Tech: school.TechEM4100, PupilID: p.ID}, "test")
		must(t, err)
		if status != school.BadgeActive {
			_, err = f.store.SetBadgeStatus(ctx, f.tenant, b.ID, status, "test")
			must(t, err)
		}
		f.pupils[uid] = p
		return p
	}
	f.emma = mk(uidEmma, "Emma", "Dubois", school.PupilInput{Allergens: []school.Allergen{"peanuts"}, Diet: []school.Diet{"vegetarian"}}, school.BadgeActive)
	mk(uidLucas, "Lucas", "Martin", school.PupilInput{FreeMeals: true}, school.BadgeActive)
	mk(uidNora, "Nora", "Peeters", school.PupilInput{}, school.BadgeActive)
	mk(uidBlocked, "Zoé", "Lambert", school.PupilInput{}, school.BadgeBlocked)
	mk(uidGone, "Hugo", "Leroy", school.PupilInput{Inactive: true}, school.BadgeActive)
	_, err = f.store.CreateBadge(ctx, f.tenant, school.BadgeInput{UID: uidStock, Tech: school.TechEM4100}, "test")
	must(t, err)
	for code, kind := range map[string]school.StationKind{"canteen-1": school.Canteen, "canteen-2": school.Canteen,
		"daycare-1": school.Daycare, "kiosk-1": school.Kiosk, "enrol-1": school.EnrolmentDesk} {
		st, err := f.store.EnsureStation(ctx, f.tenant, school.StationInput{SchoolID: f.school, Code: code, Name: code, Kind: kind}, "test")
		must(t, err)
		f.station[code] = st.ID
	}
	must(t, f.store.EnrolDeviceWithSecret(ctx, f.tenant, devID, "bridge", devSecret, "test"))
	must(t, f.book.EnsureMealType(ctx, f.tenant, booking.MealType{Code: "repas", Name: "Repas complet", Subsidised: true}))
	_, err = f.book.AddMealTariff(ctx, f.tenant, booking.MealTariff{SchoolID: f.school, MealType: "repas", Level: "*",
		BookedPrice: dec("3.70"), UnbookedPrice: dec("4.20"), ValidFrom: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	capAmt := dec("5.00")
	_, err = f.book.AddDaycareTariff(ctx, f.tenant, booking.DaycareTariff{SchoolID: f.school, Level: "*", PeriodMinutes: 30,
		PeriodPrice: dec("0.80"), DailyCap: &capAmt, Opens: booking.MustClock("07:00"), Closes: booking.MustClock("18:00"),
		FreeWindows: []booking.Window{{From: booking.MustClock("15:30"), To: booking.MustClock("15:45")}},
		ValidFrom:   time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	_, err = f.book.GenerateYear(ctx, f.tenant, f.school, 2026)
	must(t, err)
	bank, err := f.led.AccountByCode(ctx, f.tenant, school.AccountBank)
	must(t, err)
	f.bank = bank.ID
	f.topUp(uidEmma, "20.00")
	f.topUp(uidLucas, "20.00")

	f.svc, err = New(Config{Pool: pool, Ledger: f.led, School: f.store, Booking: f.book, Now: clk.Now})
	must(t, err)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.svc.MountDeviceAPI(r)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
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

var tapSeq struct {
	mu sync.Mutex
	n  int
}

func newTapID() string {
	tapSeq.mu.Lock()
	defer tapSeq.mu.Unlock()
	tapSeq.n++
	return fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", tapSeq.n)
}

func tapAt(station, uid string, at time.Time) Tap {
	return Tap{ID: newTapID(), Station: station, UID: uid, Tech: "em4100", ReadAt: at}
}

// post sends taps through the device API, signed at the clock's time, and
// returns the status and results.
func (f *fixture) post(taps ...Tap) (int, []Result) {
	f.t.Helper()
	body, err := json.Marshal(map[string]any{"taps": taps})
	must(f.t, err)
	st, raw := f.postRaw("/api/v1/taps", body, f.clk.Now(), devID, devSecret)
	var out struct {
		Results []Result `json:"results"`
	}
	if st == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return st, out.Results
}

func (f *fixture) postRaw(path string, body []byte, at time.Time, dev, secret string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	must(f.t, err)
	req.Header.Set("Authorization", Authorization(dev, []byte(secret), http.MethodPost, path, at, body))
	resp, err := http.DefaultClient.Do(req)
	must(f.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// one posts a single tap and returns its result.
func (f *fixture) one(tap Tap) Result {
	f.t.Helper()
	st, res := f.post(tap)
	if st != http.StatusOK || len(res) != 1 {
		f.t.Fatalf("POST taps: status %d, %d results", st, len(res))
	}
	return res[0]
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
