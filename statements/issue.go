package statements

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/ledger"
	"tartine/school"
	"tartine/sepa"
)

// Preview is what issuing a period would produce, written nowhere.
type Preview struct {
	Period     Period
	Statements []Content // numbers and communications are given at issue
	Total      decimal.Decimal
	Facilities int       // statements offering payment facilities
	Skipped    []Skipped // pupils with something to show and no guardian
	Existing   int       // pupils already issued for the period (see Reissue)
	// EstimateSent is false when the year's estimate was never sent and no
	// admin overrode it: Issue will refuse.
	EstimateSent bool
}

// Preview builds the statements of a period without writing anything.
func (s *Service) Preview(ctx context.Context, tenantID, periodID int64) (Preview, error) {
	p, err := s.Period(ctx, tenantID, periodID)
	if err != nil {
		return Preview{}, err
	}
	b, err := s.draft(ctx, p, nil)
	if err != nil {
		return Preview{}, err
	}
	pv := Preview{Period: p, Skipped: b.skipped, Existing: len(b.existing)}
	for _, c := range b.drafts {
		if _, done := b.existing[c.Pupil.ID]; done {
			continue
		}
		pv.Statements = append(pv.Statements, c)
		pv.Total = pv.Total.Add(decimal.Max(c.TotalDue, decimal.Zero))
		if c.Facilities {
			pv.Facilities++
		}
	}
	pv.EstimateSent, err = s.EstimateSentOrOverridden(ctx, tenantID, p.SchoolYear)
	return pv, err
}

// Run is one issue of a period's statements and its sending.
type Run struct {
	TenantID   int64
	ID         int64
	PeriodID   int64
	Status     string // issued, sent
	Statements int
	Total      decimal.Decimal
	IssuedBy   string
	IssuedAt   time.Time
	SentBy     string
	SentAt     time.Time // zero until sent
}

// Progress is called after each chunk of statements is built or sent
// (done of total); nil: no report.
type Progress func(done, total int)

const issueChunk = 500

// Issue numbers and records the statements of a period for every pupil
// with anything to show that has none for it yet, in one transaction: the
// snapshots with their hashes, one structured communication per payer, the
// fee lines frozen (fees.MarkIssued), and a run. It refuses with a
// *RuleError RuleEstimateSent when the year's estimate was never sent and
// not overridden. A period with nothing new returns ErrInvalid.
func (s *Service) Issue(ctx context.Context, tenantID, periodID int64, actor string, progress Progress) (Run, error) {
	p, err := s.Period(ctx, tenantID, periodID)
	if err != nil {
		return Run{}, err
	}
	ok, err := s.EstimateSentOrOverridden(ctx, tenantID, p.SchoolYear)
	if err != nil {
		return Run{}, err
	}
	if !ok {
		return Run{}, refused(RuleEstimateSent, "the estimate of %s was never sent to the guardians", p.SchoolYear)
	}
	b, err := s.draft(ctx, p, nil)
	if err != nil {
		return Run{}, err
	}
	var todo []Content
	for _, c := range b.drafts {
		if _, done := b.existing[c.Pupil.ID]; !done {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return Run{}, invalid("period %s: no new statement to issue", p.Label())
	}
	now := s.now()
	run := Run{TenantID: tenantID, PeriodID: p.ID, Status: "issued", Statements: len(todo), IssuedBy: actor, IssuedAt: now}
	for _, c := range todo {
		run.Total = run.Total.Add(decimal.Max(c.TotalDue, decimal.Zero))
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(tenantID), int32(0x57A7)); err != nil {
			return err
		}
		// Another issue may have run meanwhile.
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM statements WHERE tenant_id = $1 AND period_id = $2`, tenantID, p.ID).Scan(&n); err != nil {
			return err
		}
		if n != len(b.existing) {
			return invalid("period %s was issued meanwhile: preview again", p.Label())
		}
		if err := tx.QueryRow(ctx, `INSERT INTO statement_runs (tenant_id, period_id, status, statements, total, issued_by, issued_at)
			VALUES ($1, $2, 'issued', $3, $4, $5, $6) RETURNING id`, tenantID, p.ID, run.Statements, run.Total, actor, now).Scan(&run.ID); err != nil {
			return err
		}
		next, err := nextNumber(ctx, tx, tenantID, p.SchoolYear)
		if err != nil {
			return err
		}
		payers := 0
		for _, c := range todo {
			payers += len(c.Payers)
		}
		ogms, err := school.ReserveOGMsTx(ctx, tx, tenantID, payers)
		if err != nil {
			return err
		}
		for i := range todo {
			c := &todo[i]
			c.Number = formatNumber(p.SchoolYear, next+i)
			c.Version = 1
			for j := range c.Payers {
				c.Payers[j].OGM, ogms = ogms[0], ogms[1:]
			}
		}
		for start := 0; start < len(todo); start += issueChunk {
			end := min(start+issueChunk, len(todo))
			if err := s.insert(ctx, tx, tenantID, run.ID, actor, now, todo[start:end], b.lineIDs); err != nil {
				return err
			}
			if progress != nil {
				progress(end, len(todo))
			}
		}
		return nil
	})
	if err != nil {
		var re *RuleError
		if errors.As(err, &re) || errors.Is(err, ErrInvalid) {
			return Run{}, err
		}
		return Run{}, mapErr(err, "issue "+p.Label())
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.issue", p.Label(), map[string]any{"run": run.ID, "statements": run.Statements, "total": run.Total.StringFixed(2)})
	return run, nil
}

// insert records a chunk of statements with their payers and lines.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, tenantID, runID int64, actor string, now time.Time, cs []Content, lineIDs map[int64][]int64) error {
	batch := &pgx.Batch{}
	for _, c := range cs {
		body, hash, err := c.encode()
		if err != nil {
			return err
		}
		var runArg *int64
		if runID != 0 {
			runArg = &runID
		}
		n := len(c.Payers)
		seq, guardians, amounts, ogms := make([]int32, n), make([]*int64, n), make([]decimal.Decimal, n), make([]string, n)
		for i, py := range c.Payers {
			seq[i] = int32(i + 1)
			if py.GuardianID != 0 {
				g := py.GuardianID
				guardians[i] = &g
			}
			amounts[i], ogms[i] = py.Amount, py.OGM
		}
		lines := lineIDs[c.Pupil.ID]
		if lines == nil {
			lines = []int64{}
		}
		batch.Queue(`WITH st AS (
				INSERT INTO statements (tenant_id, number, version, period_id, run_id, school_id, pupil_id, total_due, due_on, content, content_hash, changes, issued_by, issued_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id),
			py AS (INSERT INTO statement_payers (tenant_id, statement_id, payer, guardian_id, amount, ogm)
				SELECT $1, st.id, x.n, x.g, x.a, x.o FROM st, unnest($15::int[], $16::bigint[], $17::numeric[], $18::text[]) AS x(n, g, a, o))
			INSERT INTO statement_fee_lines (tenant_id, statement_id, line_id) SELECT $1, st.id, l FROM st, unnest($19::bigint[]) AS l`,
			tenantID, c.Number, c.Version, c.Period.ID, runArg, c.School.ID, c.Pupil.ID, c.TotalDue, c.DueOn, body, hash, c.Changes, actor, now,
			seq, guardians, amounts, ogms, lines)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("record statements: %w", err)
	}
	for _, c := range cs {
		if err := fees.MarkIssued(ctx, tx, tenantID, lineIDs[c.Pupil.ID], c.Number); err != nil {
			return fmt.Errorf("statement %s: %w", c.Number, err)
		}
	}
	return nil
}

// formatNumber writes statement number n of a school year: ST-2026-000123.
func formatNumber(year string, n int) string { return fmt.Sprintf("ST-%s-%06d", year[:4], n) }

func nextNumber(ctx context.Context, tx pgx.Tx, tenantID int64, year string) (int, error) {
	prefix := "ST-" + year[:4] + "-"
	var last string
	err := tx.QueryRow(ctx, `SELECT coalesce(max(number), '') FROM statements WHERE tenant_id = $1 AND number LIKE $2`, tenantID, prefix+"%").Scan(&last)
	if err != nil {
		return 0, err
	}
	if last == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(last, prefix))
	if err != nil {
		return 0, fmt.Errorf("statement number %q: %w", last, err)
	}
	return n + 1, nil
}

// Statement is one issued version.
type Statement struct {
	TenantID int64
	ID       int64
	Number   string
	Version  int
	PeriodID int64
	RunID    int64
	PupilID  int64
	TotalDue decimal.Decimal
	DueOn    time.Time
	IssuedAt time.Time
	IssuedBy string
	Hash     []byte
	Content  Content
	Latest   bool // no later version exists
}

// HashOK reports whether the stored content still has the stored hash.
func (st Statement) HashOK() bool {
	h := st.Content.Hash()
	return string(h) == string(st.Hash)
}

const statementCols = `st.tenant_id, st.id, st.number, st.version, st.period_id, coalesce(st.run_id, 0), st.pupil_id, st.total_due, st.due_on,
	st.issued_at, st.issued_by, st.content_hash, st.content,
	NOT EXISTS (SELECT 1 FROM statements n WHERE n.tenant_id = st.tenant_id AND n.number = st.number AND n.version > st.version)`

func scanStatement(row pgx.Row) (Statement, error) {
	var st Statement
	var body []byte
	err := row.Scan(&st.TenantID, &st.ID, &st.Number, &st.Version, &st.PeriodID, &st.RunID, &st.PupilID, &st.TotalDue, &st.DueOn,
		&st.IssuedAt, &st.IssuedBy, &st.Hash, &body, &st.Latest)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st.Content); err != nil {
		return st, fmt.Errorf("statement %d: content: %w", st.ID, err)
	}
	return st, nil
}

func collectStatements(rows pgx.Rows, err error) ([]Statement, error) {
	if err != nil {
		return nil, fmt.Errorf("statements: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Statement, error) { return scanStatement(r) })
	if err != nil {
		return nil, fmt.Errorf("statements: %w", err)
	}
	return out, nil
}

// Get returns one statement version, or ErrNotFound.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (Statement, error) {
	st, err := scanStatement(s.pool.QueryRow(ctx, `SELECT `+statementCols+` FROM statements st WHERE st.tenant_id = $1 AND st.id = $2`, tenantID, id))
	return st, mapErr(err, fmt.Sprint("statement ", id))
}

// OfPupil returns the pupil's statements, every version, latest first.
func (s *Service) OfPupil(ctx context.Context, tenantID, pupilID int64) ([]Statement, error) {
	return collectStatements(s.pool.Query(ctx, `SELECT `+statementCols+` FROM statements st
		WHERE st.tenant_id = $1 AND st.pupil_id = $2 ORDER BY st.issued_at DESC, st.version DESC`, tenantID, pupilID))
}

// OfRun returns a run's statements by number.
func (s *Service) OfRun(ctx context.Context, tenantID, runID int64) ([]Statement, error) {
	return collectStatements(s.pool.Query(ctx, `SELECT `+statementCols+` FROM statements st
		WHERE st.tenant_id = $1 AND st.run_id = $2 ORDER BY st.number, st.version`, tenantID, runID))
}

// Addressed reports whether the guardian is an addressee of the statement
// (the portal shows a statement only to them).
func (st Statement) Addressed(guardianID int64) bool {
	for _, a := range st.Content.Addressees {
		if a.GuardianID == guardianID {
			return true
		}
	}
	return false
}

// Reissue records a new version of a statement, rebuilt from today's
// data, with what changed; the old version stays as it was. It returns
// ErrUnchanged when the rebuilt statement claims the same, and ErrInvalid
// when id is not the latest version or a statement of a later period was
// issued for the pupil (its balance builds on this one: correct with a
// credit note instead).
func (s *Service) Reissue(ctx context.Context, tenantID, id int64, actor string) (Statement, error) {
	old, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return Statement{}, err
	}
	if !old.Latest {
		return Statement{}, invalid("statement %s v%d is not the latest version", old.Number, old.Version)
	}
	p, err := s.Period(ctx, tenantID, old.PeriodID)
	if err != nil {
		return Statement{}, err
	}
	var later bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM statements st JOIN statement_periods sp ON sp.tenant_id = st.tenant_id AND sp.id = st.period_id
		WHERE st.tenant_id = $1 AND st.pupil_id = $2 AND sp.starts_on > $3)`, tenantID, old.PupilID, p.From).Scan(&later); err != nil {
		return Statement{}, fmt.Errorf("reissue %s: %w", old.Number, err)
	}
	if later {
		return Statement{}, invalid("statement %s: a later statement of the pupil is issued; correct with a credit note, which the next statement shows", old.Number)
	}
	b, err := s.draft(ctx, p, []int64{old.PupilID})
	if err != nil {
		return Statement{}, err
	}
	if len(b.drafts) != 1 {
		return Statement{}, invalid("statement %s: the pupil has nothing to show any more or no guardian", old.Number)
	}
	c := b.drafts[0]
	if c.sameAs(old.Content) {
		return Statement{}, ErrUnchanged
	}
	c.Number, c.Version = old.Number, old.Version+1
	c.Changes = describeChanges(old.Content, c)
	now := s.now()
	var newID int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(tenantID), int32(0x57A7)); err != nil {
			return err
		}
		ogms, err := school.ReserveOGMsTx(ctx, tx, tenantID, len(c.Payers))
		if err != nil {
			return err
		}
		for j := range c.Payers {
			c.Payers[j].OGM = ogms[j]
		}
		if err := s.insert(ctx, tx, tenantID, 0, actor, now, []Content{c}, b.lineIDs); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM statements WHERE tenant_id = $1 AND number = $2 AND version = $3`, tenantID, c.Number, c.Version).Scan(&newID)
	})
	if err != nil {
		return Statement{}, mapErr(err, "reissue "+old.Number)
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.reissue", c.Number, map[string]any{"version": c.Version, "changes": c.Changes})
	return s.Get(ctx, tenantID, newID)
}

// describeChanges says in a line what a new version changed (fr-BE, the
// statement's language of record).
func describeChanges(old, now Content) string {
	var parts []string
	had := map[int64]Line{}
	for _, l := range old.Lines {
		had[l.ID] = l
	}
	for _, l := range now.Lines {
		if o, ok := had[l.ID]; !ok {
			parts = append(parts, fmt.Sprintf("ligne ajoutée : %s (%s €)", l.Object, l.Signed().StringFixed(2)))
		} else if !o.Signed().Equal(l.Signed()) {
			parts = append(parts, fmt.Sprintf("ligne modifiée : %s (%s € → %s €)", l.Object, o.Signed().StringFixed(2), l.Signed().StringFixed(2)))
		}
		delete(had, l.ID)
	}
	for _, l := range had {
		parts = append(parts, fmt.Sprintf("ligne retirée : %s", l.Object))
	}
	if !old.Payments.Equal(now.Payments) {
		parts = append(parts, fmt.Sprintf("paiements reçus %s € → %s €", old.Payments.StringFixed(2), now.Payments.StringFixed(2)))
	}
	if !old.Previous.Equal(now.Previous) {
		parts = append(parts, fmt.Sprintf("solde précédent %s € → %s €", old.Previous.StringFixed(2), now.Previous.StringFixed(2)))
	}
	if old.Split != now.Split || len(old.Addressees) != len(now.Addressees) {
		parts = append(parts, "destinataires ou répartition modifiés")
	}
	if !old.TotalDue.Equal(now.TotalDue) {
		parts = append(parts, fmt.Sprintf("total dû %s € → %s €", old.TotalDue.StringFixed(2), now.TotalDue.StringFixed(2)))
	}
	if len(parts) == 0 {
		parts = append(parts, "services ou coordonnées mis à jour")
	}
	return fmt.Sprintf("Remplace la version %d : %s.", old.Version, strings.Join(parts, " ; "))
}

// PayerRef is what a structured communication of a statement pays.
type PayerRef struct {
	StatementID         int64
	Number              string
	Version             int
	PupilID             int64
	ReceivableAccountID int64 // book the money here: bank → fees:<pupil>
	GuardianID          int64 // 0: any guardian
	Amount              decimal.Decimal
	OGM                 string
}

// ByCommunication returns the statement payer whose structured
// communication is ogm (any form sepa.ParseOGM accepts), or ErrNotFound
// (also for a malformed communication).
func (s *Service) ByCommunication(ctx context.Context, tenantID int64, ogm string) (PayerRef, error) {
	var r PayerRef
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		r, err = s.PayerByOGMTx(ctx, tx, tenantID, ogm)
		return err
	})
	return r, err
}

// PayerByOGMTx is ByCommunication read in the caller's transaction tx (the
// bank import's): it never asks the pool for another connection. The
// payer's ReceivableAccountID is the pupil's fees receivable
// (fees.ReceivableAccountCode), created in tx if needed. A bank credit with
// this communication is booked bank → that account (payments calls it for
// a credit whose OGM is no wallet's). ErrNotFound leaves tx usable.
func (s *Service) PayerByOGMTx(ctx context.Context, tx pgx.Tx, tenantID int64, ogm string) (PayerRef, error) {
	d, err := sepa.ParseOGM(ogm)
	if err != nil {
		return PayerRef{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var r PayerRef
	err = tx.QueryRow(ctx, `SELECT st.id, st.number, st.version, st.pupil_id, coalesce(py.guardian_id, 0), py.amount, py.ogm
		FROM statement_payers py JOIN statements st ON st.tenant_id = py.tenant_id AND st.id = py.statement_id
		WHERE py.tenant_id = $1 AND py.ogm = $2 ORDER BY st.version DESC LIMIT 1`, tenantID, d).Scan(&r.StatementID, &r.Number, &r.Version, &r.PupilID, &r.GuardianID, &r.Amount, &r.OGM)
	if err != nil {
		return PayerRef{}, mapErr(err, "statement communication "+d)
	}
	a, err := s.ledger.AccountByCodeTx(ctx, tx, tenantID, fees.ReceivableAccountCode(r.PupilID))
	if errors.Is(err, ledger.ErrUnknownAccount) && !errors.Is(err, ledger.ErrTxAborted) {
		a, err = s.ledger.EnsureAccountTx(ctx, tx, tenantID, ledger.AccountSpec{Code: fees.ReceivableAccountCode(r.PupilID),
			Name: fmt.Sprint("Frais scolaires élève ", r.PupilID), Type: ledger.Asset})
	}
	if err != nil {
		return PayerRef{}, err
	}
	r.ReceivableAccountID = a.ID
	return r, nil
}

// BankLookup is PayerByOGMTx in the shape payments.Bank.Statements takes:
// the account to book a bank credit with this communication on, and the
// statement's number; account 0 (and no error) when no statement has it.
func (s *Service) BankLookup(ctx context.Context, tx pgx.Tx, tenantID int64, ogm string) (int64, string, error) {
	r, err := s.PayerByOGMTx(ctx, tx, tenantID, ogm)
	if errors.Is(err, ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	return r.ReceivableAccountID, r.Number, nil
}
