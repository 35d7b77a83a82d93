// Package portal is the parent portal: guardians register from an
// invitation letter, log in, see each child's balance and history, book and
// cancel meals and daycare, top up (Stripe Checkout through package payments,
// or bank transfer with the child's structured communication and an EPC QR
// code), move money between siblings, change their settings and download
// everything held about the family.
//
// # Access rule
//
// A portal account (portal_accounts) is one person's login; it is linked to
// guardian rows, possibly in several tenants (portal_account_guardians), by
// invitation codes. Every page or endpoint about a pupil reads the tenant and
// pupil ids from the URL and goes through App.child, which returns the pupil
// only when one of the account's guardians is linked to it in that tenant
// (guardian_pupils); anything else is a 404 that shows nothing. Bookings are
// checked to belong to that pupil as well.
//
// # Sessions and forms
//
// Sessions, CSRF protection and login throttling come from
// internal/websession: every POST carries the session's token and must be
// same-origin. Pages are server-rendered (html/template, embedded), French
// first, and work without JavaScript.
package portal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/password"
	"tartine/internal/tz"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
	"tartine/statements"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Sender sends one email: the job queue (jobs.Queue) in the server, which
// stores it and returns; mail.SMTP or mail.LogSender directly in tests.
type Sender interface {
	Send(ctx context.Context, msg mail.Message) error
}

// TxSender is a Sender that can enqueue an email in a transaction, sent only
// if it commits (jobs.Queue).
type TxSender interface {
	SendTx(ctx context.Context, tx pgx.Tx, msg mail.Message) error
}

// TopUps starts online top-ups (payments.Stripe; a stub in tests).
type TopUps interface {
	StartTopUp(ctx context.Context, req payments.TopUpRequest) (payments.TopUp, error)
	Limits() (min, max decimal.Decimal)
}

// Deps are the portal's dependencies.
type Deps struct {
	Pool     *pgxpool.Pool
	Ledger   *ledger.Ledger
	School   *school.Store
	Booking  *booking.Manager
	Sessions *websession.Manager // cookie of the portal
	Throttle *websession.Throttle
	Catalog  *i18n.Catalog
	Mail     Sender
	TopUps   TopUps // nil: online top-up unavailable, bank transfer only
	Log      *slog.Logger
	Now      func() time.Time
	// BaseURL is the public URL (links in emails and letters), no trailing slash.
	BaseURL string
	// MaxInFlight bounds the portal requests served at once (0: four per
	// processor, at most the pool's connections), MaxInFlightBusy while
	// CanteenBusy reports taps being served (0: one per two processors;
	// CanteenBusy nil: never busy), each followed by a pause while
	// CanteenHeavy reports that the taps need the processors (nil: never);
	// MaxWait is how long others wait in line (0: 3 s) and MaxWaiting how
	// many may (0: 400) before the busy page (shed.go).
	MaxInFlight     int
	MaxInFlightBusy int
	CanteenBusy     func() bool
	CanteenHeavy    func() bool
	MaxWait         time.Duration
	MaxWaiting      int
	// Statements are the periodic statements and estimates shown to the
	// guardians; nil: a service on School with Catalog.
	Statements *statements.Service
}

// App serves the portal.
type App struct {
	Deps
	pages  map[string]*template.Template
	emails *mail.Templates
	// dummyHash is verified when an email is unknown so that the answer
	// takes as long as for a known one.
	dummyHash string

	ceiling  alertCeiling // WalletDebited's first filter
	accounts accountCache // accounts read by id, in memory (accounts.go)
	// mealNamesCache: the tenants' meal type names (bookings_names.go).
	mealNamesCache mealNamesCache
	family         familyDone // the family actions' summaries, in memory (bookings_family.go)
	shedder        *shedder
}

// New parses the templates and returns the portal. A template error stops
// start-up.
func New(d Deps) (*App, error) {
	if d.Pool == nil || d.Ledger == nil || d.School == nil || d.Booking == nil || d.Sessions == nil || d.Catalog == nil || d.Mail == nil {
		return nil, errors.New("portal: missing dependency")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Throttle == nil {
		d.Throttle = websession.NewThrottle(d.Pool, websession.ThrottleConfig{Scope: websession.KindGuardian, Now: d.Now})
	}
	d.BaseURL = strings.TrimRight(d.BaseURL, "/")
	if d.MaxInFlight <= 0 {
		d.MaxInFlight = min(defaultInFlightPerCPU*runtime.GOMAXPROCS(0), int(d.Pool.Config().MaxConns))
	}
	if d.MaxInFlightBusy <= 0 {
		d.MaxInFlightBusy = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if d.MaxWait <= 0 {
		d.MaxWait = defaultMaxWait
	}
	if d.MaxWaiting <= 0 {
		d.MaxWaiting = defaultMaxWaiting
	}
	if d.Statements == nil {
		d.Statements = statements.New(d.School, d.Catalog, d.Now)
	}
	a := &App{Deps: d, pages: map[string]*template.Template{}, shedder: newShedder(d.MaxInFlight, d.MaxInFlightBusy, d.MaxWaiting, d.MaxWait, d.CanteenBusy, d.CanteenHeavy)}
	var err error
	if a.emails, err = mail.LoadTemplates(); err != nil {
		return nil, err
	}
	if a.dummyHash, err = password.Hash("not a password"); err != nil {
		return nil, err
	}
	if a.pages, err = web.ParsePages(templateFS, "templates", "layout.html", d.Catalog, nil); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	return a, nil
}

// Routes mounts the portal under /portal (and its static files).
func (a *App) Routes(r gin.IRouter) {
	sub, _ := fs.Sub(staticFS, "static")
	websession.StaticFS(r, "/portal/static", sub)
	// Each route or group names its policy (internal/websession/policy.go);
	// routes added to in or c inherit websession.Guardian.
	g := r.Group("/portal", a.shed, a.Sessions.Middleware(), securityHeaders)
	g.GET("/login", websession.Public, a.loginForm)
	g.POST("/login", websession.Public, a.login)
	g.GET("/register", websession.Public, a.registerForm)
	g.POST("/register", websession.Public, a.register)
	g.GET("/forgot", websession.Public, a.forgotForm)
	g.POST("/forgot", websession.Public, a.forgot)
	g.GET("/reset/:token", websession.Public, a.resetForm)
	g.POST("/reset/:token", websession.Public, a.reset)
	g.POST("/lang", websession.Public, a.setLang)

	in := g.Group("", websession.Require(websession.KindGuardian, a.toLogin), websession.Guardian)
	in.GET("", a.home)
	in.GET("/", a.home)
	in.POST("/logout", a.logout)
	in.POST("/logout-everywhere", a.logoutEverywhere)
	in.GET("/link", a.linkForm)
	in.POST("/link", a.link)
	in.GET("/settings", a.settingsForm)
	in.POST("/settings", a.saveSettings)
	in.GET("/export.zip", a.export)
	in.GET("/bookings", a.familyBookingsForm) // bookings_family.go
	in.POST("/bookings", a.familyBook)

	c := in.Group("/c/:tenant/:pupil")
	c.GET("/history", a.history)
	c.GET("/history/chart.svg", a.historyChart)
	c.GET("/bookings", a.bookings)
	c.POST("/bookings/book", a.book)
	c.POST("/bookings/cancel", a.cancel)
	c.POST("/bookings/pattern", a.pattern)
	c.POST("/bookings/sick", a.reportSick) // bookings_sick.go
	c.GET("/topup", a.topupForm)
	c.POST("/topup", a.topup)
	c.GET("/epc.png", a.epcPNG)
	c.GET("/transfer", a.transferForm)
	c.POST("/transfer", a.transfer)
	c.GET("/statements", a.childStatements) // statements.go
	c.GET("/statements/:id", a.childStatementPage)
	c.GET("/statements/:id/pdf", a.childStatementPDF)
	c.POST("/statements/:id/pay-wallet", a.payFromWallet)
	c.POST("/statements/:id/pay-card", a.payByCard)
	c.POST("/statements/:id/plan", a.askPlan)
	c.GET("/estimates/:id", a.childEstimatePage)
	c.GET("/estimates/:id/pdf", a.childEstimatePDF)
	in.GET("/statements/:id", a.statementLink)
	in.GET("/estimates/:id", a.estimateLink)
}

// securityHeaders are the headers of every page (web.SecurityHeaders, as
// on /staff and /admin), forms may also post to Stripe Checkout.
var securityHeaders = web.SecurityHeaders("https://checkout.stripe.com")

// page is what every template receives: the base of every page (web.Page:
// language, CSRF token, title, flash, error, data; T, EUR and Date) and
// the portal's own.
type page struct {
	web.Page
	Account *account
	Base    string // "/portal", or "/admin" for a page served to staff
	Back    string // where the language switch returns
}

// lang picks the language: the account's, else the "lang" cookie, else
// Accept-Language.
func (a *App) lang(c *gin.Context, acct *account) string {
	if acct != nil && acct.Language != "" {
		return i18n.Negotiate(acct.Language)
	}
	return web.Lang(c)
}

// render writes a page with status.
func (a *App) render(c *gin.Context, status int, name, titleKey string, data any, acct *account) {
	p, err := a.newPage(c, acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	p.Title = p.T(titleKey)
	p.Data = data
	if key, args, ok := a.flashes().Take(c); ok {
		p.Flash = p.T(key, args...)
	}
	if e, ok := c.Get("form_error"); ok {
		p.Error = e.(string)
	}
	t, ok := a.pages[name]
	if !ok {
		a.fail(c, fmt.Errorf("portal: no template %s", name))
		return
	}
	if err := web.Render(c, status, t, "layout.html", p); err != nil {
		a.fail(c, err)
	}
}

func (a *App) newPage(c *gin.Context, acct *account) (page, error) {
	tok, err := a.Sessions.Token(c)
	if err != nil {
		return page{}, err
	}
	p := page{Page: web.Page{Lang: a.lang(c, acct), CSRF: tok, Cat: a.Catalog}, Account: acct, Base: "/portal", Back: "/portal/"}
	if path := c.Request.URL.Path; strings.HasPrefix(path, "/admin/") {
		// A portal page served to staff (the letters): the staff session's
		// language switch, back to this page.
		p.Base, p.Back = "/admin", path
	}
	return p, nil
}

// formError re-renders a form with a message for people (status 422 by default).
func (a *App) formError(c *gin.Context, status int, name, titleKey, msg string, data any, acct *account) {
	c.Set("form_error", msg)
	a.render(c, status, name, titleKey, data, acct)
}

// flash redirects (303) after a POST with a message shown once on the next
// page: a catalogue key ("portal.flash.x" when key has no dot) and arguments.
func (a *App) flash(c *gin.Context, to, key string, args ...string) {
	if key != "" && !strings.Contains(key, ".") {
		key = "portal.flash." + key
	}
	a.flashes().Redirect(c, to, key, args...)
}

// flashes are the portal's one-time messages: only catalogue keys of the
// portal, booking and payments are honoured, arguments are plain text.
func (a *App) flashes() web.Flash {
	return web.Flash{Cookie: "flash", Path: "/portal", Secure: strings.HasPrefix(a.BaseURL, "https:"), Allow: []string{"portal.", "booking.", "payments."}}
}

// KindLabel names a ledger transfer kind for people.
func (p page) KindLabel(kind string) string {
	for _, prefix := range []string{"portal.kind.", "booking.kind.", "payments.kind."} {
		if p.Cat.Has(p.Lang, prefix+kind) || p.Cat.Has(i18n.Default, prefix+kind) {
			return p.T(prefix + kind)
		}
	}
	return p.T("wallet.other_kind") // « Opération », never a code
}

// ServiceLabel names a booking service for people: a daycare session's
// catalogue name, the meal type's name when the page's data knows it
// (mealNamer: « Potage »), else « Repas » — never a code.
func (p page) ServiceLabel(s string) string {
	if p.Cat.Has(i18n.Default, "booking.service."+s) {
		return p.T("booking.service." + s)
	}
	if m, ok := p.Data.(mealNamer); ok {
		if name := m.mealName(s); name != "" {
			return name
		}
	}
	return p.T("booking.kind.meal")
}

// notFound answers 404 with a page that shows nothing of the request.
func (a *App) notFound(c *gin.Context) {
	acct, _ := a.currentAccount(c)
	a.render(c, http.StatusNotFound, "error", "error.not_found", nil, acct)
	c.Abort()
}

// fail logs err once and answers 500; a saturated server (too many
// password checks at once) gets the busy page instead.
func (a *App) fail(c *gin.Context, err error) {
	if isBusy(err) {
		a.busy(c)
		return
	}
	web.Errors{Name: "portal", Catalog: a.Catalog, Log: a.Log}.Fail(c, err)
}

// toLogin sends to the login page; a GET keeps its own address (next=) so
// that the login lands there (a statement email's link, for example).
func (a *App) toLogin(c *gin.Context) {
	if c.Request.Method == http.MethodGet {
		if next := nextAfterLogin(c.Request.URL.RequestURI()); next != "" {
			c.Redirect(http.StatusSeeOther, "/portal/login?next="+url.QueryEscape(next))
			return
		}
	}
	c.Redirect(http.StatusSeeOther, "/portal/login")
}

// brussels is the schools' time zone (school-local days and cut-offs).
func brussels() *time.Location { return tz.Brussels }

// actor is the ledger/booking actor of the account.
func actor(acct *account) string { return fmt.Sprintf("portal-account:%d", acct.ID) }
