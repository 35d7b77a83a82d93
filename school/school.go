// Package school is the school's world on PostgreSQL: organising bodies
// (tenants), schools and their policies, classes, pupils and their ledger
// accounts, guardians, badges, stations, devices, staff users and the audit
// log. It also imports pupils from the CSV exports schools already have and
// seeds the demo school.
//
// Every lookup takes the tenant id and never returns another tenant's row:
// a row of another tenant is simply not found (ErrNotFound).
//
// Pupil wallets live in the ledger: creating a pupil creates, in the same
// transaction, its wallet:<pupil id> account (liability, floor −grace or 0
// under a hard floor) and receivable:<pupil id> account (asset, no floor),
// and gives it a structured communication (sepa.WalletOGM) for bank top-ups.
package school

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tartine/internal/db"
	"tartine/ledger"
)

// Errors returned by the store (wrapped with detail; match with errors.Is).
var (
	// ErrNotFound: no such row in this tenant.
	ErrNotFound = errors.New("school: not found")
	// ErrInvalid: input rejected by validation (the message says what and where).
	ErrInvalid = errors.New("school: invalid input")
	// ErrConflict: a unique value (code, login, uid, e-mail, reference) is taken.
	ErrConflict = errors.New("school: already exists")
	// ErrBadCredentials: unknown login, wrong password or disabled user.
	ErrBadCredentials = errors.New("school: bad credentials")
	// ErrNoPhoto: the pupil has no photo, or no consent to show it.
	ErrNoPhoto = errors.New("school: no photo")
	// ErrOtherSchool: the change reaches into a school outside the actor's
	// scope (a pupil or a badge holder of another school).
	ErrOtherSchool = errors.New("school: another school")
)

// Store reads and writes the school tables. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	ledger *ledger.Ledger
	now    func() time.Time

	cancelBookings BookingCanceller // WithBookingCanceller; nil: none

	mu       sync.Mutex
	onRevoke []func(deviceID string) // OnDeviceRevoked
}

// Option configures a Store at construction.
type Option func(*Store)

// New returns a Store on pool, booking accounts in led. now may be nil
// (time.Now).
func New(pool *pgxpool.Pool, led *ledger.Ledger, now func() time.Time, opts ...Option) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{pool: pool, ledger: led, now: now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ledger returns the ledger the store books pupil accounts in.
func (s *Store) Ledger() *ledger.Ledger { return s.ledger }

// Pool returns the store's pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// mapErr maps a database error to the package's sentinels: unique
// violations are conflicts, check violations invalid input, each told by
// its constraint's name.
func mapErr(err error, what string) error {
	return db.MapErr(err, what, ErrNotFound, func(e *pgconn.PgError) error {
		switch e.Code {
		case "23505":
			return fmt.Errorf("%w (%s)", ErrConflict, e.ConstraintName)
		case "23514":
			return fmt.Errorf("%w: %s", ErrInvalid, e.ConstraintName)
		}
		return nil
	})
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Tenant is an organising body (pouvoir organisateur).
type Tenant struct {
	ID        int64
	Code      string
	Name      string
	OGMPrefix int // three-digit prefix of its wallet OGMs
}

// EnsureTenant creates the tenant with this code if missing, gives it an OGM
// prefix (the smallest unused one) and its chart of accounts, and returns it.
func (s *Store) EnsureTenant(ctx context.Context, code, name string) (Tenant, error) {
	code = strings.TrimSpace(code)
	if code == "" || strings.TrimSpace(name) == "" {
		return Tenant{}, invalid("tenant needs a code and a name")
	}
	id, err := s.ledger.EnsureTenant(ctx, code, name)
	if err != nil {
		return Tenant{}, err
	}
	// The smallest prefix no tenant has; two tenants created at once may
	// pick the same one: the unique index refuses the second, which retries.
	for attempt := 0; ; attempt++ {
		_, err = s.pool.Exec(ctx, `
			INSERT INTO ogm_counters (tenant_id, ogm_prefix)
			SELECT $1, p FROM (SELECT min(p) AS p FROM generate_series(1, 999) p
				WHERE NOT EXISTS (SELECT 1 FROM ogm_counters c WHERE c.ogm_prefix = p)) free
			WHERE p IS NOT NULL
			ON CONFLICT (tenant_id) DO NOTHING`, id)
		if err == nil || attempt > 3 {
			break
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			break
		}
	}
	if err != nil {
		return Tenant{}, mapErr(err, "tenant "+code+": ogm prefix")
	}
	if err := s.EnsureChart(ctx, id); err != nil {
		return Tenant{}, err
	}
	return s.Tenant(ctx, id)
}

// The tenants row is the ledger's (ledger.Tenant); the school keeps a
// tenant's OGM prefix and wallet sequence counter in its own table,
// ogm_counters (migration 00095: they were columns of tenants), so that
// only school's SQL names them (issue 13, "each table has one owner").
// Ledger functions over those columns would have taught the ledger the
// school's structured communications; a table of school's own keeps them
// with their only user.

// Tenant returns the tenant with this id, or ErrNotFound.
func (s *Store) Tenant(ctx context.Context, id int64) (Tenant, error) {
	lt, err := s.ledger.Tenant(ctx, id)
	return s.withPrefix(ctx, lt, err, fmt.Sprint("tenant ", id))
}

// TenantByCode returns the tenant with this code, or ErrNotFound.
func (s *Store) TenantByCode(ctx context.Context, code string) (Tenant, error) {
	lt, err := s.ledger.TenantByCode(ctx, code)
	return s.withPrefix(ctx, lt, err, "tenant "+code)
}

// withPrefix is the ledger's tenant lt (read with error err) with its OGM
// prefix (0 when none).
func (s *Store) withPrefix(ctx context.Context, lt ledger.Tenant, err error, what string) (Tenant, error) {
	if errors.Is(err, ledger.ErrUnknownTenant) {
		return Tenant{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: lt.ID, Code: lt.Code, Name: lt.Name}
	err = s.pool.QueryRow(ctx, `SELECT ogm_prefix FROM ogm_counters WHERE tenant_id = $1`, lt.ID).Scan(&t.OGMPrefix)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, mapErr(err, what+": ogm prefix")
	}
	return t, nil
}

// Tenants returns every tenant, by code.
func (s *Store) Tenants(ctx context.Context) ([]Tenant, error) {
	lts, err := s.ledger.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	prefixes := map[int64]int{}
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, ogm_prefix FROM ogm_counters`)
	if err != nil {
		return nil, fmt.Errorf("tenants: ogm prefixes: %w", err)
	}
	var id int64
	var prefix int
	if _, err := pgx.ForEachRow(rows, []any{&id, &prefix}, func() error { prefixes[id] = prefix; return nil }); err != nil {
		return nil, fmt.Errorf("tenants: ogm prefixes: %w", err)
	}
	out := make([]Tenant, len(lts))
	for i, lt := range lts {
		out[i] = Tenant{ID: lt.ID, Code: lt.Code, Name: lt.Name, OGMPrefix: prefixes[lt.ID]}
	}
	return out, nil
}

// Chart-of-accounts codes (DESIGN.md "Chart of accounts").
const (
	AccountRevenueMeals    = "revenue:meals"
	AccountRevenueDaycare  = "revenue:daycare"
	AccountSubsidyFWBMeals = "subsidy:fwb-meals"
	AccountStripeClearing  = "stripe-clearing"
	AccountBank            = "bank"
	AccountSuspense        = "suspense"
	AccountStripeFees      = "expense:stripe-fees"
	AccountCashOverShort   = "expense:cash-over-short"
	AccountWriteOff        = "expense:write-off"
	walletPrefix           = "wallet:"
	receivablePrefix       = "receivable:"
	cashPrefix             = "cash:"
)

// WalletAccountCode is the ledger code of a pupil's wallet.
func WalletAccountCode(pupilID int64) string { return fmt.Sprint(walletPrefix, pupilID) }

// ReceivableAccountCode is the ledger code of a pupil's fees receivable.
func ReceivableAccountCode(pupilID int64) string { return fmt.Sprint(receivablePrefix, pupilID) }

// CashAccountCode is the ledger code of a kiosk station's cash drawer.
func CashAccountCode(stationCode string) string { return cashPrefix + stationCode }

var chart = []ledger.AccountSpec{
	{Code: AccountRevenueMeals, Name: "Repas", Type: ledger.Income},
	{Code: AccountRevenueDaycare, Name: "Garderie", Type: ledger.Income},
	{Code: AccountSubsidyFWBMeals, Name: "Repas gratuits FWB à recevoir", Type: ledger.Asset},
	{Code: AccountStripeClearing, Name: "Stripe, en transit", Type: ledger.Asset},
	{Code: AccountBank, Name: "Banque", Type: ledger.Asset},
	{Code: AccountSuspense, Name: "Compte d'attente", Type: ledger.Liability},
	{Code: AccountStripeFees, Name: "Frais Stripe", Type: ledger.Expense},
	{Code: AccountCashOverShort, Name: "Écarts de caisse", Type: ledger.Expense},
	{Code: AccountWriteOff, Name: "Créances irrécouvrables", Type: ledger.Expense},
}

// EnsureChart creates the tenant's shared accounts if missing (idempotent):
// revenue:meals, revenue:daycare (income), subsidy:fwb-meals, stripe-clearing,
// bank (asset), suspense (liability), expense:stripe-fees,
// expense:cash-over-short, expense:write-off (expense). Cash drawers are
// created with their kiosk station.
func (s *Store) EnsureChart(ctx context.Context, tenantID int64) error {
	for _, spec := range chart {
		if _, err := s.ledger.EnsureAccount(ctx, tenantID, spec); err != nil {
			return fmt.Errorf("chart of tenant %d: %w", tenantID, err)
		}
	}
	return nil
}

// Audit appends an entry to the audit log. actor is "staff:12",
// "guardian:5", "device:abc" or "system"; action a dotted verb such as
// "badge.assign"; subject e.g. "pupil:42"; detail is stored as JSON (may be
// nil).
func (s *Store) Audit(ctx context.Context, tenantID int64, actor, action, subject string, detail map[string]any) error {
	return audit(ctx, s.pool, tenantID, actor, action, subject, detail, s.now())
}

func audit(ctx context.Context, q querier, tenantID int64, actor, action, subject string, detail map[string]any, at time.Time) error {
	if actor == "" || action == "" {
		return invalid("audit entry needs an actor and an action")
	}
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_log (tenant_id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		tenantID, at, actor, action, subject, detail)
	if err != nil {
		return mapErr(err, "audit "+action)
	}
	return nil
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string
	Action  string
	Subject string
	Detail  map[string]any
	// ActorName and SubjectName name the actor (a member of staff, a
	// guardian, a device) and the subject (a pupil) when they are known;
	// "" otherwise.
	ActorName   string
	SubjectName string
}

// AuditFilter narrows the audit log; its zero value keeps every entry.
type AuditFilter struct {
	Action  string    // an action ("badge.assign") or its family ("badge")
	Actor   string    // "staff:12", "device:abc", …
	PupilID int64     // entries about this pupil (subject "pupil:<id>")
	From    time.Time // entries at or after From (zero: no bound)
	Until   time.Time // entries before Until (zero: no bound)
}

// AuditLog returns the tenant's latest audit entries, newest first (at most
// limit; 100 when limit ≤ 0).
func (s *Store) AuditLog(ctx context.Context, tenantID int64, limit int) ([]AuditEntry, error) {
	return s.AuditLogOf(ctx, tenantID, 0, limit)
}

// AuditLogOf is AuditLog as seen from one school (schoolID 0: the whole
// tenant): the entries whose actor is a member of staff bound to that
// school or a device bound to it. Actions of staff of every school and of
// the system are left out for a school's admin: they may concern other
// schools.
func (s *Store) AuditLogOf(ctx context.Context, tenantID, schoolID int64, limit int) ([]AuditEntry, error) {
	return s.AuditSearch(ctx, tenantID, schoolID, AuditFilter{}, limit)
}

// AuditSearch is AuditLogOf narrowed by f, with the actor's and the
// pupil's names.
func (s *Store) AuditSearch(ctx context.Context, tenantID, schoolID int64, f AuditFilter, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	var from, until *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	subject := ""
	if f.PupilID != 0 {
		subject = fmt.Sprint("pupil:", f.PupilID)
	}
	rows, err := s.pool.Query(ctx, `SELECT l.id, l.at, l.actor, l.action, l.subject, l.detail,
			coalesce(CASE split_part(l.actor, ':', 1)
				WHEN 'staff' THEN (SELECT u.name FROM staff_users u WHERE u.tenant_id = l.tenant_id AND u.id = (CASE WHEN l.actor ~ '^[a-z]+:[0-9]{1,18}$' THEN split_part(l.actor, ':', 2)::bigint END))
				WHEN 'guardian' THEN (SELECT g.first_name || ' ' || g.last_name FROM guardians g WHERE g.tenant_id = l.tenant_id AND g.id = (CASE WHEN l.actor ~ '^[a-z]+:[0-9]{1,18}$' THEN split_part(l.actor, ':', 2)::bigint END))
				WHEN 'device' THEN (SELECT d.name FROM devices d WHERE d.tenant_id = l.tenant_id AND d.device_id = substr(l.actor, 8))
			END, ''),
			coalesce((SELECT p.first_name || ' ' || p.last_name FROM pupils p WHERE p.tenant_id = l.tenant_id AND l.subject LIKE 'pupil:%' AND p.id = (CASE WHEN l.subject ~ '^pupil:[0-9]{1,18}$' THEN split_part(l.subject, ':', 2)::bigint END)), '')
		FROM audit_log l
		WHERE l.tenant_id = $1 AND ($3::bigint = 0
			OR l.actor IN (SELECT 'staff:' || id FROM staff_users WHERE tenant_id = $1 AND school_id = $3)
			OR l.actor IN (SELECT 'device:' || device_id FROM devices WHERE tenant_id = $1 AND school_id = $3))
		AND ($4 = '' OR l.action = $4 OR l.action LIKE replace(replace($4, '_', '\_'), '%', '\%') || '.%')
		AND ($5 = '' OR l.actor = $5)
		AND ($6 = '' OR l.subject = $6)
		AND ($7::timestamptz IS NULL OR l.at >= $7)
		AND ($8::timestamptz IS NULL OR l.at < $8)
		ORDER BY l.id DESC LIMIT $2`, tenantID, limit, schoolID, f.Action, f.Actor, subject, from, until)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.ActorName, &e.SubjectName)
		return e, err
	})
}
