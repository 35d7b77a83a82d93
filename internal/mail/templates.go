package mail

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Email is the content of one kind of email; Render turns it into text.
type Email interface {
	templateName() string
}

// InvitationReminder reminds a guardian who has not registered yet of the
// invitation code.
type InvitationReminder struct {
	GuardianName string
	School       string
	Children     []string
	Code         string
	Link         string // registration link with the code
}

// PasswordReset carries a one-time link to choose a new password.
type PasswordReset struct {
	Link    string
	Expires time.Time // in the school's time zone
}

// PasswordChanged tells a parent that their password was changed while
// logged in (their other sessions were ended), in case it was not them.
type PasswordChanged struct {
	At   time.Time // in the school's time zone
	Link string    // the page to ask for a new password
}

// LowBalance warns that a child's wallet went under the family's
// threshold: what is available after the booked meals is below it. Balance
// and Available are booking.WalletBalance's two figures, named with the
// catalogue's "wallet.balance" and "wallet.available" as on the portal.
type LowBalance struct {
	Child     string
	Balance   decimal.Decimal // « solde »
	Available decimal.Decimal // « disponible après les repas réservés »
	Threshold decimal.Decimal
	Link      string // top-up page
}

// TopUpReceived confirms that money reached a child's wallet, with the
// wallet's two figures after it (see LowBalance).
type TopUpReceived struct {
	Child     string
	Amount    decimal.Decimal
	Balance   decimal.Decimal // « solde »
	Available decimal.Decimal // « disponible après les repas réservés »
	Method    string          // card, bancontact, transfer, cash
	Link      string
}

// BookingLine is one booked or cancelled service day.
type BookingLine struct {
	Date    time.Time
	Service string // meal, daycare
	// Name is the meal type's name as the school wrote it (« Potage »);
	// "": the service's kind in words (repas, garderie).
	Name  string
	Price decimal.Decimal
}

// BookingConfirmation lists what a guardian just booked or cancelled.
type BookingConfirmation struct {
	Child     string
	Booked    []BookingLine
	Cancelled []BookingLine
	Link      string
}

func (InvitationReminder) templateName() string  { return "invitation_reminder" }
func (PasswordReset) templateName() string       { return "password_reset" }
func (LowBalance) templateName() string          { return "low_balance" }
func (PasswordChanged) templateName() string     { return "password_changed" }
func (TopUpReceived) templateName() string       { return "topup_received" }
func (BookingConfirmation) templateName() string { return "booking_confirmation" }

// Templates renders emails from the embedded templates.
type Templates struct {
	set map[string]*template.Template // "name.lang"
}

// LoadTemplates parses the embedded templates; an error means a broken
// template (a start-up failure).
func LoadTemplates() (*Templates, error) {
	// The embedded catalogue: words shared with the pages ("wallet.balance").
	cat, err := i18n.New()
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	t := &Templates{set: map[string]*template.Template{}}
	for _, lang := range i18n.Languages() {
		funcs := template.FuncMap{
			"t":    func(key string, args ...any) string { return cat.T(lang, key, args...) },
			"eur":  func(d decimal.Decimal) string { return i18n.FormatEUR(d, lang) },
			"date": func(tm time.Time) string { return i18n.FormatDate(tm, lang) },
			"hm":   func(tm time.Time) string { return tm.Format("15:04") },
		}
		for _, name := range []string{"invitation_reminder", "password_reset", "low_balance", "topup_received", "booking_confirmation", "password_changed"} {
			file := "templates/" + name + "." + lang + ".tmpl"
			src, err := templateFS.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("mail: template %s: %w", file, err)
			}
			tp, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
			if err != nil {
				return nil, fmt.Errorf("mail: parse %s: %w", file, err)
			}
			t.set[name+"."+lang] = tp
		}
	}
	return t, nil
}

// Render returns the message for e in lang (French when lang is not
// available), addressed to to. The template's first line is "Subject: …".
func (t *Templates) Render(to, lang string, e Email) (Message, error) {
	lang = i18n.Negotiate(lang)
	tp, ok := t.set[e.templateName()+"."+lang]
	if !ok {
		tp = t.set[e.templateName()+"."+i18n.Default]
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, e); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", e.templateName(), err)
	}
	head, body, _ := strings.Cut(b.String(), "\n")
	subject, ok := strings.CutPrefix(head, "Subject: ")
	if !ok {
		return Message{}, fmt.Errorf("mail: template %s does not start with Subject:", e.templateName())
	}
	return Message{To: to, Subject: strings.TrimSpace(subject), Text: strings.TrimLeft(body, "\n")}, nil
}
