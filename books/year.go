package books

import (
	"context"
	"fmt"
	"time"

	"tartine/internal/tz"
	"tartine/ledger"
)

// YearBounds returns the calendar year's first instant and the next year's,
// in Brussels: the organising body's financial year is the calendar year.
func YearBounds(year int) (start, end time.Time) {
	return time.Date(year, time.January, 1, 0, 0, 0, 0, tz.Brussels), time.Date(year+1, time.January, 1, 0, 0, 0, 0, tz.Brussels)
}

// CloseYear closes the tenant's calendar year: the year's income and
// expenses are booked to the result account (equity:result, PCMN 140000 by
// default, created if needed), every period of the year is closed and the
// balance-sheet accounts' balances are recorded as the next year's opening
// balances; wallets and receivables roll over untouched. It returns
// ledger.ErrYearClosed when the year was closed before (a closed year is
// never reopened), ledger.ErrInvalidRequest when the year has not ended,
// ledger.ErrPeriodClosed when the books are closed beyond the year's end.
func (s *Service) CloseYear(ctx context.Context, tenantID int64, year int, actor string) (ledger.YearClose, error) {
	res, err := s.led.EnsureAccount(ctx, tenantID, ledger.AccountSpec{Code: ResultAccount, Name: "Résultat reporté", Type: ledger.Liability})
	if err != nil {
		return ledger.YearClose{}, fmt.Errorf("books: result account: %w", err)
	}
	start, end := YearBounds(year)
	return s.led.CloseYear(ctx, tenantID, start, end, res.ID, actor)
}

// OpeningEntries returns the opening entry of a year (journal misc, one
// line per balance-sheet account, document 0, dated 1 January) from the
// close of the year before; ledger.ErrNotFound when that year is not
// closed. An accounting package that does not carry balances forward
// itself imports it at the start of the new year.
func (s *Service) OpeningEntries(ctx context.Context, tenantID int64, year int) ([]Entry, error) {
	start, _ := YearBounds(year)
	chart, err := s.Chart(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	bals, err := s.led.OpeningBalances(ctx, tenantID, start)
	if err != nil {
		return nil, fmt.Errorf("books: %w", err)
	}
	out := make([]Entry, 0, len(bals))
	for i, b := range bals {
		r, _ := chart.Lookup(b.Code, b.Type)
		out = append(out, Entry{Journal: JournalMisc, Date: start, PCMN: r.PCMN, PCMNLabel: r.Label, Debit: b.Debit, Credit: b.Credit,
			Label: fmt.Sprintf("Bilan d'ouverture %d — %s", year, b.Name), LedgerCode: b.Code, Line: i + 1, TransferKind: "opening"})
	}
	return out, nil
}
