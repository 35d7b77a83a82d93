package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

// HoldStatus is the state of a hold.
type HoldStatus string

// Hold states. A hold is pending until it ends exactly once.
const (
	HoldPending HoldStatus = "pending"
	HoldPosted  HoldStatus = "posted"
	HoldVoided  HoldStatus = "voided"
	HoldExpired HoldStatus = "expired"
)

// HoldRequest asks to reserve an amount on a tracked account (a wallet).
type HoldRequest struct {
	TenantID       int64
	AccountID      int64
	Amount         decimal.Decimal
	IdempotencyKey string
	Kind           string
	Actor          string
	Memo           string
	Metadata       map[string]string
	ExpiresAt      *time.Time // ExpireHolds ends it after this time; nil never expires
}

// Hold is a reservation of an amount on a tracked account.
type Hold struct {
	TenantID     int64
	ID           int64
	AccountID    int64
	Amount       decimal.Decimal
	Kind         string
	Memo         string
	Metadata     map[string]string
	CreatedAt    time.Time
	ExpiresAt    *time.Time
	Status       HoldStatus
	PostedAmount decimal.Decimal
	TransferID   *int64 // the transfer that posted it
}

// PlaceHold reserves req.Amount on a tracked account, reducing its available
// balance. The same idempotency key and request returns the original hold.
// It returns ErrInvalidAmount, ErrUnknownAccount, ErrInvalidRequest (account
// not tracked), *FloorError, ErrIdempotencyConflict.
func (l *Ledger) PlaceHold(ctx context.Context, req HoldRequest) (Hold, error) {
	a, hash, err := l.checkHold(ctx, l.pool, req)
	if err != nil {
		return Hold{}, err
	}
	var h Hold
	err = l.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		h, err = l.insertHold(ctx, tx, req, a, hash)
		return err
	})
	if errors.Is(err, errReplay) {
		return l.replayHold(ctx, l.pool, req, hash)
	}
	if err != nil {
		return Hold{}, mapDBError(err)
	}
	return h, nil
}

// PlaceHoldTx is PlaceHold inside the caller's transaction tx, so that the
// caller's own rows (a booking) and the reservation commit together, with
// the contract of TransferTx:
//
//   - ErrInvalidRequest, ErrInvalidAmount, ErrUnknownAccount and
//     ErrCurrencyMismatch are returned before anything is written: tx is
//     untouched and usable;
//   - a used idempotency key is read inside tx: the same request returns
//     the original hold, another ErrIdempotencyConflict; nothing is
//     written, tx stays usable;
//   - an error wrapping ErrTxAborted — *FloorError (the hold row was
//     written before the floor was found breached), a database error —
//     requires rolling tx back (or a savepoint, tx.Begin, around the call).
//
// It reads and writes only in tx, never through the pool.
func (l *Ledger) PlaceHoldTx(ctx context.Context, tx pgx.Tx, req HoldRequest) (Hold, error) {
	a, hash, err := l.checkHold(ctx, tx, req)
	if err != nil {
		return Hold{}, abortedUnless(err, ErrInvalidRequest, ErrInvalidAmount, ErrUnknownAccount, ErrCurrencyMismatch)
	}
	h, err := l.insertHold(ctx, tx, req, a, hash)
	if errors.Is(err, errReplay) {
		h, err := l.replayHold(ctx, tx, req, hash)
		return h, abortedUnless(err, ErrIdempotencyConflict)
	}
	if err != nil {
		return Hold{}, aborted(mapDBError(err))
	}
	return h, nil
}

// checkHold validates a hold request and returns its account (read
// through q when not cached) and request hash; nothing is written.
func (l *Ledger) checkHold(ctx context.Context, q querier, req HoldRequest) (Account, []byte, error) {
	if req.IdempotencyKey == "" || req.Kind == "" {
		return Account{}, nil, fmt.Errorf("%w: a hold needs an idempotency key and a kind", ErrInvalidRequest)
	}
	if err := checkAmount(req.Amount, false); err != nil {
		return Account{}, nil, err
	}
	if req.Amount.IsNegative() {
		return Account{}, nil, fmt.Errorf("%w: hold amount %s must be positive", ErrInvalidAmount, req.Amount)
	}
	accts, err := l.accountsFor(ctx, q, req.TenantID, []int64{req.AccountID})
	if err != nil {
		return Account{}, nil, err
	}
	a := accts[req.AccountID]
	if !a.Tracked() {
		return Account{}, nil, fmt.Errorf("%w: holds need a tracked account, %s has no floor", ErrInvalidRequest, a.Code)
	}
	return a, requestHash("hold", req.AccountID, req.Amount.StringFixed(2), req.Kind, req.Memo, req.Metadata), nil
}

// insertHold writes the hold and its reservation on account a in tx. It
// returns errReplay (nothing written) when the key is used, and
// *FloorError after writing when the account cannot afford it.
func (l *Ledger) insertHold(ctx context.Context, tx pgx.Tx, req HoldRequest, a Account, hash []byte) (Hold, error) {
	h := Hold{TenantID: req.TenantID, AccountID: req.AccountID, Amount: req.Amount, Kind: req.Kind, Memo: req.Memo,
		Metadata: req.Metadata, ExpiresAt: req.ExpiresAt, Status: HoldPending}
	err := tx.QueryRow(ctx, `
		INSERT INTO holds (tenant_id, account_id, amount, idempotency_key, request_hash, kind, actor, memo, metadata, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
		RETURNING id, created_at`,
		req.TenantID, req.AccountID, req.Amount, req.IdempotencyKey, hash, req.Kind, req.Actor, req.Memo,
		metadataJSON(req.Metadata), req.ExpiresAt, l.now()).Scan(&h.ID, &h.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, errReplay
	}
	if err != nil {
		return Hold{}, fmt.Errorf("insert hold: %w", err)
	}
	var bal, pending, floor decimal.Decimal
	err = tx.QueryRow(ctx, `
		UPDATE accounts SET pending = pending + $3 WHERE tenant_id = $1 AND id = $2
		RETURNING balance, pending, floor`, req.TenantID, req.AccountID, req.Amount).Scan(&bal, &pending, &floor)
	if err != nil {
		return Hold{}, fmt.Errorf("reserve on account %d: %w", req.AccountID, err)
	}
	if avail := bal.Sub(pending); avail.LessThan(floor) {
		return Hold{}, &FloorError{AccountID: req.AccountID, Code: a.Code, Available: avail.Add(req.Amount), Shortfall: floor.Sub(avail)}
	}
	return h, nil
}

// replayHold returns, read through q, the hold placed under req's key if
// it was placed with the same request (hash), else ErrIdempotencyConflict.
func (l *Ledger) replayHold(ctx context.Context, q querier, req HoldRequest, hash []byte) (Hold, error) {
	var stored []byte
	var id int64
	if err := q.QueryRow(ctx, `SELECT id, request_hash FROM holds WHERE tenant_id = $1 AND idempotency_key = $2`,
		req.TenantID, req.IdempotencyKey).Scan(&id, &stored); err != nil {
		return Hold{}, fmt.Errorf("read replayed hold: %w", err)
	}
	if string(stored) != string(hash) {
		return Hold{}, fmt.Errorf("%w: hold key %q", ErrIdempotencyConflict, req.IdempotencyKey)
	}
	return readHold(ctx, q, req.TenantID, id)
}

// GetHold returns a hold with its current status, or ErrNotFound.
func (l *Ledger) GetHold(ctx context.Context, tenantID, id int64) (Hold, error) {
	return readHold(ctx, l.pool, tenantID, id)
}

// GetHoldTx is GetHold read in the caller's transaction tx (it sees what tx
// wrote). ErrNotFound leaves tx usable; any other error wraps ErrTxAborted.
func (l *Ledger) GetHoldTx(ctx context.Context, tx pgx.Tx, tenantID, id int64) (Hold, error) {
	h, err := readHold(ctx, tx, tenantID, id)
	return h, abortedUnless(err, ErrNotFound)
}

// holdSelect reads holds with their endings; a WHERE clause on h follows.
const holdSelect = `
	SELECT h.tenant_id, h.id, h.account_id, h.amount, h.kind, h.memo, h.metadata, h.created_at, h.expires_at,
	       e.outcome, e.posted_amount, e.transfer_id
	FROM holds h LEFT JOIN hold_endings e ON e.tenant_id = h.tenant_id AND e.hold_id = h.id`

// scanHold scans a row of holdSelect.
func scanHold(row pgx.Row) (Hold, error) {
	var h Hold
	var outcome *string
	var posted decimal.NullDecimal
	var meta []byte
	if err := row.Scan(&h.TenantID, &h.ID, &h.AccountID, &h.Amount, &h.Kind, &h.Memo, &meta, &h.CreatedAt, &h.ExpiresAt, &outcome, &posted, &h.TransferID); err != nil {
		return Hold{}, err
	}
	_ = decodeMeta(meta, &h.Metadata)
	h.Status = HoldPending
	if outcome != nil {
		h.Status = HoldStatus(*outcome)
		h.PostedAmount = posted.Decimal
	}
	return h, nil
}

// readHold reads a hold and its ending through q, or ErrNotFound.
func readHold(ctx context.Context, q querier, tenantID, id int64) (Hold, error) {
	h, err := scanHold(q.QueryRow(ctx, holdSelect+` WHERE h.tenant_id = $1 AND h.id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, fmt.Errorf("%w: hold %d", ErrNotFound, id)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("read hold %d: %w", id, err)
	}
	return h, nil
}

// QueueHolds queues on b a read of the tenant's holds whose ids the
// subquery idsSQL yields, with their endings, into into (by id). In idsSQL,
// $1 is the tenant and args are $2, $3 …: the group commit of taps reads
// the holds of the bookings it is about to consume, in the round trip that
// reads the bookings.
func QueueHolds(b *pgx.Batch, tenantID int64, idsSQL string, args []any, into map[int64]Hold) {
	// = ANY(ARRAY(…)): one index condition on the holds' key, whatever
	// the planner thinks of the subquery's size.
	b.Queue(holdSelect+` WHERE h.tenant_id = $1 AND h.id = ANY(ARRAY(`+idsSQL+`))`, append([]any{tenantID}, args...)...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			h, err := scanHold(rows)
			if err != nil {
				return fmt.Errorf("read holds: %w", err)
			}
			into[h.ID] = h
		}
		return rows.Err()
	})
}

// PostHoldRequest turns (part of) a hold into a transfer from the held
// account to To.
type PostHoldRequest struct {
	TenantID       int64
	HoldID         int64
	Amount         decimal.Decimal // 0 < Amount ≤ held; the rest is released
	To             int64           // account credited
	IdempotencyKey string
	Kind           string // defaults to the hold's kind
	OccurredAt     time.Time
	Actor          string
	Memo           string
	Metadata       map[string]string
}

// PostHold ends a pending hold by posting up to its amount; the remainder is
// released. The same idempotency key and request returns the original
// transfer. It returns ErrNotFound, ErrHoldEnded, ErrOverPost,
// ErrInvalidAmount, ErrUnknownAccount, ErrInvalidRequest (no key, or To is
// the held account), ErrPeriodClosed, ErrIdempotencyConflict.
func (l *Ledger) PostHold(ctx context.Context, req PostHoldRequest) (Transfer, error) {
	h, err := l.GetHold(ctx, req.TenantID, req.HoldID)
	if err != nil {
		return Transfer{}, err
	}
	tr, hash, err := l.postHoldTransfer(ctx, l.pool, h, req)
	if err != nil {
		return Transfer{}, err
	}
	var out Transfer
	err = l.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = l.transferTx(ctx, tx, tr, hash, &h.ID, nil)
		if err != nil {
			return err
		}
		return postedHold(ctx, tx, h, req.Amount, out.ID, req.Actor, l.now())
	})
	if err != nil {
		return l.failed(ctx, req.TenantID, req.IdempotencyKey, hash, err)
	}
	return out, nil
}

// postHoldTransfer checks a post of hold h and returns the transfer it
// makes and its request hash (for idempotency). It returns ErrInvalidAmount,
// ErrOverPost, ErrUnknownAccount, ErrInvalidRequest and the errors of
// validate; nothing is read but account properties (through q when not
// cached).
func (l *Ledger) postHoldTransfer(ctx context.Context, q querier, h Hold, req PostHoldRequest) (TransferRequest, []byte, error) {
	if err := checkAmount(req.Amount, false); err != nil {
		return TransferRequest{}, nil, err
	}
	if req.Amount.IsNegative() {
		return TransferRequest{}, nil, fmt.Errorf("%w: posted amount %s must be positive", ErrInvalidAmount, req.Amount)
	}
	if req.Amount.GreaterThan(h.Amount) {
		return TransferRequest{}, nil, fmt.Errorf("%w: %s over a hold of %s", ErrOverPost, req.Amount.StringFixed(2), h.Amount.StringFixed(2))
	}
	accts, err := l.accountsFor(ctx, q, req.TenantID, []int64{h.AccountID, req.To})
	if err != nil {
		return TransferRequest{}, nil, err
	}
	if req.To == h.AccountID {
		return TransferRequest{}, nil, fmt.Errorf("%w: hold %d cannot be posted to the account it holds on", ErrInvalidRequest, h.ID)
	}
	kind := req.Kind
	if kind == "" {
		kind = h.Kind
	}
	debitNormal := accts[h.AccountID].Type.debitNormal()
	tr := TransferRequest{TenantID: req.TenantID, IdempotencyKey: req.IdempotencyKey, Kind: kind, OccurredAt: req.OccurredAt,
		Actor: req.Actor, Memo: req.Memo, Metadata: req.Metadata, Postings: []Posting{
			// Decrease the held account's balance; credit-normal (a wallet) means a debit.
			{AccountID: h.AccountID, Amount: req.Amount.Mul(sign(debitNormal))},
			{AccountID: req.To, Amount: req.Amount.Mul(sign(!debitNormal))},
		}}
	if err := validate(&tr); err != nil {
		return TransferRequest{}, nil, err
	}
	return tr, requestHash("post-hold", req.HoldID, req.Amount.StringFixed(2), req.To, kind, req.Memo, req.Metadata, occurredKey(req.OccurredAt)), nil
}

// sign returns -1 when neg, else 1.
func sign(neg bool) decimal.Decimal {
	if neg {
		return decimal.NewFromInt(-1)
	}
	return decimal.NewFromInt(1)
}

// postedHold records the ending of hold h as posted (amount, by transfer)
// and releases its reservation on the account, both in one round trip. An
// ending recorded concurrently is ErrHoldEnded.
func postedHold(ctx context.Context, tx pgx.Tx, h Hold, amount decimal.Decimal, transferID int64, actor string, at time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO hold_endings (tenant_id, hold_id, outcome, posted_amount, transfer_id, actor, ended_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, h.TenantID, h.ID, string(HoldPosted), amount, transferID, actor, at).
		Exec(func(pgconn.CommandTag) error { return nil })
	b.Queue(`UPDATE accounts SET pending = pending - $3 WHERE tenant_id = $1 AND id = $2`, h.TenantID, h.AccountID, h.Amount)
	err := tx.SendBatch(ctx, b).Close()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "hold_endings" {
		return fmt.Errorf("%w: hold %d", ErrHoldEnded, h.ID)
	}
	if err != nil {
		return fmt.Errorf("end hold %d and release its reservation: %w", h.ID, err)
	}
	return nil
}

// VoidHold ends a pending hold without posting: the amount is available
// again. It returns ErrNotFound or ErrHoldEnded.
func (l *Ledger) VoidHold(ctx context.Context, tenantID, holdID int64, actor string) error {
	return l.endWithout(ctx, tenantID, holdID, HoldVoided, actor)
}

// VoidHoldTx is VoidHold inside the caller's transaction tx, so that the
// caller's own change (a cancelled booking) and the released reservation
// commit together, with the contract of TransferTx:
//
//   - ErrNotFound, and ErrHoldEnded when the hold had ended (posted,
//     voided or expired) when read, are returned before anything is
//     written: tx is usable (GetHoldTx tells how it ended). The read
//     follows the lock of the held account, which a post of the hold also
//     takes, so an ending committed by a concurrent post is seen;
//   - an error wrapping ErrTxAborted — among them ErrHoldEnded when the
//     hold ends concurrently after the read, a database error — requires
//     rolling tx back.
//
// It reads and writes only in tx, never through the pool.
func (l *Ledger) VoidHoldTx(ctx context.Context, tx pgx.Tx, tenantID, holdID int64, actor string) error {
	return l.endWithoutTx(ctx, tx, tenantID, holdID, HoldVoided, actor)
}

func (l *Ledger) endWithout(ctx context.Context, tenantID, holdID int64, outcome HoldStatus, actor string) error {
	err := l.withTx(ctx, func(tx pgx.Tx) error {
		return l.endWithoutTx(ctx, tx, tenantID, holdID, outcome, actor)
	})
	if errors.Is(err, ErrTxAborted) && errors.Is(err, ErrHoldEnded) {
		// Ended concurrently: the same answer as when read ended.
		return fmt.Errorf("%w: hold %d", ErrHoldEnded, holdID)
	}
	return err
}

// endWithoutTx ends a pending hold as outcome (voided, expired) in tx and
// releases its reservation; see VoidHoldTx for the errors.
func (l *Ledger) endWithoutTx(ctx context.Context, tx pgx.Tx, tenantID, holdID int64, outcome HoldStatus, actor string) error {
	// Lock the account before ending the hold, in the same order as
	// PostHold (account row, then hold ending): the other order deadlocks
	// when a void races a post of the same hold. Holds never change: their
	// account and amount are read with the lock.
	var account int64
	var amount decimal.Decimal
	err := tx.QueryRow(ctx, `
		SELECT h.account_id, h.amount FROM holds h JOIN accounts a ON a.tenant_id = h.tenant_id AND a.id = h.account_id
		WHERE h.tenant_id = $1 AND h.id = $2 FOR NO KEY UPDATE OF a`, tenantID, holdID).Scan(&account, &amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: hold %d", ErrNotFound, holdID)
	}
	if err != nil {
		return aborted(fmt.Errorf("lock account of hold %d: %w", holdID, err))
	}
	// Read after the lock: an ending committed meanwhile is visible.
	var ended string
	err = tx.QueryRow(ctx, `SELECT outcome FROM hold_endings WHERE tenant_id = $1 AND hold_id = $2`, tenantID, holdID).Scan(&ended)
	switch {
	case err == nil:
		return fmt.Errorf("%w: hold %d is %s", ErrHoldEnded, holdID, ended)
	case !errors.Is(err, pgx.ErrNoRows):
		return aborted(fmt.Errorf("read ending of hold %d: %w", holdID, err))
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO hold_endings (tenant_id, hold_id, outcome, posted_amount, transfer_id, actor, ended_at)
		VALUES ($1, $2, $3, $4, NULL, $5, $6)`, tenantID, holdID, string(outcome), decimal.Zero, actor, l.now()).
		Exec(func(pgconn.CommandTag) error { return nil })
	b.Queue(`UPDATE accounts SET pending = pending - $3 WHERE tenant_id = $1 AND id = $2`, tenantID, account, amount)
	err = tx.SendBatch(ctx, b).Close()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "hold_endings" {
		return aborted(fmt.Errorf("%w: hold %d", ErrHoldEnded, holdID))
	}
	if err != nil {
		return aborted(fmt.Errorf("end hold %d: %w", holdID, err))
	}
	return nil
}

// ExpireHolds ends, as expired, every pending hold of the tenant whose
// expiry is at or before now, and returns how many it ended. Safe to run
// concurrently and repeatedly.
func (l *Ledger) ExpireHolds(ctx context.Context, tenantID int64, now time.Time) (int, error) {
	rows, _ := l.pool.Query(ctx, `
		SELECT h.id FROM holds h
		WHERE h.tenant_id = $1 AND h.expires_at <= $2
		  AND NOT EXISTS (SELECT 1 FROM hold_endings e WHERE e.tenant_id = h.tenant_id AND e.hold_id = h.id)
		ORDER BY h.id`, tenantID, now)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("find expired holds: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := l.endWithout(ctx, tenantID, id, HoldExpired, "system:expiry")
		if errors.Is(err, ErrHoldEnded) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
