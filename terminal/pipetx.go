package terminal

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeTx is a transaction on one pooled connection whose BEGIN travels in
// the same round trip as its first statements and whose COMMIT travels
// with its last ones: two round trips fewer per tap than pgx.BeginFunc.
// It implements pgx.Tx for the reads a decision makes in the tap's
// transaction (ledger.AccountByCodeTx, booking.PlanConsumeTx), without
// nested transactions (Begin fails) or large objects.
//
// Use: begin, then end (always, e.g. deferred): end rolls back unless
// commitWith committed, and returns the connection to the pool.
type pipeTx struct {
	conn      *pgxpool.Conn
	committed bool
}

var _ pgx.Tx = (*pipeTx)(nil)

// beginPipe acquires a connection and sends BEGIN followed by the
// statements queued on b, in one round trip.
func beginPipe(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch) (*pipeTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	tx := &pipeTx{conn: conn}
	withBegin := &pgx.Batch{QueuedQueries: append([]*pgx.QueuedQuery{{SQL: "BEGIN"}}, b.QueuedQueries...)}
	if err := conn.SendBatch(ctx, withBegin).Close(); err != nil {
		tx.end(ctx)
		return nil, err
	}
	return tx, nil
}

// commitWith sends the statements queued on b followed by COMMIT, in one
// round trip. A transaction the server rolled back (it was in error) is
// reported as pgx.ErrTxCommitRollback.
func (tx *pipeTx) commitWith(ctx context.Context, b *pgx.Batch) error {
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return pgx.ErrTxCommitRollback
		}
		tx.committed = true
		return nil
	})
	return tx.conn.SendBatch(ctx, b).Close()
}

// end rolls back an uncommitted transaction and releases the connection.
// The pool closes a connection left in a transaction (ROLLBACK failed).
func (tx *pipeTx) end(ctx context.Context) {
	if tx.conn == nil {
		return
	}
	if !tx.committed {
		// Outside a transaction (BEGIN never ran, or a failed COMMIT ended
		// it) ROLLBACK only warns.
		_, _ = tx.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	tx.conn.Release()
	tx.conn = nil
}

var errNestedPipeTx = errors.New("terminal: nested transactions are not supported in a tap transaction")

// Begin is not supported.
func (tx *pipeTx) Begin(context.Context) (pgx.Tx, error) { return nil, errNestedPipeTx }

// Commit commits the transaction.
func (tx *pipeTx) Commit(ctx context.Context) error { return tx.commitWith(ctx, &pgx.Batch{}) }

// Rollback rolls the transaction back and releases the connection.
func (tx *pipeTx) Rollback(ctx context.Context) error {
	if tx.conn == nil {
		return pgx.ErrTxClosed
	}
	tx.end(ctx)
	return nil
}

// CopyFrom runs COPY FROM in the transaction.
func (tx *pipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return tx.conn.CopyFrom(ctx, table, cols, src)
}

// SendBatch sends a batch in the transaction.
func (tx *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return tx.conn.SendBatch(ctx, b)
}

// LargeObjects is not supported: the zero value must not be used.
func (tx *pipeTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Prepare prepares a statement on the connection.
func (tx *pipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return tx.conn.Conn().Prepare(ctx, name, sql)
}

// Exec runs a statement in the transaction.
func (tx *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return tx.conn.Exec(ctx, sql, args...)
}

// Query runs a query in the transaction.
func (tx *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return tx.conn.Query(ctx, sql, args...)
}

// QueryRow runs a one-row query in the transaction.
func (tx *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return tx.conn.QueryRow(ctx, sql, args...)
}

// Conn returns the underlying connection.
func (tx *pipeTx) Conn() *pgx.Conn { return tx.conn.Conn() }
