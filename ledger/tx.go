package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TransferTx records a transfer inside the caller's transaction tx, so that
// the caller's own rows (a tap, a booking) and the money commit together,
// with one commit. It validates and answers like Transfer, with the same
// request fingerprint: a key first used by Transfer replays here and the
// other way round.
//
// The caller owns the transaction: it commits, rolls back and retries
// (serialization failures and deadlocks, SQLSTATE 40001 and 40P01, come
// back wrapped, errors.As finds the *pgconn.PgError). What the caller may do
// after an error:
//
//   - an error wrapping ErrTxAborted (*FloorError, ErrPeriodClosed, a
//     database error, together with ErrTxAborted) may have left partial
//     writes in tx or aborted it: roll tx back (or wrap the call in a
//     savepoint, tx.Begin, to carry on without it);
//   - any other error — validation (ErrInvalidRequest, ErrTooFewPostings,
//     ErrInvalidAmount, ErrUnbalanced), ErrUnknownAccount,
//     ErrCurrencyMismatch, ErrIdempotencyConflict — is returned before
//     anything is written: tx is untouched and usable;
//   - a used idempotency key is read inside tx: the original transfer is
//     returned (as Transfer does), nothing is written.
//
// Everything it reads, accounts its cache has not seen included, is read
// in tx: it never asks the pool for another connection, so callers that
// each hold one cannot starve the pool.
func (l *Ledger) TransferTx(ctx context.Context, tx pgx.Tx, req TransferRequest) (Transfer, error) {
	if err := validate(&req); err != nil {
		return Transfer{}, err
	}
	if err := l.checkAccounts(ctx, tx, req); err != nil {
		return Transfer{}, err
	}
	hash := transferHash(req)
	out, err := l.transferTx(ctx, tx, req, hash, nil, nil)
	if errors.Is(err, errReplay) {
		return l.replayTx(ctx, tx, req.TenantID, req.IdempotencyKey, hash)
	}
	if err != nil {
		return Transfer{}, aborted(mapDBError(err))
	}
	return out, nil
}

// ErrTxAborted is wrapped, next to the cause, by the errors of the …Tx
// functions (TransferTx, PostHoldTx, PlaceHoldTx, VoidHoldTx, GetHoldTx,
// AccountByCodeTx) and of the consume of booking.ConsumeTx after which the
// caller's transaction holds partial writes or is aborted: it must be
// rolled back.
var ErrTxAborted = errors.New("ledger: transaction must be rolled back")

func aborted(err error) error {
	return fmt.Errorf("%w: %w", ErrTxAborted, err)
}

// checkAccounts runs transferTx's account checks (which write nothing)
// before anything is written, so that their errors leave tx usable; a
// database error while reading the accounts in tx wraps ErrTxAborted.
func (l *Ledger) checkAccounts(ctx context.Context, tx pgx.Tx, req TransferRequest) error {
	_, err := l.checkedAccounts(ctx, tx, req.TenantID, postingAccounts(req.Postings))
	return abortedUnless(err, ErrUnknownAccount, ErrCurrencyMismatch)
}

// abortedUnless returns err wrapped with ErrTxAborted unless it is nil or
// one of the errors returned before anything is read in error (these
// leave the transaction usable).
func abortedUnless(err error, usable ...error) error {
	if err == nil {
		return nil
	}
	for _, u := range usable {
		if errors.Is(err, u) {
			return err
		}
	}
	return aborted(err)
}

// checkedAccounts returns the accounts ids of a tenant (ErrUnknownAccount
// for one it does not have), all in the ledger's currency
// (ErrCurrencyMismatch), read through q when not cached.
func (l *Ledger) checkedAccounts(ctx context.Context, q querier, tenantID int64, ids []int64) (map[int64]Account, error) {
	accts, err := l.accountsFor(ctx, q, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		if a.Currency != Currency {
			return nil, fmt.Errorf("%w: account %s is in %s", ErrCurrencyMismatch, a.Code, a.Currency)
		}
	}
	return accts, nil
}

// postingAccounts lists the accounts of postings.
func postingAccounts(ps []Posting) []int64 {
	ids := make([]int64, 0, len(ps))
	for _, p := range ps {
		ids = append(ids, p.AccountID)
	}
	return ids
}

// transferHash fingerprints a transfer request (Transfer, TransferTx,
// QueueTransfers): a key used again with another request is a conflict.
func transferHash(req TransferRequest) []byte {
	return requestHash("transfer", req.Kind, req.Memo, req.Metadata, postingsHash(req.Postings), occurredKey(req.OccurredAt))
}

// PostHoldTx is PostHold inside the caller's transaction tx, with the
// contract of TransferTx: the hold is read in tx; ErrNotFound, ErrHoldEnded
// (the hold had ended when read), ErrOverPost and the validation errors are
// returned before anything is written; a replay (the same key and request)
// returns the original transfer. An error wrapping ErrTxAborted — among
// them ErrHoldEnded when the hold ends concurrently between the read and
// the post — requires rolling tx back.
func (l *Ledger) PostHoldTx(ctx context.Context, tx pgx.Tx, req PostHoldRequest) (Transfer, error) {
	h, err := readHold(ctx, tx, req.TenantID, req.HoldID)
	if errors.Is(err, ErrNotFound) {
		return Transfer{}, err
	}
	if err != nil {
		return Transfer{}, aborted(err)
	}
	tr, hash, err := l.postHoldTransfer(ctx, tx, h, req)
	if err != nil {
		return Transfer{}, abortedUnless(err, ErrInvalidAmount, ErrOverPost, ErrUnknownAccount, ErrInvalidRequest,
			ErrCurrencyMismatch, ErrTooFewPostings, ErrUnbalanced)
	}
	if h.Status != HoldPending {
		// Ended: a replay of this very post answers the original transfer
		// (read in tx, nothing written), anything else is ErrHoldEnded.
		if h.TransferID != nil {
			var key string
			if err := tx.QueryRow(ctx, `SELECT idempotency_key FROM transfers WHERE tenant_id = $1 AND id = $2`, req.TenantID, *h.TransferID).Scan(&key); err != nil {
				return Transfer{}, aborted(fmt.Errorf("read transfer of hold %d: %w", h.ID, err))
			}
			if key == req.IdempotencyKey {
				return l.replayTx(ctx, tx, req.TenantID, key, hash)
			}
		}
		return Transfer{}, fmt.Errorf("%w: hold %d is %s", ErrHoldEnded, h.ID, h.Status)
	}
	out, err := l.transferTx(ctx, tx, tr, hash, &h.ID, nil)
	if errors.Is(err, errReplay) {
		return l.replayTx(ctx, tx, req.TenantID, req.IdempotencyKey, hash)
	}
	if err != nil {
		return Transfer{}, aborted(mapDBError(err))
	}
	if err := postedHold(ctx, tx, h, req.Amount, out.ID, req.Actor, l.now()); err != nil {
		return Transfer{}, aborted(err)
	}
	return out, nil
}

// replayTx is replay read inside tx: the transfer recorded under key if
// its request hash matches, else ErrIdempotencyConflict.
func (l *Ledger) replayTx(ctx context.Context, tx pgx.Tx, tenantID int64, key string, hash []byte) (Transfer, error) {
	var t Transfer
	var stored, meta []byte
	err := tx.QueryRow(ctx, `
		SELECT tenant_id, id, idempotency_key, kind, occurred_at, recorded_at, actor, memo, metadata, reverses_id, hold_id, request_hash
		FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key).
		Scan(&t.TenantID, &t.ID, &t.IdempotencyKey, &t.Kind, &t.OccurredAt, &t.RecordedAt, &t.Actor, &t.Memo, &meta, &t.ReversesID, &t.HoldID, &stored)
	if err != nil {
		return Transfer{}, aborted(fmt.Errorf("read replayed transfer %q: %w", key, err))
	}
	if string(stored) != string(hash) {
		return Transfer{}, fmt.Errorf("%w: key %q", ErrIdempotencyConflict, key)
	}
	_ = json.Unmarshal(meta, &t.Metadata)
	rows, _ := tx.Query(ctx, `SELECT account_id, amount FROM postings WHERE tenant_id = $1 AND transfer_id = $2 ORDER BY id`, tenantID, t.ID)
	t.Postings, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Posting])
	if err != nil {
		return Transfer{}, aborted(fmt.Errorf("read postings of transfer %d: %w", t.ID, err))
	}
	return t, nil
}
