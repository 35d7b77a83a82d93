// Package ledger is Tartine's double-entry core on PostgreSQL: accounts,
// transfers, two-phase holds, reversals, closed periods and balances.
//
// Every amount is a shopspring/decimal with at most two decimals (EUR cents)
// and NUMERIC(14,2) in the database. A transfer has at least two postings
// that sum to zero (debits positive, credits negative) and an idempotency key:
// the same key with the same request returns the original transfer, with
// another request ErrIdempotencyConflict. Postings and transfers are
// append-only, enforced by database triggers.
//
// # Hot accounts and locking
//
// Accounts with a floor (pupil wallets) are "tracked": they keep a
// materialised balance, pending (held) amount and version on their row, updated
// under the row lock taken by the UPDATE itself, in ascending account id order
// so that two transfers can never deadlock. Each posting on a tracked account
// records the balance before and after and the version it produced, so drift
// is detectable (Verify).
//
// Accounts without a floor (revenue, Stripe clearing, cash drawers, subsidy,
// expenses) are never locked or updated: a transfer only inserts their
// posting, and their balance is the sum of their postings (indexed by account
// and time). So 400 canteen purchases into revenue:meals contend on nothing
// but their own wallets. The price is that reading a hot balance is a sum over
// postings, which reports and statements do rarely.
//
// The package imports no other Tartine package.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// Currency is the only currency the ledger books today.
const Currency = "EUR"

// AccountType is the accounting nature of an account.
type AccountType string

// Account types.
const (
	Asset     AccountType = "asset"
	Liability AccountType = "liability"
	Income    AccountType = "income"
	Expense   AccountType = "expense"
)

func (t AccountType) valid() bool {
	return t == Asset || t == Liability || t == Income || t == Expense
}

// debitNormal reports whether a debit increases the account's balance.
func (t AccountType) debitNormal() bool { return t == Asset || t == Expense }

// normal converts a signed posting amount (debit positive) into the change
// of the account's balance in its normal orientation.
func (t AccountType) normal(amount decimal.Decimal) decimal.Decimal {
	if t.debitNormal() {
		return amount
	}
	return amount.Neg()
}

// Account is a ledger account.
type Account struct {
	TenantID int64
	ID       int64
	Code     string
	Name     string
	Type     AccountType
	Currency string
	// Floor is the minimum available balance of a tracked account (wallets);
	// nil for untracked (hot) accounts.
	Floor *decimal.Decimal
}

// Tracked reports whether the account keeps a materialised balance.
func (a Account) Tracked() bool { return a.Floor != nil }

// AccountSpec describes an account to create with EnsureAccount.
type AccountSpec struct {
	Code string
	Name string
	Type AccountType
	// Floor, when set, makes the account tracked (e.g. 0 or -grace for a wallet).
	Floor *decimal.Decimal
}

// Posting is one leg of a transfer: a signed amount on an account, debit
// positive, credit negative.
type Posting struct {
	AccountID int64
	Amount    decimal.Decimal
}

// TransferRequest asks for a transfer.
type TransferRequest struct {
	TenantID       int64
	IdempotencyKey string
	Kind           string    // e.g. "meal", "topup", "daycare"
	OccurredAt     time.Time // business time (e.g. tap time); zero means now
	Actor          string    // who asked: "device:12", "guardian:5", "system"
	Memo           string
	Metadata       map[string]string
	Postings       []Posting
}

// Transfer is a recorded transfer.
type Transfer struct {
	TenantID       int64
	ID             int64
	IdempotencyKey string
	Kind           string
	OccurredAt     time.Time
	RecordedAt     time.Time
	Actor          string
	Memo           string
	Metadata       map[string]string
	ReversesID     *int64
	HoldID         *int64
	Postings       []Posting
}

// Ledger is the ledger service over a PostgreSQL pool.
type Ledger struct {
	pool *pgxpool.Pool
	now  func() time.Time

	mu       sync.RWMutex
	accounts map[accountKey]Account // immutable properties cache (type, tracked, currency)
}

type accountKey struct{ tenant, id int64 }

// New returns a Ledger on pool. now may be nil (time.Now).
func New(pool *pgxpool.Pool, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{pool: pool, now: now, accounts: make(map[accountKey]Account)}
}

// Pool returns the pool the ledger writes to.
func (l *Ledger) Pool() *pgxpool.Pool { return l.pool }

// EnsureTenant creates the tenant with this code if missing and returns its id.
func (l *Ledger) EnsureTenant(ctx context.Context, code, name string) (int64, error) {
	var id int64
	err := l.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO tenants (code, name) VALUES ($1, $2)
			ON CONFLICT (code) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM tenants WHERE code = $1 LIMIT 1`, code, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ensure tenant %s: %w", code, err)
	}
	return id, nil
}

// EnsureAccount creates the account with spec.Code in the tenant if it does
// not exist and returns it. An existing account is returned as it is; it
// returns ErrAccountMismatch when its type or trackedness differs from spec.
func (l *Ledger) EnsureAccount(ctx context.Context, tenantID int64, spec AccountSpec) (Account, error) {
	if spec.Code == "" || !spec.Type.valid() {
		return Account{}, fmt.Errorf("%w: account needs a code and a type (asset, liability, income, expense), got %q/%q", ErrInvalidRequest, spec.Code, spec.Type)
	}
	if spec.Floor != nil {
		if err := checkAmount(*spec.Floor, true); err != nil {
			return Account{}, fmt.Errorf("floor of %s: %w", spec.Code, err)
		}
	}
	_, err := l.pool.Exec(ctx, `
		INSERT INTO accounts (tenant_id, code, name, type, tracked, floor)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, code) DO NOTHING`,
		tenantID, spec.Code, spec.Name, string(spec.Type), spec.Floor != nil, spec.Floor)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return Account{}, fmt.Errorf("%w: tenant %d", ErrUnknownTenant, tenantID)
		}
		return Account{}, fmt.Errorf("ensure account %s: %w", spec.Code, err)
	}
	a, err := l.AccountByCode(ctx, tenantID, spec.Code)
	if err != nil {
		return Account{}, err
	}
	if a.Type != spec.Type || a.Tracked() != (spec.Floor != nil) {
		return a, fmt.Errorf("%w: %s exists as %s (tracked=%v)", ErrAccountMismatch, spec.Code, a.Type, a.Tracked())
	}
	return a, nil
}

const accountCols = `tenant_id, id, code, name, type, currency, floor`

func scanAccount(row pgx.Row) (Account, error) {
	var a Account
	var typ string
	var floor decimal.NullDecimal
	if err := row.Scan(&a.TenantID, &a.ID, &a.Code, &a.Name, &typ, &a.Currency, &floor); err != nil {
		return Account{}, err
	}
	a.Type = AccountType(typ)
	if floor.Valid {
		f := floor.Decimal
		a.Floor = &f
	}
	return a, nil
}

// AccountByCode returns the tenant's account with this code, or ErrUnknownAccount.
func (l *Ledger) AccountByCode(ctx context.Context, tenantID int64, code string) (Account, error) {
	a, err := scanAccount(l.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND code = $2`, tenantID, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("%w: %q in tenant %d", ErrUnknownAccount, code, tenantID)
	}
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", code, err)
	}
	l.remember(a)
	return a, nil
}

// EnsureAccountTx is EnsureAccount inside the caller's transaction tx: the
// account is created with tx's writes and read in tx. ErrInvalidRequest
// (and the amount errors of the floor) leave tx usable; any other error —
// ErrUnknownTenant, ErrAccountMismatch, a database error — wraps
// ErrTxAborted. As tx may still roll back, callers must not keep the id of
// an account it returns beyond tx unless AccountByCodeTx found it first.
func (l *Ledger) EnsureAccountTx(ctx context.Context, tx pgx.Tx, tenantID int64, spec AccountSpec) (Account, error) {
	if spec.Code == "" || !spec.Type.valid() {
		return Account{}, fmt.Errorf("%w: account needs a code and a type (asset, liability, income, expense), got %q/%q", ErrInvalidRequest, spec.Code, spec.Type)
	}
	if spec.Floor != nil {
		if err := checkAmount(*spec.Floor, true); err != nil {
			return Account{}, fmt.Errorf("floor of %s: %w", spec.Code, err)
		}
	}
	a, err := scanAccount(tx.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO accounts (tenant_id, code, name, type, tracked, floor)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, code) DO NOTHING RETURNING `+accountCols+`)
		SELECT `+accountCols+` FROM ins
		UNION ALL SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND code = $2 LIMIT 1`,
		tenantID, spec.Code, spec.Name, string(spec.Type), spec.Floor != nil, spec.Floor))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return Account{}, aborted(fmt.Errorf("%w: tenant %d", ErrUnknownTenant, tenantID))
	}
	if err != nil {
		return Account{}, aborted(fmt.Errorf("ensure account %s: %w", spec.Code, err))
	}
	if a.Type != spec.Type || a.Tracked() != (spec.Floor != nil) {
		return a, aborted(fmt.Errorf("%w: %s exists as %s (tracked=%v)", ErrAccountMismatch, spec.Code, a.Type, a.Tracked()))
	}
	return a, nil
}

// AccountByCodeTx is AccountByCode read in the caller's transaction tx.
// ErrUnknownAccount leaves tx usable; any other error wraps ErrTxAborted.
func (l *Ledger) AccountByCodeTx(ctx context.Context, tx pgx.Tx, tenantID int64, code string) (Account, error) {
	a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND code = $2`, tenantID, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("%w: %q in tenant %d", ErrUnknownAccount, code, tenantID)
	}
	if err != nil {
		return Account{}, aborted(fmt.Errorf("account %s: %w", code, err))
	}
	l.remember(a)
	return a, nil
}

// Account returns the tenant's account with this id, or ErrUnknownAccount.
func (l *Ledger) Account(ctx context.Context, tenantID, id int64) (Account, error) {
	a, err := scanAccount(l.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, fmt.Errorf("%w: id %d in tenant %d", ErrUnknownAccount, id, tenantID)
	}
	if err != nil {
		return Account{}, fmt.Errorf("account %d: %w", id, err)
	}
	l.remember(a)
	return a, nil
}

func (l *Ledger) remember(a Account) {
	l.mu.Lock()
	l.accounts[accountKey{a.TenantID, a.ID}] = a
	l.mu.Unlock()
}

// querier is what reads need: the pool or the caller's transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// accountsFor returns the immutable properties of the accounts, from the
// cache or the database through q (the pool, or the caller's transaction:
// a …Tx function never asks the pool for a second connection). Unknown or
// other-tenant ids give ErrUnknownAccount.
func (l *Ledger) accountsFor(ctx context.Context, q querier, tenantID int64, ids []int64) (map[int64]Account, error) {
	out := make(map[int64]Account, len(ids))
	var missing []int64
	l.mu.RLock()
	for _, id := range ids {
		if a, ok := l.accounts[accountKey{tenantID, id}]; ok {
			out[id] = a
		} else {
			missing = append(missing, id)
		}
	}
	l.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	rows, _ := q.Query(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, missing)
	accts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	for _, a := range accts {
		l.remember(a)
		out[a.ID] = a
	}
	for _, id := range missing {
		if _, ok := out[id]; !ok {
			return nil, fmt.Errorf("%w: id %d in tenant %d", ErrUnknownAccount, id, tenantID)
		}
	}
	return out, nil
}

// checkAmount enforces cents: at most two decimals, and non-zero unless zeroOK.
func checkAmount(d decimal.Decimal, zeroOK bool) error {
	if !zeroOK && d.IsZero() {
		return fmt.Errorf("%w: zero amount", ErrInvalidAmount)
	}
	if !d.Equal(d.Round(2)) {
		return fmt.Errorf("%w: %s has more than two decimals", ErrInvalidAmount, d.String())
	}
	if d.Abs().GreaterThanOrEqual(decimal.New(1, 12)) {
		return fmt.Errorf("%w: %s is too large", ErrInvalidAmount, d.String())
	}
	return nil
}

// validate checks a transfer request without touching the database.
func validate(req *TransferRequest) error {
	if req.IdempotencyKey == "" {
		return fmt.Errorf("%w: missing idempotency key", ErrInvalidRequest)
	}
	if req.Kind == "" {
		return fmt.Errorf("%w: missing kind", ErrInvalidRequest)
	}
	if len(req.Postings) < 2 {
		return fmt.Errorf("%w: %d posting(s)", ErrTooFewPostings, len(req.Postings))
	}
	sum := decimal.Zero
	for i, p := range req.Postings {
		if err := checkAmount(p.Amount, false); err != nil {
			return fmt.Errorf("posting %d: %w", i+1, err)
		}
		sum = sum.Add(p.Amount)
	}
	if !sum.IsZero() {
		return fmt.Errorf("%w: postings sum to %s", ErrUnbalanced, sum.String())
	}
	return nil
}

// requestHash fingerprints what a transfer request asks for, so a reused
// idempotency key with another body is detected.
func requestHash(parts ...any) []byte {
	b, _ := json.Marshal(parts)
	h := sha256.Sum256(b)
	return h[:]
}

func postingsHash(ps []Posting) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%d:%s", p.AccountID, p.Amount.StringFixed(2))
	}
	return out
}

func metadataJSON(m map[string]string) []byte {
	if m == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(m)
	return b
}

// withTx runs fn in a transaction, retrying a bounded number of times on
// serialization failures and deadlocks.
func (l *Ledger) withTx(ctx context.Context, fn func(pgx.Tx) error) error {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		err = pgx.BeginFunc(ctx, l.pool, fn)
		if !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(5<<i)) * time.Millisecond):
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", attempts, err)
}

// transient reports whether a transaction failed for a reason another
// attempt resolves: a serialization failure or a deadlock (40001, 40P01),
// or PostgreSQL's internal "new multixact has more than one updating
// member" (XX000), seen once in CI-like runs of the concurrency test under
// heavy row-lock contention on a wallet (PostgreSQL 15.18). The failed
// transaction rolled back whole, so retrying is safe; the idempotency key
// keeps a retry from posting twice.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01" ||
		(pgErr.Code == "XX000" && strings.Contains(pgErr.Message, "multixact"))
}

// MapError turns an error of a batch queued by QueueTransfers into the
// package's errors where the schema raised one (ErrFloorBreach,
// ErrPeriodClosed, ErrImmutable); other errors come back as they are.
func MapError(err error) error { return mapDBError(err) }

// mapDBError turns errors raised by the schema into the package's errors.
func mapDBError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case strings.HasPrefix(pgErr.Message, "tartine:period_closed"):
		return fmt.Errorf("%w: %s", ErrPeriodClosed, strings.TrimPrefix(pgErr.Message, "tartine:period_closed: "))
	case strings.HasPrefix(pgErr.Message, "tartine:floor"):
		return fmt.Errorf("%w: %s", ErrFloorBreach, strings.TrimPrefix(pgErr.Message, "tartine:floor: "))
	case strings.HasPrefix(pgErr.Message, "tartine:immutable"):
		return fmt.Errorf("%w: %s", ErrImmutable, pgErr.Message)
	}
	return err
}

// Transfer records a transfer. It returns the original transfer when the
// idempotency key was used before with the same request, and otherwise:
// ErrInvalidRequest, ErrTooFewPostings, ErrInvalidAmount, ErrUnbalanced,
// ErrUnknownAccount (unknown or other tenant's account), ErrCurrencyMismatch,
// ErrPeriodClosed, *FloorError (a tracked account would go below its floor),
// ErrIdempotencyConflict. Nothing is written when it returns an error.
func (l *Ledger) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	if err := validate(&req); err != nil {
		return Transfer{}, err
	}
	hash := transferHash(req)
	var out Transfer
	err := l.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = l.transferTx(ctx, tx, req, hash, nil, nil)
		return err
	})
	if err != nil {
		return l.failed(ctx, req.TenantID, req.IdempotencyKey, hash, err)
	}
	return out, nil
}

// failed turns the error of a transfer transaction into the caller's
// answer. A used idempotency key is a replay (or a conflict), also when the
// insert was refused because the period has been closed since the original
// was recorded: a retried request must get the original transfer back.
func (l *Ledger) failed(ctx context.Context, tenantID int64, key string, hash []byte, err error) (Transfer, error) {
	if errors.Is(err, errReplay) {
		return l.replay(ctx, tenantID, key, hash)
	}
	err = mapDBError(err)
	if errors.Is(err, ErrPeriodClosed) {
		var used bool
		if qerr := l.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2)`,
			tenantID, key).Scan(&used); qerr == nil && used {
			return l.replay(ctx, tenantID, key, hash)
		}
	}
	return Transfer{}, err
}

// occurredKey keeps the business time in the request hash only when the
// caller set it (a zero time means "now" and differs on every retry).
func occurredKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// errReplay signals inside a transaction that the idempotency key exists.
var errReplay = errors.New("idempotency key already used")

// transferTx writes a validated transfer inside tx. holdID links a hold
// posting; reverses links a reversal. skipFloor lists tracked accounts whose
// floor is not checked (a hold being posted already reserved the amount).
func (l *Ledger) transferTx(ctx context.Context, tx pgx.Tx, req TransferRequest, hash []byte, holdID, reverses *int64) (Transfer, error) {
	accts, err := l.checkedAccounts(ctx, tx, req.TenantID, postingAccounts(req.Postings))
	if err != nil {
		return Transfer{}, err
	}
	occurred := req.OccurredAt
	if occurred.IsZero() {
		occurred = l.now()
	}
	t := Transfer{TenantID: req.TenantID, IdempotencyKey: req.IdempotencyKey, Kind: req.Kind, OccurredAt: occurred,
		Actor: req.Actor, Memo: req.Memo, Metadata: req.Metadata, ReversesID: reverses, HoldID: holdID, Postings: req.Postings}
	pl := planPostings(req.Postings, accts)
	net, tracked, n := pl.net, pl.tracked, len(req.Postings)
	accIDs, amounts, beforeOff, afterOff, versionOff := pl.accIDs, pl.amounts, pl.beforeOff, pl.afterOff, pl.versionOff

	// One round trip: the transfer, the balance updates and the postings
	// travel in one pipelined batch. The updates and the postings apply only
	// when this very statement inserted the transfer (its id is the
	// session's current value of the transfers sequence); after a conflict
	// on the idempotency key (a replay) they write nothing.
	const mine = `EXISTS (SELECT 1 FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2
		AND id = currval(pg_get_serial_sequence('transfers', 'id')))`
	b := &pgx.Batch{}
	inserted := false
	b.Queue(`
		INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor, memo, metadata, reverses_id, hold_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
		RETURNING id, recorded_at`,
		req.TenantID, req.IdempotencyKey, hash, req.Kind, occurred, req.Actor, req.Memo, metadataJSON(req.Metadata), reverses, holdID,
	).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&t.ID, &t.RecordedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "transfers_tenant_id_reverses_id_key" {
				return ErrAlreadyReversed
			}
			return fmt.Errorf("insert transfer: %w", err)
		}
		inserted = true
		return nil
	})
	var floorErr *FloorError
	for _, id := range tracked {
		delta := net[id]
		b.Queue(`
			UPDATE accounts SET balance = balance + $4, version = version + $5
			WHERE tenant_id = $1 AND id = $3 AND `+mine+`
			RETURNING balance, pending, floor`,
			req.TenantID, req.IdempotencyKey, id, delta, countPostings(req.Postings, id),
		).QueryRow(func(row pgx.Row) error {
			var after, pending, floor decimal.Decimal
			err := row.Scan(&after, &pending, &floor)
			if errors.Is(err, pgx.ErrNoRows) && !inserted {
				return nil
			}
			if err != nil {
				return fmt.Errorf("update balance of account %d: %w", id, err)
			}
			// A hold being posted (holdID set) had its amount reserved, so
			// the floor is not checked again. Reversals are held to floors
			// like any debit: a correction that would overdraw a wallet
			// must be split (e.g. the rest to the pupil's receivable) by
			// the caller.
			if delta.IsNegative() && holdID == nil && floorErr == nil {
				if avail := after.Sub(pending); avail.LessThan(floor) {
					floorErr = &FloorError{AccountID: id, Code: accts[id].Code, Available: avail.Sub(delta), Shortfall: floor.Sub(avail)}
				}
			}
			return nil
		})
	}
	b.Queue(`
		INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at, balance_before, balance_after, account_version)
		SELECT $1, t.id, u.a, u.m, $3, a.balance + u.b, a.balance + u.f, a.version + u.v
		FROM transfers t
		CROSS JOIN unnest($4::bigint[], $5::numeric[], $6::numeric[], $7::numeric[], $8::bigint[]) WITH ORDINALITY AS u(a, m, b, f, v, i)
		LEFT JOIN accounts a ON a.tenant_id = $1 AND a.id = u.a AND u.v IS NOT NULL
		WHERE t.tenant_id = $1 AND t.idempotency_key = $2 AND t.id = currval(pg_get_serial_sequence('transfers', 'id'))
		ORDER BY u.i`,
		req.TenantID, req.IdempotencyKey, occurred, accIDs, amounts, beforeOff, afterOff, versionOff,
	).Exec(func(tag pgconn.CommandTag) error {
		if inserted && tag.RowsAffected() != int64(n) {
			return fmt.Errorf("insert postings: %d of %d inserted", tag.RowsAffected(), n)
		}
		return nil
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Transfer{}, err
	}
	if !inserted {
		return Transfer{}, errReplay
	}
	if floorErr != nil {
		return Transfer{}, floorErr
	}
	return t, nil
}

// postingPlan is how a transfer's postings change its tracked accounts.
type postingPlan struct {
	net     map[int64]decimal.Decimal // per tracked account: the change of its normal balance
	tracked []int64                   // the tracked accounts, ascending (the lock order)
	// Per posting: on a tracked account, balance_before, balance_after and
	// account_version are the account's values after the update plus these
	// offsets (the running balance through the transfer's postings on that
	// account); null on an untracked account.
	accIDs     []int64
	amounts    []decimal.Decimal
	beforeOff  []decimal.NullDecimal
	afterOff   []decimal.NullDecimal
	versionOff []*int64
}

// planPostings computes the net change of each tracked account (applied
// once, in ascending id order: a fixed lock order) and the offsets of the
// postings' running balances.
func planPostings(ps []Posting, accts map[int64]Account) postingPlan {
	n := len(ps)
	pl := postingPlan{net: map[int64]decimal.Decimal{}, accIDs: make([]int64, n), amounts: make([]decimal.Decimal, n),
		beforeOff: make([]decimal.NullDecimal, n), afterOff: make([]decimal.NullDecimal, n), versionOff: make([]*int64, n)}
	for _, p := range ps {
		if accts[p.AccountID].Tracked() {
			pl.net[p.AccountID] = pl.net[p.AccountID].Add(accts[p.AccountID].Type.normal(p.Amount))
		}
	}
	for id := range pl.net {
		pl.tracked = append(pl.tracked, id)
	}
	sort.Slice(pl.tracked, func(i, j int) bool { return pl.tracked[i] < pl.tracked[j] })
	running := map[int64]decimal.Decimal{}
	seen := map[int64]int64{}
	for i, p := range ps {
		pl.accIDs[i], pl.amounts[i] = p.AccountID, p.Amount
		if _, ok := pl.net[p.AccountID]; !ok {
			continue
		}
		off, ok := running[p.AccountID]
		if !ok {
			off = pl.net[p.AccountID].Neg()
		}
		pl.beforeOff[i] = decimal.NullDecimal{Decimal: off, Valid: true}
		off = off.Add(accts[p.AccountID].Type.normal(p.Amount))
		running[p.AccountID] = off
		pl.afterOff[i] = decimal.NullDecimal{Decimal: off, Valid: true}
		seen[p.AccountID]++
		v := seen[p.AccountID] - countPostings(ps, p.AccountID)
		pl.versionOff[i] = &v
	}
	return pl
}

func countPostings(ps []Posting, id int64) int64 {
	var n int64
	for _, p := range ps {
		if p.AccountID == id {
			n++
		}
	}
	return n
}

// replay returns the transfer recorded under key if its request hash matches.
func (l *Ledger) replay(ctx context.Context, tenantID int64, key string, hash []byte) (Transfer, error) {
	var stored []byte
	var id int64
	err := l.pool.QueryRow(ctx, `SELECT id, request_hash FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key).Scan(&id, &stored)
	if err != nil {
		return Transfer{}, fmt.Errorf("read replayed transfer %q: %w", key, err)
	}
	if string(stored) != string(hash) {
		return Transfer{}, fmt.Errorf("%w: key %q", ErrIdempotencyConflict, key)
	}
	return l.GetTransfer(ctx, tenantID, id)
}

// GetTransfer returns a transfer with its postings, or ErrNotFound.
func (l *Ledger) GetTransfer(ctx context.Context, tenantID, id int64) (Transfer, error) {
	var t Transfer
	var meta []byte
	err := l.pool.QueryRow(ctx, `
		SELECT tenant_id, id, idempotency_key, kind, occurred_at, recorded_at, actor, memo, metadata, reverses_id, hold_id
		FROM transfers WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Scan(&t.TenantID, &t.ID, &t.IdempotencyKey, &t.Kind, &t.OccurredAt, &t.RecordedAt, &t.Actor, &t.Memo, &meta, &t.ReversesID, &t.HoldID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, fmt.Errorf("%w: transfer %d", ErrNotFound, id)
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("read transfer %d: %w", id, err)
	}
	_ = json.Unmarshal(meta, &t.Metadata)
	rows, _ := l.pool.Query(ctx, `SELECT account_id, amount FROM postings WHERE tenant_id = $1 AND transfer_id = $2 ORDER BY id`, tenantID, id)
	t.Postings, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Posting])
	if err != nil {
		return Transfer{}, fmt.Errorf("read postings of transfer %d: %w", id, err)
	}
	return t, nil
}

// Reverse records the reversal of a transfer: the same postings with the
// opposite sign, linked to the original. A transfer can be reversed once
// (ErrAlreadyReversed); a reversal cannot itself be reversed
// (ErrInvalidRequest). Like any debit it returns *FloorError when it would
// take a wallet below its floor.
// The key makes the call idempotent like Transfer.
func (l *Ledger) Reverse(ctx context.Context, tenantID, transferID int64, key, actor, memo string) (Transfer, error) {
	orig, err := l.GetTransfer(ctx, tenantID, transferID)
	if err != nil {
		return Transfer{}, err
	}
	if orig.ReversesID != nil {
		return Transfer{}, fmt.Errorf("%w: transfer %d is a reversal; post a new transfer instead", ErrInvalidRequest, transferID)
	}
	req := TransferRequest{TenantID: tenantID, IdempotencyKey: key, Kind: "reversal", Actor: actor, Memo: memo,
		Metadata: map[string]string{"reverses": fmt.Sprint(transferID)}}
	for _, p := range orig.Postings {
		req.Postings = append(req.Postings, Posting{AccountID: p.AccountID, Amount: p.Amount.Neg()})
	}
	if err := validate(&req); err != nil {
		return Transfer{}, err
	}
	hash := requestHash("reversal", transferID)
	var out Transfer
	err = l.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = l.transferTx(ctx, tx, req, hash, nil, &transferID)
		return err
	})
	if err != nil {
		return l.failed(ctx, tenantID, key, hash, err)
	}
	return out, nil
}

// ClosePeriod closes the books up to (not including) until: transfers that
// occur before it are refused from now on with ErrPeriodClosed.
func (l *Ledger) ClosePeriod(ctx context.Context, tenantID int64, until time.Time, actor string) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO period_closes (tenant_id, closed_until, actor) VALUES ($1, $2, $3)`, tenantID, until, actor)
	if err != nil {
		return fmt.Errorf("close period: %w", err)
	}
	return nil
}

// SetFloor changes a tracked account's floor. It returns *FloorError when the
// account's available balance is already below the new floor.
func (l *Ledger) SetFloor(ctx context.Context, tenantID, accountID int64, floor decimal.Decimal) error {
	if err := checkAmount(floor, true); err != nil {
		return err
	}
	return l.withTx(ctx, func(tx pgx.Tx) error {
		var bal, pending decimal.Decimal
		var code string
		err := tx.QueryRow(ctx, `SELECT code, balance, pending FROM accounts WHERE tenant_id = $1 AND id = $2 AND tracked FOR UPDATE`,
			tenantID, accountID).Scan(&code, &bal, &pending)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: tracked account %d", ErrUnknownAccount, accountID)
		}
		if err != nil {
			return err
		}
		if avail := bal.Sub(pending); avail.LessThan(floor) {
			return &FloorError{AccountID: accountID, Code: code, Available: avail, Shortfall: floor.Sub(avail)}
		}
		_, err = tx.Exec(ctx, `UPDATE accounts SET floor = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, accountID, floor)
		return err
	})
}
