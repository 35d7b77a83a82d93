package backoffice

import (
	"bytes"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/testclock"
	"tartine/ledger"
	"tartine/payments"
)

// aliceOGM is the wallet OGM of the credited movement of
// sepa/testdata/statement_ogm.cod (25,00 €); its other credit (40,00 € from
// DUBOIS-LEROY FRANÇOIS, free communication) goes to suspense.
const aliceOGM = "010806817183"

func codaSample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sepa", "testdata", "statement_ogm.cod"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload posts a CODA file as the upload form does.
func (c *client) upload(name string, data []byte) (int, string) {
	c.f.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if c.csrf != "" {
		_ = w.WriteField("csrf_token", c.csrf)
	}
	if name != "" {
		fw, err := w.CreateFormFile("coda", name)
		if err != nil {
			c.f.t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.f.srv.URL+bankImportPath, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", c.f.srv.URL)
	resp, body := c.do(req)
	return resp.StatusCode, body
}

// walletOf returns a demo pupil's posted wallet balance.
func (f *fixture) walletOf(name string) decimal.Decimal {
	f.t.Helper()
	b, err := f.led.Balance(f.ctx, f.demo.TenantID, f.pupil(name).WalletAccountID)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Posted
}

// codeBalance returns the posted balance of a tenant account by code (zero
// when it does not exist yet).
func (f *fixture) codeBalance(code string) decimal.Decimal {
	f.t.Helper()
	a, err := f.led.AccountByCode(f.ctx, f.demo.TenantID, code)
	if err != nil {
		return decimal.Zero
	}
	b, err := f.led.Balance(f.ctx, f.demo.TenantID, a.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Posted
}

// giveOGM makes the statement's structured communication Emma's.
func (f *fixture) giveOGM(name, ogm string) {
	f.t.Helper()
	if _, err := f.led.Pool().Exec(f.ctx, `UPDATE pupils SET wallet_ogm = $3 WHERE tenant_id = $1 AND id = $2`,
		f.demo.TenantID, f.demo.Pupils[name], ogm); err != nil {
		f.t.Fatal(err)
	}
}

// suspenseKey returns the key of the only line in suspense.
func (f *fixture) suspenseKey() string {
	f.t.Helper()
	lines, err := payments.NewBank(f.led, nil).Unallocated(f.ctx, f.demo.TenantID)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(lines) != 1 {
		f.t.Fatalf("%d lines in suspense, want 1", len(lines))
	}
	return lines[0].Key
}

func TestBankImportAndAllocate(t *testing.T) {
	f := newFixture(t)
	f.giveOGM("Emma", aliceOGM)
	emma0, lucas0 := f.walletOf("Emma"), f.walletOf("Lucas")
	c := f.login("accountant", "demo-accountant")

	st, body := c.get("/admin/books/bank")
	if st != http.StatusOK || !strings.Contains(body, "Rapprochement bancaire") || !strings.Contains(body, `enctype="multipart/form-data"`) ||
		!strings.Contains(body, `id="no-suspense"`) {
		t.Fatalf("GET bank page: %d\n%.500s", st, body)
	}
	if _, books := c.get("/admin/books"); !strings.Contains(books, `href="/admin/books/bank"`) {
		t.Errorf("the books page has no link to the bank page")
	}

	st, body = c.upload("extrait.cod", codaSample(t))
	if st != http.StatusOK {
		t.Fatalf("upload: %d\n%s", st, body)
	}
	text := html.UnescapeString(body)
	for _, want := range []string{"Import de « extrait.cod »", "Versés sur un porte-monnaie : 1 virement(s), " + eur("25"), "Dubois Emma · Élève n° " + itoa(f.pupil("Emma").ID),
		"En attente d'affectation : 1 virement(s), " + eur("40"), "Versements Stripe rapprochés : 0", "déjà importés (non comptés à nouveau) : 0",
		// The line now waits in suspense, with the pupils named like its payer.
		"DUBOIS-LEROY FRANÇOIS", "BE62510007547061", "Recharge cantine Emma Dubois", "Dubois Emma", "Dubois Lucas"} {
		if !strings.Contains(text, want) {
			t.Errorf("upload answer lacks %q", want)
		}
	}
	if got := f.walletOf("Emma").Sub(emma0); !got.Equal(decimal.RequireFromString("25")) {
		t.Errorf("Emma's wallet moved by %s, want 25", got)
	}

	// The same file again books nothing twice.
	st, body = c.upload("extrait.cod", codaSample(t))
	if st != http.StatusOK || !strings.Contains(html.UnescapeString(body), "déjà importés (non comptés à nouveau) : 2") {
		t.Errorf("re-upload: %d, no 'already imported 2'", st)
	}
	if got := f.walletOf("Emma").Sub(emma0); !got.Equal(decimal.RequireFromString("25")) {
		t.Errorf("after re-import Emma's wallet moved by %s, want 25", got)
	}

	key := f.suspenseKey()
	lucas := f.pupil("Lucas")

	// A name search for the line offers other pupils.
	q := url.Values{"line": {key}, "q": {"chloé"}}
	if _, page := c.get("/admin/books/bank?" + q.Encode()); !strings.Contains(html.UnescapeString(page), `value="chloé"`) || !strings.Contains(html.UnescapeString(page), "Willems Chloé") ||
		strings.Contains(page, "Dubois Lucas") {
		t.Errorf("the line's search for chloé does not replace the default candidates")
	}
	refusals := []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown pupil", url.Values{"key": {key}, "pupil": {"99999999"}}, "Élève n° 99999999 inconnu"},
		{"no pupil", url.Values{"key": {key}, "pupil": {""}}, "choisissez un élève"},
		{"unknown line", url.Values{"key": {"coda:nope"}, "pupil": {itoa(lucas.ID)}}, "déjà été affecté"},
	}
	for _, tt := range refusals {
		st, body, _ := c.post("/admin/books/bank/allocate", tt.form)
		if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), tt.want) {
			t.Errorf("%s: %d, want 422 with %q", tt.name, st, tt.want)
		}
	}
	if !f.walletOf("Lucas").Equal(lucas0) || !f.codeBalance(payments.CodeSuspense).Equal(decimal.RequireFromString("40")) {
		t.Fatalf("a refused allocation booked something")
	}

	st, body = c.follow("/admin/books/bank/allocate", url.Values{"key": {key}, "pupil": {itoa(lucas.ID)}})
	if st != http.StatusOK || !strings.Contains(html.UnescapeString(body), "Virement versé sur le porte-monnaie de l'élève.") {
		t.Fatalf("allocate: %d, no confirmation", st)
	}
	if !strings.Contains(body, `id="no-suspense"`) || strings.Contains(body, "DUBOIS-LEROY") {
		t.Errorf("the allocated line is still listed")
	}
	if got := f.walletOf("Lucas").Sub(lucas0); !got.Equal(decimal.RequireFromString("40")) {
		t.Errorf("Lucas's wallet moved by %s, want 40", got)
	}
	if got := f.codeBalance(payments.CodeSuspense); !got.IsZero() {
		t.Errorf("suspense = %s after allocation, want 0", got)
	}
	entries, err := f.store.AuditLog(f.ctx, f.demo.TenantID, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAudit(entries, "bank.allocate", "pupil:"+itoa(lucas.ID)) {
		t.Errorf("no audit entry bank.allocate")
	}

	// Allocated once: again is refused and books nothing.
	st, body, _ = c.post("/admin/books/bank/allocate", url.Values{"key": {key}, "pupil": {itoa(f.pupil("Emma").ID)}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "déjà été affecté") {
		t.Errorf("second allocation: %d, want 422 'déjà été affecté'", st)
	}
	if got := f.walletOf("Emma").Sub(emma0); !got.Equal(decimal.RequireFromString("25")) {
		t.Errorf("a second allocation moved Emma's wallet by %s", got)
	}
}

func TestBankImportRefusesMalformedFile(t *testing.T) {
	f := newFixture(t)
	f.giveOGM("Emma", aliceOGM)
	emma0, bank0 := f.walletOf("Emma"), f.codeBalance(payments.CodeBank)
	c := f.login("accountant", "demo-accountant")

	good := codaSample(t)
	lines := strings.Split(string(good), "\n")
	// Line 3 (movement 2.1): the amount is no longer digits.
	lines[2] = lines[2][:32] + "00000000000ABCDE" + lines[2][48:]
	badAmount := []byte(strings.Join(lines, "\n"))
	other := bytes.Replace(good, []byte("BE68539007547034"), []byte("BE71096123456769"), -1)

	tests := []struct {
		name   string
		file   string
		data   []byte
		status int
		want   []string
	}{
		{"bad amount", "mauvais.cod", badAmount, http.StatusUnprocessableEntity, []string{"Fichier « mauvais.cod » refusé, ligne 3", "Rien n'a été importé"}},
		{"not CODA", "notes.txt", []byte("bonjour\n"), http.StatusUnprocessableEntity, []string{"Fichier « notes.txt » refusé, ligne 1"}},
		{"other account", "autre.cod", other, http.StatusUnprocessableEntity, []string{"Fichier « autre.cod » refusé", "BE71096123456769"}},
		{"empty", "vide.cod", nil, http.StatusUnprocessableEntity, []string{"Le fichier « vide.cod » est vide"}},
		{"no file", "", nil, http.StatusUnprocessableEntity, []string{"choisissez un fichier"}},
		{"too large", "gros.cod", bytes.Repeat([]byte("0"), maxCODASize+100<<10), http.StatusRequestEntityTooLarge, []string{"Fichier trop volumineux : 5 Mo au plus."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := c.upload(tt.file, tt.data)
			if st != tt.status {
				t.Fatalf("status %d, want %d\n%.400s", st, tt.status, body)
			}
			text := html.UnescapeString(body)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("no %q in %.300s", w, text)
				}
			}
			if tt.status == http.StatusUnprocessableEntity && !strings.Contains(body, `role="alert"`) {
				t.Errorf("the refusal is not an alert")
			}
		})
	}
	var n int
	if err := f.led.Pool().QueryRow(f.ctx, `SELECT count(*) FROM bank_movements WHERE tenant_id = $1`, f.demo.TenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 || !f.walletOf("Emma").Equal(emma0) || !f.codeBalance(payments.CodeBank).Equal(bank0) {
		t.Errorf("a refused file booked something: %d movements, Emma %s (was %s)", n, f.walletOf("Emma"), emma0)
	}
}

func TestBankAllocatePayout(t *testing.T) {
	f := newFixture(t)
	f.giveOGM("Emma", aliceOGM)
	pool := f.led.Pool()
	for _, p := range []struct{ id, amount string }{{"po_test40", "40.00"}, {"po_other99", "99.00"}} {
		if _, err := pool.Exec(f.ctx, `INSERT INTO stripe_payouts (payout_id, tenant_id, amount, arrival_date, status, last_event_at)
			VALUES ($1, $2, $3, '2026-06-01', 'paid', now())`, p.id, f.demo.TenantID, p.amount); err != nil {
			t.Fatal(err)
		}
	}
	c := f.login("accountant", "demo-accountant")
	if st, _ := c.upload("extrait.cod", codaSample(t)); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	st, body := c.get("/admin/books/bank")
	if st != http.StatusOK {
		t.Fatalf("GET: %d", st)
	}
	for _, want := range []string{`<td><code>po_test40</code></td><td class="num">` + eur("40") + `</td><td>01/06/2026</td>`, "<code>po_other99</code>",
		`<option value="po_test40">`} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `<option value="po_other99">`) {
		t.Errorf("a payout of another amount is offered for the line")
	}
	key := f.suspenseKey()
	st, body, _ = c.post("/admin/books/bank/payout", url.Values{"key": {key}, "payout": {"po_other99"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "Le versement Stripe po_other99 est de "+eur("99")+", le virement de "+eur("40")) {
		t.Errorf("wrong amount: %d, want 422 with the amounts", st)
	}
	st, body, _ = c.post("/admin/books/bank/payout", url.Values{"key": {key}, "payout": {"po_nope"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "po_nope est inconnu") {
		t.Errorf("unknown payout: %d, want 422", st)
	}
	if !f.codeBalance(payments.CodeSuspense).Equal(decimal.RequireFromString("40")) {
		t.Fatalf("a refused reconciliation booked something")
	}
	st, body = c.follow("/admin/books/bank/payout", url.Values{"key": {key}, "payout": {"po_test40"}})
	if st != http.StatusOK || !strings.Contains(body, "Virement rapproché du versement Stripe.") {
		t.Fatalf("payout: %d, no confirmation", st)
	}
	if !strings.Contains(body, `id="no-suspense"`) || strings.Contains(body, "po_test40") || !strings.Contains(body, "po_other99") {
		t.Errorf("after reconciliation the line or the payout is still listed, or the other payout is gone")
	}
	if got := f.codeBalance(payments.CodeSuspense); !got.IsZero() {
		t.Errorf("suspense = %s, want 0", got)
	}
}

func TestBankAccess(t *testing.T) {
	f := newFixture(t)
	canteen := f.login("canteen", "demo-canteen")
	if st, _ := canteen.get("/admin/books/bank"); st != http.StatusForbidden {
		t.Errorf("canteen GET: %d, want 403", st)
	}
	if st, _ := canteen.upload("extrait.cod", codaSample(t)); st != http.StatusForbidden {
		t.Errorf("canteen upload: %d, want 403", st)
	}
	for _, p := range []string{"/admin/books/bank/allocate", "/admin/books/bank/payout"} {
		if st, _, _ := canteen.post(p, url.Values{"key": {"x"}, "pupil": {"1"}, "payout": {"po_x"}}); st != http.StatusForbidden {
			t.Errorf("canteen POST %s: %d, want 403", p, st)
		}
	}
	var n int
	if err := f.led.Pool().QueryRow(f.ctx, `SELECT count(*) FROM bank_movements WHERE tenant_id = $1`, f.demo.TenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a canteen upload booked %d movements", n)
	}
	admin := f.login("admin", "demo-admin")
	if st, body := admin.get("/admin/books/bank"); st != http.StatusOK || !strings.Contains(body, `href="/admin/books/bank" aria-current="page"`) {
		t.Errorf("admin GET: %d, or no current menu entry", st)
	}
	// Without the CSRF token the upload is refused.
	acc := f.login("accountant", "demo-accountant")
	acc.csrf = ""
	if st, _ := acc.upload("extrait.cod", codaSample(t)); st != http.StatusForbidden {
		t.Errorf("upload without CSRF token: %d, want 403", st)
	}
	// The English page.
	acc = f.login("accountant", "demo-accountant")
	acc.post("/admin/lang", url.Values{"lang": {"en"}, "back": {"/admin/books/bank"}})
	if _, body := acc.get("/admin/books/bank"); !strings.Contains(body, "Bank reconciliation") || !strings.Contains(body, "Transfers to allocate") {
		t.Errorf("English page is not in English")
	}
}

// remit records a cash remittance from the demo kiosk-1 drawer, as the
// kiosk does, on the day days ago, after putting amount in the drawer.
func (f *fixture) remit(amount, token string, daysAgo int) payments.Remittance {
	f.t.Helper()
	st, err := f.store.StationByCode(f.ctx, f.demo.TenantID, "kiosk-1")
	if err != nil {
		f.t.Fatal(err)
	}
	a := decimal.RequireFromString(amount)
	if _, err := f.led.Transfer(f.ctx, ledger.TransferRequest{TenantID: f.demo.TenantID, IdempotencyKey: "test-cash:" + token, Kind: "kiosk-topup", Actor: "staff:1",
		Postings: []ledger.Posting{{AccountID: st.CashAccountID, Amount: a}, {AccountID: f.pupil("Emma").WalletAccountID, Amount: a.Neg()}}}); err != nil {
		f.t.Fatal(err)
	}
	day := testclock.Now().In(brussels()).AddDate(0, 0, -daysAgo)
	var r payments.Remittance
	err = pgx.BeginFunc(f.ctx, f.led.Pool(), func(tx pgx.Tx) error {
		r, err = payments.NewBank(f.led, nil).RecordRemittanceTx(f.ctx, tx, payments.RemittanceRequest{TenantID: f.demo.TenantID, StationID: st.ID,
			Station: st.Code, CashAccountID: st.CashAccountID, Amount: a, FormToken: token, Actor: "staff:1", At: day, Day: day, Carrier: "Jean"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func TestBankRemittances(t *testing.T) {
	f := newFixture(t)
	f.giveOGM("Emma", aliceOGM)
	old := f.remit("40", "0123456789abcdef", 7)
	recent := f.remit("41", "fedcba9876543210", 1)
	c := f.login("accountant", "demo-accountant")
	st, body := c.upload("extrait.cod", codaSample(t))
	if st != http.StatusOK || !strings.Contains(body, `id="report-remittances"`) {
		t.Fatalf("upload: %d", st)
	}
	// Without the reference the 40,00 € line waits in suspense.
	if got := f.codeBalance(payments.CodeSuspense); !got.Equal(decimal.RequireFromString("40")) {
		t.Fatalf("suspense = %s, want 40", got)
	}
	st, body = c.get("/admin/books/bank")
	if st != http.StatusOK {
		t.Fatalf("GET: %d", st)
	}
	body = html.UnescapeString(body)
	for _, want := range []string{
		`<tr id="remit-` + old.Reference + `" class="warn">`, `<code>` + old.Reference + `</code></td><td>Jean</td>`,
		"7 j <strong>(ancienne)</strong>", `<tr id="remit-` + recent.Reference + `"><td>`, "1 j</td>", eur("41"),
		`<option value="` + old.Reference + `">`, "<td>kiosk-1</td>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `<option value="`+recent.Reference+`">`) {
		t.Errorf("a remittance of another amount is offered for the line")
	}
	key := f.suspenseKey()
	st, body, _ = c.post("/admin/books/bank/remittance", url.Values{"key": {key}, "remittance": {recent.Reference}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "La remise d'espèces "+recent.Reference+" est de "+eur("41")+", le virement de "+eur("40")) {
		t.Errorf("wrong amount: %d, want 422 with the amounts", st)
	}
	st, body, _ = c.post("/admin/books/bank/remittance", url.Values{"key": {key}, "remittance": {"DEP-2026-ZZZZZZ"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "DEP-2026-ZZZZZZ est inconnue") {
		t.Errorf("unknown remittance: %d, want 422", st)
	}
	if !f.codeBalance(payments.CodeSuspense).Equal(decimal.RequireFromString("40")) {
		t.Fatalf("a refused reconciliation booked something")
	}
	st, body = c.follow("/admin/books/bank/remittance", url.Values{"key": {key}, "remittance": {old.Reference}})
	if st != http.StatusOK || !strings.Contains(html.UnescapeString(body), "Virement rapproché de la remise d'espèces.") {
		t.Fatalf("remittance: %d, no confirmation", st)
	}
	if !strings.Contains(body, `id="no-suspense"`) || strings.Contains(body, old.Reference) || !strings.Contains(body, recent.Reference) {
		t.Errorf("after reconciliation the line or the remittance is still listed, or the other remittance is gone")
	}
	for code, want := range map[string]string{payments.CodeSuspense: "0", payments.CodeCashInTransit: "41"} {
		if got := f.codeBalance(code); !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	var n int
	if err := f.led.Pool().QueryRow(f.ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'bank.allocate_remittance'`, f.demo.TenantID).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d bank.allocate_remittance audit entries, want 1 (%v)", n, err)
	}
	v, _, err := f.led.Verify(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("ledger violation: %s", x)
	}
}
