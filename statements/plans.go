package statements

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/internal/mail"
)

// Instalment plans: for a statement whose total is over 50 € (the payment
// facilities its text offers), a guardian asks to pay in parts; the school
// accepts or refuses. An accepted plan's parts fall one a month from the
// statement's due date, and each statement lists the parts due in its
// period (Content.Instalments).

// Plan states.
const (
	PlanRequested = "requested"
	PlanAccepted  = "accepted"
	PlanRefused   = "refused"
)

// Plan is an instalment plan and its parts (once accepted).
type Plan struct {
	TenantID    int64
	ID          int64
	StatementID int64
	Number      string
	PupilID     int64
	GuardianID  int64
	Total       decimal.Decimal
	Parts       int
	Note        string
	Status      string
	RequestedAt time.Time
	DecidedBy   string
	DecidedAt   *time.Time
	Schedule    []Instalment
}

// Instalment is one part of an accepted plan.
type Instalment struct {
	Number string          `json:"number"` // the statement the plan is about
	Seq    int             `json:"seq"`
	Of     int             `json:"of"`
	DueOn  time.Time       `json:"due_on"`
	Amount decimal.Decimal `json:"amount"`
}

// RequestPlan records a guardian's request to pay a statement in parts (2
// to 10): what the guardian owes on it must be over FacilitiesThreshold.
// It returns ErrNotFound when the statement is not addressed to the
// guardian and ErrInvalid for a small amount, a bad number of parts or a
// second request.
func (s *Service) RequestPlan(ctx context.Context, tenantID, statementID, guardianID int64, parts int, note string) (Plan, error) {
	if parts < 2 || parts > 10 {
		return Plan{}, invalid("an instalment plan has 2 to 10 parts, not %d", parts)
	}
	st, owed, err := s.Owed(ctx, tenantID, statementID, guardianID)
	if err != nil {
		return Plan{}, err
	}
	if !owed.GreaterThan(FacilitiesThreshold) {
		return Plan{}, invalid("statement %s: %s is not over %s €, no instalment plan", st.Number, owed.StringFixed(2), FacilitiesThreshold)
	}
	if len(note) > 1000 {
		note = note[:1000]
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO instalment_plans (tenant_id, statement_id, number, pupil_id, guardian_id, total, parts, note, requested_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, statement_id, guardian_id) DO NOTHING RETURNING id`,
		tenantID, st.ID, st.Number, st.PupilID, guardianID, owed, parts, note, s.now()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Plan{}, invalid("statement %s: an instalment plan was already asked", st.Number)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("statements: record instalment plan: %w", err)
	}
	_ = s.school.Audit(ctx, tenantID, fmt.Sprint("guardian:", guardianID), "statements.plan.request", st.Number, map[string]any{"plan": id, "parts": parts, "total": owed.StringFixed(2)})
	return s.Plan(ctx, tenantID, id)
}

// DecidePlan accepts or refuses a requested plan (audited). Accepting it
// schedules its parts: equal amounts in cents (the last takes the rest),
// the first on the statement's due date, then one a month. The guardian
// who asked is emailed the decision (in French unless they chose English;
// an accepted plan with its schedule, a refused one with whom to contact)
// and a link to the statement in the portal (portalURL): enqueued in the
// decision's transaction when Mail is a TxSender (the job queue), so sent
// exactly when the decision is recorded; otherwise sent after it. A plan
// decided before is ErrInvalid.
func (s *Service) DecidePlan(ctx context.Context, tenantID, planID int64, accept bool, portalURL, actor string) (Plan, error) {
	p, err := s.Plan(ctx, tenantID, planID)
	if err != nil {
		return Plan{}, err
	}
	if p.Status != PlanRequested {
		return Plan{}, invalid("instalment plan %d was %s before", planID, p.Status)
	}
	st, err := s.Get(ctx, tenantID, p.StatementID)
	if err != nil {
		return Plan{}, err
	}
	status := PlanRefused
	if accept {
		status = PlanAccepted
	}
	var parts []Instalment
	if accept {
		parts = schedule(p.Total, p.Parts, st.Content.DueOn)
	}
	msg, err := s.planEmail(ctx, p, st, accept, parts, portalURL)
	if err != nil {
		return Plan{}, err
	}
	txMail, queued := s.Mail.(TxSender)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Plan{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	tag, err := tx.Exec(ctx, `UPDATE instalment_plans SET status = $3, decided_by = $4, decided_at = $5
		WHERE tenant_id = $1 AND id = $2 AND status = 'requested'`, tenantID, planID, status, actor, s.now())
	if err != nil {
		return Plan{}, fmt.Errorf("statements: decide instalment plan %d: %w", planID, err)
	}
	if tag.RowsAffected() != 1 {
		return Plan{}, invalid("instalment plan %d was decided before", planID)
	}
	if accept {
		for _, in := range parts {
			if _, err := tx.Exec(ctx, `INSERT INTO instalment_parts (tenant_id, plan_id, seq, due_on, amount) VALUES ($1, $2, $3, $4, $5)`,
				tenantID, planID, in.Seq, in.DueOn, in.Amount); err != nil {
				return Plan{}, fmt.Errorf("statements: instalment part: %w", err)
			}
		}
	}
	if msg.To != "" && queued {
		if err := txMail.SendTx(ctx, tx, msg); err != nil {
			return Plan{}, fmt.Errorf("statements: email the decision on plan %d: %w", planID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Plan{}, err
	}
	if msg.To != "" && !queued {
		if err := s.sender().Send(ctx, msg); err != nil {
			s.Log.Error("instalment plan decision email", "plan", planID, "guardian", p.GuardianID, "err", err)
		}
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.plan."+status, p.Number, map[string]any{"plan": planID})
	return s.Plan(ctx, tenantID, planID)
}

// TxSender is a Sender that enqueues an email in a transaction, sent only
// if it commits (jobs.Queue).
type TxSender interface {
	SendTx(ctx context.Context, tx pgx.Tx, msg mail.Message) error
}

// planEmail is the email telling the guardian who asked for plan p the
// school's decision; To is empty when the guardian has no address (they
// see the decision on the statement's page in the portal).
func (s *Service) planEmail(ctx context.Context, p Plan, st Statement, accept bool, parts []Instalment, portalURL string) (mail.Message, error) {
	gs, err := s.school.GuardiansOfPupil(ctx, p.TenantID, p.PupilID)
	if err != nil {
		return mail.Message{}, fmt.Errorf("statements: guardians of plan %d: %w", p.ID, err)
	}
	var to, lang string
	for _, g := range gs {
		if g.ID == p.GuardianID {
			to, lang = g.Email, normLang(g.Language)
		}
	}
	if to == "" {
		return mail.Message{}, nil
	}
	c := st.Content
	contact := s.Catalog.T(lang, "statements.contact_school", c.School.Name)
	if c.School.Contact != "" {
		contact = s.Catalog.T(lang, "statements.contact", c.School.Contact)
	}
	link := StatementLink(portalURL, st.ID)
	total := i18n.FormatEUR(p.Total, lang)
	if !accept {
		return s.email(to, lang, "statements.email.plan_refused", c.Pupil.FirstName, p.Number, total, p.Parts, link, c.School.Name, contact), nil
	}
	var lines strings.Builder
	for _, in := range parts {
		lines.WriteString(s.Catalog.T(lang, "statements.email.plan_part", in.Seq, in.Of, i18n.FormatDate(in.DueOn, lang), i18n.FormatEUR(in.Amount, lang)))
		lines.WriteString("\n")
	}
	return s.email(to, lang, "statements.email.plan_accepted", c.Pupil.FirstName, p.Number, total, p.Parts, link, c.School.Name, contact,
		strings.TrimRight(lines.String(), "\n")), nil
}

// schedule splits total into parts monthly parts from first.
func schedule(total decimal.Decimal, parts int, first time.Time) []Instalment {
	each := total.Div(decimal.NewFromInt(int64(parts))).RoundDown(2)
	out := make([]Instalment, parts)
	rest := total
	for i := range out {
		amt := each
		if i == parts-1 {
			amt = rest
		}
		rest = rest.Sub(amt)
		out[i] = Instalment{Seq: i + 1, Of: parts, DueOn: civil(first).AddDate(0, i, 0), Amount: amt}
	}
	return out
}

const planColumns = `tenant_id, id, statement_id, number, pupil_id, guardian_id, total, parts, note, status, requested_at, COALESCE(decided_by, ''), decided_at`

func scanPlan(row pgx.Row) (Plan, error) {
	var p Plan
	err := row.Scan(&p.TenantID, &p.ID, &p.StatementID, &p.Number, &p.PupilID, &p.GuardianID, &p.Total, &p.Parts, &p.Note, &p.Status,
		&p.RequestedAt, &p.DecidedBy, &p.DecidedAt)
	return p, err
}

// Plan returns an instalment plan with its parts, or ErrNotFound.
func (s *Service) Plan(ctx context.Context, tenantID, planID int64) (Plan, error) {
	p, err := scanPlan(s.pool.QueryRow(ctx, `SELECT `+planColumns+` FROM instalment_plans WHERE tenant_id = $1 AND id = $2`, tenantID, planID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Plan{}, fmt.Errorf("instalment plan %d: %w", planID, ErrNotFound)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("statements: read instalment plan %d: %w", planID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, due_on, amount FROM instalment_parts WHERE tenant_id = $1 AND plan_id = $2 ORDER BY seq`, tenantID, planID)
	if err != nil {
		return Plan{}, fmt.Errorf("statements: instalment parts: %w", err)
	}
	var in Instalment
	_, err = pgx.ForEachRow(rows, []any{&in.Seq, &in.DueOn, &in.Amount}, func() error {
		in.Number, in.Of = p.Number, p.Parts
		p.Schedule = append(p.Schedule, in)
		return nil
	})
	return p, err
}

// Plans lists the tenant's plans (with the parts of the accepted ones), the
// requested first, then the latest; statementID > 0 keeps those of one
// statement.
func (s *Service) Plans(ctx context.Context, tenantID, statementID int64) ([]Plan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+planColumns+` FROM instalment_plans WHERE tenant_id = $1 AND ($2 = 0 OR statement_id = $2)
		ORDER BY status <> 'requested', requested_at DESC, id DESC`, tenantID, statementID)
	if err != nil {
		return nil, fmt.Errorf("statements: instalment plans: %w", err)
	}
	defer rows.Close()
	var out []Plan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("statements: instalment plans: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statements: instalment plans: %w", err)
	}
	rows.Close()
	for i, p := range out {
		if p.Status == PlanAccepted { // few: one query each for the parts
			if out[i], err = s.Plan(ctx, tenantID, p.ID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// partsDue returns, by pupil, the parts of accepted plans due from from to
// to (days, inclusive).
func (s *Service) partsDue(ctx context.Context, tenantID int64, from, to time.Time) (map[int64][]Instalment, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.pupil_id, p.number, p.parts, x.seq, x.due_on, x.amount
		FROM instalment_parts x JOIN instalment_plans p ON p.tenant_id = x.tenant_id AND p.id = x.plan_id
		WHERE x.tenant_id = $1 AND p.status = 'accepted' AND x.due_on BETWEEN $2 AND $3
		ORDER BY p.pupil_id, x.due_on, p.id, x.seq`, tenantID, civil(from), civil(to))
	if err != nil {
		return nil, fmt.Errorf("statements: instalment parts due: %w", err)
	}
	out := map[int64][]Instalment{}
	var pupil int64
	var in Instalment
	_, err = pgx.ForEachRow(rows, []any{&pupil, &in.Number, &in.Of, &in.Seq, &in.DueOn, &in.Amount}, func() error {
		out[pupil] = append(out[pupil], in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statements: instalment parts due: %w", err)
	}
	return out, nil
}
