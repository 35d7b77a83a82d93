package mail_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/mail"
	"tartine/internal/mail/mailtest"
)

func TestSendOverSMTP(t *testing.T) {
	srv := mailtest.Start(t, "tartine", "s3cret")
	getenv := func(k string) string {
		return map[string]string{"SMTP_ADDR": srv.Addr, "SMTP_FROM": "Tartine <noreply@ecole.be>",
			"SMTP_USER": "tartine", "SMTP_PASSWORD": "s3cret"}[k]
	}
	cfg, ok, err := mail.ConfigFromEnv(getenv)
	if err != nil || !ok {
		t.Fatalf("ConfigFromEnv: %v %v", ok, err)
	}
	if cfg.TLS != mail.TLSNone {
		t.Errorf("loopback TLS default = %q, want none", cfg.TLS)
	}
	s, err := mail.NewSMTP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tpl.Render("anne.dupont@example.be", "fr", mail.TopUpReceived{Child: "Emma", Amount: decimal.RequireFromString("20"),
		Balance: decimal.RequireFromString("24.20"), Available: decimal.RequireFromString("16.80"), Method: "bancontact", Link: "http://localhost/portail"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1)[0]
	if got.User != "tartine" || got.From != "noreply@ecole.be" || len(got.To) != 1 || got.To[0] != "anne.dupont@example.be" {
		t.Errorf("envelope = %+v", got)
	}
	if got.Subject != "Tartine : 20,00\u00a0€ reçus pour Emma" {
		t.Errorf("subject = %q", got.Subject)
	}
	for _, want := range []string{"Nous avons reçu 20,00\u00a0€ par Bancontact pour Emma.", "Solde : 24,20\u00a0€", "Disponible après les repas réservés : 16,80\u00a0€"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("body lacks %q:\n%s", want, got.Text)
		}
	}
	// Wrong password: a clear error, nothing delivered.
	cfg.Password = "nope"
	bad, _ := mail.NewSMTP(cfg, nil)
	if err := bad.Send(t.Context(), msg); err == nil || !strings.Contains(err.Error(), "authenticate") {
		t.Errorf("wrong password: %v", err)
	}
	// Header injection through the recipient is refused.
	msg.To = "a@example.be\r\nBcc: victim@example.be"
	if err := s.Send(t.Context(), msg); !errors.Is(err, mail.ErrAddress) {
		t.Errorf("injected recipient: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		ok      bool
		tls     string
		wantErr bool
	}{
		{map[string]string{}, false, "", false},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:587", "SMTP_FROM": "noreply@ecole.be"}, true, "starttls", false},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:465", "SMTP_FROM": "noreply@ecole.be"}, true, "tls", false},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:25", "SMTP_FROM": "noreply@ecole.be", "SMTP_TLS": "none"}, true, "none", false},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be", "SMTP_FROM": "noreply@ecole.be"}, true, "", true},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:25"}, true, "", true},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:25", "SMTP_FROM": "not an address"}, true, "", true},
		{map[string]string{"SMTP_ADDR": "smtp.ecole.be:25", "SMTP_FROM": "a@b.be", "SMTP_TLS": "ssl"}, true, "", true},
	}
	for _, tt := range tests {
		cfg, ok, err := mail.ConfigFromEnv(func(k string) string { return tt.env[k] })
		if ok != tt.ok || (err != nil) != tt.wantErr || (!tt.wantErr && cfg.TLS != tt.tls) {
			t.Errorf("%v: ok=%v tls=%q err=%v; want ok=%v tls=%q err=%v", tt.env, ok, cfg.TLS, err, tt.ok, tt.tls, tt.wantErr)
		}
	}
}

func TestTemplates(t *testing.T) {
	tpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lang    string
		email   mail.Email
		subject string
		body    []string
	}{
		{"fr", mail.PasswordReset{Link: "http://x/reset/abc", Expires: time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)},
			"Tartine : choisir un nouveau mot de passe", []string{"http://x/reset/abc", "jusqu'au lundi 30 novembre 2026 à 22:00"}},
		{"en", mail.PasswordReset{Link: "http://x/reset/abc", Expires: day},
			"Tartine: choose a new password", []string{"Monday 30 November 2026"}},
		{"fr", mail.LowBalance{Child: "Emma", Balance: decimal.RequireFromString("4.2"), Available: decimal.RequireFromString("-3.8"), Threshold: decimal.RequireFromString("10"), Link: "L"},
			"Tartine : le compte de Emma passe sous votre seuil d'alerte", []string{"sous votre seuil d'alerte de 10,00\u00a0€", "Solde : 4,20\u00a0€", "Disponible après les repas réservés : -3,80\u00a0€"}},
		{"en", mail.LowBalance{Child: "Emma", Balance: decimal.RequireFromString("4.2"), Available: decimal.RequireFromString("-3.8"), Threshold: decimal.RequireFromString("10"), Link: "L"},
			"Tartine: Emma's account is below your alert threshold", []string{"below your alert threshold of €10.00", "Balance: €4.20", "Available after booked meals: -€3.80"}},
		{"fr", mail.InvitationReminder{GuardianName: "Anne Dupont", School: "École du Parc", Children: []string{"Emma", "Lucas"}, Code: "ABCD-EFGH", Link: "http://x/inscription?code=ABCD-EFGH"},
			"Tartine : votre code d'inscription pour École du Parc", []string{"Emma, Lucas :", "ABCD-EFGH"}},
		{"fr", mail.BookingConfirmation{Child: "Emma", Booked: []mail.BookingLine{{Date: day, Service: "meal", Price: decimal.RequireFromString("3.7")}},
			Cancelled: []mail.BookingLine{{Date: day.AddDate(0, 0, 1), Service: "daycare"}}, Link: "L"},
			"Tartine : réservations de Emma", []string{"lundi 30 novembre 2026 : repas (3,70\u00a0€)", "mardi 1er décembre 2026 : garderie"}},
		{"en", mail.BookingConfirmation{Child: "Emma", Booked: []mail.BookingLine{{Date: day, Service: "meal", Name: "Potage", Price: decimal.RequireFromString("0.6")}},
			Cancelled: []mail.BookingLine{{Date: day.AddDate(0, 0, 1), Service: "meal", Name: "Potage"}}, Link: "L"},
			"Tartine: bookings for Emma", []string{"Monday 30 November 2026: Potage (€0.60)", "Tuesday 1 December 2026: Potage"}},
		{"nl", mail.TopUpReceived{Child: "Emma", Amount: decimal.RequireFromString("5"), Balance: decimal.RequireFromString("5"), Method: "cash"},
			"Tartine : 5,00\u00a0€ reçus pour Emma", []string{"en espèces"}},
	}
	for _, tt := range tests {
		m, err := tpl.Render("a@b.be", tt.lang, tt.email)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != tt.subject {
			t.Errorf("%T/%s subject = %q, want %q", tt.email, tt.lang, m.Subject, tt.subject)
		}
		for _, w := range tt.body {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%T/%s body lacks %q:\n%s", tt.email, tt.lang, w, m.Text)
			}
		}
	}
}
