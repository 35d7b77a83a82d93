package fees

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
)

// Line statuses.
const (
	StatusAwaitingOptIn = "awaiting_opt_in" // facultatif, no opt-in yet (or the guardian said no)
	StatusCharged       = "charged"         // booked on the pupil's receivable
	StatusCancelled     = "cancelled"
)

// Fee statuses.
const (
	FeeActive    = "active"
	FeeCancelled = "cancelled"
)

// Service creates, corrects and charges fees. It is safe for concurrent
// use.
type Service struct {
	pool   *pgxpool.Pool
	led    *ledger.Ledger
	school *school.Store
	rules  *Rules
	now    func() time.Time
}

// New returns the fee service. now may be nil (time.Now).
func New(pool *pgxpool.Pool, led *ledger.Ledger, sch *school.Store, rules *Rules, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, led: led, school: sch, rules: rules, now: now}
}

// Rules returns the rule store the service checks fees against.
func (s *Service) Rules() *Rules { return s.rules }

// Pool returns the service's pool (for the line readers).
func (s *Service) Pool() *pgxpool.Pool { return s.pool }

// Fee is a fee with the totals of its lines.
type Fee struct {
	TenantID     int64
	ID           int64
	SchoolID     int64
	SchoolYear   string
	Object       string
	Category     string
	Kind         Kind
	Dates        []time.Time // civil dates, first one is the lines' date
	Amount       decimal.Decimal
	Status       string
	CreatedBy    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	CancelReason string

	Pupils        int             // lines (not credits, not cancelled)
	Charged       int             // charged lines
	AwaitingOptIn int             // facultatif lines without opt-in
	Issued        int             // lines on an issued statement
	Total         decimal.Decimal // charged amounts minus credits
}

// Editable reports whether the fee may still be corrected or cancelled:
// active, and no line on an issued statement.
func (f Fee) Editable() bool { return f.Status == FeeActive && f.Issued == 0 }

// CreateInput is a new fee.
type CreateInput struct {
	SchoolID int64
	Object   string
	Category string
	Kind     Kind
	Dates    []time.Time
	Amount   decimal.Decimal // real cost per pupil
	// Pupils concerned: every active pupil of these classes, plus these
	// pupils.
	ClassIDs []int64
	PupilIDs []int64
	// Amounts lowers the amount of some pupils (to stay under a cap, or a
	// family's situation): at most Amount; 0 leaves the pupil out.
	Amounts map[int64]decimal.Decimal
}

func checkMoney(what string, d decimal.Decimal, zeroOK bool) error {
	if d.IsNegative() || (!zeroOK && d.IsZero()) || !d.Equal(d.Round(2)) {
		return invalid("%s %s must be positive with at most two decimals", what, d)
	}
	return nil
}

func normDates(ds []time.Time) ([]time.Time, error) {
	if len(ds) == 0 {
		return nil, invalid("a fee needs at least one date")
	}
	out := make([]time.Time, 0, len(ds))
	for _, d := range ds {
		if d.IsZero() {
			return nil, invalid("empty date")
		}
		c := civil(d)
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	y := SchoolYearOf(out[0])
	if SchoolYearOf(out[len(out)-1]) != y {
		return nil, invalid("all dates of a fee must be in one school year (%s)", y)
	}
	return out, nil
}

func (s *Service) validate(object, category string, kind Kind, amount decimal.Decimal, amounts map[int64]decimal.Decimal) error {
	if strings.TrimSpace(object) == "" {
		return invalid("a fee needs an object (what it pays for)")
	}
	if !slices.Contains(s.rules.Categories(), category) {
		return invalid("unknown category %q", category)
	}
	if !kind.Valid() {
		return invalid("kind %q (obligatoire or facultatif)", kind)
	}
	if err := checkMoney("amount", amount, false); err != nil {
		return err
	}
	for id, a := range amounts {
		if err := checkMoney("amount", a, true); err != nil {
			return err
		}
		if a.GreaterThan(amount) {
			return invalid("pupil %d: a lowered amount (%s) cannot exceed the fee's real cost (%s)", id, a.StringFixed(2), amount.StringFixed(2))
		}
	}
	return nil
}

// target is a pupil a fee is assigned to, with its amount.
type target struct {
	pupil  school.Pupil
	amount decimal.Decimal
}

// resolve returns the pupils of the school in classIDs or pupilIDs.
func (s *Service) resolve(ctx context.Context, tenantID, schoolID int64, classIDs, pupilIDs []int64) ([]school.Pupil, error) {
	all, err := s.school.PupilsOfSchool(ctx, tenantID, schoolID, false)
	if err != nil {
		return nil, fmt.Errorf("fees: pupils of school %d: %w", schoolID, err)
	}
	byID := make(map[int64]school.Pupil, len(all))
	for _, p := range all {
		byID[p.ID] = p
	}
	for _, id := range pupilIDs {
		if _, ok := byID[id]; !ok {
			return nil, fmt.Errorf("%w: pupil %d in school %d", ErrNotFound, id, schoolID)
		}
	}
	var out []school.Pupil
	for _, p := range all {
		if slices.Contains(pupilIDs, p.ID) || (p.ClassID != 0 && slices.Contains(classIDs, p.ClassID)) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, invalid("no pupil concerned: choose a class or pupils")
	}
	return out, nil
}

// ruleSets returns the rule set of each level group of the pupils.
func (s *Service) ruleSets(ctx context.Context, tenantID int64, year string, pupils []school.Pupil) (map[string]RuleSet, error) {
	out := map[string]RuleSet{}
	for _, p := range pupils {
		g := GroupOf(p.Level)
		if _, ok := out[g]; ok {
			continue
		}
		rs, err := s.rules.Get(ctx, s.pool, tenantID, year, g)
		if err != nil {
			return nil, err
		}
		out[g] = rs
	}
	return out, nil
}

// checkRules returns the first *RuleError among the pupils' levels.
func checkRules(sets map[string]RuleSet, pupils []school.Pupil, category string, kind Kind) error {
	levels := map[string]bool{}
	for _, p := range pupils {
		if levels[p.Level] {
			continue
		}
		levels[p.Level] = true
		if err := sets[GroupOf(p.Level)].Check(p.Level, category, kind); err != nil {
			return err
		}
	}
	return nil
}

// Create records a fee and its lines for the pupils concerned, in one
// transaction: an obligatoire fee charges every line at once (booked on
// each pupil's fees receivable), a facultatif fee's lines wait for the
// opt-in.
//
// It returns ErrInvalid (bad input), ErrNotFound (a pupil not in the
// school), a *RuleError (the category or kind is not allowed at a
// concerned pupil's level; matches ErrRefused) or a *CapError (a pupil
// would pass a cap; matches ErrRefused; nothing is written).
func (s *Service) Create(ctx context.Context, tenantID int64, in CreateInput, actor string) (Fee, error) {
	in.Object = strings.TrimSpace(in.Object)
	if err := s.validate(in.Object, in.Category, in.Kind, in.Amount, in.Amounts); err != nil {
		return Fee{}, err
	}
	dates, err := normDates(in.Dates)
	if err != nil {
		return Fee{}, err
	}
	f := Fee{TenantID: tenantID, SchoolID: in.SchoolID, SchoolYear: SchoolYearOf(dates[0]), Object: in.Object, Category: in.Category, Kind: in.Kind, Dates: dates, Amount: in.Amount}
	a, err := s.prepare(ctx, f, in.ClassIDs, in.PupilIDs, in.Amounts)
	if err != nil {
		return Fee{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.now()
		if err := tx.QueryRow(ctx, `
			INSERT INTO fees (tenant_id, school_id, school_year, object, category, kind, dates, amount, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
			tenantID, f.SchoolID, f.SchoolYear, f.Object, f.Category, string(f.Kind), f.Dates, f.Amount, actor, now).Scan(&f.ID); err != nil {
			return fmt.Errorf("fees: create: %w", err)
		}
		return s.assignTx(ctx, tx, f, a.sets, a.targets, a.accts, actor)
	})
	if err != nil {
		return Fee{}, err
	}
	return s.Fee(ctx, tenantID, f.ID)
}

// assignment is what assigning a fee to pupils needs, read and checked
// before anything is written.
type assignment struct {
	sets    map[string]RuleSet // the rule set of each pupil's level
	targets []target           // each pupil with its amount
	accts   feeAccounts
}

// prepare resolves the pupils of f's school (classes or a list) for f,
// checks the rules of their levels for f's category and kind, gives each
// its amount (f's, or a lower one of amounts) and reads the accounts.
func (s *Service) prepare(ctx context.Context, f Fee, classIDs, pupilIDs []int64, amounts map[int64]decimal.Decimal) (assignment, error) {
	pupils, err := s.resolve(ctx, f.TenantID, f.SchoolID, classIDs, pupilIDs)
	if err != nil {
		return assignment{}, err
	}
	sets, err := s.ruleSets(ctx, f.TenantID, f.SchoolYear, pupils)
	if err != nil {
		return assignment{}, err
	}
	if err := checkRules(sets, pupils, f.Category, f.Kind); err != nil {
		return assignment{}, err
	}
	targets := targetsOf(pupils, f.Amount, amounts)
	accts, err := s.accounts(ctx, f.TenantID, f.Category, targets)
	if err != nil {
		return assignment{}, err
	}
	return assignment{sets: sets, targets: targets, accts: accts}, nil
}

// AssignInput adds pupils to an existing fee.
type AssignInput struct {
	ClassIDs []int64
	PupilIDs []int64
	Amounts  map[int64]decimal.Decimal
}

// Assign adds pupils (classes or a list) to an active fee, like Create
// does for its first ones. Pupils that already have a line are skipped. It
// returns the errors of Create, and ErrCancelled for a cancelled fee.
func (s *Service) Assign(ctx context.Context, tenantID, feeID int64, in AssignInput, actor string) (Fee, error) {
	f, err := s.Fee(ctx, tenantID, feeID)
	if err != nil {
		return Fee{}, err
	}
	if f.Status != FeeActive {
		return Fee{}, fmt.Errorf("%w: fee %d", ErrCancelled, feeID)
	}
	if err := s.validate(f.Object, f.Category, f.Kind, f.Amount, in.Amounts); err != nil {
		return Fee{}, err
	}
	a, err := s.prepare(ctx, f, in.ClassIDs, in.PupilIDs, in.Amounts)
	if err != nil {
		return Fee{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM fees WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, feeID); err != nil {
			return err
		}
		var have []int64
		rows, _ := tx.Query(ctx, `SELECT pupil_id FROM fee_lines WHERE tenant_id = $1 AND fee_id = $2 AND NOT credit`, tenantID, feeID)
		if have, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("fees: assign: %w", err)
		}
		a.targets = slices.DeleteFunc(a.targets, func(t target) bool { return slices.Contains(have, t.pupil.ID) })
		if _, err := tx.Exec(ctx, `UPDATE fees SET updated_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, feeID, s.now()); err != nil {
			return err
		}
		return s.assignTx(ctx, tx, f, a.sets, a.targets, a.accts, actor)
	})
	if err != nil {
		return Fee{}, err
	}
	return s.Fee(ctx, tenantID, feeID)
}

func targetsOf(pupils []school.Pupil, amount decimal.Decimal, amounts map[int64]decimal.Decimal) []target {
	out := make([]target, 0, len(pupils))
	for _, p := range pupils {
		a := amount
		if low, ok := amounts[p.ID]; ok {
			a = low
		}
		if a.IsZero() {
			continue
		}
		out = append(out, target{pupil: p, amount: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pupil.ID < out[j].pupil.ID })
	return out
}

// feeAccounts are the ledger accounts a fee books on.
type feeAccounts struct {
	revenue     int64
	receivables map[int64]int64 // pupil → receivable account
}

// accounts ensures, outside any transaction, the accounts a fee books on:
// revenue:fees:<category> and each pupil's receivable.
func (s *Service) accounts(ctx context.Context, tenantID int64, category string, targets []target) (feeAccounts, error) {
	out := feeAccounts{receivables: map[int64]int64{}}
	a, err := s.led.EnsureAccount(ctx, tenantID, ledger.AccountSpec{Code: RevenueAccountCode(category), Name: "Frais scolaires — " + category, Type: ledger.Income})
	if err != nil {
		return out, fmt.Errorf("fees: revenue account: %w", err)
	}
	out.revenue = a.ID
	for _, t := range targets {
		r, err := ReceivableAccount(ctx, s.led, nil, tenantID, t.pupil)
		if err != nil {
			return out, err
		}
		out.receivables[t.pupil.ID] = r
	}
	return out, nil
}

// RevenueAccountCode is the ledger code of a fee category's revenue.
func RevenueAccountCode(category string) string { return "revenue:fees:" + category }

// lockPupils takes the pupils' fee locks (advisory, class 50) in id order,
// so that two charges of one pupil check its caps one after the other.
func lockPupils(ctx context.Context, tx pgx.Tx, ids []int64) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(50, (x % 2147483647)::int) FROM unnest($1::bigint[]) AS x ORDER BY x`, ids)
	if err != nil {
		return fmt.Errorf("fees: lock pupils: %w", err)
	}
	return nil
}

// assignTx inserts the lines of f for targets and, for an obligatoire fee,
// checks the caps and charges them.
func (s *Service) assignTx(ctx context.Context, tx pgx.Tx, f Fee, sets map[string]RuleSet, targets []target, accts feeAccounts, actor string) error {
	if len(targets) == 0 {
		return nil
	}
	charge := f.Kind == Obligatoire
	if charge {
		ids := make([]int64, len(targets))
		for i, t := range targets {
			ids[i] = t.pupil.ID
		}
		if err := lockPupils(ctx, tx, ids); err != nil {
			return err
		}
		if err := s.checkCaps(ctx, tx, f, sets, targets, 0); err != nil {
			return err
		}
	}
	status := StatusAwaitingOptIn
	if charge {
		status = StatusCharged
	}
	for _, t := range targets {
		var lineID int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO fee_lines (tenant_id, fee_id, pupil_id, level, on_date, amount, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			f.TenantID, f.ID, t.pupil.ID, t.pupil.Level, f.Dates[0], t.amount, status, s.now()).Scan(&lineID); err != nil {
			return fmt.Errorf("fees: line of pupil %d: %w", t.pupil.ID, err)
		}
		if charge {
			if err := s.book(ctx, tx, f, lineID, t.pupil.ID, accts.receivables[t.pupil.ID], accts.revenue, t.amount, "fee", actor); err != nil {
				return err
			}
		}
	}
	return nil
}

// book posts amount for a line (kind "fee": receivable debit, revenue
// credit; "fee-cancel" and "fee-credit": the other way round) and records
// the transfer on the line.
func (s *Service) book(ctx context.Context, tx pgx.Tx, f Fee, lineID, pupilID, receivable, revenue int64, amount decimal.Decimal, kind, actor string) error {
	var n int
	if err := tx.QueryRow(ctx, `UPDATE fee_lines SET bookings = bookings + 1 WHERE tenant_id = $1 AND id = $2 RETURNING bookings`,
		f.TenantID, lineID).Scan(&n); err != nil {
		return fmt.Errorf("fees: book line %d: %w", lineID, err)
	}
	sign := amount
	if kind != "fee" {
		sign = amount.Neg()
	}
	t, err := s.led.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID:       f.TenantID,
		IdempotencyKey: fmt.Sprintf("fee-line:%d:%d", lineID, n),
		Kind:           kind,
		OccurredAt:     s.now(),
		Actor:          actor,
		Memo:           f.Object,
		Metadata: map[string]string{"fee": fmt.Sprint(f.ID), "line": fmt.Sprint(lineID), "pupil": fmt.Sprint(pupilID),
			"category": f.Category, "kind": string(f.Kind), "date": f.Dates[0].Format(time.DateOnly)},
		Postings: []ledger.Posting{{AccountID: receivable, Amount: sign}, {AccountID: revenue, Amount: sign.Neg()}},
	})
	if err != nil {
		return fmt.Errorf("fees: book line %d: %w", lineID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fee_lines SET transfer_id = $3 WHERE tenant_id = $1 AND id = $2`, f.TenantID, lineID, t.ID); err != nil {
		return fmt.Errorf("fees: book line %d: %w", lineID, err)
	}
	return nil
}

// checkCaps returns a *CapError when charging targets the fee's category
// would take a pupil past a cap of its rule set. Lines of the fee itself
// are left out of the usage when exceptFee is the fee (a correction).
func (s *Service) checkCaps(ctx context.Context, tx Querier, f Fee, sets map[string]RuleSet, targets []target, exceptFee int64) error {
	var over []CapUsage
	for _, t := range targets {
		rs := sets[GroupOf(t.pupil.Level)]
		for _, c := range rs.CapsFor(f.Category) {
			used, err := capUsed(ctx, tx, f.TenantID, t.pupil.ID, rs, c, exceptFee)
			if err != nil {
				return err
			}
			if used.Add(t.amount).GreaterThan(c.Amount) {
				over = append(over, CapUsage{PupilID: t.pupil.ID, PupilName: t.pupil.FirstName + " " + t.pupil.LastName, Cap: c, Used: used, Asked: t.amount})
			}
		}
	}
	if len(over) > 0 {
		return &CapError{Over: over}
	}
	return nil
}

// capUsed sums what the pupil was charged (minus credits) in the cap's
// categories and scope: the rule set's school year, or every year the
// pupil was in the rule set's level group (the maternel cycle).
func capUsed(ctx context.Context, q Querier, tenantID, pupilID int64, rs RuleSet, c Cap, exceptFee int64) (decimal.Decimal, error) {
	var levels []string
	for _, l := range []string{"M1", "M2", "M3", "P1", "P2", "P3", "P4", "P5", "P6", "S1", "S2", "S3", "S4", "S5", "S6"} {
		if GroupOf(l) == rs.LevelGroup {
			levels = append(levels, l)
		}
	}
	var used decimal.Decimal
	err := q.QueryRow(ctx, `
		SELECT coalesce(sum(CASE WHEN l.credit THEN -l.amount ELSE l.amount END), 0)
		FROM fee_lines l JOIN fees f ON f.tenant_id = l.tenant_id AND f.id = l.fee_id
		WHERE l.tenant_id = $1 AND l.pupil_id = $2 AND l.status = 'charged' AND f.category = ANY($3)
		  AND l.level = ANY($4) AND ($5 = 'cycle' OR f.school_year = $6) AND f.id <> $7`,
		tenantID, pupilID, rs.capCategories(c), levels, c.Scope, rs.SchoolYear, exceptFee).Scan(&used)
	if err != nil {
		return decimal.Zero, fmt.Errorf("fees: cap %s of pupil %d: %w", c.ID, pupilID, err)
	}
	return used, nil
}

// CapUsages returns the pupil's usage of each cap of its level group's
// rule set for a school year (Asked is zero).
func (s *Service) CapUsages(ctx context.Context, tenantID, pupilID int64, year string) ([]CapUsage, error) {
	p, err := s.school.Pupil(ctx, tenantID, pupilID)
	if errors.Is(err, school.ErrNotFound) {
		return nil, fmt.Errorf("%w: pupil %d", ErrNotFound, pupilID)
	}
	if err != nil {
		return nil, err
	}
	rs, err := s.rules.Get(ctx, s.pool, tenantID, year, GroupOf(p.Level))
	if err != nil {
		return nil, err
	}
	var out []CapUsage
	for _, c := range rs.Caps {
		used, err := capUsed(ctx, s.pool, tenantID, pupilID, rs, c, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, CapUsage{PupilID: p.ID, PupilName: p.FirstName + " " + p.LastName, Cap: c, Used: used, Asked: decimal.Zero})
	}
	return out, nil
}
