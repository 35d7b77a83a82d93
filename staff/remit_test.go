package staff

import (
	"net/http"
	"net/url"
	"strings"
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

func TestKioskRemitScreens(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	f.cashTopUp(uidEmma, "20", tok1)
	srv := f.webServer(t)
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)

	if _, page := cashier.get("/staff/kiosk/kiosk-1"); !strings.Contains(page, `href="/staff/kiosk/kiosk-1/remit"`) {
		t.Errorf("the cashier screen has no link to the remittance form")
	}
	st, page := cashier.get("/staff/kiosk/kiosk-1/remit")
	if st != http.StatusOK || !strings.Contains(page, `id="remit-form"`) || !strings.Contains(page, "Aucune remise aujourd'hui.") {
		t.Fatalf("remittance form: %d\n%s", st, page)
	}
	tok := formToken(t, page)

	// Refusals keep what was typed and write nothing; a cashier is not
	// told what the drawer holds (closings are counted blind).
	for _, tt := range []struct{ amount, carrier, msg string }{
		{"", "", "Indiquez un montant."},
		{"20,001", "", "plus de deux décimales"},
		{"0", "", "positif"},
		{"20,01", "Jean", "plus que ce que contient la caisse"},
		{"5", strings.Repeat("x", payments.MaxCarrierLen+1), "80 caractères au plus"},
	} {
		st, body := cashier.post("/staff/kiosk/kiosk-1/remit", page, url.Values{"form_token": {tok}, "amount": {tt.amount}, "carrier": {tt.carrier}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, tt.msg) {
			t.Errorf("amount %q carrier %q: %d, want 422 with %q", tt.amount, tt.carrier, st, tt.msg)
		}
		if strings.Contains(body, eurFR("20")) {
			t.Errorf("amount %q: the refusal shows the drawer's balance to a cashier", tt.amount)
		}
		if tt.amount != "" && !strings.Contains(body, `value="`+tt.amount+`"`) {
			t.Errorf("amount %q not kept", tt.amount)
		}
	}
	if n := f.remittances(); n != 0 {
		t.Fatalf("refusals recorded %d remittances", n)
	}

	// Submitted twice: one remittance, one audit entry, the slip printed.
	form := url.Values{"form_token": {tok}, "amount": {"3,70"}, "carrier": {"Jean Leroy"}}
	st1, loc1 := cashier.post("/staff/kiosk/kiosk-1/remit", page, form)
	st2, loc2 := cashier.post("/staff/kiosk/kiosk-1/remit", page, form)
	if st1 != http.StatusSeeOther || loc1 != loc2 || !strings.HasPrefix(loc1, "/staff/kiosk/kiosk-1/remittances/DEP-2026-") {
		t.Fatalf("remit: %d %q, again %d %q", st1, loc1, st2, loc2)
	}
	ref := strings.TrimSuffix(strings.TrimPrefix(loc1, "/staff/kiosk/kiosk-1/remittances/"), "?print=1")
	if n := f.remittances(); n != 1 {
		t.Errorf("%d remittances, want 1", n)
	}
	var audits int
	must(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'kiosk.remit'`, f.tenant).Scan(&audits))
	if audits != 1 {
		t.Errorf("%d kiosk.remit audit entries, want 1", audits)
	}
	st, slip := cashier.get(loc1)
	if st != http.StatusOK {
		t.Fatalf("slip: %d", st)
	}
	for _, want := range []string{"École des Tilleuls", "Bordereau de dépôt d'espèces", eurFR("3.70"), "lundi 30 novembre 2026 17:02", "Caissier caisse", "Jean Leroy", ref, `data-autoprint="1"`} {
		if !strings.Contains(slip, want) {
			t.Errorf("slip lacks %q", want)
		}
	}
	checkQR(t, slip, ref)
	if _, page := cashier.get("/staff/kiosk/kiosk-1/remit"); !strings.Contains(page, ref) || !strings.Contains(page, eurFR("3.70")) {
		t.Errorf("the form does not list today's remittance %s", ref)
	}

	// An accountant may record one too, and is told what the drawer holds.
	acct := f.staff(t, srv.URL, "compta", school.RoleAccountant)
	st, page = acct.get("/staff/kiosk/kiosk-1/remit")
	if st != http.StatusOK {
		t.Fatalf("accountant remittance form: %d", st)
	}
	if st, body := acct.post("/staff/kiosk/kiosk-1/remit", page, url.Values{"form_token": {formToken(t, page)}, "amount": {"100"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, eurFR("16.30")) {
		t.Errorf("accountant, too much: %d, want 422 naming %s", st, eurFR("16.30"))
	}
	if st, loc := acct.post("/staff/kiosk/kiosk-1/remit", page, url.Values{"form_token": {formToken(t, page)}, "amount": {"16,30"}}); st != http.StatusSeeOther {
		t.Errorf("accountant remits the rest: %d %q", st, loc)
	}
	st, z := acct.get("/staff/kiosk/kiosk-1/z?day=2026-11-30")
	if st != http.StatusOK || !strings.Contains(z, `id="z-remitted">`+eurFR("20")) || !strings.Contains(z, ref) || !strings.Contains(z, `id="z-closing">`+eurFR("0")) {
		t.Errorf("Z-report with remittances: %d\n%s", st, z)
	}
	// Other roles and stations.
	canteen := f.staff(t, srv.URL, "cantine", school.RoleCanteen)
	if st, _ := canteen.get("/staff/kiosk/kiosk-1/remit"); st != http.StatusForbidden {
		t.Errorf("canteen staff remittance form: %d, want 403", st)
	}
	if st, _ := cashier.get("/staff/kiosk/kiosk-1/remittances/DEP-2026-ZZZZZZ"); st != http.StatusNotFound {
		t.Errorf("unknown slip: %d, want 404", st)
	}
	f.verify()
}
