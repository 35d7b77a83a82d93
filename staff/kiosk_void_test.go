package staff

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/kiosk"
	"tartine/school"
)

// cashBalance is the kiosk-1 drawer's posted balance.
func (f *fixture) cashBalance() decimal.Decimal {
	f.t.Helper()
	st, err := f.store.StationByCode(f.ctx, f.tenant, "kiosk-1")
	must(f.t, err)
	b, err := f.led.Balance(f.ctx, f.tenant, st.CashAccountID)
	must(f.t, err)
	return b.Posted
}

func (f *fixture) auditCount(action string) int {
	f.t.Helper()
	var n int
	must(f.t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2`, f.tenant, action).Scan(&n))
	return n
}

// TestKioskVoid: the cashier voids a receipt of the day with a reason: the
// ledger reverses the top-up (wallet and drawer back), the receipt says
// who voided it and why, it is audited, the Z-report counts the void, and
// it cannot be voided twice. A receipt of an earlier day: the cashier is
// refused; the accountant posts a correcting entry.
func TestKioskVoid(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	srv := f.webServer(t)
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)
	walletBefore, cashBefore := f.balance(uidEmma), f.cashBalance()
	topUp := func(tok, amount string) kiosk.Receipt {
		t.Helper()
		rc, err := f.kiosk.KioskTopUp(f.ctx, kiosk.TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.emma.ID, Amount: dec(amount),
			FormToken: tok, Actor: "staff:1"})
		must(t, err)
		return rc
	}
	rc := topUp("00000000000000000000000000000001", "20")
	path := "/staff/kiosk/kiosk-1/receipts/" + rc.Reference
	st, page := cashier.get(path)
	if st != http.StatusOK || !strings.Contains(page, `id="void-form"`) {
		t.Fatalf("receipt of the day: %d, want the void form", st)
	}
	// No reason: refused, nothing moves.
	if st, body := cashier.post(path+"/void", page, url.Values{"reason": {" "}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "motif") {
		t.Errorf("void without a reason: %d, want 422 asking for the reason", st)
	}
	if !f.balance(uidEmma).Equal(walletBefore.Add(dec("20"))) {
		t.Fatalf("a refused void moved the wallet")
	}
	st, loc := cashier.post(path+"/void", page, url.Values{"reason": {"mauvais élève"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, path) {
		t.Fatalf("void: %d %q", st, loc)
	}
	if got := f.balance(uidEmma); !got.Equal(walletBefore) {
		t.Errorf("wallet after the void = %s, want %s", got, walletBefore)
	}
	if got := f.cashBalance(); !got.Equal(cashBefore) {
		t.Errorf("drawer after the void = %s, want %s", got, cashBefore)
	}
	_, page = cashier.get(loc)
	for _, want := range []string{"ANNULÉ", "mauvais élève", "Caissier caisse", "Reçu annulé"} {
		if !strings.Contains(page, want) {
			t.Errorf("voided receipt lacks %q", want)
		}
	}
	if strings.Contains(page, `id="void-form"`) {
		t.Errorf("a voided receipt still offers the void form")
	}
	if n := f.auditCount("kiosk.receipt_void"); n != 1 {
		t.Errorf("%d kiosk.receipt_void audit entries, want 1", n)
	}
	var reason string
	must(t, f.pool.QueryRow(f.ctx, `SELECT detail->>'reason' FROM audit_log WHERE tenant_id = $1 AND action = 'kiosk.receipt_void'`, f.tenant).Scan(&reason))
	if reason != "mauvais élève" {
		t.Errorf("audited reason = %q", reason)
	}
	// Twice: refused, nothing moves.
	_, err := f.kiosk.VoidReceipt(f.ctx, kiosk.VoidRequest{TenantID: f.tenant, Station: "kiosk-1", Reference: rc.Reference, Reason: "encore", Actor: "staff:1"})
	if err == nil || !strings.Contains(err.Error(), "already voided") {
		t.Errorf("second void: %v, want ErrAlreadyVoided", err)
	}
	if got := f.balance(uidEmma); !got.Equal(walletBefore) {
		t.Errorf("wallet after a second void = %s", got)
	}
	// The kiosk's list of the day strikes it out of the total; the Z-report
	// counts it as a void (accountant).
	_, kiosk := cashier.get("/staff/kiosk/kiosk-1")
	if !strings.Contains(kiosk, `class="voided"`) || !strings.Contains(kiosk, "(1 · "+eurFR("0")+")") {
		t.Errorf("kiosk screen does not show the voided receipt out of the total")
	}
	acct := f.staff(t, srv.URL, "compta", school.RoleAccountant)
	_, z := acct.get("/staff/kiosk/kiosk-1/z?day=2026-11-30")
	for _, want := range []string{`id="z-total">` + eurFR("20"), `id="z-voids">` + eurFR("20"), `id="z-closing">` + eurFR("0"), "mauvais élève"} {
		if !strings.Contains(z, want) {
			t.Errorf("Z-report lacks %q", want)
		}
	}

	// A receipt of Monday, the next day: the cashier may not void it, the
	// accountant corrects it.
	old := topUp("00000000000000000000000000000002", "15")
	f.clk.Set(time.Date(2026, 12, 1, 8, 30, 0, 0, brussels))
	cashier = f.staff(t, srv.URL, "caisse2", school.RoleKiosk)
	path = "/staff/kiosk/kiosk-1/receipts/" + old.Reference
	st, page = cashier.get(path)
	if st != http.StatusOK || strings.Contains(page, `id="void-form"`) {
		t.Errorf("receipt of an earlier day: %d; the cashier should get no void form", st)
	}
	_, csrfPage := cashier.get("/staff/kiosk/kiosk-1") // the receipt has no form for this cashier
	if st, body := cashier.post(path+"/void", csrfPage, url.Values{"reason": {"erreur de montant"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "comptable") {
		t.Errorf("cashier voids yesterday's receipt: %d, want 422 naming the accountant", st)
	}
	if got := f.balance(uidEmma); !got.Equal(walletBefore.Add(dec("15"))) {
		t.Fatalf("a refused void moved the wallet: %s", got)
	}
	acct = f.staff(t, srv.URL, "compta2", school.RoleAccountant)
	_, page = acct.get(path)
	if !strings.Contains(page, "écriture de correction") {
		t.Errorf("the accountant should be offered a correcting entry")
	}
	if st, loc := acct.post(path+"/void", page, url.Values{"reason": {"erreur de montant"}}); st != http.StatusSeeOther {
		t.Fatalf("accountant's correction: %d %q", st, loc)
	}
	if got := f.balance(uidEmma); !got.Equal(walletBefore) {
		t.Errorf("wallet after the correction = %s, want %s", got, walletBefore)
	}
	if n := f.auditCount("kiosk.receipt_correct"); n != 1 {
		t.Errorf("%d kiosk.receipt_correct audit entries, want 1", n)
	}
	// The correction is in Tuesday's Z-report, Monday's stays as it was.
	_, z = acct.get("/staff/kiosk/kiosk-1/z?day=2026-12-01")
	if !strings.Contains(z, `id="z-voids">`+eurFR("15")) {
		t.Errorf("Tuesday's Z-report lacks the correction")
	}
	f.verify()
}
