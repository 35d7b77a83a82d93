package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/jobs"
	"tartine/internal/mail"
	"tartine/payments"
)

// TestChangePassword: a logged-in parent changes their password with the
// current one and the registration's rules; the other sessions end, this
// one goes on, and the email is enqueued with the change.
func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	phone := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	laptop := f.client()
	laptop.get("/portal/login")
	if code, body := laptop.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}}); code != 200 || !strings.Contains(body, "Emma") {
		t.Fatalf("laptop login: %d", code)
	}
	// The email goes through the job queue (not started here: the job is
	// what the change leaves).
	direct, err := mail.NewSMTP(mail.Config{Addr: f.smtp.Addr, From: "Tartine <noreply@ecole.be>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.app.Pool.Config().Copy()
	cfg.ConnConfig.Tracer = nil
	qpool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer qpool.Close()
	q, err := jobs.New(jobs.Config{Pool: qpool, Mail: direct})
	if err != nil {
		t.Fatal(err)
	}
	f.app.Mail = q

	_, page := phone.get("/portal/settings")
	for _, want := range []string{`autocomplete="current-password"`, `name="form" value="password"`} {
		if !strings.Contains(page, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	change := func(current, pw, again string) (int, string) {
		phone.get("/portal/settings")
		return phone.post("/portal/settings", url.Values{"form": {"password"}, "current": {current}, "password": {pw}, "password2": {again}})
	}
	for _, tt := range []struct{ name, current, pw, again, want string }{
		{"wrong current", "not my password", "a new long phrase", "a new long phrase", "Le mot de passe actuel n&#39;est pas le bon."},
		{"too short", "correct horse battery", "short", "short", "au moins 8 caractères"},
		{"mismatch", "correct horse battery", "a new long phrase", "another long phrase", "ne sont pas identiques"},
		{"common", "correct horse battery", "password123", "password123", ""},
		{"same", "correct horse battery", "correct horse battery", "correct horse battery", "différent de l&#39;actuel"},
	} {
		code, body := change(tt.current, tt.pw, tt.again)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `class="error"`) || (tt.want != "" && !strings.Contains(body, tt.want)) {
			t.Errorf("%s: %d, want 422 with %q", tt.name, code, tt.want)
		}
	}
	code, body := change("correct horse battery", "a new long phrase", "a new long phrase")
	if code != 200 || !strings.Contains(body, "Votre mot de passe est changé") {
		t.Fatalf("change: %d\n%s", code, body)
	}
	if _, body := phone.get("/portal/"); !strings.Contains(body, "Emma") {
		t.Error("the session that changed the password was logged out")
	}
	if _, body := laptop.get("/portal/"); strings.Contains(body, "Emma") {
		t.Error("another session survived the password change")
	}
	var jobsN int
	var args string
	if err := f.app.Pool.QueryRow(ctx, `SELECT count(*), coalesce(max(args::text), '') FROM river_job WHERE kind = 'email'`).Scan(&jobsN, &args); err != nil {
		t.Fatal(err)
	}
	if jobsN != 1 || !strings.Contains(args, "anne@example.be") || !strings.Contains(args, "votre mot de passe a été changé") {
		t.Errorf("%d email jobs (%s), want the notice to Anne", jobsN, args)
	}
	d := f.client()
	d.get("/portal/login")
	if code, _ := d.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"correct horse battery"}}); code != http.StatusUnauthorized {
		t.Errorf("old password: %d", code)
	}
	if code, body := d.post("/portal/login", url.Values{"email": {"anne@example.be"}, "password": {"a new long phrase"}}); code != 200 || !strings.Contains(body, "Emma") {
		t.Errorf("new password: %d", code)
	}
}

// TestEmailChoices: a parent switches off top-up and booking emails; the
// statements (which the law requires) are listed as always sent.
func TestEmailChoices(t *testing.T) {
	f := newFixture(t)
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	_, page := anne.get("/portal/settings")
	for _, want := range []string{`name="email_topups" id="email_topups" checked`, `name="email_bookings" id="email_bookings" checked`, "les décomptes périodiques de frais scolaires"} {
		if !strings.Contains(page, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	if code, body := anne.post("/portal/settings", url.Values{"threshold": {"10"}, "alert": {"on"}, "language": {"fr"}}); code != 200 || !strings.Contains(body, "Réglages enregistrés") {
		t.Fatalf("save: %d", code)
	}
	_, page = anne.get("/portal/settings")
	if strings.Contains(page, `id="email_topups" checked`) || strings.Contains(page, `id="email_bookings" checked`) || !strings.Contains(page, `id="alert" checked`) {
		t.Error("choices not saved")
	}
	if err := f.app.TopUpReceived(t.Context(), payments.TopUpNotice{TenantID: f.tenant, PupilID: f.lucas.ID, Amount: decimal.RequireFromString("20")}); err != nil {
		t.Fatal(err)
	}
	lucas := childPath(f.tenant, f.lucas)
	anne.get(lucas + "/bookings")
	if code, _ := anne.post(lucas+"/bookings/book", url.Values{"day": {"2026-12-14"}, "service": {"repas"}}); code != 200 {
		t.Fatalf("book: %d", code)
	}
	// A low-balance alert is still sent (its own choice, on): Emma is under 10 €.
	f.app.LowBalanceCheck(t.Context(), f.tenant, f.emma.ID)
	f.smtp.Wait(t, 1)
	for _, m := range f.smtp.Messages() {
		if strings.Contains(m.Subject, "reçus pour") || strings.Contains(m.Subject, "réservations") || strings.Contains(m.Text, "Réservé pour") {
			t.Errorf("sent although switched off: %q", m.Subject)
		}
	}
	// Switched on again: sent.
	anne.get("/portal/settings")
	anne.post("/portal/settings", url.Values{"threshold": {"10"}, "alert": {"on"}, "language": {"fr"}, "email_topups": {"on"}, "email_bookings": {"on"}})
	if err := f.app.TopUpReceived(t.Context(), payments.TopUpNotice{TenantID: f.tenant, PupilID: f.lucas.ID, Amount: decimal.RequireFromString("20")}); err != nil {
		t.Fatal(err)
	}
	if m := f.smtp.Last(t, "anne@example.be"); !strings.Contains(m.Subject, "reçus pour Lucas") {
		t.Errorf("top-up email after switching on: %q", m.Subject)
	}
}
