// Package taxcert issues the childcare tax certificates (attestations
// fiscales, model 281.86) of an organising body and their Belcotax-on-web
// XML: per child under 14 (under 21 with a severe handicap) and per payer,
// per calendar year, the days of care outside school hours actually paid
// (never meals), in up to four periods, with a sequence number.
//
// What counts. A day of care is a Brussels calendar day on which the
// child's wallet was charged by transfers of kind "daycare" (a reversal
// takes its charge back); meals and fees never count. A day counts only
// before the child's fourteenth birthday, or twenty-first with a severe
// handicap (school.Pupil.SevereHandicap, set on the pupil's page); pupils
// without a birth date are listed as missing it and get no certificate. Only care paid counts: a
// wallet below zero when the certificates are issued owes that much, and
// the debt is taken off the year's latest days of care first (so the
// certificate never states more than was paid). Each period shows its
// days, the daily rate actually charged and its exact amount, as the
// official form asks (the parent caps each day at the year's deductible
// maximum): a period is a run of days within a calendar quarter charged
// the same per day, a new rate starts a new period (periodsOf). Only when
// that gives more than the form's four periods are the neighbours with the
// closest rates merged, the merged period showing amount ÷ days.
//
// Payers. Each guardian who pays gets a certificate for his or her share:
// the shares recorded for the child (separated parents, in percent), else
// equal shares among the child's guardians. Amounts are split to the cent,
// the last payer taking the rounding remainder. A payer without a national
// number (NISS) gets no certificate until it is recorded.
//
// National numbers are validated (check digits), sealed with AES-256-GCM
// under the key of TARTINE_NISS_KEY, shown masked ("••.••.••-•••.28"),
// never logged, and opened only to write a certificate's PDF and the XML.
//
// Issued certificates are frozen (append-only rows with their content). A
// later run issues, for a child and payer whose figures or identity
// changed, a new version under the same sequence number (a correction);
// unchanged certificates are left alone.
//
// The package owns tables taxcert_niss, taxcert_payer_shares and
// taxcert_certificates; it reads pupils and guardians through package
// school and the charges through the ledger's API.
package taxcert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
)

// Errors returned by the package (ErrInvalidNISS in niss.go).
var (
	ErrNotFound = errors.New("taxcert: not found")
	ErrInvalid  = errors.New("taxcert: invalid request")
)

// KindDaycare is the ledger kind of a daycare charge.
const KindDaycare = "daycare"

// Settings are the organising body's certificate settings.
type Settings struct {
	IssuerName    string // the organising body (certificate header, Belcotax a1011)
	IssuerAddress string // street and number
	IssuerPostal  string
	IssuerCity    string
	IssuerBCE     string // company number (BCE/KBO), 10 digits; may be empty
	// CertificationCode is Belcotax f86_2031: 4 "linked to a school or its
	// organising body" by default (docs/ACCOUNTING.md says why).
	CertificationCode int
	ContactName       string // Belcotax v0021
	ContactPhone      string // v0018
	ContactEmail      string // v0023
	// LanguageCode is Belcotax's language code of the file (v0022/a1020):
	// 2 (French) by default; 1 Dutch, 3 German.
	LanguageCode int
}

// Service computes, issues and renders certificates.
type Service struct {
	pool     *pgxpool.Pool
	led      *ledger.Ledger
	school   *school.Store
	sealer   *Sealer
	settings Settings
	now      func() time.Time
}

// New returns a Service. sealer may be nil: national numbers can then be
// neither recorded nor read (ErrInvalid), the rest works.
func New(pool *pgxpool.Pool, led *ledger.Ledger, st *school.Store, sealer *Sealer, settings Settings, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if settings.CertificationCode == 0 {
		settings.CertificationCode = 4
	}
	if settings.LanguageCode == 0 {
		settings.LanguageCode = 2
	}
	return &Service{pool: pool, led: led, school: st, sealer: sealer, settings: settings, now: now}
}

// Sealing reports whether national numbers can be recorded and read (a
// sealing key was given).
func (s *Service) Sealing() bool { return s.sealer != nil }

// Settings returns the service's settings.
func (s *Service) Settings() Settings { return s.settings }

// Subject kinds of a national number.
const (
	SubjectPupil    = "pupil"
	SubjectGuardian = "guardian"
)

func sealContext(tenantID int64, subject string, id int64) string {
	return fmt.Sprintf("tartine/niss/%d/%s/%d", tenantID, subject, id)
}

// SetNISS records (or replaces) the national number of a pupil or guardian
// of the tenant. It returns ErrInvalidNISS when the number is not valid and
// ErrInvalid without a sealing key or for another subject kind.
func (s *Service) SetNISS(ctx context.Context, tenantID int64, subject string, id int64, niss, actor string) error {
	if subject != SubjectPupil && subject != SubjectGuardian {
		return fmt.Errorf("%w: subject %q", ErrInvalid, subject)
	}
	d, err := NormalizeNISS(niss)
	if err != nil {
		return err
	}
	if s.sealer == nil {
		return fmt.Errorf("%w: no sealing key (%s)", ErrInvalid, KeyEnv)
	}
	sealed, err := s.sealer.seal(d, sealContext(tenantID, subject, id))
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO taxcert_niss (tenant_id, subject, subject_id, sealed, last2, actor, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, subject, subject_id) DO UPDATE SET sealed = EXCLUDED.sealed, last2 = EXCLUDED.last2,
			actor = EXCLUDED.actor, updated_at = EXCLUDED.updated_at`,
		tenantID, subject, id, sealed, d[9:], actor, s.now())
	if err != nil {
		return fmt.Errorf("taxcert: record national number of %s %d: %w", subject, id, err)
	}
	return nil
}

// sealedNISS is a stored national number, still sealed.
type sealedNISS struct {
	Sealed []byte `json:"sealed"`
	Last2  string `json:"last2"`
	Ctx    string `json:"ctx"`
}

// MaskedNISS returns the masked national number of a subject ("" when none
// is recorded).
func (s *Service) MaskedNISS(ctx context.Context, tenantID int64, subject string, id int64) (string, error) {
	n, ok, err := s.niss(ctx, tenantID, subject, id)
	if err != nil || !ok {
		return "", err
	}
	return MaskNISS(n.Last2), nil
}

func (s *Service) niss(ctx context.Context, tenantID int64, subject string, id int64) (sealedNISS, bool, error) {
	n := sealedNISS{Ctx: sealContext(tenantID, subject, id)}
	err := s.pool.QueryRow(ctx, `SELECT sealed, last2 FROM taxcert_niss WHERE tenant_id = $1 AND subject = $2 AND subject_id = $3`,
		tenantID, subject, id).Scan(&n.Sealed, &n.Last2)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, false, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("taxcert: national number of %s %d: %w", subject, id, err)
	}
	return n, true, nil
}

// Share is a guardian's share of a child's care, in percent.
type Share struct {
	GuardianID int64
	Percent    decimal.Decimal
}

// SetShares records who pays a child's care (replacing earlier shares);
// the percentages must sum to 100 (ErrInvalid). No shares: equal shares
// among the child's guardians.
func (s *Service) SetShares(ctx context.Context, tenantID, pupilID int64, shares []Share) error {
	sum := decimal.Zero
	for _, sh := range shares {
		if !sh.Percent.IsPositive() || sh.Percent.GreaterThan(decimal.NewFromInt(100)) {
			return fmt.Errorf("%w: share %s%%", ErrInvalid, sh.Percent)
		}
		sum = sum.Add(sh.Percent)
	}
	if len(shares) > 0 && !sum.Equal(decimal.NewFromInt(100)) {
		return fmt.Errorf("%w: shares sum to %s%%, not 100%%", ErrInvalid, sum)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM taxcert_payer_shares WHERE tenant_id = $1 AND pupil_id = $2`, tenantID, pupilID); err != nil {
			return err
		}
		for _, sh := range shares {
			if _, err := tx.Exec(ctx, `INSERT INTO taxcert_payer_shares (tenant_id, pupil_id, guardian_id, share_pct) VALUES ($1, $2, $3, $4)`,
				tenantID, pupilID, sh.GuardianID, sh.Percent); err != nil {
				return err
			}
		}
		return nil
	})
}

// Person is a payer or a child as the certificate names them.
type Person struct {
	ID        int64      `json:"id"`
	FirstName string     `json:"first_name"`
	LastName  string     `json:"last_name"`
	Address   string     `json:"address"`
	BirthDate time.Time  `json:"birth_date,omitzero"`
	NISS      sealedNISS `json:"niss"`
}

// Period is one of at most four periods of care on a certificate.
type Period struct {
	From      time.Time       `json:"from"`
	To        time.Time       `json:"to"`
	Days      int             `json:"days"`
	DailyRate decimal.Decimal `json:"daily_rate"`
	Amount    decimal.Decimal `json:"amount"`
}

// Content is what a certificate states, frozen at issue.
type Content struct {
	Issuer   Settings        `json:"issuer"`
	Payer    Person          `json:"payer"`
	Child    Person          `json:"child"`
	Periods  []Period        `json:"periods"`
	Total    decimal.Decimal `json:"total"`
	SharePct decimal.Decimal `json:"share_pct"`
}

// Draft is a certificate the year's figures call for, or why there is none.
type Draft struct {
	PupilID, GuardianID int64
	Content             Content
	Days                int
	Missing             string // "" when it can be issued; else what is missing
}

// Certificate is an issued certificate version.
type Certificate struct {
	ID         int64
	Year       int
	Seq        int
	Version    int
	PupilID    int64
	GuardianID int64
	Total      decimal.Decimal
	Days       int
	Content    Content
	Actor      string
	IssuedAt   time.Time
}

// yearBounds is the calendar year in Brussels.
func yearBounds(year int) (time.Time, time.Time) {
	return time.Date(year, 1, 1, 0, 0, 0, 0, tz.Brussels), time.Date(year+1, 1, 1, 0, 0, 0, 0, tz.Brussels)
}

// Drafts computes the year's certificates from the ledger: per child and
// payer, or the reason there is none (Missing).
func (s *Service) Drafts(ctx context.Context, tenantID int64, year int) ([]Draft, error) {
	schools, err := s.school.Schools(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("taxcert: %w", err)
	}
	byWallet := map[int64]school.Pupil{}
	for _, sc := range schools {
		ps, err := s.school.PupilsOfSchool(ctx, tenantID, sc.ID, true)
		if err != nil {
			return nil, fmt.Errorf("taxcert: %w", err)
		}
		for _, p := range ps {
			if p.WalletAccountID != 0 {
				byWallet[p.WalletAccountID] = p
			}
		}
	}
	start, end := yearBounds(year)
	care := map[int64]map[time.Time]decimal.Decimal{} // pupil → day → net charge
	err = s.led.Journal(ctx, tenantID, start, end, func(l ledger.JournalLine) error {
		p, ok := byWallet[l.AccountID]
		if !ok || l.OriginKind != KindDaycare {
			return nil
		}
		y, m, d := l.OccurredAt.In(tz.Brussels).Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if care[p.ID] == nil {
			care[p.ID] = map[time.Time]decimal.Decimal{}
		}
		care[p.ID][day] = care[p.ID][day].Add(l.Amount) // a charge debits the wallet
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taxcert: %w", err)
	}
	var out []Draft
	pupilIDs := make([]int64, 0, len(care))
	for id := range care {
		pupilIDs = append(pupilIDs, id)
	}
	sort.Slice(pupilIDs, func(i, j int) bool { return pupilIDs[i] < pupilIDs[j] })
	for _, pid := range pupilIDs {
		var p school.Pupil
		for _, x := range byWallet {
			if x.ID == pid {
				p = x
			}
		}
		ds, err := s.draftsOf(ctx, tenantID, p, care[pid])
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// AgeLimit is the first day a child's care no longer counts: its 14th
// birthday, or its 21st with a severe handicap (FEES.md §10).
func AgeLimit(p school.Pupil) time.Time {
	if p.SevereHandicap {
		return p.BirthDate.AddDate(21, 0, 0)
	}
	return p.BirthDate.AddDate(14, 0, 0)
}

// dayAmount is what a day of care cost.
type dayAmount struct {
	day    time.Time
	amount decimal.Decimal
}

// maxPeriods is how many periods the official form (and Belcotax) holds.
const maxPeriods = 4

// periodsOf groups days of care (sorted by day) into the certificate's
// periods, each with the daily rate actually charged: a period is a run of
// days in one calendar quarter charged the same amount per day, so a rate
// that changes within a quarter starts a new period. The form holds four:
// while there are more, the two neighbouring periods whose rates are
// closest (on a tie: within one quarter, then the earliest) are merged, and the merged period's
// rate is its amount divided by its days. Amounts are never changed.
func periodsOf(days []dayAmount) []Period {
	quarter := func(t time.Time) int { return t.Year()*4 + (int(t.Month())-1)/3 }
	var periods []Period
	for _, e := range days {
		if n := len(periods); n == 0 || quarter(periods[n-1].From) != quarter(e.day) || !periods[n-1].DailyRate.Equal(e.amount) {
			periods = append(periods, Period{From: e.day, DailyRate: e.amount, Amount: decimal.Zero})
		}
		pr := &periods[len(periods)-1]
		pr.To = e.day
		pr.Days++
		pr.Amount = pr.Amount.Add(e.amount)
	}
	for len(periods) > maxPeriods {
		best := -1
		var bestCost decimal.Decimal
		bestCross := true
		for i := 0; i+1 < len(periods); i++ {
			cross := quarter(periods[i].From) != quarter(periods[i+1].From)
			cost := periods[i].DailyRate.Sub(periods[i+1].DailyRate).Abs()
			if best < 0 || cost.LessThan(bestCost) || (cost.Equal(bestCost) && !cross && bestCross) {
				best, bestCost, bestCross = i, cost, cross
			}
		}
		a, b := periods[best], periods[best+1]
		merged := Period{From: a.From, To: b.To, Days: a.Days + b.Days, Amount: a.Amount.Add(b.Amount)}
		merged.DailyRate = merged.Amount.Div(decimal.NewFromInt(int64(merged.Days))).Round(2)
		periods = append(append(periods[:best], merged), periods[best+2:]...)
	}
	return periods
}

// draftsOf builds a child's drafts from its days of care.
func (s *Service) draftsOf(ctx context.Context, tenantID int64, p school.Pupil, days map[time.Time]decimal.Decimal) ([]Draft, error) {
	if p.BirthDate.IsZero() {
		return []Draft{{PupilID: p.ID, Missing: "birth date of the child"}}, nil
	}
	var eligible []dayAmount
	until := AgeLimit(p)
	for d, a := range days {
		if a.IsPositive() && d.Before(until) {
			eligible = append(eligible, dayAmount{d, a})
		}
	}
	if len(eligible) == 0 {
		return nil, nil
	}
	sort.Slice(eligible, func(i, j int) bool { return eligible[i].day.Before(eligible[j].day) })
	// Unpaid: a wallet below zero now owes that much; the latest days go first.
	bal, err := s.led.BalanceAt(ctx, tenantID, p.WalletAccountID, s.now())
	if err != nil {
		return nil, fmt.Errorf("taxcert: wallet of pupil %d: %w", p.ID, err)
	}
	for debt := bal.Neg(); debt.IsPositive() && len(eligible) > 0; {
		last := &eligible[len(eligible)-1]
		if last.amount.LessThanOrEqual(debt) {
			debt = debt.Sub(last.amount)
			eligible = eligible[:len(eligible)-1]
			continue
		}
		last.amount = last.amount.Sub(debt)
		debt = decimal.Zero
	}
	if len(eligible) == 0 {
		return []Draft{{PupilID: p.ID, Missing: "care not paid"}}, nil
	}
	periods := periodsOf(eligible)
	total := decimal.Zero
	for _, pr := range periods {
		total = total.Add(pr.Amount)
	}
	issuer, err := s.issuer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	guardians, err := s.school.GuardiansOfPupil(ctx, tenantID, p.ID)
	if err != nil {
		return nil, fmt.Errorf("taxcert: guardians of pupil %d: %w", p.ID, err)
	}
	shares, err := s.shares(ctx, tenantID, p.ID, guardians)
	if err != nil {
		return nil, err
	}
	if len(shares) == 0 {
		return []Draft{{PupilID: p.ID, Missing: "payer (the child has no guardian)"}}, nil
	}
	childNISS, _, err := s.niss(ctx, tenantID, SubjectPupil, p.ID)
	if err != nil {
		return nil, err
	}
	child := Person{ID: p.ID, FirstName: p.FirstName, LastName: p.LastName, BirthDate: p.BirthDate, NISS: childNISS}
	var out []Draft
	remaining := make([]decimal.Decimal, len(periods))
	for i, pr := range periods {
		remaining[i] = pr.Amount
	}
	for gi, sh := range shares {
		var g school.GuardianLink
		for _, x := range guardians {
			if x.ID == sh.GuardianID {
				g = x
			}
		}
		if child.Address == "" {
			child.Address = g.Address
		}
		d := Draft{PupilID: p.ID, GuardianID: sh.GuardianID}
		c := Content{Issuer: issuer, Child: child, SharePct: sh.Percent,
			Payer: Person{ID: g.ID, FirstName: g.FirstName, LastName: g.LastName, Address: g.Address}}
		c.Child.Address = g.Address // the child lives with the payer (the form asks for the child's address)
		last := gi == len(shares)-1
		for i, pr := range periods {
			a := pr.Amount.Mul(sh.Percent).Div(decimal.NewFromInt(100)).Round(2)
			if last {
				a = remaining[i]
			}
			remaining[i] = remaining[i].Sub(a)
			if !a.IsPositive() {
				continue
			}
			c.Periods = append(c.Periods, Period{From: pr.From, To: pr.To, Days: pr.Days, Amount: a,
				DailyRate: a.Div(decimal.NewFromInt(int64(pr.Days))).Round(2)})
			c.Total = c.Total.Add(a)
			d.Days += pr.Days
		}
		n, ok, err := s.niss(ctx, tenantID, SubjectGuardian, g.ID)
		if err != nil {
			return nil, err
		}
		c.Payer.NISS = n
		switch {
		case !ok:
			d.Missing = "national number of the payer"
		case len(c.Periods) == 0:
			continue
		}
		d.Content = c
		out = append(out, d)
	}
	return out, nil
}

// issuer is the settings with the issuer filled from the tenant (its name)
// and its first school (the address) where the settings leave it empty.
func (s *Service) issuer(ctx context.Context, tenantID int64) (Settings, error) {
	st := s.settings
	if st.IssuerName == "" {
		t, err := s.school.Tenant(ctx, tenantID)
		if err != nil {
			return st, fmt.Errorf("taxcert: tenant %d: %w", tenantID, err)
		}
		st.IssuerName = t.Name
	}
	if st.IssuerAddress == "" {
		schools, err := s.school.Schools(ctx, tenantID)
		if err != nil {
			return st, fmt.Errorf("taxcert: %w", err)
		}
		if len(schools) > 0 {
			st.IssuerAddress, st.IssuerPostal, st.IssuerCity = splitAddress(schools[0].Address)
		}
	}
	return st, nil
}

// shares returns the payers of a child: recorded shares, else equal ones.
func (s *Service) shares(ctx context.Context, tenantID, pupilID int64, guardians []school.GuardianLink) ([]Share, error) {
	rows, err := s.pool.Query(ctx, `SELECT guardian_id, share_pct FROM taxcert_payer_shares WHERE tenant_id = $1 AND pupil_id = $2 ORDER BY guardian_id`,
		tenantID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("taxcert: shares of pupil %d: %w", pupilID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Share, error) {
		var sh Share
		err := r.Scan(&sh.GuardianID, &sh.Percent)
		return sh, err
	})
	if err != nil {
		return nil, fmt.Errorf("taxcert: shares of pupil %d: %w", pupilID, err)
	}
	if len(out) > 0 {
		return out, nil
	}
	n := int64(len(guardians))
	for _, g := range guardians {
		out = append(out, Share{GuardianID: g.ID, Percent: decimal.NewFromInt(100).DivRound(decimal.NewFromInt(n), 4)})
	}
	return out, nil
}

// Run is what Issue did.
type Run struct {
	Issued    []Certificate // new certificates and corrected versions
	Unchanged int           // certificates already issued with the same content
	Missing   []Draft       // children or payers without a certificate, and why
}

// Issue issues the year's certificates: a first version for a new child
// and payer (the next sequence number), a new version under the same
// number when the content changed since, nothing when it did not. Drafts
// that cannot be issued are returned in Run.Missing. It returns ErrInvalid
// for a year that has not ended.
func (s *Service) Issue(ctx context.Context, tenantID int64, year int, actor string) (Run, error) {
	var run Run
	if _, end := yearBounds(year); s.now().Before(end) {
		return run, fmt.Errorf("%w: the year %d has not ended", ErrInvalid, year)
	}
	drafts, err := s.Drafts(ctx, tenantID, year)
	if err != nil {
		return run, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(83, $1::int)`, tenantID); err != nil {
			return err
		}
		for _, d := range drafts {
			if d.Missing != "" {
				run.Missing = append(run.Missing, d)
				continue
			}
			cur, found, err := currentIn(ctx, tx, tenantID, year, d.PupilID, d.GuardianID)
			if err != nil {
				return err
			}
			if found && sameContent(cur.Content, d.Content) {
				run.Unchanged++
				continue
			}
			c := Certificate{Year: year, Version: 1, PupilID: d.PupilID, GuardianID: d.GuardianID, Total: d.Content.Total,
				Days: d.Days, Content: d.Content, Actor: actor, IssuedAt: s.now()}
			if found {
				c.Seq, c.Version = cur.Seq, cur.Version+1
			} else if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM taxcert_certificates WHERE tenant_id = $1 AND year = $2`,
				tenantID, year).Scan(&c.Seq); err != nil {
				return err
			}
			body, err := json.Marshal(c.Content)
			if err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `INSERT INTO taxcert_certificates (tenant_id, year, seq, version, pupil_id, guardian_id, total, days, content, actor, issued_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
				tenantID, year, c.Seq, c.Version, c.PupilID, c.GuardianID, c.Total, c.Days, body, actor, c.IssuedAt).Scan(&c.ID); err != nil {
				return err
			}
			run.Issued = append(run.Issued, c)
		}
		return nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("taxcert: issue %d: %w", year, err)
	}
	return run, nil
}

// sameContent compares two contents without the sealed bytes (sealing the
// same number twice gives other bytes).
func sameContent(a, b Content) bool {
	strip := func(c Content) Content {
		c.Payer.NISS.Sealed, c.Child.NISS.Sealed = nil, nil
		for i := range c.Periods {
			c.Periods[i].From, c.Periods[i].To = c.Periods[i].From.UTC(), c.Periods[i].To.UTC()
		}
		c.Child.BirthDate = c.Child.BirthDate.UTC()
		c.Total = c.Total.Round(2)
		return c
	}
	x, _ := json.Marshal(strip(a))
	y, _ := json.Marshal(strip(b))
	return reflect.DeepEqual(x, y)
}

const certCols = `id, year, seq, version, pupil_id, guardian_id, total, days, content, actor, issued_at`

func scanCert(r pgx.CollectableRow) (Certificate, error) {
	var c Certificate
	var body []byte
	if err := r.Scan(&c.ID, &c.Year, &c.Seq, &c.Version, &c.PupilID, &c.GuardianID, &c.Total, &c.Days, &body, &c.Actor, &c.IssuedAt); err != nil {
		return c, err
	}
	return c, json.Unmarshal(body, &c.Content)
}

func currentIn(ctx context.Context, tx pgx.Tx, tenantID int64, year int, pupilID, guardianID int64) (Certificate, bool, error) {
	rows, err := tx.Query(ctx, `SELECT `+certCols+` FROM taxcert_certificates
		WHERE tenant_id = $1 AND year = $2 AND pupil_id = $3 AND guardian_id = $4 ORDER BY version DESC LIMIT 1`, tenantID, year, pupilID, guardianID)
	if err != nil {
		return Certificate{}, false, err
	}
	cs, err := pgx.CollectRows(rows, scanCert)
	if err != nil || len(cs) == 0 {
		return Certificate{}, false, err
	}
	return cs[0], true, nil
}

// Certificates returns the latest version of each of the tenant's
// certificates of a year, by sequence number; guardianID > 0 keeps only
// that payer's (what the portal shows a guardian).
func (s *Service) Certificates(ctx context.Context, tenantID int64, year int, guardianID int64) ([]Certificate, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (seq) `+certCols+` FROM taxcert_certificates
		WHERE tenant_id = $1 AND year = $2 AND ($3::bigint = 0 OR guardian_id = $3) ORDER BY seq, version DESC`, tenantID, year, guardianID)
	if err != nil {
		return nil, fmt.Errorf("taxcert: certificates %d: %w", year, err)
	}
	out, err := pgx.CollectRows(rows, scanCert)
	if err != nil {
		return nil, fmt.Errorf("taxcert: certificates %d: %w", year, err)
	}
	return out, nil
}

// CertificatesOf returns the latest version of each certificate of one
// payer for one child, every year, latest year first (what the portal
// shows a guardian on the child's page).
func (s *Service) CertificatesOf(ctx context.Context, tenantID, guardianID, pupilID int64) ([]Certificate, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (year, seq) `+certCols+` FROM taxcert_certificates
		WHERE tenant_id = $1 AND guardian_id = $2 AND pupil_id = $3 ORDER BY year DESC, seq, version DESC`, tenantID, guardianID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("taxcert: certificates of guardian %d: %w", guardianID, err)
	}
	out, err := pgx.CollectRows(rows, scanCert)
	if err != nil {
		return nil, fmt.Errorf("taxcert: certificates of guardian %d: %w", guardianID, err)
	}
	return out, nil
}

// Certificate returns one certificate version of the tenant; guardianID > 0
// requires it to be that payer's (ErrNotFound otherwise).
func (s *Service) Certificate(ctx context.Context, tenantID, id, guardianID int64) (Certificate, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+certCols+` FROM taxcert_certificates
		WHERE tenant_id = $1 AND id = $2 AND ($3::bigint = 0 OR guardian_id = $3)`, tenantID, id, guardianID)
	if err != nil {
		return Certificate{}, fmt.Errorf("taxcert: certificate %d: %w", id, err)
	}
	cs, err := pgx.CollectRows(rows, scanCert)
	if err != nil {
		return Certificate{}, fmt.Errorf("taxcert: certificate %d: %w", id, err)
	}
	if len(cs) == 0 {
		return Certificate{}, fmt.Errorf("%w: certificate %d", ErrNotFound, id)
	}
	return cs[0], nil
}

// open returns a sealed national number in clear (for the PDF and XML).
func (s *Service) open(n sealedNISS) (string, error) {
	if len(n.Sealed) == 0 {
		return "", nil
	}
	if s.sealer == nil {
		return "", fmt.Errorf("%w: no sealing key (%s)", ErrInvalid, KeyEnv)
	}
	return s.sealer.open(n.Sealed, n.Ctx)
}

// name is "Last First".
func (p Person) name() string { return strings.TrimSpace(p.LastName + " " + p.FirstName) }

// Shares returns the shares recorded for a child (none: equal shares).
func (s *Service) Shares(ctx context.Context, tenantID, pupilID int64) ([]Share, error) {
	return s.shares(ctx, tenantID, pupilID, nil)
}
