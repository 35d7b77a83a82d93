package ledger

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// QueueTransfersTx is QueueTransfers for a caller holding a transaction:
// the accounts of reqs and posts that the ledger does not know yet are read
// in tx, never through the pool (no request holds a connection while
// waiting for another, issue 17). A database error while reading them
// wraps ErrTxAborted.
func (l *Ledger) QueueTransfersTx(ctx context.Context, tx pgx.Tx, b *pgx.Batch, reqs []TransferRequest, posts []HoldPost) (*Queued, error) {
	ids := map[int64][]int64{} // per tenant
	for _, r := range reqs {
		ids[r.TenantID] = append(ids[r.TenantID], postingAccounts(r.Postings)...)
	}
	for _, p := range posts {
		ids[p.Request.TenantID] = append(ids[p.Request.TenantID], p.Hold.AccountID, p.Request.To)
	}
	for tenant, list := range ids {
		if _, err := l.accountsFor(ctx, tx, tenant, list); err != nil {
			return nil, abortedUnless(err, ErrUnknownAccount)
		}
	}
	return l.QueueTransfers(ctx, b, reqs, posts)
}
