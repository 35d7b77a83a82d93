package statements

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/school"
)

// EstimateHeading is one heading of an annual estimate (pool, activities,
// stays, photocopies…).
type EstimateHeading struct {
	Heading string          `json:"heading"`
	Kind    string          `json:"kind"` // obligatoire or facultatif
	Amount  decimal.Decimal `json:"amount"`
}

// EstimateContent is the frozen content of one estimate version.
type EstimateContent struct {
	SchoolYear string            `json:"school_year"`
	School     SchoolInfo        `json:"school"`
	Scope      string            `json:"scope"` // a level (P3) or a class code (P3A)
	Version    int               `json:"version"`
	Headings   []EstimateHeading `json:"headings"`
	Total      decimal.Decimal   `json:"total"`
	Note       string            `json:"note,omitempty"`
}

// Estimate is one version of the estimate of a school year, school and
// level or class.
type Estimate struct {
	TenantID  int64
	ID        int64
	SchoolID  int64
	CreatedAt time.Time
	CreatedBy string
	Hash      []byte
	Content   EstimateContent
	Sends     int       // guardians it was sent to
	LastSent  time.Time // zero when never sent
}

// EstimateInput is a new estimate version.
type EstimateInput struct {
	SchoolYear string
	SchoolID   int64
	Scope      string // level (M1…S6) or class code of the school
	Headings   []EstimateHeading
	Note       string
}

// SaveEstimate records a new version of the estimate for the year, school
// and scope, audited. It returns ErrInvalid for a bad year, an unknown
// scope, an empty heading, an amount that is negative or has more than two
// decimals, or a kind other than obligatoire or facultatif.
func (s *Service) SaveEstimate(ctx context.Context, tenantID int64, in EstimateInput, actor string) (Estimate, error) {
	if _, err := ParseSchoolYear(in.SchoolYear); err != nil {
		return Estimate{}, err
	}
	sc, err := s.school.School(ctx, tenantID, in.SchoolID)
	if err != nil {
		return Estimate{}, err
	}
	in.Scope = strings.ToUpper(strings.TrimSpace(in.Scope))
	if !school.ValidLevel(in.Scope) {
		classes, err := s.school.Classes(ctx, tenantID, sc.ID)
		if err != nil {
			return Estimate{}, err
		}
		found := false
		for _, c := range classes {
			if strings.EqualFold(c.Code, in.Scope) {
				in.Scope, found = c.Code, true
			}
		}
		if !found {
			return Estimate{}, invalid("estimate scope %q is neither a level nor a class of %s", in.Scope, sc.Name)
		}
	}
	if len(in.Headings) == 0 {
		return Estimate{}, invalid("an estimate needs at least one heading")
	}
	c := EstimateContent{SchoolYear: in.SchoolYear, Scope: in.Scope, Note: strings.TrimSpace(in.Note),
		School: SchoolInfo{ID: sc.ID, Name: sc.Name, Address: sc.Address, IBAN: sc.IBAN, BIC: sc.BIC, Beneficiary: sc.Beneficiary}}
	for i, h := range in.Headings {
		h.Heading = strings.TrimSpace(h.Heading)
		if h.Heading == "" {
			return Estimate{}, invalid("heading %d has no name", i+1)
		}
		if h.Kind != "obligatoire" && h.Kind != "facultatif" {
			return Estimate{}, invalid("heading %q: kind %q is neither obligatoire nor facultatif", h.Heading, h.Kind)
		}
		if h.Amount.IsNegative() || !h.Amount.Equal(h.Amount.Round(2)) {
			return Estimate{}, invalid("heading %q: amount %s", h.Heading, h.Amount)
		}
		c.Headings = append(c.Headings, h)
		c.Total = c.Total.Add(h.Amount)
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM estimates WHERE tenant_id = $1 AND school_year = $2 AND school_id = $3 AND scope = $4`,
			tenantID, in.SchoolYear, sc.ID, in.Scope).Scan(&c.Version); err != nil {
			return err
		}
		body, err := json.Marshal(c)
		if err != nil {
			return err
		}
		h := sha256Sum(body)
		return tx.QueryRow(ctx, `INSERT INTO estimates (tenant_id, school_year, school_id, scope, version, content, content_hash, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, tenantID, in.SchoolYear, sc.ID, in.Scope, c.Version, body, h, actor, s.now()).Scan(&id)
	})
	if err != nil {
		return Estimate{}, mapErr(err, "save estimate")
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.estimate.save", fmt.Sprintf("%s %s v%d", in.SchoolYear, in.Scope, c.Version), map[string]any{"estimate": id})
	return s.Estimate(ctx, tenantID, id)
}

const estimateCols = `e.tenant_id, e.id, e.school_id, e.created_at, e.created_by, e.content_hash, e.content,
	(SELECT count(*) FROM estimate_sends x WHERE x.tenant_id = e.tenant_id AND x.estimate_id = e.id AND x.error = ''),
	(SELECT max(sent_at) FROM estimate_sends x WHERE x.tenant_id = e.tenant_id AND x.estimate_id = e.id AND x.error = '')`

func scanEstimate(row pgx.Row) (Estimate, error) {
	var e Estimate
	var body []byte
	var last *time.Time
	if err := row.Scan(&e.TenantID, &e.ID, &e.SchoolID, &e.CreatedAt, &e.CreatedBy, &e.Hash, &body, &e.Sends, &last); err != nil {
		return e, err
	}
	if last != nil {
		e.LastSent = *last
	}
	return e, json.Unmarshal(body, &e.Content)
}

// Estimate returns one estimate version, or ErrNotFound.
func (s *Service) Estimate(ctx context.Context, tenantID, id int64) (Estimate, error) {
	e, err := scanEstimate(s.pool.QueryRow(ctx, `SELECT `+estimateCols+` FROM estimates e WHERE e.tenant_id = $1 AND e.id = $2`, tenantID, id))
	return e, mapErr(err, fmt.Sprint("estimate ", id))
}

// Estimates returns the estimates of a year (every version), by school,
// scope and version.
func (s *Service) Estimates(ctx context.Context, tenantID int64, year string) ([]Estimate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+estimateCols+` FROM estimates e WHERE e.tenant_id = $1 AND e.school_year = $2
		ORDER BY e.school_id, e.scope, e.version DESC`, tenantID, year)
	if err != nil {
		return nil, fmt.Errorf("estimates: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Estimate, error) { return scanEstimate(r) })
}

// EstimateFor returns the latest estimate of the year that applies to the
// pupil (its class first, else its level), or ErrNotFound.
func (s *Service) EstimateFor(ctx context.Context, tenantID int64, year string, pupil school.Pupil) (Estimate, error) {
	e, err := scanEstimate(s.pool.QueryRow(ctx, `SELECT `+estimateCols+` FROM estimates e
		WHERE e.tenant_id = $1 AND e.school_year = $2 AND e.school_id = $3 AND e.scope IN ($4, $5)
		ORDER BY (e.scope = $4) DESC, e.version DESC LIMIT 1`, tenantID, year, pupil.SchoolID, pupil.ClassCode, pupil.Level))
	return e, mapErr(err, "estimate of "+year)
}

// SendEstimate emails the estimate to every guardian of the pupils it
// applies to (the school's pupils of that level or class), each with a
// link to the portal, and records each send as proof (who, when, which
// version; a failure is recorded with its error). It returns how many
// emails went out.
func (s *Service) SendEstimate(ctx context.Context, tenantID, estimateID int64, portalURL, actor string) (int, error) {
	e, err := s.Estimate(ctx, tenantID, estimateID)
	if err != nil {
		return 0, err
	}
	pupils, err := s.school.PupilsOfSchool(ctx, tenantID, e.SchoolID, false)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for _, p := range pupils {
		if p.Level == e.Content.Scope || p.ClassCode == e.Content.Scope {
			ids = append(ids, p.ID)
		}
	}
	gs, err := s.school.GuardiansOfPupils(ctx, tenantID, ids)
	if err != nil {
		return 0, err
	}
	seen := map[int64]bool{}
	sent := 0
	for _, id := range ids {
		for _, g := range gs[id] {
			if seen[g.ID] {
				continue
			}
			seen[g.ID] = true
			lang := g.Language
			link := strings.TrimRight(portalURL, "/") + fmt.Sprintf("/estimates/%d", e.ID)
			msg := s.email(g.Email, lang, "statements.email.estimate", e.Content.SchoolYear, e.Content.School.Name, e.Content.Scope, link)
			errText := ""
			if g.Email == "" {
				errText = "no email address"
			} else if err := s.sender().Send(ctx, msg); err != nil {
				errText = err.Error()
				s.Log.Error("estimate email", "estimate", e.ID, "guardian", g.ID, "err", err)
			} else {
				sent++
			}
			if _, err := s.pool.Exec(ctx, `INSERT INTO estimate_sends (tenant_id, estimate_id, guardian_id, email, sent_by, sent_at, error)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenantID, e.ID, g.ID, g.Email, actor, s.now(), errText); err != nil {
				return sent, mapErr(err, "record estimate send")
			}
		}
	}
	_ = s.school.Audit(ctx, tenantID, actor, "statements.estimate.send", fmt.Sprintf("%s %s v%d", e.Content.SchoolYear, e.Content.Scope, e.Content.Version), map[string]any{"estimate": e.ID, "sent": sent})
	return sent, nil
}

// EstimateSend is the proof of one sending.
type EstimateSend struct {
	GuardianID int64
	Email      string
	SentBy     string
	SentAt     time.Time
	Version    int
	Error      string
}

// EstimateSends returns the proof of sending of an estimate version.
func (s *Service) EstimateSends(ctx context.Context, tenantID, estimateID int64) ([]EstimateSend, error) {
	rows, err := s.pool.Query(ctx, `SELECT x.guardian_id, x.email, x.sent_by, x.sent_at, e.version, x.error
		FROM estimate_sends x JOIN estimates e ON e.tenant_id = x.tenant_id AND e.id = x.estimate_id
		WHERE x.tenant_id = $1 AND x.estimate_id = $2 ORDER BY x.sent_at, x.id`, tenantID, estimateID)
	if err != nil {
		return nil, fmt.Errorf("estimate sends: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[EstimateSend])
}

// OverrideEstimate lets a year's statements be issued although no
// estimate was sent: an admin's decision with a reason (at least 5
// characters), audited. The web layer checks the admin role.
func (s *Service) OverrideEstimate(ctx context.Context, tenantID int64, year, reason, actor string) error {
	if _, err := ParseSchoolYear(year); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) < 5 {
		return invalid("give the reason for issuing statements without a sent estimate")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO estimate_overrides (tenant_id, school_year, reason, actor, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, school_year) DO UPDATE SET reason = $3, actor = $4, at = $5`, tenantID, year, reason, actor, s.now()); err != nil {
		return mapErr(err, "estimate override")
	}
	return s.school.Audit(ctx, tenantID, actor, "statements.estimate.override", year, map[string]any{"reason": reason})
}

// EstimateSentOrOverridden reports whether an estimate of the year reached
// at least one guardian, or an admin overrode the rule.
func (s *Service) EstimateSentOrOverridden(ctx context.Context, tenantID int64, year string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM estimate_sends x JOIN estimates e ON e.tenant_id = x.tenant_id AND e.id = x.estimate_id
			WHERE x.tenant_id = $1 AND e.school_year = $2 AND x.error = '')
		OR EXISTS (SELECT 1 FROM estimate_overrides WHERE tenant_id = $1 AND school_year = $2)`, tenantID, year).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("estimate sent: %w", err)
	}
	return ok, nil
}
