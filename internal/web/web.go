// Package web is the one web layer of Tartine's HTML pages (portal, back
// office, staff screens): what every page needs and no package should
// write again.
//
//   - Page: the base every page's data embeds (language, CSRF token,
//     title, flash and error messages, the page's data) with the
//     translation and formatting methods the templates call.
//   - Render: a page is executed into a buffer and written only when the
//     template succeeded, so that a template error is a 500 and never a
//     truncated 200.
//   - Errors: domain errors to statuses in one place (404, 403, else a
//     logged 500), answered in the request's language.
//   - Flash: a message shown once on the page after a redirect (a catalogue
//     key and plain-text arguments in a short-lived cookie, only keys of
//     allowed prefixes honoured).
//   - Lang and LangSwitch: the language of a request (the "lang" cookie,
//     else Accept-Language) and the form that changes it.
//   - SecurityHeaders: the headers of every page.
//   - ParsePages and Funcs: templates loaded from an embedded folder with
//     the translation and formatting functions.
//   - The staff login (StaffCookie, StaffLoginPath): one login for the staff
//     screens and the back office.
//
// Body limits are the route policies' (websession.PolicyGuard: a form, an
// upload or an API body each has its limit), so every route has one.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/internal/tz"
	"tartine/internal/websession"
)

// Page is the base of every page's data: templates read .Lang, .CSRF,
// .Title, .Flash, .Error and .Data, and call .T, .EUR and .Date.
type Page struct {
	Lang  string
	CSRF  string
	Title string
	Flash string // a notice shown once (Flash.Take)
	Error string // a refusal shown on the page
	Data  any
	Cat   *i18n.Catalog
}

// T translates key in the page's language.
func (p Page) T(key string, args ...any) string { return p.Cat.T(p.Lang, key, args...) }

// EUR formats an amount for people.
func (p Page) EUR(d decimal.Decimal) string { return i18n.FormatEUR(d, p.Lang) }

// Date writes a day in full.
func (p Page) Date(t time.Time) string { return i18n.FormatDate(t, p.Lang) }

// Render executes the template name of t with data into a buffer and, when
// it succeeded, writes it with status as HTML. On a template error nothing
// is written and the error is returned: the caller answers 500 (a page is
// never cut in the middle with a 200).
func Render(c *gin.Context, status int, t *template.Template, name string, data any) error {
	if t == nil {
		return fmt.Errorf("web: no template for %s", name)
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := t.ExecuteTemplate(buf, name, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes()) // written (copied) before the buffer goes back
	return nil
}

// renderBufs are Render's buffers, reused from page to page: a page of
// tens of kilobytes otherwise grows a new buffer by doubling each time
// (issue 17: the bookings page at a portal rush).
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf is the largest buffer kept for reuse: a rare huge page does
// not stay in memory.
const maxPooledBuf = 1 << 20

func putRenderBuf(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuf {
		return
	}
	buf.Reset()
	renderBufs.Put(buf)
}

// Errors maps errors to statuses and answers them: one of NotFound is a
// 404, one of Forbidden a 403, anything else a 500 logged once. The
// answer is a short text in the request's language that shows nothing of
// the request.
type Errors struct {
	Name      string // who logs: "back office", "portal", "staff screens"
	NotFound  []error
	Forbidden []error
	Catalog   *i18n.Catalog
	Log       *slog.Logger
}

// Status is the HTTP status of err.
func (e Errors) Status(err error) int {
	for _, t := range e.NotFound {
		if errors.Is(err, t) {
			return http.StatusNotFound
		}
	}
	for _, t := range e.Forbidden {
		if errors.Is(err, t) {
			return http.StatusForbidden
		}
	}
	return http.StatusInternalServerError
}

// StatusClientClosed is the status logged for a request whose client left
// before the answer (nginx's 499): not a server failure.
const StatusClientClosed = 499

// Fail answers err with its status and stops the handler chain. A request
// that failed because its client left (a parent closing the page, a load
// generator stopping) is not a server failure: no answer, no error logged.
func (e Errors) Fail(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(StatusClientClosed)
		return
	}
	switch e.Status(err) {
	case http.StatusNotFound:
		e.Text(c, http.StatusNotFound, "error.not_found")
	case http.StatusForbidden:
		e.Text(c, http.StatusForbidden, "error.forbidden")
	default:
		if e.Log != nil {
			route := c.FullPath() // the route, not the address (ids stay out of the log)
			if route == "" {
				route = c.Request.URL.Path
			}
			e.Log.Error(e.Name+" request failed", "method", c.Request.Method, "path", route, "err", err)
		}
		e.Text(c, http.StatusInternalServerError, "error.internal")
	}
}

// Text answers status with the catalogue message key in the request's
// language and stops the handler chain.
func (e Errors) Text(c *gin.Context, status int, key string, args ...any) {
	c.String(status, "%s", e.Catalog.T(Lang(c), key, args...))
	c.Abort()
}

// Lang is the language of a request: the "lang" cookie, else
// Accept-Language (French by default).
func Lang(c *gin.Context) string {
	if v, err := c.Cookie(LangCookie); err == nil && v != "" {
		return i18n.Negotiate(v)
	}
	return i18n.Negotiate(c.GetHeader("Accept-Language"))
}

// LangCookie keeps the language chosen with the switch, for a year.
const LangCookie = "lang"

// SetLang keeps the language posted in the form's "lang" field (French
// when it is not one of i18n.Languages) in the lang cookie and returns it.
func SetLang(c *gin.Context, secure bool) string {
	l := c.PostForm("lang")
	if l != i18n.FR && l != i18n.EN {
		l = i18n.FR
	}
	c.SetSameSite(http.SameSiteLaxMode)
	c.SetCookie(LangCookie, l, 365*24*3600, "/", "", secure, true)
	return l
}

// LangSwitch is the language switch's handler: it keeps the language and
// goes back to the form's "back" address when it is a local page under
// prefix, to fallback otherwise.
func LangSwitch(prefix, fallback string, secure bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		SetLang(c, secure)
		c.Redirect(http.StatusSeeOther, websession.LocalRedirect(c.PostForm("back"), prefix, fallback))
	}
}

// Flash is a message shown once on the page after a redirect: a catalogue
// key and plain-text arguments in a cookie that lives a minute.
type Flash struct {
	Cookie string   // cookie name
	Path   string   // cookie path: the pages that may show it
	Secure bool     // HTTPS only
	Allow  []string // key prefixes honoured; other keys show nothing
}

// Redirect answers 303 to with the message key (and args) kept for the
// next page; an empty key only redirects.
func (f Flash) Redirect(c *gin.Context, to, key string, args ...string) {
	if key != "" {
		c.SetCookie(f.Cookie, strings.Join(append([]string{key}, args...), "|"), 60, f.Path, "", f.Secure, true)
	}
	c.Redirect(http.StatusSeeOther, to)
}

// Take reads and clears the message kept for this page: its key and
// arguments, ok false when there is none or its key is not allowed.
func (f Flash) Take(c *gin.Context) (key string, args []any, ok bool) {
	v, err := c.Cookie(f.Cookie)
	if err != nil || v == "" {
		return "", nil, false
	}
	c.SetCookie(f.Cookie, "", -1, f.Path, "", f.Secure, true)
	parts := strings.Split(v, "|")
	key = parts[0]
	allowed := false
	for _, p := range f.Allow {
		allowed = allowed || strings.HasPrefix(key, p)
	}
	if !allowed {
		return "", nil, false
	}
	for _, a := range parts[1:] {
		args = append(args, a)
	}
	return key, args, true
}

// IsErrorKey reports whether a message key is a refusal (shown as an
// alert): "error.…" or a key with ".error." in it.
func IsErrorKey(key string) bool {
	return strings.HasPrefix(key, "error.") || strings.Contains(key, ".error.")
}

// SecurityHeaders returns the middleware that sets the headers of every
// page: websession.SecurityHeaders (a strict Content-Security-Policy with
// formAction besides 'self' for forms, nosniff, X-Frame-Options,
// Referrer-Policy, Cache-Control: no-store), where it is written once.
func SecurityHeaders(formAction ...string) gin.HandlerFunc {
	return websession.SecurityHeaders(formAction...)
}

// Funcs are the template functions every page may call, on top of the
// Page methods: t (translate), eur, date, hm (a time in the schools'
// zone), add and eq64.
func Funcs(cat *i18n.Catalog) template.FuncMap {
	return template.FuncMap{
		"t":    func(lang, key string, args ...any) string { return cat.T(lang, key, args...) },
		"eur":  func(d decimal.Decimal, lang string) string { return i18n.FormatEUR(d, lang) },
		"date": func(t time.Time, lang string) string { return i18n.FormatDate(t, lang) },
		"hm":   func(t time.Time) string { return i18n.FormatTime(t.In(tz.Brussels), "fr") },
		"add":  func(a, b int) int { return a + b },
		"eq64": func(a, b int64) bool { return a == b },
	}
}

// ParsePages parses each template of dir in fsys (*.html) together with
// the layout (a file of dir, not a page itself) and returns them by page
// name (the file name without .html). funcs are added to Funcs(cat).
func ParsePages(fsys fs.FS, dir, layout string, cat *i18n.Catalog, funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.html"))
	if err != nil {
		return nil, err
	}
	all := Funcs(cat)
	for k, f := range funcs {
		all[k] = f
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base+".html" == layout {
			continue
		}
		t, err := template.New(layout).Funcs(all).ParseFS(fsys, path.Join(dir, layout), n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// ParseAll parses every template of dir in fsys (*.html) into one set, for
// pages that name their blocks themselves (the staff screens). funcs are
// added to Funcs(cat).
func ParseAll(fsys fs.FS, dir string, cat *i18n.Catalog, funcs template.FuncMap) (*template.Template, error) {
	all := Funcs(cat)
	for k, f := range funcs {
		all[k] = f
	}
	return template.New("").Funcs(all).ParseFS(fsys, path.Join(dir, "*.html"))
}

// The staff login: the staff screens (package staff) serve it, the back
// office reads the same session.
const (
	// StaffCookie is the session cookie of the staff screens and the back
	// office (one login for both).
	StaffCookie = "tartine_staff"
	// StaffLoginPath is the staff login page.
	StaffLoginPath = "/staff/login"
)

// StaffLoginURL is the staff login page that goes back to next after
// login (a local address, checked again by the login), or the plain login
// page when next is empty.
func StaffLoginURL(next string) string {
	if next == "" {
		return StaffLoginPath
	}
	return StaffLoginPath + "?next=" + url.QueryEscape(next)
}

// shedKey marks a request refused on purpose under load.
const shedKey = "tartine.shed"

// Shed marks the request as refused on purpose to keep the server
// answering (a 503 with Retry-After: the portal's « réessayez dans un
// instant », a login beyond the password-hashing pool, a device request
// beyond the taps' queue). The server's log counts these instead of
// reporting each as a failure; a 503 not marked (the database not
// answering) stays an error.
func Shed(c *gin.Context) { c.Set(shedKey, true) }

// WasShed reports whether Shed marked the request.
func WasShed(c *gin.Context) bool { return c.GetBool(shedKey) }
