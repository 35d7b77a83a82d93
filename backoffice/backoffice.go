// Package backoffice is the school's back office: the pages school admins
// and accountants use, on top of the domain packages.
//
//   - School admins (role admin): pupils with their guardians, badges and
//     wallet balance; badge assignment, status changes and QR badges; the QR
//     badge sheet PDF; stations; bridge devices (enrolment with a secret
//     shown once, revocation); the school calendar's closed days; menus;
//     staff logins (roles, disabling, generated passwords shown once); the
//     meal and daycare tariffs (new effective-dated ones, from today on),
//     the school's policy (grace, duplicate window, cut-off, no-shows…) and
//     the kitchen and daycare lists of a day (kitchen.go: meals per type and
//     class, counts per allergen — notes included — and diet with the
//     children's names, A4 print and CSV; who is at the daycare now).
//   - Accountants (role accountant; admins too): the trial balance, the
//     journal as a Belgian CSV file, the ledger invariants (tartine verify),
//     the period close, and the bank reconciliation (CODA import, credits
//     waiting in suspense, Stripe payouts not yet seen at the bank), and
//     refunds by SEPA credit transfer with their pain.001 batches
//     (refunds.go).
//
// # Access
//
// The back office has no login of its own: staff log in on the staff
// screens (web.StaffLoginPath, package staff), whose session cookie
// ("tartine_staff", path /) this package reads through the same
// websession.Manager configuration. Every page needs a staff session of an
// active user; each page then needs its role (StaffUser.Can: admins may do
// everything). A staff user bound to one school sees only that school's
// pupils, calendar, menus and staff. Other users get 403.
//
// # Forms
//
// Every POST carries the session's CSRF token and must be same-origin
// (websession.Middleware), is audited (school.Audit, or the store's own audit
// entry), and answers with a redirect (303) to a page that shows the outcome
// once. The exceptions are device enrolment and staff passwords (a new
// member, a new password): the answer shows the secret, which is never
// stored, so it is rendered directly with Cache-Control: no-store; and the
// CODA import, which answers with its report (importing a file again books
// nothing twice, so a resubmitted form is harmless).
package backoffice

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/fees"
	"tartine/internal/i18n"
	"tartine/internal/tz"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
	"tartine/statements"
	"tartine/taxcert"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// StaffCookie is the session cookie of the staff screens; the back office
// reads the same sessions (one staff login, web.StaffCookie).
const StaffCookie = web.StaffCookie

// Deps are the back office's dependencies.
type Deps struct {
	Pool    *pgxpool.Pool
	School  *school.Store
	Booking *booking.Manager
	Ledger  *ledger.Ledger
	// Sessions is the staff screens' session manager (cookie StaffCookie).
	Sessions *websession.Manager
	Catalog  *i18n.Catalog
	Log      *slog.Logger
	Now      func() time.Time
	// BaseURL is the server's public URL, written in the bridge.toml
	// snippet shown at device enrolment (no trailing slash).
	BaseURL string
	// Families tells the families about bookings the school cancelled
	// (the portal's mailer); nil: nobody is told.
	Families CancellationNotifier
	// Fees are the school fees (rule sets, fees, opt-ins); nil: a service
	// on Pool, Ledger and School with the shipped rules.
	Fees *fees.Service
	// Statements are the periodic statements and estimates; nil: a service
	// on School with Catalog (emails to the log).
	Statements *statements.Service
	// Present lists who is at a school's daycare now (kitchen.go); nil:
	// the daycare list shows the children expected only.
	Present DaycarePresent
	// TaxCert issues the childcare tax certificates (taxcert.go); nil: a
	// service without a sealing key (national numbers cannot be entered).
	TaxCert *taxcert.Service
	// Stripe is the deployment's Stripe account, for the balance check
	// (books_stripe.go); nil: Stripe is not configured.
	Stripe *payments.Stripe
}

// App serves the back office.
type App struct {
	Deps
	pages map[string]*template.Template
	bank  *payments.Bank // CODA import and bank reconciliation, on Deps.Ledger
}

// New parses the templates and returns the back office. A template error
// stops start-up.
func New(d Deps) (*App, error) {
	if d.Pool == nil || d.School == nil || d.Booking == nil || d.Ledger == nil || d.Sessions == nil || d.Catalog == nil {
		return nil, errors.New("backoffice: missing dependency")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.BaseURL = strings.TrimRight(d.BaseURL, "/")
	if d.Fees == nil {
		shipped, err := fees.LoadShipped()
		if err != nil {
			return nil, err
		}
		d.Fees = fees.New(d.Pool, d.Ledger, d.School, fees.NewRules(shipped, d.Now), d.Now)
	}
	if d.Statements == nil {
		d.Statements = statements.New(d.School, d.Catalog, d.Now, statements.WithLog(d.Log))
	}
	if d.TaxCert == nil {
		d.TaxCert = taxcert.New(d.Pool, d.Ledger, d.School, nil, taxcert.Settings{}, d.Now)
	}
	a := &App{Deps: d, pages: map[string]*template.Template{}, bank: payments.NewBank(d.Ledger, d.Log,
		payments.WithStatements(d.Statements.BankLookup))} // a statement's communication pays its fees
	var err error
	if a.pages, err = web.ParsePages(templateFS, "templates", "layout.html", d.Catalog, funcs); err != nil {
		return nil, fmt.Errorf("backoffice: %w", err)
	}
	return a, nil
}

// funcs are the back office's template functions, on top of web.Funcs.
var funcs = template.FuncMap{
	"ymd":    func(t time.Time) string { return t.Format("2006-01-02") },
	"dmy":    func(t time.Time) string { return t.Format("02/01/2006") },
	"isZero": func(d decimal.Decimal) bool { return d.IsZero() },
	"neg":    func(d decimal.Decimal) bool { return d.IsNegative() },
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

// brussels is the schools' time zone.
func brussels() *time.Location { return tz.Brussels }
