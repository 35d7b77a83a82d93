package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/ledger"
	"tartine/payments"
	"tartine/portal"
	"tartine/school"
)

var resetLinkRe = regexp.MustCompile(`http://[^\s]+/portal/reset/[0-9a-f]{64}`)

// TestPasswordResetEmail: the link arrives by SMTP, works once, expires,
// and logs out the other sessions.
func TestPasswordResetEmail(t *testing.T) {
	f := newFixture(t)
	phone := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	c := f.client()
	c.get("/portal/forgot")
	if code, body := c.post("/portal/forgot", url.Values{"email": {"ANNE@example.be"}}); code != 200 || !strings.Contains(body, "Si un compte existe") {
		t.Fatalf("forgot: %d", code)
	}
	// Unknown address: same answer, no email.
	c.post("/portal/forgot", url.Values{"email": {"nobody@example.be"}})
	msgs := f.smtp.Wait(t, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1", len(msgs))
	}
	m := f.smtp.Last(t, "anne@example.be")
	if m.Subject != "Tartine : choisir un nouveau mot de passe" {
		t.Errorf("subject %q", m.Subject)
	}
	link := resetLinkRe.FindString(m.Text)
	if link == "" {
		t.Fatalf("no reset link in:\n%s", m.Text)
	}
	path := strings.TrimPrefix(link, f.url)
	if code, _ := c.get(path); code != 200 {
		t.Fatalf("reset form: %d", code)
	}
	if code, body := c.post(path, url.Values{"password": {"new secret phrase"}, "password2": {"new secret phrase"}}); code != 200 || !strings.Contains(body, "Emma") {
		t.Fatalf("reset: %d\n%s", code, body)
	}
	// Single use.
	if code, _ := f.client().get(path); code != http.StatusNotFound {
		t.Errorf("reused link: %d, want 404", code)
	}
	// The other device was logged out; the new password works, the old not.
	if _, body := phone.get("/portal/"); strings.Contains(body, "Emma") {
		t.Error("other session survived the password reset")
	}
	d := f.client()
	d.get("/portal/login")
	if code, _ := d.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}}); code != http.StatusUnauthorized {
		t.Errorf("old password: %d", code)
	}
	if code, body := d.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"new secret phrase"}}); code != 200 || !strings.Contains(body, "Emma") {
		t.Errorf("new password: %d", code)
	}
	// Expiry: a link older than an hour is refused.
	c.get("/portal/forgot")
	c.post("/portal/forgot", url.Values{"email": {"anne@example.be"}})
	link2 := resetLinkRe.FindString(f.smtp.Wait(t, 2)[1].Text)
	f.clk.Add(61 * time.Minute)
	if code, _ := c.get(strings.TrimPrefix(link2, f.url)); code != http.StatusNotFound {
		t.Errorf("expired link: %d, want 404", code)
	}
}

// TestBookingEmails: a weekly pattern sends a booking confirmation, and a
// wallet going under the threshold sends one low-balance alert.
func TestBookingEmails(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	emma := childPath(f.tenant, f.emma)
	anne.get(emma + "/bookings")
	// Mondays and Tuesdays from 30 Nov to 8 Dec: 30/11, 1/12, 7/12, 8/12.
	code, body := anne.post(emma+"/bookings/pattern", url.Values{"weekday": {"1", "2"}, "from": {"2026-11-30"}, "until": {"2026-12-08"}, "service": {"repas"}})
	if code != 200 || !strings.Contains(body, "4 jour(s) réservé(s)") {
		t.Fatalf("pattern: %d\n%s", code, regexp.MustCompile(`(?s)<p class="flash".*?</p>`).FindString(body))
	}
	msgs := f.smtp.Wait(t, 2)
	var confirm, low string
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m.Subject, "Tartine : réservations de Emma"):
			confirm = m.Text
		case strings.HasPrefix(m.Subject, "Tartine : le compte de Emma passe sous votre seuil"):
			low = m.Subject + "\n" + m.Text
		}
	}
	// Default policy: meals are booked into the grace (8,00 − 4 × 3,70 = −6,80 available).
	// Each line names the meal type as the school does (« Repas »), not its kind.
	if !strings.Contains(confirm, "lundi 30 novembre 2026 : Repas (3,70\u00a0€)") {
		t.Errorf("confirmation:\n%s", confirm)
	}
	if !strings.Contains(low, "Solde : 8,00\u00a0€") || !strings.Contains(low, "Disponible après les repas réservés : -6,80\u00a0€") ||
		!strings.Contains(low, "sous votre seuil d'alerte de 5,00\u00a0€") {
		t.Errorf("low balance email:\n%s", low)
	}
	// No second alert within 24 hours.
	anne.get(emma + "/bookings")
	anne.post(emma+"/bookings/book", url.Values{"day": {"2026-12-14"}, "service": {"repas"}})
	n := 0
	for _, m := range f.smtp.Messages() {
		if strings.Contains(m.Subject, "seuil d'alerte") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d low-balance emails, want 1", n)
	}
	// A single booking and its cancellation are confirmed too (Lucas: his
	// sister's wallet is at its floor).
	lucas := childPath(f.tenant, f.lucas)
	anne.get(lucas + "/bookings")
	before := len(f.smtp.Messages())
	if code, _ := anne.post(lucas+"/bookings/book", url.Values{"day": {"2026-12-14"}, "service": {"repas"}}); code != 200 {
		t.Fatalf("book: %d", code)
	}
	msgs = f.smtp.Wait(t, before+1)
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Text, "Réservé pour Lucas") || !strings.Contains(last.Text, "lundi 14 décembre 2026 : Repas (3,70\u00a0€)") {
		t.Errorf("single booking email:\n%s", last.Text)
	}
	_, page := anne.get(lucas + "/bookings?month=2026-12")
	id := regexp.MustCompile(`name="booking" value="(\d+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatalf("no cancel form on the bookings page")
	}
	if code, _ := anne.post(lucas+"/bookings/cancel", url.Values{"booking": {id[1]}}); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	msgs = f.smtp.Wait(t, before+2)
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Text, "Annulé pour Lucas") || !strings.Contains(last.Text, "lundi 14 décembre 2026 : Repas") {
		t.Errorf("cancellation email:\n%s", last.Text)
	}
}

func TestTopUpReceivedEmail(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	err := f.app.TopUpReceived(t.Context(), payments.TopUpNotice{TenantID: f.tenant, PupilID: f.lucas.ID, Amount: decimal.RequireFromString("20")})
	if err != nil {
		t.Fatal(err)
	}
	m := f.smtp.Wait(t, 1)[0]
	if m.Subject != "Tartine : 20,00\u00a0€ reçus pour Lucas" || !strings.Contains(m.Text, "Solde : 30,00\u00a0€") ||
		!strings.Contains(m.Text, "Disponible après les repas réservés : 30,00\u00a0€") {
		t.Errorf("email: %q\n%s", m.Subject, m.Text)
	}
}

// TestLowBalanceAfterATap: the terminal's notice of a canteen charge
// emails the family when the wallet went under its alert threshold — once
// in 24 hours — and not when plenty is left.
func TestLowBalanceAfterATap(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	ctx := t.Context()
	meal := func(p school.Pupil, key string) decimal.Decimal {
		rev, err := f.led.AccountByCode(ctx, f.tenant, school.AccountRevenueMeals)
		if err != nil {
			t.Fatal(err)
		}
		amt := decimal.RequireFromString("4.20")
		if _, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "meal", Actor: "test",
			Postings: []ledger.Posting{{AccountID: p.WalletAccountID, Amount: amt}, {AccountID: rev.ID, Amount: amt.Neg()}}}); err != nil {
			t.Fatal(err)
		}
		b, err := f.led.Balance(ctx, f.tenant, p.WalletAccountID)
		if err != nil {
			t.Fatal(err)
		}
		return b.Available
	}
	f.app.WalletDebited(ctx, f.tenant, f.lucas.ID, meal(f.lucas, "tap:1")) // 25,80 left
	f.app.WalletDebited(ctx, f.tenant, f.emma.ID, meal(f.emma, "tap:2"))   // 3,80 left
	f.app.WalletDebited(ctx, f.tenant, f.emma.ID, meal(f.emma, "tap:3"))   // -0,40: alerted already
	var low []string
	for _, m := range f.smtp.Messages() {
		if strings.Contains(m.Subject, "seuil d'alerte") {
			low = append(low, m.Subject)
		}
	}
	if len(low) != 1 || low[0] != "Tartine : le compte de Emma passe sous votre seuil d'alerte" {
		t.Errorf("low-balance emails %q, want one for Emma at 3,80 €", low)
	}
}

func FuzzNormaliseCode(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-JKMN", "abcd efgh jkmn", "ABCDEFGHJKMN", "ABCD-EFGH-JKM0", "", "----", "ÀBCD-EFGH-JKMN", "ABCD-EFGH-JKMNP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := portal.NormaliseCode(s)
		if err != nil {
			return
		}
		if len(got) != 14 || got[4] != '-' || got[9] != '-' {
			t.Fatalf("NormaliseCode(%q) = %q", s, got)
		}
		again, err := portal.NormaliseCode(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

// TestLowBalanceAlertThroughTheQueue: with the server's job queue as
// sender, the alert is enqueued in the transaction that marks it sent (a
// durable job, delivered by a worker), and not enqueued twice in 24 hours.
func TestLowBalanceAlertThroughTheQueue(t *testing.T) {
	f := newFixture(t)
	f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	ctx := t.Context()
	direct, err := mail.NewSMTP(mail.Config{Addr: f.smtp.Addr, From: "Tartine <noreply@ecole.be>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The queue on a pool of its own: river keeps a connection for LISTEN
	// while its producer queries, which the fixture's guard would report.
	cfg := f.app.Pool.Config().Copy()
	cfg.ConnConfig.Tracer = nil
	qpool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer qpool.Close()
	q, err := jobs.New(jobs.Config{Pool: qpool, Mail: direct, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.app.Mail = q
	jobsFor := func() (queued, marks int) {
		t.Helper()
		if err := f.app.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_job WHERE kind = 'email'),
			(SELECT count(*) FROM portal_low_balance_alerts)`).Scan(&queued, &marks); err != nil {
			t.Fatal(err)
		}
		return
	}
	meal := func(key string) decimal.Decimal {
		rev, err := f.led.AccountByCode(ctx, f.tenant, school.AccountRevenueMeals)
		if err != nil {
			t.Fatal(err)
		}
		amt := decimal.RequireFromString("4.20")
		if _, err := f.led.Transfer(ctx, ledger.TransferRequest{TenantID: f.tenant, IdempotencyKey: key, Kind: "meal", Actor: "test",
			Postings: []ledger.Posting{{AccountID: f.emma.WalletAccountID, Amount: amt}, {AccountID: rev.ID, Amount: amt.Neg()}}}); err != nil {
			t.Fatal(err)
		}
		b, err := f.led.Balance(ctx, f.tenant, f.emma.WalletAccountID)
		if err != nil {
			t.Fatal(err)
		}
		return b.Available
	}
	f.app.WalletDebited(ctx, f.tenant, f.emma.ID, meal("tap:1")) // 3,80 left
	f.app.WalletDebited(ctx, f.tenant, f.emma.ID, meal("tap:2")) // alerted already
	if queued, marks := jobsFor(); queued != 1 || marks != 1 {
		t.Fatalf("%d email jobs and %d alert marks, want 1 and 1", queued, marks)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails sent inside the request, want none (queued)", n)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := q.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = q.Stop(stop)
	}()
	if m := f.smtp.Wait(t, 1)[0]; !strings.Contains(m.Subject, "le compte de Emma") {
		t.Errorf("delivered %q", m.Subject)
	}
}
