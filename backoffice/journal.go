package backoffice

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/spreadsheet"
	"tartine/ledger"
)

// maxJournalDays is the longest range one journal export covers.
const maxJournalDays = 800

// JournalColumns are the journal CSV header in French (the file's
// language: Belgian accounting software and Excel fr-BE read it).
var JournalColumns = []string{"transfert", "date", "type", "compte", "débit", "crédit", "libellé"}

// beAmount writes an amount with a comma decimal separator and no
// grouping: "1234,50".
func beAmount(d decimal.Decimal) string {
	return strings.Replace(d.StringFixed(2), ".", ",", 1)
}

// safeCell defuses text that a spreadsheet would run as a formula (the
// journal's writer does it to every cell; kept for its test).
func safeCell(s string) string { return spreadsheet.Cell(s) }

// WriteJournal writes the tenant's postings with business time in [from,
// to) as a Belgian CSV file: UTF-8 with a byte-order mark (so that Excel
// reads the accents), ';' between fields, CRLF line ends, comma decimals,
// dates as dd/mm/yyyy in school-local time; one row per posting (transfer
// id, date, kind, account code, debit, credit, memo), ordered by business
// time and transfer. It returns the number of rows written. The postings
// are the ledger's Journal.
func WriteJournal(ctx context.Context, led *ledger.Ledger, w io.Writer, tenantID int64, from, to time.Time) (int, error) {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return 0, err
	}
	cw := spreadsheet.NewWriter(w) // defuses formulas in every cell
	cw.Comma = ';'
	cw.UseCRLF = true
	if err := cw.Write(JournalColumns); err != nil {
		return 0, err
	}
	loc := brussels()
	n := 0
	rec := make([]string, len(JournalColumns))
	err := led.Journal(ctx, tenantID, from, to, func(j ledger.JournalLine) error {
		debit, credit := decimal.Zero, decimal.Zero
		if j.Amount.IsPositive() {
			debit = j.Amount
		} else {
			credit = j.Amount.Neg()
		}
		rec[0] = strconv.FormatInt(j.TransferID, 10)
		rec[1] = j.OccurredAt.In(loc).Format("02/01/2006")
		rec[2] = j.Kind
		rec[3] = j.AccountCode
		rec[4] = beAmount(debit)
		rec[5] = beAmount(credit)
		rec[6] = j.Memo
		if err := cw.Write(rec); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}

// journalCSV downloads the journal of a range of days (from and to
// inclusive, school-local).
func (a *App) journalCSV(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	from, ok1 := parseDay(c.Query("from"))
	to, ok2 := parseDay(c.Query("to"))
	switch {
	case !ok1:
		a.flash(c, "/admin/books", "admin.error.day", c.Query("from"))
		return
	case !ok2:
		a.flash(c, "/admin/books", "admin.error.day", c.Query("to"))
		return
	case to.Before(from):
		a.flash(c, "/admin/books", "admin.error.range")
		return
	case to.Sub(from) > maxJournalDays*24*time.Hour:
		a.flash(c, "/admin/books", "admin.error.range_long", strconv.Itoa(maxJournalDays))
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="journal-%s-%s.csv"`, from.Format("20060102"), to.Format("20060102")))
	c.Status(http.StatusOK)
	n, err := WriteJournal(ctx, a.Ledger, c.Writer, u.TenantID, dayStart(from), dayStart(to.AddDate(0, 0, 1)))
	if err != nil {
		// Headers are gone: log, and the truncated file lacks its last rows.
		a.Log.Error("journal export failed", "tenant", u.TenantID, "rows", n, "err", err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "ledger.journal_export", "",
		map[string]any{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "rows": n})
}
