package statements

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/ledger"
	"tartine/school"
)

// Age bands of the aged receivables, in days since the statement that
// claimed the money was issued. School-invoice debts prescribe after one
// year (Cass. 28-06-2018, FEES.md §8): from WarnDays on, the view warns.
var AgeBands = []int{30, 90, 180, 300} // 0–30, 31–90, 91–180, 181–300, over 300

// WarnDays is the age from which a debt is flagged as approaching its
// one-year prescription.
const WarnDays = 300

// Receivable is what one pupil owes on issued statements.
type Receivable struct {
	PupilID     int64
	Pupil       string
	Class       string
	Outstanding decimal.Decimal
	Bands       []decimal.Decimal // one per band: len(AgeBands)+1
	OldestDays  int               // age of the oldest unpaid euro
	Warn        bool              // approaching the one-year prescription
	LastNumber  string            // latest statement
	LastID      int64
}

// AgedReceivables returns, per pupil with something outstanding on its
// issued statements as of asOf, the amount by age band. Only what an
// issued statement claims counts (RuleUnclaimable): a fee on no statement
// is not a debt.
func (s *Service) AgedReceivables(ctx context.Context, tenantID int64, asOf time.Time) ([]Receivable, error) {
	return s.aged(ctx, tenantID, 0, asOf)
}

// Outstanding returns what the pupil owes on its issued statements as of
// asOf (zero when nothing).
func (s *Service) Outstanding(ctx context.Context, tenantID, pupilID int64, asOf time.Time) (decimal.Decimal, error) {
	rs, err := s.aged(ctx, tenantID, pupilID, asOf)
	if err != nil || len(rs) == 0 {
		return decimal.Zero, err
	}
	return rs[0].Outstanding, nil
}

// aged is AgedReceivables for one pupil (pupilID ≠ 0) or all.
func (s *Service) aged(ctx context.Context, tenantID, pupilID int64, asOf time.Time) ([]Receivable, error) {
	rows, err := s.pool.Query(ctx, `SELECT st.id, st.number, st.pupil_id, st.content, sp.ends_on
		FROM statements st JOIN statement_periods sp ON sp.tenant_id = st.tenant_id AND sp.id = st.period_id
		WHERE st.tenant_id = $1 AND ($2 = 0 OR st.pupil_id = $2)
		  AND NOT EXISTS (SELECT 1 FROM statements n WHERE n.tenant_id = st.tenant_id AND n.number = st.number AND n.version > st.version)
		ORDER BY st.pupil_id, sp.starts_on`, tenantID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("aged receivables: %w", err)
	}
	type item struct {
		id     int64
		number string
		c      Content
		end    time.Time
	}
	byPupil := map[int64][]item{}
	var order []int64
	var it item
	var pupil int64
	var body []byte
	if _, err := pgx.ForEachRow(rows, []any{&it.id, &it.number, &pupil, &body, &it.end}, func() error {
		x := it
		if err := jsonUnmarshal(body, &x.c); err != nil {
			return err
		}
		if _, ok := byPupil[pupil]; !ok {
			order = append(order, pupil)
		}
		byPupil[pupil] = append(byPupil[pupil], x)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("aged receivables: %w", err)
	}
	// Money received after each pupil's latest statement's period.
	groups := map[time.Time][]int64{} // period end → receivable accounts
	accountOf := map[int64]int64{}
	feesAccount, err := fees.ReceivableAccounts(ctx, s.ledger, tenantID, order)
	if err != nil {
		return nil, err
	}
	for _, p := range order {
		accountOf[p] = feesAccount[p]
		items := byPupil[p]
		end := items[len(items)-1].end
		groups[end] = append(groups[end], feesAccount[p])
	}
	after := map[int64]decimal.Decimal{}
	for end, accts := range groups {
		kts, err := s.ledger.KindTotals(ctx, tenantID, accts, startOfDay(end.AddDate(0, 0, 1)), asOf.Add(time.Microsecond)) // PostgreSQL keeps microseconds
		if err != nil {
			return nil, err
		}
		for _, k := range kts {
			switch k.Kind {
			case "fee", "fee-cancel", "fee-credit":
				continue
			}
			after[k.AccountID] = after[k.AccountID].Sub(k.Amount)
		}
	}
	var out []Receivable
	day := civil(asOf.In(brussels()))
	for _, p := range order {
		items := byPupil[p]
		last := items[len(items)-1]
		o := last.c.TotalDue.Sub(after[accountOf[p]])
		if !o.IsPositive() {
			continue
		}
		r := Receivable{PupilID: p, Pupil: last.c.Pupil.FirstName + " " + last.c.Pupil.LastName, Class: last.c.Pupil.Class,
			Outstanding: o, Bands: make([]decimal.Decimal, len(AgeBands)+1), LastNumber: last.number, LastID: last.id}
		// Oldest charges are paid first: what is left belongs to the newest
		// statements' charges.
		left := o
		for i := len(items) - 1; i >= 0 && left.IsPositive(); i-- {
			part := decimal.Min(left, decimal.Max(items[i].c.Fees, decimal.Zero))
			if i == 0 {
				part = left
			}
			if !part.IsPositive() {
				continue
			}
			age := int(day.Sub(items[i].c.IssuedOn).Hours() / 24)
			r.Bands[band(age)] = r.Bands[band(age)].Add(part)
			r.OldestDays = max(r.OldestDays, age)
			left = left.Sub(part)
		}
		r.Warn = r.OldestDays >= WarnDays
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OldestDays > out[j].OldestDays })
	return out, nil
}

func band(age int) int {
	for i, b := range AgeBands {
		if age <= b {
			return i
		}
	}
	return len(AgeBands)
}

// WriteOff books an amount a pupil owes as lost: receivable:<pupil> →
// expense:write-off, kind "write-off", with the reason, audited. The next
// statement shows it. It returns ErrInvalid for an amount that is not
// positive with at most two decimals or more than is outstanding, or an
// empty reason.
func (s *Service) WriteOff(ctx context.Context, tenantID, pupilID int64, amount decimal.Decimal, reason, actor string) (ledger.Transfer, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return ledger.Transfer{}, invalid("a write-off needs a reason")
	}
	if !amount.IsPositive() || !amount.Equal(amount.Round(2)) {
		return ledger.Transfer{}, invalid("write-off amount %s: positive, at most two decimals", amount)
	}
	owed, err := s.Outstanding(ctx, tenantID, pupilID, s.now())
	if err != nil {
		return ledger.Transfer{}, err
	}
	if amount.GreaterThan(owed) {
		return ledger.Transfer{}, invalid("write-off of %s € is more than the %s € outstanding on issued statements", amount.StringFixed(2), owed.StringFixed(2))
	}
	pu, err := s.school.Pupil(ctx, tenantID, pupilID)
	if err != nil {
		return ledger.Transfer{}, err
	}
	receivable, err := fees.ReceivableAccount(ctx, s.ledger, nil, tenantID, pu)
	if err != nil {
		return ledger.Transfer{}, err
	}
	exp, err := s.ledger.AccountByCode(ctx, tenantID, school.AccountWriteOff)
	if err != nil {
		return ledger.Transfer{}, err
	}
	now := s.now()
	t, err := s.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: tenantID, IdempotencyKey: fmt.Sprintf("write-off:%d:%d", pupilID, now.UnixNano()),
		Kind: KindWriteOff, OccurredAt: now, Actor: actor, Memo: reason,
		Postings: []ledger.Posting{{AccountID: exp.ID, Amount: amount}, {AccountID: receivable, Amount: amount.Neg()}}})
	if err != nil {
		return ledger.Transfer{}, err
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.write_off", fmt.Sprint("pupil:", pupilID), map[string]any{"amount": amount.StringFixed(2), "reason": reason, "transfer": t.ID})
	return t, nil
}

// Remind sends a polite reminder of a statement to every guardian it is
// addressed to (never the pupil), recorded with the sends. It refuses with
// a *RuleError RuleUnclaimable when nothing is outstanding on the pupil's
// issued statements (a fee that is on no issued statement cannot be
// reminded), and ErrInvalid for an old version.
func (s *Service) Remind(ctx context.Context, tenantID, statementID int64, portalURL, actor string) (SendReport, error) {
	st, err := s.Get(ctx, tenantID, statementID)
	if err != nil {
		return SendReport{}, err
	}
	if !st.Latest {
		return SendReport{}, invalid("statement %s v%d was replaced: remind the latest version", st.Number, st.Version)
	}
	owed, err := s.Outstanding(ctx, tenantID, st.PupilID, s.now())
	if err != nil {
		return SendReport{}, err
	}
	if !owed.IsPositive() {
		return SendReport{}, refused(RuleUnclaimable, "statement %s claims nothing outstanding: only what an issued statement claims may be reminded", st.Number)
	}
	var rep SendReport
	if err := s.sendOne(ctx, st, "reminder", portalURL, actor, nil, &rep); err != nil {
		return rep, err
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.remind", st.Number, map[string]any{"sent": rep.Sent})
	return rep, nil
}

// UnclaimableLines returns the fee lines dated before day that are on no
// issued statement: the law forbids claiming them (RuleUnclaimable), so
// the accountant sees them to catch up on the next statement or cancel.
func (s *Service) UnclaimableLines(ctx context.Context, tenantID int64, day time.Time) ([]fees.Line, error) {
	return fees.UnissuedBefore(ctx, s.pool, tenantID, nil, day)
}

// RemindFeeLine refuses, always, to remind a fee line that is on no
// issued statement (RuleUnclaimable); for a line on a statement it returns
// that statement's id, to remind with Remind.
func (s *Service) RemindFeeLine(ctx context.Context, tenantID, lineID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT statement_id FROM statement_fee_lines WHERE tenant_id = $1 AND line_id = $2 ORDER BY statement_id DESC LIMIT 1`, tenantID, lineID).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, refused(RuleUnclaimable, "fee line %d is on no issued statement: it cannot be claimed", lineID)
	}
	if err != nil {
		return 0, fmt.Errorf("fee line %d: %w", lineID, err)
	}
	return id, nil
}
