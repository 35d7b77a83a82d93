package backoffice

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/school"
)

// page is what every template receives.
type page struct {
	Lang   string
	CSRF   string
	User   school.StaffUser
	Title  string
	Flash  string
	Error  string
	Active string // the menu entry of the page
	Data   any
	app    *App
}

// T translates key.
func (p page) T(key string, args ...any) string { return p.app.Catalog.T(p.Lang, key, args...) }

// EUR formats an amount for people.
func (p page) EUR(d decimal.Decimal) string { return i18n.FormatEUR(d, p.Lang) }

// Date writes a day in full.
func (p page) Date(t time.Time) string { return i18n.FormatDate(t, p.Lang) }

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

// lang picks the "lang" cookie, else Accept-Language.
func lang(c *gin.Context) string {
	if v, err := c.Cookie("lang"); err == nil && v != "" {
		return i18n.Negotiate(v)
	}
	return i18n.Negotiate(c.GetHeader("Accept-Language"))
}

// render writes a page.
func (a *App) render(c *gin.Context, status int, name, titleKey, active string, data any) {
	tok, err := a.Sessions.Token(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	p := page{Lang: lang(c), CSRF: tok, User: user(c), Active: active, Data: data, app: a}
	p.Title = p.T(titleKey)
	if f, err := c.Cookie(flashCookie); err == nil && f != "" {
		if msg, isErr := p.flashText(f); isErr {
			p.Error = msg
		} else {
			p.Flash = msg
		}
		c.SetCookie(flashCookie, "", -1, "/admin", "", a.secure(), true)
	}
	if e, ok := c.Get("form_error"); ok {
		p.Error, _ = e.(string)
	}
	t, ok := a.pages[name]
	if !ok {
		a.fail(c, errors.New("backoffice: no template "+name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		a.fail(c, err)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (a *App) secure() bool { return strings.HasPrefix(a.BaseURL, "https:") }

const flashCookie = "admin_flash"

// flash redirects (303) after a POST with a message shown once on the next
// page: a catalogue key under "admin." and plain-text arguments. An error
// flash (key under "admin.error." or another package's error key) is shown
// as an alert.
func (a *App) flash(c *gin.Context, to, key string, args ...string) {
	v := url.QueryEscape(strings.Join(append([]string{key}, args...), "|"))
	c.SetCookie(flashCookie, v, 60, "/admin", "", a.secure(), true)
	c.Redirect(http.StatusSeeOther, to)
}

// flashText turns a flash cookie into a message and says whether it is a
// refusal; only catalogue keys of the back office, booking errors and
// common errors are honoured.
func (p page) flashText(v string) (string, bool) {
	v, err := url.QueryUnescape(v)
	if err != nil {
		return "", false
	}
	parts := strings.Split(v, "|")
	key := parts[0]
	if !strings.HasPrefix(key, "admin.") && !strings.HasPrefix(key, "booking.error.") && !strings.HasPrefix(key, "error.") {
		return "", false
	}
	isErr := strings.HasPrefix(key, "error.") || strings.Contains(key, ".error.")
	args := make([]any, 0, len(parts)-1)
	for _, x := range parts[1:] {
		args = append(args, x)
	}
	return p.T(key, args...), isErr
}

// formError re-renders a page with a message for people (422).
func (a *App) formError(c *gin.Context, name, titleKey, active, msg string, data any) {
	c.Set("form_error", msg)
	a.render(c, http.StatusUnprocessableEntity, name, titleKey, active, data)
}

// forbidden answers 403.
func (a *App) forbidden(c *gin.Context) {
	c.String(http.StatusForbidden, a.Catalog.T(lang(c), "error.forbidden"))
	c.Abort()
}

// notFound answers 404 with nothing of the request.
func (a *App) notFound(c *gin.Context) {
	c.String(http.StatusNotFound, a.Catalog.T(lang(c), "error.not_found"))
	c.Abort()
}

// fail maps domain errors to statuses in one place; unexpected errors are
// logged once and answered 500.
func (a *App) fail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, school.ErrNotFound), errors.Is(err, booking.ErrNotFound), errors.Is(err, ledger.ErrNotFound),
		errors.Is(err, ledger.ErrUnknownAccount):
		a.notFound(c)
		return
	}
	a.Log.Error("back office request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
	c.String(http.StatusInternalServerError, a.Catalog.T(lang(c), "error.internal"))
	c.Abort()
}

// setLang stores the language choice and goes back.
func (a *App) setLang(c *gin.Context) {
	l := i18n.Negotiate(c.PostForm("lang"))
	c.SetCookie("lang", l, 365*24*3600, "/", "", a.secure(), true)
	c.Redirect(http.StatusSeeOther, websession.LocalRedirect(c.PostForm("back"), "/admin", "/admin"))
}
