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
// requests then of the hold posts; their ID and RecordedAt are set once the
// batch has run.
type Queued struct {
	Transfers []Transfer
}

// HoldPost is a hold to post with QueueTransfers: the hold as read in the
// caller's transaction (QueueHolds), pending, and the post asked for.
type HoldPost struct {
	Hold    Hold
	Request PostHoldRequest
}

// QueueTransfers validates reqs and posts (all of one tenant) and queues on
// b the statement that records them all at once: every transfer, tracked
// balance and posting, the endings of the posted holds with the release of
// their reservations, and the floor check of the tracked accounts it
// debits (not of a hold's account: its amount was reserved). It is the
// group-commit entry point: the caller sends b inside its transaction,
// typically with its own rows and the COMMIT pipelined after it. The
// transfers and their request fingerprints are those of TransferTx and
// PostHoldTx: a key recorded here replays there, and the other way round.
//
// Validation errors, ErrUnknownAccount, ErrCurrencyMismatch, ErrOverPost
// and ErrHoldEnded (a hold not pending as read) are returned before
// anything is queued; so is ErrInvalidRequest when two requests share an
// idempotency key or a tracked account (one change per tracked account
// keeps the running balances simple), unless none of the transfers that
// share it lowers it or posts a hold on it (top-ups: its postings' running
// balances are then chained in the order of reqs). Every other failure
// happens on the server while b runs and aborts the transaction, so that a COMMIT queued
// after b rolls back instead: an idempotency key used before (unique
// violation, SQLSTATE 23505: replays are the caller's business), a hold
// ended meanwhile (its reservation already released: the pending check,
// 23514; or its ending's unique index), a tracked account that
// would end below its floor (MapError gives ErrFloorBreach), a closed
// period (ErrPeriodClosed).
func (l *Ledger) QueueTransfers(ctx context.Context, b *pgx.Batch, reqs []TransferRequest, posts []HoldPost) (*Queued, error) {
	q, keys, args, err := l.queueArgs(ctx, reqs, posts)
	if err != nil || args == nil {
		return q, err
	}
	b.Queue(queueTransfersSQL, args...).Query(func(rows pgx.Rows) error {
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

// queueArgs validates reqs and posts as QueueTransfers does and returns the
// transfers to record (without ID), the index of each key, and the
// arguments of queueTransfersSQL (nil when there is nothing to record).
// Accounts not cached are read through the pool.
func (l *Ledger) queueArgs(ctx context.Context, reqs []TransferRequest, posts []HoldPost) (*Queued, map[string]int, []any, error) {
	type item struct {
		req  TransferRequest
		hash []byte
		meta string // the metadata's JSON ("" for a hold post: made below)
		hold *Hold
		post decimal.Decimal
	}
	items := make([]item, 0, len(reqs)+len(posts))
	for i := range reqs {
		r := reqs[i]
		if err := validate(&r); err != nil {
			return nil, nil, nil, fmt.Errorf("transfer %q: %w", r.IdempotencyKey, err)
		}
		meta := appendMetadataJSON(nil, r.Metadata)
		items = append(items, item{req: r, hash: appendTransferHash(nil, &r, meta), meta: string(meta)})
	}
	for _, p := range posts {
		h := p.Hold
		if h.ID != p.Request.HoldID || h.TenantID != p.Request.TenantID {
			return nil, nil, nil, fmt.Errorf("%w: post of hold %d with hold %d", ErrInvalidRequest, p.Request.HoldID, h.ID)
		}
		if h.Status != HoldPending {
			return nil, nil, nil, fmt.Errorf("%w: hold %d is %s", ErrHoldEnded, h.ID, h.Status)
		}
		tr, hash, err := l.postHoldTransfer(ctx, l.pool, h, p.Request)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("post hold %d: %w", h.ID, err)
		}
		items = append(items, item{req: tr, hash: hash, hold: &h, post: p.Request.Amount})
	}
	q := &Queued{Transfers: make([]Transfer, len(items))}
	if len(items) == 0 {
		return q, nil, nil, nil
	}
	tenant := items[0].req.TenantID
	var ids []int64
	keys := make(map[string]int, len(items))
	for i, it := range items {
		if it.req.TenantID != tenant {
			return nil, nil, nil, fmt.Errorf("%w: transfers of two tenants in one group", ErrInvalidRequest)
		}
		if _, dup := keys[it.req.IdempotencyKey]; dup {
			return nil, nil, nil, fmt.Errorf("%w: idempotency key %q twice in one group", ErrInvalidRequest, it.req.IdempotencyKey)
		}
		keys[it.req.IdempotencyKey] = i
		ids = append(ids, postingAccounts(it.req.Postings)...)
	}
	accts, err := l.checkedAccounts(ctx, l.pool, tenant, ids)
	if err != nil {
		return nil, nil, nil, err
	}

	var (
		tKeys, tKinds, tActors, tMemos, tMeta []string
		tHashes                               [][]byte
		tOccurred                             []time.Time
		tHolds                                []*int64
		u                                     trackedChanges
		eHolds                                []int64
		eAmounts                              []decimal.Decimal
		eActors, eKeys                        []string
		pKeys                                 []string
		pl                                    postingPlan
	)
	// A tracked account may be in several transfers of the group only when
	// none of them lowers its balance nor posts a hold on it (top-ups): its
	// floor is then never at stake, and its one change is their sum, the
	// running balances of its postings chained in the group's order.
	plans := make([]postingPlan, len(items))
	type share struct {
		n, postings int64
		lowers      bool
		net         decimal.Decimal
	}
	shared := map[int64]*share{}
	for i, it := range items {
		plans[i] = planPostings(it.req.Postings, accts)
		for _, id := range plans[i].tracked {
			sh := shared[id]
			if sh == nil {
				sh = &share{}
				shared[id] = sh
			}
			sh.n++
			sh.postings += countPostings(it.req.Postings, id)
			sh.net = sh.net.Add(plans[i].net[id])
			sh.lowers = sh.lowers || plans[i].net[id].IsNegative() || it.hold != nil
		}
	}
	owner := map[int64]string{}
	seen := map[int64]*share{} // per shared account: net and postings of the transfers so far
	for i, it := range items {
		r := it.req
		occurred := r.OccurredAt
		if occurred.IsZero() {
			occurred = l.now()
		}
		q.Transfers[i] = Transfer{TenantID: tenant, IdempotencyKey: r.IdempotencyKey, Kind: r.Kind, OccurredAt: occurred,
			Actor: r.Actor, Memo: r.Memo, Metadata: r.Metadata, Postings: r.Postings}
		tKeys, tHashes = append(tKeys, r.IdempotencyKey), append(tHashes, it.hash)
		tKinds, tActors, tMemos = append(tKinds, r.Kind), append(tActors, r.Actor), append(tMemos, r.Memo)
		meta := it.meta
		if meta == "" {
			meta = string(appendMetadataJSON(nil, r.Metadata))
		}
		tMeta, tOccurred = append(tMeta, meta), append(tOccurred, occurred)
		var holdID *int64
		if it.hold != nil {
			holdID = &it.hold.ID
			q.Transfers[i].HoldID = holdID
			eHolds, eAmounts = append(eHolds, it.hold.ID), append(eAmounts, it.post)
			eActors, eKeys = append(eActors, r.Actor), append(eKeys, r.IdempotencyKey)
		}
		tHolds = append(tHolds, holdID)

		one := plans[i]
		for _, id := range one.tracked {
			if k, ok := owner[id]; ok && shared[id].lowers {
				return nil, nil, nil, fmt.Errorf("%w: account %s in transfers %q and %q of one group", ErrInvalidRequest, accts[id].Code, k, r.IdempotencyKey)
			}
			owner[id] = r.IdempotencyKey
			if sh := shared[id]; sh.n > 1 {
				// Offsets from the group's final balance and version:
				// those of this transfer's plan, less what the later
				// transfers of the group add.
				so := seen[id]
				if so == nil {
					so = &share{}
					seen[id] = so
				}
				so.net = so.net.Add(one.net[id])
				so.postings += countPostings(r.Postings, id)
				dBal, dVer := so.net.Sub(sh.net), so.postings-sh.postings
				for j, p := range r.Postings {
					if p.AccountID != id {
						continue
					}
					one.beforeOff[j].Decimal = one.beforeOff[j].Decimal.Add(dBal)
					one.afterOff[j].Decimal = one.afterOff[j].Decimal.Add(dBal)
					v := *one.versionOff[j] + dVer
					one.versionOff[j] = &v
				}
				if so.postings < sh.postings {
					continue // the account's change is added with its last transfer
				}
				u.add(id, sh.net, sh.postings, false, decimal.Zero)
				continue
			}
			release := decimal.Zero
			if it.hold != nil && it.hold.AccountID == id {
				release = it.hold.Amount
			}
			// A hold being posted had its amount reserved: its account's
			// floor is not checked again (as transferTx).
			u.add(id, one.net[id], countPostings(r.Postings, id), one.net[id].IsNegative() && it.hold == nil, release)
		}
		if it.hold != nil && !slices.Contains(one.tracked, it.hold.AccountID) {
			return nil, nil, nil, fmt.Errorf("%w: hold %d is on an untracked account", ErrInvalidRequest, it.hold.ID)
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
	u.sort()
	// One statement: the transfers, the tracked balances (and reservations
	// released), the postings with their running balances (from the
	// balances as updated plus the offsets), the holds' endings, and the
	// floor of every debited tracked account checked by ledger_floor_breach,
	// which raises. No ON CONFLICT: a used key, or a hold already ended,
	// fails the statement, and the transaction.
	return q, keys, []any{tenant, tKeys, tHashes, tKinds, tOccurred, tActors, tMemos, tMeta,
		u.ids, u.deltas, u.counts,
		pKeys, pl.accIDs, pl.amounts, pl.beforeOff, pl.afterOff, pl.versionOff, u.check,
		tHolds, u.releases, eHolds, eAmounts, eActors, eKeys, l.now()}, nil
}

// QueueWarmUp queues on b the statement of QueueTransfers with no transfer
// (tenant 0, every array empty), for a new connection's warm-up in a
// transaction it rolls back (terminal.WarmConn, issue 17): it records
// nothing, but the connection prepares and plans the statement, and
// compiles the journal's statement-level triggers, which fire on an insert
// of no row — the first group of taps on a connection otherwise paid for
// them (30–40 ms on a fresh server).
func QueueWarmUp(b *pgx.Batch, now time.Time) {
	args := []any{int64(0)}
	for range 23 {
		args = append(args, "{}") // $2–$24: the arrays, as text
	}
	b.Queue(queueTransfersSQL, append(args, now)...)
}

// queueTransfersSQL records a group (QueueTransfers, PrepareTransfers).
const queueTransfersSQL = `
		WITH t AS (
			INSERT INTO transfers (tenant_id, idempotency_key, request_hash, kind, occurred_at, actor, memo, metadata, hold_id)
			SELECT $1, u.k, u.h, u.kind, u.o, u.a, u.m, u.md::jsonb, u.hold
			FROM unnest($2::text[], $3::bytea[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $19::bigint[])
				AS u(k, h, kind, o, a, m, md, hold)
			RETURNING id, idempotency_key, occurred_at, recorded_at
		), acc AS (
			UPDATE accounts x SET balance = x.balance + u.d, version = x.version + u.n, pending = x.pending - u.r
			FROM unnest($9::bigint[], $10::numeric[], $11::bigint[], $18::bool[], $20::numeric[]) AS u(id, d, n, chk, r)
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
		), e AS (
			INSERT INTO hold_endings (tenant_id, hold_id, outcome, posted_amount, transfer_id, actor, ended_at)
			SELECT $1, u.h, 'posted', u.amt, t.id, u.actor, $25
			FROM unnest($21::bigint[], $22::numeric[], $23::text[], $24::text[]) AS u(h, amt, actor, k)
			JOIN t ON t.idempotency_key = u.k
			RETURNING 1
		)
		SELECT t.idempotency_key, t.id, t.recorded_at FROM t
		WHERE NOT EXISTS (SELECT 1 FROM acc WHERE ledger_floor_breach(acc.chk AND acc.balance - acc.pending < acc.floor,
			acc.code, acc.balance - acc.pending, acc.floor))`

// trackedChanges are the changes of tracked accounts in a group, as arrays
// for unnest.
type trackedChanges struct {
	ids, counts      []int64
	deltas, releases []decimal.Decimal
	check            []bool
}

func (u *trackedChanges) add(id int64, delta decimal.Decimal, count int64, check bool, release decimal.Decimal) {
	u.ids, u.deltas, u.counts = append(u.ids, id), append(u.deltas, delta), append(u.counts, count)
	u.check, u.releases = append(u.check, check), append(u.releases, release)
}

// sort orders the changes by account id.
func (u *trackedChanges) sort() {
	idx := make([]int, len(u.ids))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return u.ids[idx[a]] < u.ids[idx[b]] })
	ids, deltas, counts, check, rel := slices.Clone(u.ids), slices.Clone(u.deltas), slices.Clone(u.counts), slices.Clone(u.check), slices.Clone(u.releases)
	for to, from := range idx {
		u.ids[to], u.deltas[to], u.counts[to], u.check[to], u.releases[to] = ids[from], deltas[from], counts[from], check[from], rel[from]
	}
}

// AnalyzeIfSmallTx refreshes, in tx, the planner's statistics of the
// transfers and postings tables when the planner last saw fewer transfers
// than added, the number a bulk load in tx is adding (a first big CODA
// import): otherwise the rest of the load is planned for nearly empty
// tables, the foreign-key check of each posting on its transfer as a
// sequential scan over every transfer of the transaction. ANALYZE in a
// transaction counts the transaction's own rows, and the plans that depend
// on the tables are made again. On a ledger with a history it does
// nothing. It returns the database's error, which aborts tx.
func (l *Ledger) AnalyzeIfSmallTx(ctx context.Context, tx pgx.Tx, added int) error {
	var seen float64
	if err := tx.QueryRow(ctx, `SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'transfers'::regclass`).Scan(&seen); err != nil {
		return fmt.Errorf("ledger: size of transfers: %w", err)
	}
	if seen >= float64(added) {
		return nil
	}
	if _, err := tx.Exec(ctx, `ANALYZE transfers, postings`); err != nil {
		return fmt.Errorf("ledger: analyze transfers and postings: %w", err)
	}
	return nil
}
