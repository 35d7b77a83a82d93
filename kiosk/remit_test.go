package kiosk

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"tartine/payments"
	"tartine/school"
)

const tokRemit = "abcdef0123456789abcdef0123456789"

func (f *fixture) remittances() int {
	f.t.Helper()
	var n int
	must(f.t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM cash_remittances WHERE tenant_id = $1`, f.tenant).Scan(&n))
	return n
}

func TestKioskRemit(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	f.cashTopUp(uidEmma, "20", tok1)
	f.cashTopUp(uidLucas, "15", "fedcba9876543210fedcba9876543210")
	drawer := school.CashAccountCode("kiosk-1")
	remit := func(amount, token, carrier string) (payments.Remittance, error) {
		return f.svc.Remit(f.ctx, RemitRequest{TenantID: f.tenant, Station: "kiosk-1", Amount: dec(amount), Carrier: carrier, FormToken: token, Actor: "staff:1"})
	}

	// More than the drawer holds: refused, nothing written.
	_, err := remit("35.01", tokRemit, "")
	var short *payments.DrawerShortError
	if !errors.As(err, &short) || !short.Holds.Equal(dec("35")) {
		t.Fatalf("35.01 from a drawer of 35: %v, want a DrawerShortError holding 35", err)
	}
	for _, tt := range []struct {
		name, amount, token, station string
		want                         error
	}{
		{"zero", "0", tokRemit, "kiosk-1", ErrAmountRange},
		{"three decimals", "1.001", tokRemit, "kiosk-1", ErrAmountRange},
		{"no token", "10", "", "kiosk-1", ErrBadFormToken},
		{"canteen", "10", tokRemit, "canteen-1", ErrNotKiosk},
	} {
		_, err := f.svc.Remit(f.ctx, RemitRequest{TenantID: f.tenant, Station: tt.station, Amount: dec(tt.amount), FormToken: tt.token, Actor: "staff:1"})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if n := f.remittances(); n != 0 || !f.accountBalance(drawer).Equal(dec("35")) {
		t.Fatalf("refusals wrote %d remittances / moved the drawer to %s", n, f.accountBalance(drawer))
	}

	r, err := remit("30", tokRemit, "Marie Dupont")
	must(t, err)
	if !regexp.MustCompile(`^DEP-2026-[0-9A-Z]{6}$`).MatchString(r.Reference) || r.Replay || r.Carrier != "Marie Dupont" {
		t.Errorf("remittance = %+v", r)
	}
	again, err := remit("30", tokRemit, "Marie Dupont")
	if err != nil || !again.Replay || again.Reference != r.Reference {
		t.Errorf("replayed form: %+v, %v; want %s again", again, err, r.Reference)
	}
	if _, err := remit("31", tokRemit, "Marie Dupont"); !errors.Is(err, ErrFormUsed) {
		t.Errorf("same form, other amount: %v, want ErrFormUsed", err)
	}
	if n := f.remittances(); n != 1 {
		t.Errorf("%d remittances, want 1", n)
	}
	if got := f.accountBalance(drawer); !got.Equal(dec("5")) {
		t.Errorf("drawer = %s, want 5", got)
	}
	if got := f.accountBalance(payments.CodeCashInTransit); !got.Equal(dec("30")) {
		t.Errorf("cash-in-transit = %s, want 30", got)
	}

	// A closing after the remittance expects what is left.
	cl, err := f.svc.CloseDrawer(f.ctx, CloseRequest{TenantID: f.tenant, Station: "kiosk-1", Counted: dec("5"), FormToken: "1111111111111111", Actor: "staff:1"})
	must(t, err)
	if !cl.Expected.Equal(dec("5")) || !cl.Difference.IsZero() {
		t.Errorf("closing after the remittance: expected %s, difference %s; want 5, 0", cl.Expected, cl.Difference)
	}
	z, err := f.svc.ZReport(f.ctx, f.tenant, "kiosk-1", f.clk.Now())
	must(t, err)
	if len(z.Remittances) != 1 || !z.RemittancesTotal.Equal(dec("30")) || !z.Closing.Equal(dec("5")) {
		t.Errorf("Z-report: remittances %+v total %s, closing %s", z.Remittances, z.RemittancesTotal, z.Closing)
	}
	f.verify()
}
