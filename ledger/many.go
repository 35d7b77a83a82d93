package ledger

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Queued holds the transfers queued by QueueTransfers, in the order of the
// requests; their ID and RecordedAt are set once the batch has run.
type Queued struct {
	Transfers []Transfer
}

// QueueTransfers validates reqs (all of one tenant) and queues on b the
// statement that records them all at once: every transfer, tracked
// balance and posting, and the floor check of the tracked accounts it
// debits. It is the group-commit entry point: the caller sends b inside its
// transaction, typically with its own rows and the COMMIT pipelined after
// it.
//
// Validation errors, ErrUnknownAccount and ErrCurrencyMismatch are returned
// before anything is queued; so is ErrInvalidRequest when two requests
// share an idempotency key or a tracked account (one change per tracked
// account keeps the running balances simple). Every other failure happens
// on the server while b runs and aborts the transaction, so that a COMMIT
// queued after b rolls back instead: an idempotency key used before
// (unique violation, SQLSTATE 23505: replays are the caller's business), a
// tracked account that would end below its floor (MapError gives
// ErrFloorBreach), a closed period (ErrPeriodClosed). The requests are not
// checked against holds being posted: plain transfers only.
func (l *Ledger) QueueTransfers(ctx context.Context, b *pgx.Batch, reqs []TransferRequest) (*Queued, error) {
	q := &Queued{Transfers: make([]Transfer, len(reqs))}
	if len(reqs) == 0 {
		return q, nil
	}
	tenant := reqs[0].TenantID
	var ids []int64
	keys := make(map[string]int, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if err := validate(r); err != nil {
			return nil, fmt.Errorf("transfer %q: %w", r.IdempotencyKey, err)
		}
		if r.TenantID != tenant {
			return nil, fmt.Errorf("%w: transfers of two tenants in one group", ErrInvalidRequest)
		}
		if _, dup := keys[r.IdempotencyKey]; dup {
			return nil, fmt.Errorf("%w: idempotency key %q twice in one group", ErrInvalidRequest, r.IdempotencyKey)
		}
		keys[r.IdempotencyKey] = i
		for _, p := range r.Postings {
			ids = append(ids, p.AccountID)
		}
	}
	accts, err := l.accountsFor(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		if a.Currency != Currency {
			return nil, fmt.Errorf("%w: account %s is in %s", ErrCurrencyMismatch, a.Code, a.Currency)
		}
	}

	var (
		tKeys, tKinds, tActors, tMemos, tMeta []string
		tHashes                               [][]byte
		tOccurred                             []time.Time
		uIDs, uCounts                         []int64
		uCheck                                []bool
		uDeltas                               []decimal.Decimal
		pKeys                                 []string
		pl                                    postingPlan
	)
	owner := map[int64]string{}
	for i, r := range reqs {
		occurred := r.OccurredAt
		if occurred.IsZero() {
			occurred = l.now()
		}
		q.Transfers[i] = Transfer{TenantID: tenant, IdempotencyKey: r.IdempotencyKey, Kind: r.Kind, OccurredAt: occurred,
			Actor: r.Actor, Memo: r.Memo, Metadata: r.Metadata, Postings: r.Postings}
		tKeys = append(tKeys, r.IdempotencyKey)
		tHashes = append(tHashes, requestHash("transfer", r.Kind, r.Memo, r.Metadata, postingsHash(r.Postings), occurredKey(r.OccurredAt)))
		tKinds, tActors, tMemos = append(tKinds, r.Kind), append(tActors, r.Actor), append(tMemos, r.Memo)
		tMeta, tOccurred = append(tMeta, string(metadataJSON(r.Metadata))), append(tOccurred, occurred)

		one := planPostings(r.Postings, accts)
		for _, id := range one.tracked {
			if k, ok := owner[id]; ok {
				return nil, fmt.Errorf("%w: account %s in transfers %q and %q of one group", ErrInvalidRequest, accts[id].Code, k, r.IdempotencyKey)
			}
			owner[id] = r.IdempotencyKey
			uIDs = append(uIDs, id)
			uDeltas = append(uDeltas, one.net[id])
			uCounts = append(uCounts, countPostings(r.Postings, id))
			uCheck = append(uCheck, one.net[id].IsNegative())
		}
		for range r.Postings {
			pKeys = append(pKeys, r.IdempotencyKey)
		}
		pl.accIDs = append(pl.accIDs, one.accIDs...)
		pl.amounts = append(pl.amounts, one.amounts...)
		pl.beforeOff = append(pl.beforeOff, one.beforeOff...)
		pl.afterOff = append(pl.afterOff, one.afterOff...)
		pl.versionOff = append(pl.versionOff, one.versionOff...)
	}

	// The tracked accounts are updated in ascending id order, the lock
	// order of transferTx: the update joins the accounts to the array in
	// its order (a nested loop over an array of a few elements). Were the
	// planner to choose otherwise, a deadlock with another writer would be
	// detected and the caller's transaction rolled back, nothing worse.
	sortTogether(uIDs, uDeltas, uCounts, uCheck)
	// One statement: the transfers, the tracked balances, the postings with
	// their running balances (from the balances as updated plus the
	// offsets), and the floor of every debited tracked account checked by
	// ledger_floor_breach, which raises. No ON CONFLICT: a used key fails
	// the statement, and the transaction.
	b.Queue(`
		WITH t AS (
			INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor, memo, metadata)
			SELECT $1, u.k, u.h, u.kind, u.o, u.a, u.m, u.md::jsonb
			FROM unnest($2::text[], $3::bytea[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[]) AS u(k, h, kind, o, a, m, md)
			RETURNING id, idempotency_key, occurred_at, recorded_at
		), acc AS (
			UPDATE accounts x SET balance = x.balance + u.d, version = x.version + u.n
			FROM unnest($9::bigint[], $10::numeric[], $11::bigint[], $18::bool[]) AS u(id, d, n, chk)
			WHERE x.tenant_id = $1 AND x.id = u.id
			RETURNING x.id, x.balance, x.version, x.pending, x.floor, x.code, u.chk
		), p AS (
			INSERT INTO postings (tenant_id, transfer_id, account_id, amount, occurred_at, balance_before, balance_after, account_version)
			SELECT $1, t.id, u.a, u.m, t.occurred_at, acc.balance + u.b, acc.balance + u.f, acc.version + u.v
			FROM unnest($12::text[], $13::bigint[], $14::numeric[], $15::numeric[], $16::numeric[], $17::bigint[]) WITH ORDINALITY AS u(k, a, m, b, f, v, i)
			JOIN t ON t.idempotency_key = u.k
			LEFT JOIN acc ON acc.id = u.a AND u.v IS NOT NULL
			ORDER BY u.i
			RETURNING 1
		)
		SELECT t.idempotency_key, t.id, t.recorded_at FROM t
		WHERE NOT EXISTS (SELECT 1 FROM acc WHERE ledger_floor_breach(acc.chk AND acc.balance - acc.pending < acc.floor,
			acc.code, acc.balance - acc.pending, acc.floor))`,
		tenant, tKeys, tHashes, tKinds, tOccurred, tActors, tMemos, tMeta,
		uIDs, uDeltas, uCounts,
		pKeys, pl.accIDs, pl.amounts, pl.beforeOff, pl.afterOff, pl.versionOff, uCheck,
	).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var key string
			var id int64
			var at time.Time
			if err := rows.Scan(&key, &id, &at); err != nil {
				return err
			}
			if i, ok := keys[key]; ok {
				q.Transfers[i].ID, q.Transfers[i].RecordedAt = id, at
			}
		}
		return rows.Err()
	})
	return q, nil
}

// sortTogether sorts ids ascending, and the other slices with them.
func sortTogether(ids []int64, deltas []decimal.Decimal, counts []int64, check []bool) {
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ids[idx[a]] < ids[idx[b]] })
	i2, d2, c2, k2 := slices.Clone(ids), slices.Clone(deltas), slices.Clone(counts), slices.Clone(check)
	for to, from := range idx {
		ids[to], deltas[to], counts[to], check[to] = i2[from], d2[from], c2[from], k2[from]
	}
}
