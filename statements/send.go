package statements

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/i18n"
	"tartine/internal/mail"
)

// email renders a statements email from the catalog: key+".subject" and
// key+".body" with the same arguments.
func (s *Service) email(to, lang, key string, args ...any) mail.Message {
	if lang != i18n.EN {
		lang = i18n.FR
	}
	return mail.Message{To: to, Subject: s.Catalog.T(lang, key+".subject", args...), Text: s.Catalog.T(lang, key+".body", args...)}
}

// StatementLink is the portal page of a statement.
func StatementLink(portalURL string, id int64) string {
	return strings.TrimRight(portalURL, "/") + fmt.Sprintf("/statements/%d", id)
}

// SendReport says what a send did.
type SendReport struct {
	Sent     int
	NoEmail  int // guardians without an address: they see it in the portal or on paper
	Failed   int
	Statuses []string
}

// Send emails each statement of the run to every guardian it is addressed
// to — a link to the portal, never an attachment, never to the pupil
// (RuleGuardiansOnly) — records each send and marks the run sent. A
// guardian already sent this statement is not sent it again, so Send may
// be run again after a failure. It returns ErrNotFound for a run of
// another tenant.
func (s *Service) Send(ctx context.Context, tenantID, runID int64, portalURL, actor string, progress Progress) (SendReport, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM statement_runs WHERE tenant_id = $1 AND id = $2)`, tenantID, runID).Scan(&exists); err != nil {
		return SendReport{}, fmt.Errorf("send run %d: %w", runID, err)
	}
	if !exists {
		return SendReport{}, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	sts, err := s.OfRun(ctx, tenantID, runID)
	if err != nil {
		return SendReport{}, err
	}
	done, err := s.sentTo(ctx, tenantID, runID)
	if err != nil {
		return SendReport{}, err
	}
	var rep SendReport
	for i, st := range sts {
		if err := s.sendOne(ctx, st, "statement", portalURL, actor, done, &rep); err != nil {
			return rep, err
		}
		if progress != nil && ((i+1)%100 == 0 || i+1 == len(sts)) {
			progress(i+1, len(sts))
		}
	}
	if _, err := s.pool.Exec(ctx, `UPDATE statement_runs SET status = 'sent', sent_by = $3, sent_at = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, runID, actor, s.now()); err != nil {
		return rep, mapErr(err, "mark run sent")
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.send", fmt.Sprint("run:", runID), map[string]any{"sent": rep.Sent, "no_email": rep.NoEmail, "failed": rep.Failed})
	return rep, nil
}

func (s *Service) sentTo(ctx context.Context, tenantID, runID int64) (map[[2]int64]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT x.statement_id, x.guardian_id FROM statement_sends x JOIN statements st ON st.tenant_id = x.tenant_id AND st.id = x.statement_id
		WHERE x.tenant_id = $1 AND st.run_id = $2 AND x.kind = 'statement' AND x.error = ''`, tenantID, runID)
	if err != nil {
		return nil, fmt.Errorf("sends: %w", err)
	}
	out := map[[2]int64]bool{}
	var a, b int64
	_, err = pgx.ForEachRow(rows, []any{&a, &b}, func() error { out[[2]int64{a, b}] = true; return nil })
	return out, err
}

func (s *Service) sendOne(ctx context.Context, st Statement, kind, portalURL, actor string, done map[[2]int64]bool, rep *SendReport) error {
	gs, err := s.school.GuardiansOfPupil(ctx, st.TenantID, st.PupilID)
	if err != nil {
		return err
	}
	byID := map[int64]string{}
	langs := map[int64]string{}
	for _, g := range gs {
		byID[g.ID], langs[g.ID] = g.Email, g.Language
	}
	c := st.Content
	link := StatementLink(portalURL, st.ID)
	for _, a := range c.Addressees {
		if done[[2]int64{st.ID, a.GuardianID}] {
			continue
		}
		to := byID[a.GuardianID]
		lang := normLang(langs[a.GuardianID])
		amount := i18n.FormatEUR(c.TotalDue, lang)
		for _, py := range c.Payers {
			if py.GuardianID == a.GuardianID {
				amount = i18n.FormatEUR(py.Amount, lang)
			}
		}
		key := "statements.email.statement"
		if kind == "reminder" {
			key = "statements.email.reminder"
		}
		contact := s.Catalog.T(lang, "statements.contact_school", c.School.Name)
		if c.School.Contact != "" {
			contact = s.Catalog.T(lang, "statements.contact", c.School.Contact)
		}
		msg := s.email(to, lang, key, c.Pupil.FirstName, c.Period.SchoolYear, c.Period.Seq, c.Number, amount,
			i18n.FormatDate(c.DueOn, lang), link, c.School.Name, contact)
		errText := ""
		switch {
		case to == "":
			errText = "no email address"
			rep.NoEmail++
		default:
			if err := s.sender().Send(ctx, msg); err != nil {
				errText = err.Error()
				rep.Failed++
				s.Log.Error("statement email", "statement", st.ID, "guardian", a.GuardianID, "err", err)
			} else {
				rep.Sent++
			}
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO statement_sends (tenant_id, statement_id, guardian_id, kind, email, sent_by, sent_at, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, st.TenantID, st.ID, a.GuardianID, kind, to, actor, s.now(), errText); err != nil {
			return mapErr(err, "record send")
		}
	}
	return nil
}

// Runs returns the runs of a period, latest first (periodID 0: all).
func (s *Service) Runs(ctx context.Context, tenantID, periodID int64) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, id, period_id, status, statements, total, issued_by, issued_at, coalesce(sent_by, ''), sent_at
		FROM statement_runs WHERE tenant_id = $1 AND ($2 = 0 OR period_id = $2) ORDER BY id DESC`, tenantID, periodID)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var run Run
		var sent *time.Time
		err := r.Scan(&run.TenantID, &run.ID, &run.PeriodID, &run.Status, &run.Statements, &run.Total, &run.IssuedBy, &run.IssuedAt, &run.SentBy, &sent)
		if sent != nil {
			run.SentAt = *sent
		}
		return run, err
	})
}

// Sends returns who a statement was sent to, oldest first.
type Send struct {
	GuardianID int64
	Kind       string
	Email      string
	SentBy     string
	SentAt     time.Time
	Error      string
}

// SendsOf returns the sends of a statement.
func (s *Service) SendsOf(ctx context.Context, tenantID, statementID int64) ([]Send, error) {
	rows, err := s.pool.Query(ctx, `SELECT guardian_id, kind, email, sent_by, sent_at, error FROM statement_sends
		WHERE tenant_id = $1 AND statement_id = $2 ORDER BY sent_at, id`, tenantID, statementID)
	if err != nil {
		return nil, fmt.Errorf("sends: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Send])
}
