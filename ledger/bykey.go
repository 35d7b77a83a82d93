package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tartine/internal/db"
)

// TransferIDsByKey returns the IDs of tenantID's transfers whose
// idempotency keys are among keys, by key; a key without a transfer is
// absent from the map.
func (l *Ledger) TransferIDsByKey(ctx context.Context, tenantID int64, keys []string) (map[string]int64, error) {
	return transferIDsByKey(ctx, l.pool, tenantID, keys)
}

// TransferIDsByKeyTx is TransferIDsByKey read in the caller's transaction
// tx: it sees tx's own transfers and never asks the pool for another
// connection.
func (l *Ledger) TransferIDsByKeyTx(ctx context.Context, tx pgx.Tx, tenantID int64, keys []string) (map[string]int64, error) {
	return transferIDsByKey(ctx, tx, tenantID, keys)
}

func transferIDsByKey(ctx context.Context, q querier, tenantID int64, keys []string) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	sql, arg := transferIDsByKeySQL(keys)
	rows, err := q.Query(ctx, sql, tenantID, arg)
	if err != nil {
		return nil, fmt.Errorf("ledger: transfers of tenant %d by key: %w", tenantID, err)
	}
	var key string
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { out[key] = id; return nil }); err != nil {
		return nil, fmt.Errorf("ledger: transfers of tenant %d by key: %w", tenantID, err)
	}
	return out, nil
}

// transferIDsByKeySQL reads the IDs of tenant $1's transfers whose
// idempotency keys are among keys, the statement's second argument: a set
// to join (db.KeySet), not `= ANY($2)`.
func transferIDsByKeySQL(keys []string) (string, any) {
	set, arg := db.KeySet(2, keys)
	return `SELECT idempotency_key, id FROM transfers WHERE tenant_id = $1 AND idempotency_key IN (SELECT ` + set + `)`, arg
}

// QueueTransferIDsByKey queues on b the query of TransferIDsByKeyTx, for a
// caller that sends it with its own reads in one round trip: when b's
// results are read, found is called with the key and ID of each of
// tenantID's transfers whose idempotency key is among keys (in the
// transaction b is sent in, it sees that transaction's transfers). Nothing
// is queued when keys is empty.
func (l *Ledger) QueueTransferIDsByKey(b *pgx.Batch, tenantID int64, keys []string, found func(key string, id int64)) {
	if len(keys) == 0 {
		return
	}
	sql, arg := transferIDsByKeySQL(keys)
	b.Queue(sql, tenantID, arg).Query(func(rows pgx.Rows) error {
		var key string
		var id int64
		if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { found(key, id); return nil }); err != nil {
			return fmt.Errorf("ledger: transfers of tenant %d by key: %w", tenantID, err)
		}
		return nil
	})
}

// TransferIDByKeySQL returns an SQL scalar subquery yielding the ID of the
// transfer with idempotency key key of tenant tenant, or NULL if there is
// none. tenant and key are SQL expressions of the caller's statement (a
// parameter such as "$1", or a column such as "u.tk"). It is for a
// statement queued in a pgx.Batch after the transfers it links to, in the
// same transaction and round trip, where TransferIDsByKeyTx would cost one
// more round trip.
func TransferIDByKeySQL(tenant, key string) string {
	return `(SELECT id FROM transfers WHERE tenant_id = ` + tenant + ` AND idempotency_key = ` + key + `)`
}
