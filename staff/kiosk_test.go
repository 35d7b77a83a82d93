package staff

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/kiosk"
	"tartine/school"
	"tartine/terminal"
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

func (f *fixture) cashTopUp(uid, amount, token string) kiosk.Receipt {
	f.t.Helper()
	rc, err := f.kiosk.KioskTopUp(f.ctx, kiosk.TopUpRequest{TenantID: f.tenant, Station: "kiosk-1", PupilID: f.pupils[uid].ID,
		Amount: dec(amount), FormToken: token, Actor: "staff:1"})
	must(f.t, err)
	return rc
}

// staffClient is an HTTP client logged in to the staff screens, which does
// not follow redirects.
type staffClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

var (
	csrfRe  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	tokenRe = regexp.MustCompile(`name="form_token" value="([0-9a-f]+)"`)
)

func (f *fixture) staff(t *testing.T, base, login string, roles ...school.Role) *staffClient {
	t.Helper()
	_, err := f.store.CreateStaff(f.ctx, f.tenant, school.StaffInput{Login: login, Name: "Caissier " + login, Password: "mot-de-passe-" + login, Roles: roles}, "test")
	must(t, err)
	jar, err := cookiejar.New(nil)
	must(t, err)
	sc := &staffClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, body := sc.get("/staff/login")
	st, _ := sc.post("/staff/login", body, url.Values{"login": {login}, "password": {"mot-de-passe-" + login}})
	if st != http.StatusSeeOther {
		t.Fatalf("login %s: status %d", login, st)
	}
	return sc
}

func (sc *staffClient) get(path string) (int, string) {
	sc.t.Helper()
	resp, err := sc.c.Get(sc.base + path)
	must(sc.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, html.UnescapeString(string(b))
}

// post sends a form with the CSRF token found in page.
func (sc *staffClient) post(path, page string, form url.Values) (int, string) {
	sc.t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		sc.t.Fatalf("no CSRF token in the page for %s", path)
	}
	form.Set("csrf_token", m[1])
	resp, err := sc.c.PostForm(sc.base+path, form)
	must(sc.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, html.UnescapeString(string(b))
}

func formToken(t *testing.T, page string) string {
	t.Helper()
	m := tokenRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token in page:\n%s", page)
	}
	return m[1]
}

func TestKioskScreensEndToEnd(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(time.Date(2026, 11, 30, 17, 2, 0, 0, brussels))
	srv := f.webServer(t)
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)

	// The stations list leads to the kiosk screen.
	if st, loc := cashier.get("/staff/stations/kiosk-1"); st != http.StatusSeeOther || loc != "/staff/kiosk/kiosk-1" {
		t.Errorf("kiosk station page: %d → %q", st, loc)
	}
	// Find Emma by name, choose her.
	st, page := cashier.get("/staff/kiosk/kiosk-1?q=emma")
	if st != http.StatusOK || !strings.Contains(page, "Emma D.") || !strings.Contains(page, "?pupil="+itoa(f.emma.ID)) {
		t.Fatalf("search: %d\n%s", st, page)
	}
	before := f.balance(uidEmma)
	st, page = cashier.get("/staff/kiosk/kiosk-1?pupil=" + itoa(f.emma.ID))
	if st != http.StatusOK || !strings.Contains(page, `id="topup-form"`) || strings.Contains(page, "Dubois") {
		t.Fatalf("chosen pupil (first name + initial only): %d\n%s", st, page)
	}
	if !strings.Contains(page, "<details") || !strings.Contains(page, i18n.FormatEUR(before, "fr")) {
		t.Errorf("the balance is not shown folded")
	}
	tok := formToken(t, page)

	// Bad amounts: a clear message, the typed amount kept, nothing written.
	for _, tt := range []struct{ typed, msg string }{
		{"", "Indiquez un montant."},
		{"20,001", "plus de deux décimales"},
		{"0,50", "entre " + eurFR("1") + " et " + eurFR("500")},
		{"600", "entre " + eurFR("1") + " et " + eurFR("500")},
		{"-5", "négatif"},
		{"12€x", "caractère non autorisé"},
		{"1.234", "plus de deux décimales"},
	} {
		st, body := cashier.post("/staff/kiosk/kiosk-1/topups", page, url.Values{"pupil_id": {itoa(f.emma.ID)}, "form_token": {tok}, "amount": {tt.typed}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, tt.msg) {
			t.Errorf("amount %q: status %d, want 422 with %q", tt.typed, st, tt.msg)
		}
		if tt.typed != "" && !strings.Contains(body, `value="`+tt.typed+`"`) {
			t.Errorf("amount %q not kept in the form", tt.typed)
		}
	}
	if r, _ := f.kioskCount(); r != 0 || !f.balance(uidEmma).Equal(before) {
		t.Fatalf("refused amounts wrote %d receipts / moved the wallet", r)
	}

	// Good amount: first a confirmation naming the pupil in full and the
	// amount, nothing written yet.
	form := url.Values{"pupil_id": {itoa(f.emma.ID)}, "form_token": {tok}, "amount": {"20"}}
	st, confirm := cashier.post("/staff/kiosk/kiosk-1/topups", page, form)
	if st != http.StatusOK || !strings.Contains(confirm, `id="confirm-cash-in"`) || !strings.Contains(confirm, "Emma Dubois") ||
		!strings.Contains(confirm, eurFR("20")) || !strings.Contains(confirm, `name="confirm" value="1"`) {
		t.Fatalf("confirmation step: %d\n%s", st, confirm)
	}
	if r, _ := f.kioskCount(); r != 0 || !f.balance(uidEmma).Equal(before) {
		t.Fatalf("the confirmation step wrote %d receipts / moved the wallet", r)
	}
	// Confirmed, submitted twice: one receipt, one credit.
	form.Set("confirm", "1")
	st1, loc1 := cashier.post("/staff/kiosk/kiosk-1/topups", page, form)
	st2, loc2 := cashier.post("/staff/kiosk/kiosk-1/topups", page, form)
	if st1 != http.StatusSeeOther || loc1 != loc2 || !strings.HasPrefix(loc1, "/staff/kiosk/kiosk-1/receipts/K-kiosk-1-20261130-001") {
		t.Fatalf("top-up: %d %q, again %d %q", st1, loc1, st2, loc2)
	}
	if d := f.balance(uidEmma).Sub(before); !d.Equal(dec("20")) {
		t.Errorf("wallet moved by %s, want 20", d)
	}
	var audits int
	must(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'kiosk.topup'`, f.tenant).Scan(&audits))
	if audits != 1 {
		t.Errorf("%d kiosk.topup audit entries, want 1", audits)
	}
	if got := f.notices.list(); len(got) != 1 || got[0] != itoa(f.emma.ID)+" 20.00 cash" {
		t.Errorf("family notices = %q, want one for Emma's 20.00 in cash", got)
	}

	// The receipt: French, school, pupil, amount, date, cashier, reference, QR.
	st, receipt := cashier.get(loc1)
	if st != http.StatusOK {
		t.Fatalf("receipt: %d", st)
	}
	for _, want := range []string{"École des Tilleuls", "Emma Dubois", eurFR("20"), "lundi 30 novembre 2026 17:02", "Caissier caisse", "K-kiosk-1-20261130-001", "@media print"} {
		if !strings.Contains(receipt, want) && !(want == "@media print" && strings.Contains(receipt, "kiosk.css")) {
			t.Errorf("receipt lacks %q", want)
		}
	}
	checkQR(t, receipt, "K-kiosk-1-20261130-001")

	// Closing: blind count, then the slip shows expected and difference.
	st, closePage := cashier.get("/staff/kiosk/kiosk-1/close")
	if st != http.StatusOK || strings.Contains(closePage, "20,00") {
		t.Fatalf("closing form (blind): %d\n%s", st, closePage)
	}
	ctok := formToken(t, closePage)
	if st, body := cashier.post("/staff/kiosk/kiosk-1/close", closePage, url.Values{"form_token": {ctok}, "counted": {"dix"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "caractère non autorisé") {
		t.Errorf("bad count: %d", st)
	}
	f.clk.Set(time.Date(2026, 11, 30, 17, 30, 0, 0, brussels))
	st, loc := cashier.post("/staff/kiosk/kiosk-1/close", closePage, url.Values{"form_token": {ctok}, "counted": {"19,50"}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/staff/kiosk/kiosk-1/closings/") {
		t.Fatalf("close: %d %q", st, loc)
	}
	if st2, loc2 := cashier.post("/staff/kiosk/kiosk-1/close", closePage, url.Values{"form_token": {ctok}, "counted": {"19,50"}}); st2 != http.StatusSeeOther || loc2 != loc {
		t.Errorf("double closing: %d %q, want the same closing %q", st2, loc2, loc)
	}
	st, slip := cashier.get(loc)
	if st != http.StatusOK || !strings.Contains(slip, eurFR("20")) || !strings.Contains(slip, eurFR("-0.50")) || !strings.Contains(slip, "manquant") {
		t.Errorf("closing slip: %d\n%s", st, slip)
	}
	if b := f.accountBalance(school.AccountCashOverShort); !b.Equal(dec("0.5")) {
		t.Errorf("over/short = %s, want 0.50", b)
	}

	// The cashier reopens the Z-report of the day they closed the drawer
	// (the slip links to it), not of another day; the accountant reads
	// any day, but may not take cash.
	if !strings.Contains(slip, `/staff/kiosk/kiosk-1/z?day=2026-11-30`) {
		t.Errorf("the closing slip does not link to its Z-report")
	}
	if st, z := cashier.get("/staff/kiosk/kiosk-1/z?day=2026-11-30"); st != http.StatusOK || !strings.Contains(z, "K-kiosk-1-20261130-001") {
		t.Errorf("cashier reopens the Z-report of the day they closed: %d, want 200", st)
	}
	if st, _ := cashier.get("/staff/kiosk/kiosk-1/z?day=2026-11-27"); st != http.StatusForbidden {
		t.Errorf("cashier Z-report of a day they did not close: %d, want 403", st)
	}
	acct := f.staff(t, srv.URL, "compta", school.RoleAccountant)
	st, z := acct.get("/staff/kiosk/kiosk-1/z?day=2026-11-30")
	if st != http.StatusOK {
		t.Fatalf("Z-report: %d", st)
	}
	for _, want := range []string{"lundi 30 novembre 2026", "K-kiosk-1-20261130-001", `id="z-total">` + eurFR("20"), `id="z-diff">` + eurFR("-0.5"), `id="z-closing">` + eurFR("19.5"), "Caissier caisse"} {
		if !strings.Contains(z, want) {
			t.Errorf("Z-report lacks %q", want)
		}
	}
	if st, _ := acct.get("/staff/kiosk/kiosk-1/z?day=30/11/2026"); st != http.StatusBadRequest {
		t.Errorf("bad day: %d, want 400", st)
	}
	if st, _ := acct.get("/staff/kiosk/kiosk-1"); st != http.StatusForbidden {
		t.Errorf("accountant cashier screen: %d, want 403", st)
	}
	if st, _ := acct.get(loc1); st != http.StatusOK {
		t.Errorf("accountant reads a receipt: %d", st)
	}
	f.verify()
}

func TestKioskRoleChecks(t *testing.T) {
	f := newFixture(t)
	srv := f.webServer(t)
	canteen := f.staff(t, srv.URL, "cantine", school.RoleCanteen)
	_, page := canteen.get("/staff/stations/canteen-1")
	for _, path := range []string{"/staff/kiosk/kiosk-1", "/staff/kiosk/kiosk-1/close", "/staff/kiosk/kiosk-1/z"} {
		if st, _ := canteen.get(path); st != http.StatusForbidden {
			t.Errorf("canteen staff GET %s: %d, want 403", path, st)
		}
	}
	for _, path := range []string{"/staff/kiosk/kiosk-1/topups", "/staff/kiosk/kiosk-1/close"} {
		st, _ := canteen.post(path, page, url.Values{"pupil_id": {itoa(f.emma.ID)}, "form_token": {tok1}, "amount": {"20"}, "counted": {"0"}})
		if st != http.StatusForbidden {
			t.Errorf("canteen staff POST %s: %d, want 403", path, st)
		}
	}
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)
	if st, _ := cashier.get("/staff/kiosk/canteen-1"); st != http.StatusNotFound {
		t.Errorf("kiosk screen of a canteen station: %d, want 404", st)
	}
	// Without the CSRF token a top-up is refused.
	resp, err := cashier.c.PostForm(srv.URL+"/staff/kiosk/kiosk-1/topups", url.Values{"pupil_id": {itoa(f.emma.ID)}, "form_token": {tok1}, "amount": {"20"}})
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("top-up without CSRF: %d, want 403", resp.StatusCode)
	}
	if r, c := f.kioskCount(); r != 0 || c != 0 {
		t.Errorf("refused requests wrote %d receipts, %d closings", r, c)
	}
	// Not logged in: to the login page, which comes back to the kiosk.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = anon.Get(srv.URL + "/staff/kiosk/kiosk-1")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/staff/login?next=%2Fstaff%2Fkiosk%2Fkiosk-1" {
		t.Errorf("anonymous: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestKioskFindsPupilByBadgeAndLastTap(t *testing.T) {
	f := newFixture(t)
	srv := f.webServer(t)
	cashier := f.staff(t, srv.URL, "caisse", school.RoleKiosk)
	tests := []struct {
		name, query, want string
	}{
		{"uid", "badge=0100cda4ec", `id="topup-form"`},
		{"uid with separators", "badge=01:00:CD:A4:EC", `id="topup-form"`},
		{"unknown", "badge=FFFFFFFFFF", "Badge « FFFFFFFFFF » inconnu."},
		{"blocked", "badge=" + uidBlocked, "Badge bloqué ou perdu"},
		{"stock", "badge=" + uidStock, "n'est attribué à aucun élève"},
		{"no tap yet", "last=1", "Aucun badge lu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, page := cashier.get("/staff/kiosk/kiosk-1?" + tt.query)
			if st != http.StatusOK || !strings.Contains(page, tt.want) {
				t.Errorf("status %d, page lacks %q", st, tt.want)
			}
		})
	}
	// A tap on the kiosk reader identifies the pupil.
	if r := f.one(tapAt("kiosk-1", uidEmma, f.clk.Now())); r.Action != terminal.ActionLookup {
		t.Fatalf("kiosk tap: %+v", r)
	}
	st, page := cashier.get("/staff/kiosk/kiosk-1?last=1")
	if st != http.StatusOK || !strings.Contains(page, `name="pupil_id" value="`+itoa(f.emma.ID)+`"`) {
		t.Errorf("last tap: %d, Emma not chosen", st)
	}
	// Too old: not used.
	f.clk.Set(f.clk.Now().Add(lastTapWindow + time.Minute))
	if _, page := cashier.get("/staff/kiosk/kiosk-1?last=1"); !strings.Contains(page, "Aucun badge lu") {
		t.Errorf("an old tap chose a pupil")
	}
}

// checkQR decodes the receipt's inline QR code with zbarimg.
func checkQR(t *testing.T, page, want string) {
	t.Helper()
	m := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no inline QR code PNG in the receipt")
	}
	png, err := base64.StdEncoding.DecodeString(m[1])
	must(t, err)
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg not found (%v): apt-get install -y zbar-tools", err)
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	must(t, os.WriteFile(file, png, 0o600))
	out, err := exec.Command(bin, "--raw", "-q", file).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("QR code reads %q, want %q", got, want)
	}
}

func itoa(n int64) string { return decimal.NewFromInt(n).String() }

// eurFR writes "20,00 €" as the pages do (no-break space).
func eurFR(s string) string { return i18n.FormatEUR(dec(s), "fr") }

// topUpNotices records what the kiosk tells the family notifier.
type topUpNotices struct {
	mu   sync.Mutex
	seen []string
}

func (n *topUpNotices) TopUpReceivedBy(_ context.Context, _, pupilID int64, amount decimal.Decimal, method string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen = append(n.seen, fmt.Sprintf("%d %s %s", pupilID, amount.StringFixed(2), method))
	return nil
}

func (n *topUpNotices) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.seen...)
}
