package backoffice

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// tbLine is one line of the trial balance: an account or, grouped, all the
// pupil accounts of one kind.
type tbLine struct {
	Code     string
	Name     string
	Type     ledger.AccountType
	Accounts int // accounts summed on this line
	Debit    decimal.Decimal
	Credit   decimal.Decimal
}

// Balance is debit minus credit: positive for a debit balance.
func (l tbLine) Balance() decimal.Decimal { return l.Debit.Sub(l.Credit) }

// TrialBalance is a tenant's accounts with their posting totals before an
// instant.
type TrialBalance struct {
	Lines  []tbLine
	Debit  decimal.Decimal // total of debits
	Credit decimal.Decimal // total of credits
	Sum    decimal.Decimal // sum of all balances: zero when the books balance
	Idle   int             // accounts without postings (not listed)
}

// Balanced reports whether all balances sum to zero.
func (t TrialBalance) Balanced() bool { return t.Sum.IsZero() && t.Debit.Equal(t.Credit) }

// pupilAccount matches the per-pupil accounts that grouping folds into one
// line ("wallet:42", "receivable:42").
var pupilAccount = regexp.MustCompile(`^(wallet|receivable):\d+$`)

// ReadTrialBalance reads the tenant's trial balance of postings whose
// business time is before until (ledger.TrialBalance). With group, pupil
// wallets and receivables are summed into one line each ("wallet:*",
// "receivable:*").
func ReadTrialBalance(ctx context.Context, led *ledger.Ledger, tenantID int64, until time.Time, group bool) (TrialBalance, error) {
	totals, idle, err := led.TrialBalance(ctx, tenantID, until)
	if err != nil {
		return TrialBalance{}, fmt.Errorf("trial balance: %w", err)
	}
	tb := TrialBalance{Idle: idle}
	grouped := map[string]int{} // prefix → index in tb.Lines
	for _, t := range totals {
		l := tbLine{Code: t.Code, Name: t.Name, Type: t.Type, Accounts: 1, Debit: t.Debit, Credit: t.Credit}
		tb.Debit = tb.Debit.Add(l.Debit)
		tb.Credit = tb.Credit.Add(l.Credit)
		if m := pupilAccount.FindStringSubmatch(l.Code); group && m != nil {
			if i, ok := grouped[m[1]]; ok {
				g := &tb.Lines[i]
				g.Accounts++
				g.Debit, g.Credit = g.Debit.Add(l.Debit), g.Credit.Add(l.Credit)
				continue
			}
			grouped[m[1]] = len(tb.Lines)
			l.Code, l.Name = m[1]+":*", ""
		}
		tb.Lines = append(tb.Lines, l)
	}
	tb.Sum = tb.Debit.Sub(tb.Credit)
	return tb, nil
}

type booksData struct {
	TB          TrialBalance
	At          time.Time // the day the balance is at (end of day)
	Group       bool
	ClosedUntil time.Time // first day still open; zero when never closed
	From, To    time.Time // default journal range
	Today       time.Time
}

// dayStart is the instant day begins in Brussels.
func dayStart(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, brussels())
}

// trialBalance shows the trial balance at the end of a day (today by
// default), with the journal export and period close forms.
func (a *App) trialBalance(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	today := civilDay(a.Now().In(brussels()))
	d := booksData{At: today, Today: today, Group: c.Query("detail") == ""}
	if s := c.Query("at"); s != "" {
		if day, ok := parseDay(s); ok {
			d.At = day
		}
	}
	d.From = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	d.To = today
	var err error
	if d.TB, err = ReadTrialBalance(ctx, a.Ledger, u.TenantID, dayStart(d.At.AddDate(0, 0, 1)), d.Group); err != nil {
		a.fail(c, err)
		return
	}
	if d.ClosedUntil, err = a.Ledger.ClosedUntil(ctx, u.TenantID); err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "books", "admin.books.title", "books", d)
}

type verifyData struct {
	Violations []ledger.Violation
	Elsewhere  int // violations in other tenants (not shown)
	Took       time.Duration
}

// verify runs the ledger invariants (tartine verify) and shows those of the
// user's tenant; violations of other tenants are only counted.
func (a *App) verify(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	start := time.Now()
	all, _, err := a.Ledger.Verify(ctx)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := verifyData{Took: time.Since(start).Round(time.Millisecond)}
	mine := fmt.Sprintf("tenant %d ", u.TenantID)
	mineColon := fmt.Sprintf("tenant %d:", u.TenantID)
	for _, v := range all {
		if strings.HasPrefix(v.Detail, mine) || strings.HasPrefix(v.Detail, mineColon) {
			d.Violations = append(d.Violations, v)
		} else {
			d.Elsewhere++
		}
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "ledger.verify", "", map[string]any{"violations": len(d.Violations)})
	a.render(c, http.StatusOK, "verify", "admin.verify.title", "verify", d)
}

// closePeriod closes the books up to the end of a past day: no transfer may
// occur on or before it any more.
func (a *App) closePeriod(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	day, ok := parseDay(c.PostForm("day"))
	if !ok {
		a.flash(c, "/admin/books", "admin.error.day", c.PostForm("day"))
		return
	}
	today := civilDay(a.Now().In(brussels()))
	if !day.Before(today) {
		a.flash(c, "/admin/books", "admin.error.close_future", day.Format("02/01/2006"))
		return
	}
	if c.PostForm("confirm") != "yes" {
		a.flash(c, "/admin/books", "admin.error.close_confirm")
		return
	}
	until := dayStart(day.AddDate(0, 0, 1))
	prev, err := a.Ledger.ClosedUntil(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	if !prev.IsZero() && !until.After(prev) {
		a.flash(c, "/admin/books", "admin.error.close_earlier", prev.In(brussels()).AddDate(0, 0, -1).Format("02/01/2006"))
		return
	}
	if err := a.Ledger.ClosePeriod(ctx, u.TenantID, until, u.Actor()); err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "ledger.close_period", "", map[string]any{"until": until.Format(time.RFC3339)})
	a.flash(c, "/admin/books", "admin.flash.closed", day.Format("02/01/2006"))
}
