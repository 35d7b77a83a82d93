package backoffice

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/web"
	"tartine/ledger"
	"tartine/school"
)

// page is what every template receives: the base of every page
// (web.Page: language, CSRF token, title, flash, error, data; T, EUR and
// Date) and the back office's own.
type page struct {
	web.Page
	User   school.StaffUser
	Active string // the menu entry of the page
	app    *App
}

// DateTime writes an instant in school-local time.
func (p page) DateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(brussels()).Format("02/01/2006 15:04")
}

// Can reports whether the user may act as role.
func (p page) Can(role string) bool { return p.User.Can(school.Role(role)) }

// AllergenLabel names an allergen code.
func (p page) AllergenLabel(code string) string {
	if k := school.Allergen(code).LabelKey(); p.app.Catalog.Has(i18n.Default, k) {
		return p.T(k)
	}
	return code
}

// lang picks the "lang" cookie, else Accept-Language (web.Lang).
func lang(c *gin.Context) string { return web.Lang(c) }

// render writes a page.
func (a *App) render(c *gin.Context, status int, name, titleKey, active string, data any) {
	tok, err := a.Sessions.Token(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	p := page{Page: web.Page{Lang: lang(c), CSRF: tok, Data: data, Cat: a.Catalog}, User: user(c), Active: active, app: a}
	p.Title = p.T(titleKey)
	if key, args, ok := a.flashes().Take(c); ok {
		if web.IsErrorKey(key) {
			p.Error = p.T(key, args...)
		} else {
			p.Flash = p.T(key, args...)
		}
	}
	if e, ok := c.Get("form_error"); ok {
		p.Error, _ = e.(string)
	}
	t, ok := a.pages[name]
	if !ok {
		a.fail(c, errors.New("backoffice: no template "+name))
		return
	}
	if err := web.Render(c, status, t, "layout.html", p); err != nil {
		a.fail(c, err)
	}
}

func (a *App) secure() bool { return strings.HasPrefix(a.BaseURL, "https:") }

const flashCookie = "admin_flash"

// flashes are the back office's one-time messages: catalogue keys of the
// back office, booking errors and common errors (others show nothing).
func (a *App) flashes() web.Flash {
	return web.Flash{Cookie: flashCookie, Path: "/admin", Secure: a.secure(), Allow: []string{"admin.", "booking.error.", "error."}}
}

// flash redirects (303) after a POST with a message shown once on the next
// page: a catalogue key under "admin." and plain-text arguments. An error
// flash (key under "admin.error." or another package's error key) is shown
// as an alert.
func (a *App) flash(c *gin.Context, to, key string, args ...string) {
	a.flashes().Redirect(c, to, key, args...)
}

// formError re-renders a page with a message for people (422).
func (a *App) formError(c *gin.Context, name, titleKey, active, msg string, data any) {
	c.Set("form_error", msg)
	a.render(c, http.StatusUnprocessableEntity, name, titleKey, active, data)
}

// errs maps the back office's errors to statuses (web.Errors): not found
// in school, booking or the ledger is a 404.
func (a *App) errs() web.Errors {
	return web.Errors{Name: "back office", Catalog: a.Catalog, Log: a.Log,
		NotFound: []error{school.ErrNotFound, booking.ErrNotFound, ledger.ErrNotFound, ledger.ErrUnknownAccount}}
}

// forbidden answers 403.
func (a *App) forbidden(c *gin.Context) { a.errs().Text(c, http.StatusForbidden, "error.forbidden") }

// notFound answers 404 with nothing of the request.
func (a *App) notFound(c *gin.Context) { a.errs().Text(c, http.StatusNotFound, "error.not_found") }

// fail maps domain errors to statuses in one place; unexpected errors are
// logged once and answered 500.
func (a *App) fail(c *gin.Context, err error) { a.errs().Fail(c, err) }

// setLang stores the language choice and goes back.
func (a *App) setLang(c *gin.Context) { web.LangSwitch("/admin", "/admin", a.secure())(c) }
