package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/books"
	"tartine/internal/i18n"
	"tartine/ledger"
	"tartine/school"
)

// mountAccounts registers the accountant's year pages on the books group:
// the PCMN mapping, the journal export by journal (CSV or WinBooks), the
// year-end close and the next year's opening entry.
func (a *App) mountAccounts(ac *gin.RouterGroup) {
	ac.GET("/accounts", a.accountsPage)
	ac.POST("/accounts", a.saveAccountRule) // organising-body level only (checked in the handler)
	ac.GET("/export", a.exportBooks)
	ac.GET("/opening", a.exportOpening)
	ac.POST("/year-close", a.closeYear) // organising-body level only (checked in the handler)
}

// mayEditBooks reports whether the user acts for the whole organising body
// (not bound to one school): only they change the mapping or close a year.
func mayEditBooks(u school.StaffUser) bool { return u.SchoolID == 0 }

type accountsData struct {
	Chart    books.Chart
	Unmapped []string
	Years    []ledger.YearClose
	Journals []books.Journal
	From, To time.Time
	Year     int // the last ended calendar year
	CanEdit  bool
}

func (a *App) books() *books.Service { return books.New(a.Ledger, a.Now) }

// accountsPage shows the mapping, the export form and the year close.
func (a *App) accountsPage(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	svc := a.books()
	today := civilDay(a.Now().In(brussels()))
	d := accountsData{Journals: books.Journals, Year: today.Year() - 1, CanEdit: mayEditBooks(u),
		From: time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC), To: today}
	var err error
	if d.Chart, err = svc.Chart(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	if d.Unmapped, err = svc.Unmapped(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	if d.Years, err = a.Ledger.YearCloses(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "books_accounts", "admin.accounts.title", "books", d)
}

// saveAccountRule records the organising body's PCMN number for a ledger
// code or prefix.
func (a *App) saveAccountRule(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	pattern, pcmn := c.PostForm("pattern"), c.PostForm("pcmn")
	err := a.books().SetRule(ctx, u.TenantID, pattern, pcmn, c.PostForm("label"), u.Actor())
	if errors.Is(err, books.ErrInvalid) {
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.rule", pattern, pcmn)
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "books.pcmn_rule", pattern, map[string]any{"pcmn": pcmn})
	a.flash(c, "/admin/books/accounts", "admin.accounts.flash.saved", pattern, pcmn)
}

// exportBooks downloads the entries of a range of days (inclusive, school
// local) of one journal or all, as the documented CSV (format=csv) or
// WinBooks' ACT.txt (format=winbooks, book year code bookyear).
func (a *App) exportBooks(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	from, ok1 := parseDay(c.Query("from"))
	to, ok2 := parseDay(c.Query("to"))
	j, okJ := books.ParseJournal(c.Query("journal"))
	format := c.DefaultQuery("format", "csv")
	bookYear := c.DefaultQuery("bookyear", "1")
	switch {
	case !ok1:
		a.flash(c, "/admin/books/accounts", "admin.error.day", c.Query("from"))
		return
	case !ok2:
		a.flash(c, "/admin/books/accounts", "admin.error.day", c.Query("to"))
		return
	case to.Before(from):
		a.flash(c, "/admin/books/accounts", "admin.error.range")
		return
	case to.Sub(from) > maxJournalDays*24*time.Hour:
		a.flash(c, "/admin/books/accounts", "admin.error.range_long", strconv.Itoa(maxJournalDays))
		return
	case !okJ || (format != "csv" && format != "winbooks") || len(bookYear) != 1:
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.export")
		return
	}
	entries, err := a.books().Entries(ctx, u.TenantID, dayStart(from), dayStart(to.AddDate(0, 0, 1)), j)
	if err != nil {
		a.fail(c, err)
		return
	}
	name := "all"
	if j != "" {
		name = string(j)
	}
	a.sendEntries(c, entries, format, bookYear, fmt.Sprintf("journal-%s-%s-%s", name, from.Format("20060102"), to.Format("20060102")))
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "books.export", "",
		map[string]any{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "journal": name, "format": format, "rows": len(entries)})
}

// exportOpening downloads a year's opening entry (from the close of the
// year before).
func (a *App) exportOpening(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	year, err := strconv.Atoi(c.Query("year"))
	format := c.DefaultQuery("format", "csv")
	if err != nil || year < 2000 || year > 2200 || (format != "csv" && format != "winbooks") {
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.export")
		return
	}
	entries, err := a.books().OpeningEntries(ctx, u.TenantID, year)
	if errors.Is(err, ledger.ErrNotFound) {
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.not_closed", strconv.Itoa(year-1))
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.sendEntries(c, entries, format, c.DefaultQuery("bookyear", "1"), fmt.Sprintf("ouverture-%d", year))
}

func (a *App) sendEntries(c *gin.Context, entries []books.Entry, format, bookYear, name string) {
	if format == "winbooks" {
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-ACT.txt"`, name))
		c.Status(http.StatusOK)
		if err := books.WriteWinBooks(c.Writer, entries, bookYear); err != nil {
			a.Log.Error("books export failed", "err", err)
		}
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, name))
	c.Status(http.StatusOK)
	if err := books.WriteCSV(c.Writer, entries); err != nil {
		a.Log.Error("books export failed", "err", err)
	}
}

// closeYear closes a calendar year after confirmation.
func (a *App) closeYear(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	if !mayEditBooks(u) {
		a.forbidden(c)
		return
	}
	year, err := strconv.Atoi(c.PostForm("year"))
	if err != nil || year < 2000 || year > 2200 {
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.year", c.PostForm("year"))
		return
	}
	if c.PostForm("confirm") != "yes" {
		a.flash(c, "/admin/books/accounts", "admin.error.close_confirm")
		return
	}
	yc, err := a.books().CloseYear(ctx, u.TenantID, year, u.Actor())
	switch {
	case errors.Is(err, ledger.ErrYearClosed):
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.closed", strconv.Itoa(year))
		return
	case errors.Is(err, ledger.ErrInvalidRequest):
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.not_ended", strconv.Itoa(year))
		return
	case errors.Is(err, ledger.ErrPeriodClosed):
		a.flash(c, "/admin/books/accounts", "admin.accounts.error.later_closed", strconv.Itoa(year))
		return
	case err != nil:
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "books.year_close", strconv.Itoa(year), map[string]any{"result": yc.Result.StringFixed(2)})
	a.flash(c, "/admin/books/accounts", "admin.accounts.flash.year_closed", strconv.Itoa(year), i18n.FormatEUR(yc.Result, lang(c)))
}
