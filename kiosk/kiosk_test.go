package kiosk

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"tartine/internal/i18n"
	"tartine/school"
)

const tok1 = "0123456789abcdef0123456789abcdef"

// kioskCount returns the number of receipts and closings of the tenant.
func (f *fixture) kioskCount() (receipts, closings int) {
	f.t.Helper()
	pool := f.pool
	must(f.t, pool.QueryRow(f.ctx, `SELECT count(*) FROM kiosk_receipts WHERE tenant_id = $1`, f.tenant).Scan(&receipts))
	must(f.t, pool.QueryRow(f.ctx, `SELECT count(*) FROM drawer_closings WHERE tenant_id = $1`, f.tenant).Scan(&closings))
	return
}

func (f *fixture) cashTopUp(uid, amount, token string) Receipt {
	f.t.Helper()
	rc, err := f.svc.KioskTopUp(f.ctx, TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.pupils[uid].ID,
		Amount: dec(amount), FormToken: token, Actor: "staff:1"})
	must(f.t, err)
	return rc
}

func TestKioskTopUpOnceOnDoubleSubmit(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	before := f.balance(uidEmma)
	// Two submits of the same form at once, then a third later.
	var wg sync.WaitGroup
	got := make([]Receipt, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = f.svc.KioskTopUp(f.ctx, TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.emma.ID,
				Amount: dec("20"), FormToken: tok1, Actor: "staff:1"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	again := f.cashTopUp(uidEmma, "20.00", tok1)
	if got[0].Reference != got[1].Reference || again.Reference != got[0].Reference || !again.Replay {
		t.Fatalf("references %q %q %q (replay %v): want one receipt", got[0].Reference, got[1].Reference, again.Reference, again.Replay)
	}
	if want := "K-kiosk-1-20261130-001"; again.Reference != want {
		t.Errorf("reference = %q, want %q", again.Reference, want)
	}
	if d := f.balance(uidEmma).Sub(before); !d.Equal(dec("20")) {
		t.Errorf("wallet moved by %s, want 20", d)
	}
	if b := f.accountBalance(school.CashAccountCode("kiosk-1")); !b.Equal(dec("20")) {
		t.Errorf("drawer = %s, want 20", b)
	}
	// Same form, other amount: refused, nothing written.
	_, err := f.svc.KioskTopUp(f.ctx, TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.emma.ID, Amount: dec("25"), FormToken: tok1, Actor: "staff:1"})
	if !errors.Is(err, ErrFormUsed) {
		t.Errorf("reused form with another amount: err = %v, want ErrFormUsed", err)
	}
	// The next receipt of the day gets the next number.
	rc := f.cashTopUp(uidLucas, "5", "fedcba9876543210fedcba9876543210")
	if rc.Reference != "K-kiosk-1-20261130-002" {
		t.Errorf("second reference = %q", rc.Reference)
	}
	if r, c := f.kioskCount(); r != 2 || c != 0 {
		t.Errorf("%d receipts, %d closings; want 2, 0", r, c)
	}
	f.verify()
}

func TestKioskTopUpRefusedByService(t *testing.T) {
	f := newFixture(t)
	gone := f.pupils[uidGone]
	other, err := f.store.EnsureSchool(f.ctx, f.tenant, school.SchoolInput{Code: "ecole2", Name: "Autre école"})
	must(t, err)
	stranger, err := f.store.CreatePupil(f.ctx, f.tenant, school.PupilInput{SchoolID: other.ID, Level: "P1", FirstName: "Léa", LastName: "Autre"}, "test")
	must(t, err)
	tests := []struct {
		name    string
		station string
		pupil   int64
		amount  string
		token   string
		want    error
	}{
		{"below 1 €", "kiosk-1", f.emma.ID, "0.99", tok1, ErrAmountRange},
		{"above 500 €", "kiosk-1", f.emma.ID, "500.01", tok1, ErrAmountRange},
		{"three decimals", "kiosk-1", f.emma.ID, "10.001", tok1, ErrAmountRange},
		{"no token", "kiosk-1", f.emma.ID, "10", "", ErrBadFormToken},
		{"token not hex", "kiosk-1", f.emma.ID, "10", strings.Repeat("z", 32), ErrBadFormToken},
		{"canteen station", "canteen-1", f.emma.ID, "10", tok1, ErrNotKiosk},
		{"unknown station", "nowhere", f.emma.ID, "10", tok1, ErrNotFound},
		{"inactive pupil", "kiosk-1", gone.ID, "10", tok1, ErrPupilUnavailable},
		{"pupil of another school", "kiosk-1", stranger.ID, "10", tok1, ErrPupilUnavailable},
		{"unknown pupil", "kiosk-1", 999999, "10", tok1, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.KioskTopUp(f.ctx, TopUpRequest{TenantID: f.tenant, Station: tt.station, PupilID: tt.pupil,
				Amount: dec(tt.amount), FormToken: tt.token, Actor: "staff:1"})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if r, _ := f.kioskCount(); r != 0 {
		t.Errorf("%d receipts written", r)
	}
	if b := f.accountBalance(school.CashAccountCode("kiosk-1")); !b.IsZero() {
		t.Errorf("drawer = %s, want 0", b)
	}
	f.verify()
}

func TestDrawerClosingOverShort(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, brussels))
	f.cashTopUp(uidEmma, "20", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.clk.Set(time.Date(2026, 11, 30, 9, 0, 0, 0, brussels))
	f.cashTopUp(uidLucas, "15.50", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	cash := school.CashAccountCode("kiosk-1")
	close := func(counted, token string) Closing {
		t.Helper()
		c, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec(counted), FormToken: token, Actor: "staff:1"})
		must(t, err)
		return c
	}
	// Over by 1 €: cash debited, over/short credited.
	f.clk.Set(time.Date(2026, 11, 30, 12, 0, 0, 0, brussels))
	c1 := close("36.50", "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1")
	if !c1.Expected.Equal(dec("35.50")) || !c1.Difference.Equal(dec("1")) || c1.TransferID == 0 || !c1.Opening.IsZero() {
		t.Fatalf("first closing = %+v", c1)
	}
	if b := f.accountBalance(cash); !b.Equal(dec("36.50")) {
		t.Errorf("drawer after over = %s, want 36.50 (what was counted)", b)
	}
	if b := f.accountBalance(school.AccountCashOverShort); !b.Equal(dec("-1")) {
		t.Errorf("over/short after over = %s, want -1 (credited)", b)
	}
	// Submitting the same closing again posts nothing.
	again := close("36.50", "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1")
	if again.ID != c1.ID || !again.Replay {
		t.Errorf("replayed closing = %+v, want closing %d", again, c1.ID)
	}
	if _, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec("40"),
		FormToken: "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1", Actor: "staff:1"}); !errors.Is(err, ErrFormUsed) {
		t.Errorf("same closing form, other count: err = %v, want ErrFormUsed", err)
	}
	if b := f.accountBalance(school.AccountCashOverShort); !b.Equal(dec("-1")) {
		t.Errorf("over/short after replays = %s, want -1", b)
	}
	// Afternoon: one top-up, then the drawer is 6 € short.
	f.clk.Set(time.Date(2026, 11, 30, 16, 0, 0, 0, brussels))
	f.cashTopUp(uidEmma, "10", "dddddddddddddddddddddddddddddddd")
	f.clk.Set(time.Date(2026, 11, 30, 17, 30, 0, 0, brussels))
	c2 := close("40.50", "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2")
	if !c2.Opening.Equal(dec("36.50")) || !c2.Movements().Equal(dec("10")) || !c2.Expected.Equal(dec("46.50")) || !c2.Difference.Equal(dec("-6")) {
		t.Fatalf("second closing = %+v (movements %s)", c2, c2.Movements())
	}
	if !c2.Since.Equal(c1.ClosedAt) {
		t.Errorf("since = %v, want %v", c2.Since, c1.ClosedAt)
	}
	if b := f.accountBalance(school.AccountCashOverShort); !b.Equal(dec("5")) {
		t.Errorf("over/short after short = %s, want 5 (debited 6)", b)
	}
	if b := f.accountBalance(cash); !b.Equal(dec("40.50")) {
		t.Errorf("drawer after short = %s, want 40.50", b)
	}
	// Exact: no transfer.
	f.clk.Set(time.Date(2026, 11, 30, 17, 45, 0, 0, brussels))
	c3 := close("40.50", "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3")
	if !c3.Difference.IsZero() || c3.TransferID != 0 {
		t.Errorf("exact closing = %+v", c3)
	}
	// Refusals write nothing.
	for _, counted := range []string{"-1", "100000.01", "1.005"} {
		if _, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec(counted),
			FormToken: "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", Actor: "staff:1"}); !errors.Is(err, ErrAmountRange) {
			t.Errorf("count %s: err = %v, want ErrAmountRange", counted, err)
		}
	}
	if _, c := f.kioskCount(); c != 3 {
		t.Errorf("%d closings, want 3", c)
	}

	// Z-report of the day, and of the next day (nothing happened).
	z, err := f.svc.ZReport(f.ctx, f.tenant, "kiosk-1", time.Date(2026, 11, 30, 20, 0, 0, 0, brussels))
	must(t, err)
	if len(z.Receipts) != 3 || !z.ReceiptsTotal.Equal(dec("45.50")) {
		t.Errorf("Z: %d receipts totalling %s, want 3 and 45.50", len(z.Receipts), z.ReceiptsTotal)
	}
	if len(z.Closings) != 3 || !z.Differences.Equal(dec("-5")) {
		t.Errorf("Z: %d closings, differences %s; want 3 and -5", len(z.Closings), z.Differences)
	}
	if !z.Opening.IsZero() || !z.Closing.Equal(dec("40.50")) {
		t.Errorf("Z: opening %s closing %s, want 0 and 40.50", z.Opening, z.Closing)
	}
	if !z.Opening.Add(z.ReceiptsTotal).Add(z.Differences).Equal(z.Closing) {
		t.Errorf("Z does not add up: %s + %s + %s ≠ %s", z.Opening, z.ReceiptsTotal, z.Differences, z.Closing)
	}
	if z.Receipts[0].PupilName() != "Emma D." || z.Receipts[0].Class != "P3A" {
		t.Errorf("first receipt pupil = %q %q", z.Receipts[0].PupilName(), z.Receipts[0].Class)
	}
	next, err := f.svc.ZReport(f.ctx, f.tenant, "kiosk-1", time.Date(2026, 12, 1, 9, 0, 0, 0, brussels))
	must(t, err)
	if len(next.Receipts) != 0 || len(next.Closings) != 0 || !next.Opening.Equal(dec("40.50")) {
		t.Errorf("next day's Z = %+v", next)
	}
	f.verify()
}

// FuzzTopUpAmount checks that whatever a cashier types, an amount that is
// accepted is a whole number of cents within the limits.
func FuzzTopUpAmount(f *testing.F) {
	for _, s := range []string{"20", "20,00", "1", "500", "500,01", "0,99", "1 234,50", "€ 12.5", "-5", "1.234", "", "12€x", "٣"} {
		f.Add(s)
	}
	lo, hi := Cents(KioskMinTopUpCents), Cents(KioskMaxTopUpCents)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := i18n.ParseAmount(s, i18n.RejectNegative)
		if err != nil {
			return
		}
		if err := CheckTopUpAmount(a); err != nil {
			if !errors.Is(err, ErrAmountRange) {
				t.Fatalf("CheckTopUpAmount(%s) = %v", a, err)
			}
			return
		}
		if a.LessThan(lo) || a.GreaterThan(hi) || !a.Equal(a.Truncate(2)) {
			t.Fatalf("%q accepted as %s", s, a)
		}
	})
}

// FuzzFormToken checks that accepted form tokens are safe in an
// idempotency key and a URL.
func FuzzFormToken(f *testing.F) {
	for _, s := range []string{tok1, "", "zz", strings.Repeat("a", 65), strings.Repeat("a", 16), "ABCDEF0123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidFormToken(s) {
			return
		}
		if len(s) < 16 || len(s) > 64 || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("accepted %q", s)
		}
	})
}

// A crash between the ledger transfer and the receipt (here: the receipt or
// closing row refused by a trigger) leaves nothing behind: the money and
// the paper commit together (ledger.TransferTx), so a retry of the same
// form records one transfer and one receipt.
func TestKioskMoneyAndPaperCommitTogether(t *testing.T) {
	f := newFixture(t)
	pool := f.pool
	transfers := func(key string) (n int) {
		t.Helper()
		must(t, pool.QueryRow(f.ctx, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, f.tenant, key).Scan(&n))
		return
	}
	for _, table := range []string{"kiosk_receipts", "drawer_closings"} {
		_, err := pool.Exec(f.ctx, `CREATE FUNCTION fail_`+table+`() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
			CREATE TRIGGER fail BEFORE INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION fail_`+table+`()`)
		must(t, err)
	}
	tok := "ab12ab12ab12ab12ab12ab12ab12ab12"
	if _, err := f.svc.KioskTopUp(f.ctx, TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.emma.ID,
		Amount: dec("20"), FormToken: tok, Actor: "staff:1"}); err == nil {
		t.Fatal("top-up succeeded although its receipt could not be written")
	}
	if n := transfers("kiosk-topup:" + tok); n != 0 {
		t.Errorf("%d top-up transfers without a receipt, want 0", n)
	}
	ctok := "cd34cd34cd34cd34cd34cd34cd34cd34"
	if _, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec("7.50"), FormToken: ctok, Actor: "staff:1"}); err == nil {
		t.Fatal("closing succeeded although its row could not be written")
	}
	if n := transfers("drawer-close:" + ctok); n != 0 {
		t.Errorf("%d over/short transfers without a closing, want 0", n)
	}
	for _, table := range []string{"kiosk_receipts", "drawer_closings"} {
		_, err := pool.Exec(f.ctx, `DROP TRIGGER fail ON `+table)
		must(t, err)
	}
	rc := f.cashTopUp(uidEmma, "20", tok)
	c, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec("27.50"), FormToken: ctok, Actor: "staff:1"})
	must(t, err)
	if transfers("kiosk-topup:"+tok) != 1 || rc.TransferID == 0 {
		t.Errorf("retried top-up: %+v", rc)
	}
	if !c.Expected.Equal(dec("20")) || !c.Difference.Equal(dec("7.5")) || transfers("drawer-close:"+ctok) != 1 {
		t.Errorf("retried closing: expected %s, difference %s", c.Expected, c.Difference)
	}
	f.verify()
}
