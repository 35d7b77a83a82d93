package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
	"tartine/sepa"
)

// Refunds by SEPA credit transfer
//
// A leaving pupil's balance, or a bank transfer waiting in suspense, is
// refunded to an IBAN in three steps:
//
//  1. RequestRefund moves the money at once from the wallet (or suspense)
//     to refunds-payable (a liability: the school owes it to the family),
//     key "refund:<id>", so that it can no longer be spent or allocated;
//  2. ApproveRefunds (the accountant) puts requested refunds in a batch and
//     writes its SEPA credit transfer file (pain.001.001.03), kept with the
//     batch for download; each refund gets the end-to-end id
//     "TARTINE-R-<id>", which the bank gives back on the statement;
//  3. the CODA import (ImportCODA) books a debit of the school's account
//     that is an approved refund — same amount, and its end-to-end id in
//     the communication, or the beneficiary's IBAN as counterparty —
//     refunds-payable → bank, key of the bank movement, and marks it paid.

// CodeRefundsPayable is the account of refunds owed to families (approved
// or not) until the bank statement shows they left.
const CodeRefundsPayable = "refunds-payable"

// KindRefundRequest and KindRefundPaid are the ledger kinds of the two steps.
const (
	KindRefundRequest = "refund-request" // wallet or suspense → refunds-payable
	KindRefundPaid    = "refund-paid"    // refunds-payable → bank, seen on the statement
)

// Refund states.
const (
	RefundRequested = "requested"
	RefundApproved  = "approved"
	RefundPaid      = "paid"
)

// Errors of refunds.
var (
	// ErrRefundNothing: the wallet holds nothing to refund, or the
	// movement is not waiting in suspense (or is refunded already).
	ErrRefundNothing = errors.New("payments: nothing to refund")
	// ErrRefundIBAN: the beneficiary's IBAN or name is not valid.
	ErrRefundIBAN = errors.New("payments: invalid beneficiary account")
	// ErrRefundBatch: no requested refund among those asked, or the
	// school account of the batch is invalid.
	ErrRefundBatch = errors.New("payments: no refund to approve")
)

// Refund is one refund and where it stands.
type Refund struct {
	TenantID        int64
	ID              int64
	Source          string // "wallet" or "suspense"
	PupilID         int64
	BankMovementKey string
	Beneficiary     string
	IBAN            string
	Amount          decimal.Decimal
	Reason          string
	Status          string
	RequestedBy     string
	RequestedAt     time.Time
	TransferID      int64
	BatchID         int64
	EndToEndID      string
	PaidMovementKey string
	PaidAt          *time.Time
}

// RefundRequest asks for a refund: of the pupil's whole available wallet
// balance (PupilID), or of a movement waiting in suspense (MovementKey).
type RefundRequest struct {
	TenantID    int64
	PupilID     int64
	MovementKey string
	Beneficiary string
	IBAN        string
	Reason      string
	Actor       string
}

// RefundBatch is an approved batch and its file.
type RefundBatch struct {
	TenantID      int64
	ID            int64
	MessageID     string
	DebtorIBAN    string
	ExecutionDate time.Time
	Total         decimal.Decimal
	Count         int
	ApprovedBy    string
	ApprovedAt    time.Time
	File          []byte
}

func refundsPayable(ctx context.Context, l *ledger.Ledger, tenantID int64) (int64, error) {
	a, err := l.EnsureAccount(ctx, tenantID, ledger.AccountSpec{Code: CodeRefundsPayable, Name: "Remboursements à payer", Type: ledger.Liability})
	if err != nil {
		return 0, fmt.Errorf("payments: account %s: %w", CodeRefundsPayable, err)
	}
	return a.ID, nil
}

// RequestRefund records a refund and moves its money to refunds-payable.
// It returns ErrInvalidRequest (neither or both sources), ErrRefundIBAN,
// ErrPupilNotFound, ErrRefundNothing (empty wallet, movement not in
// suspense or already refunded), ledger.ErrPeriodClosed, or a database
// error; nothing is recorded on an error.
func (b *Bank) RequestRefund(ctx context.Context, req RefundRequest, now time.Time) (Refund, error) {
	if (req.PupilID == 0) == (req.MovementKey == "") {
		return Refund{}, fmt.Errorf("%w: a refund is of a wallet or of a movement in suspense", ErrInvalidRequest)
	}
	iban, err := sepa.ParseIBAN(req.IBAN)
	if err != nil {
		return Refund{}, fmt.Errorf("%w: %v", ErrRefundIBAN, err)
	}
	name := strings.TrimSpace(req.Beneficiary)
	if sepa.SEPAText(name, 70) == "" {
		return Refund{}, fmt.Errorf("%w: beneficiary name missing", ErrRefundIBAN)
	}
	payable, err := refundsPayable(ctx, b.ledger, req.TenantID)
	if err != nil {
		return Refund{}, err
	}
	suspense, err := account(ctx, b.ledger, req.TenantID, CodeSuspense)
	if err != nil {
		return Refund{}, err
	}
	r := Refund{TenantID: req.TenantID, Beneficiary: name, IBAN: iban, Reason: strings.TrimSpace(req.Reason), Status: RefundRequested,
		RequestedBy: req.Actor, RequestedAt: now}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var from int64
		if req.PupilID != 0 {
			r.Source, r.PupilID = "wallet", req.PupilID
			p, err := school.ReadPupil(ctx, tx, req.TenantID, req.PupilID)
			if errors.Is(err, school.ErrNotFound) || (err == nil && p.WalletAccountID == 0) {
				return fmt.Errorf("%w: pupil %d", ErrPupilNotFound, req.PupilID)
			}
			if err != nil {
				return fmt.Errorf("payments: pupil %d: %w", req.PupilID, err)
			}
			from = p.WalletAccountID
			bal, err := b.ledger.BalanceTx(ctx, tx, req.TenantID, from)
			if err != nil {
				return err
			}
			if !bal.Available.IsPositive() {
				return fmt.Errorf("%w: the wallet of pupil %d holds %s", ErrRefundNothing, req.PupilID, bal.Available.StringFixed(2))
			}
			r.Amount = bal.Available
		} else {
			r.Source, r.BankMovementKey, from = "suspense", req.MovementKey, suspense
			err := tx.QueryRow(ctx, `SELECT amount FROM bank_movements WHERE tenant_id = $1 AND key = $2 AND status = 'suspense' FOR UPDATE`,
				req.TenantID, req.MovementKey).Scan(&r.Amount)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: movement %s is not waiting in suspense", ErrRefundNothing, req.MovementKey)
			}
			if err != nil {
				return fmt.Errorf("payments: movement %s: %w", req.MovementKey, err)
			}
		}
		var pupil *int64
		var key *string
		if r.PupilID != 0 {
			pupil = &r.PupilID
		} else {
			key = &r.BankMovementKey
		}
		// The id first, for the transfer's key; the transfer id is set in
		// the same transaction.
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('refunds', 'id'))`).Scan(&r.ID); err != nil {
			return fmt.Errorf("payments: refund id: %w", err)
		}
		memo := "Remboursement par virement à " + name
		tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
			TenantID: req.TenantID, IdempotencyKey: "refund:" + strconv.FormatInt(r.ID, 10), Kind: KindRefundRequest, Actor: req.Actor,
			Memo: memo, Metadata: map[string]string{"refund": strconv.FormatInt(r.ID, 10), "iban": iban},
			Postings: []ledger.Posting{{AccountID: from, Amount: r.Amount}, {AccountID: payable, Amount: r.Amount.Neg()}},
		})
		if err != nil {
			return fmt.Errorf("payments: refund %s: %w", r.Amount.StringFixed(2), err)
		}
		r.TransferID = tr.ID
		if _, err := tx.Exec(ctx, `INSERT INTO refunds (tenant_id, id, source, pupil_id, bank_movement_key, beneficiary, iban, amount, reason,
				requested_by, requested_at, transfer_id) OVERRIDING SYSTEM VALUE
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			req.TenantID, r.ID, r.Source, pupil, key, name, iban, r.Amount, r.Reason, req.Actor, now, tr.ID); err != nil {
			return fmt.Errorf("payments: record refund: %w", err)
		}
		if key != nil {
			if _, err := tx.Exec(ctx, `UPDATE bank_movements SET status = 'refunded' WHERE tenant_id = $1 AND key = $2`, req.TenantID, *key); err != nil {
				return fmt.Errorf("payments: mark %s refunded: %w", *key, err)
			}
		}
		return nil
	})
	if err != nil {
		return Refund{}, err
	}
	return r, nil
}

const refundCols = `tenant_id, id, source, coalesce(pupil_id, 0), coalesce(bank_movement_key, ''), beneficiary, iban, amount, reason, status,
	requested_by, requested_at, transfer_id, coalesce(batch_id, 0), coalesce(end_to_end_id, ''), coalesce(paid_movement_key, ''), paid_at`

func scanRefund(r pgx.Row) (Refund, error) {
	var x Refund
	err := r.Scan(&x.TenantID, &x.ID, &x.Source, &x.PupilID, &x.BankMovementKey, &x.Beneficiary, &x.IBAN, &x.Amount, &x.Reason, &x.Status,
		&x.RequestedBy, &x.RequestedAt, &x.TransferID, &x.BatchID, &x.EndToEndID, &x.PaidMovementKey, &x.PaidAt)
	return x, err
}

// Refunds lists the tenant's refunds, newest first.
func (b *Bank) Refunds(ctx context.Context, tenantID int64) ([]Refund, error) {
	rows, _ := b.pool.Query(ctx, `SELECT `+refundCols+` FROM refunds WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Refund, error) { return scanRefund(r) })
	if err != nil {
		return nil, fmt.Errorf("payments: refunds: %w", err)
	}
	return out, nil
}

// BatchRequest approves refunds as one credit transfer batch from the
// school's account.
type BatchRequest struct {
	TenantID      int64
	RefundIDs     []int64
	DebtorName    string
	DebtorIBAN    string
	DebtorBIC     string
	ExecutionDate time.Time
	Actor         string
}

// ApproveRefunds puts the requested refunds among req.RefundIDs in a new
// batch and writes its pain.001 file. Refunds already approved are left
// out. It returns ErrRefundBatch when none is left or the school's account
// is invalid (wrapping the sepa error), or a database error.
func (b *Bank) ApproveRefunds(ctx context.Context, req BatchRequest, now time.Time) (RefundBatch, error) {
	var batch RefundBatch
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+refundCols+` FROM refunds WHERE tenant_id = $1 AND id = ANY($2) AND status = 'requested'
			ORDER BY id FOR UPDATE`, req.TenantID, req.RefundIDs)
		rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Refund, error) { return scanRefund(r) })
		if err != nil {
			return fmt.Errorf("payments: refunds to approve: %w", err)
		}
		if len(rs) == 0 {
			return ErrRefundBatch
		}
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('refund_batches', 'id'))`).Scan(&batch.ID); err != nil {
			return fmt.Errorf("payments: batch id: %w", err)
		}
		batch.TenantID, batch.ApprovedBy, batch.ApprovedAt, batch.ExecutionDate = req.TenantID, req.Actor, now, req.ExecutionDate
		batch.MessageID = fmt.Sprintf("TARTINE-%d-RB-%d-%s", req.TenantID, batch.ID, now.Format("20060102"))
		ct := sepa.CreditTransfer{MessageID: batch.MessageID, CreatedAt: now, DebtorName: req.DebtorName, DebtorIBAN: req.DebtorIBAN,
			DebtorBIC: req.DebtorBIC, ExecutionDate: req.ExecutionDate}
		batch.Total = decimal.Zero
		for _, r := range rs {
			e2e := "TARTINE-R-" + strconv.FormatInt(r.ID, 10)
			remit := "Remboursement Tartine " + e2e
			if r.Reason != "" {
				remit += " " + r.Reason
			}
			ct.Payments = append(ct.Payments, sepa.CreditTransferPayment{EndToEndID: e2e, Name: r.Beneficiary, IBAN: r.IBAN, Amount: r.Amount,
				Remittance: remit})
			batch.Total = batch.Total.Add(r.Amount)
		}
		batch.Count = len(rs)
		if batch.File, err = ct.XML(); err != nil {
			return fmt.Errorf("%w: %w", ErrRefundBatch, err)
		}
		batch.DebtorIBAN, _ = sepa.ParseIBAN(req.DebtorIBAN)
		_, err = tx.Exec(ctx, `INSERT INTO refund_batches (tenant_id, id, message_id, debtor_iban, execution_date, total, count, approved_by, approved_at, file)
			OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			req.TenantID, batch.ID, batch.MessageID, batch.DebtorIBAN, req.ExecutionDate, batch.Total, batch.Count, req.Actor, now, batch.File)
		if err != nil {
			return fmt.Errorf("payments: record batch: %w", err)
		}
		for i, r := range rs {
			if _, err := tx.Exec(ctx, `UPDATE refunds SET status = 'approved', batch_id = $3, end_to_end_id = $4 WHERE tenant_id = $1 AND id = $2`,
				req.TenantID, r.ID, batch.ID, ct.Payments[i].EndToEndID); err != nil {
				return fmt.Errorf("payments: approve refund %d: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return RefundBatch{}, err
	}
	return batch, nil
}

// RefundBatches lists the tenant's batches, newest first, without files.
func (b *Bank) RefundBatches(ctx context.Context, tenantID int64) ([]RefundBatch, error) {
	rows, _ := b.pool.Query(ctx, `SELECT tenant_id, id, message_id, debtor_iban, execution_date, total, count, approved_by, approved_at
		FROM refund_batches WHERE tenant_id = $1 ORDER BY id DESC`, tenantID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RefundBatch, error) {
		var x RefundBatch
		err := r.Scan(&x.TenantID, &x.ID, &x.MessageID, &x.DebtorIBAN, &x.ExecutionDate, &x.Total, &x.Count, &x.ApprovedBy, &x.ApprovedAt)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("payments: refund batches: %w", err)
	}
	return out, nil
}

// RefundBatchFile returns a batch with its pain.001 file, or ErrNotFound.
func (b *Bank) RefundBatchFile(ctx context.Context, tenantID, id int64) (RefundBatch, error) {
	var x RefundBatch
	err := b.pool.QueryRow(ctx, `SELECT tenant_id, id, message_id, debtor_iban, execution_date, total, count, approved_by, approved_at, file
		FROM refund_batches WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(
		&x.TenantID, &x.ID, &x.MessageID, &x.DebtorIBAN, &x.ExecutionDate, &x.Total, &x.Count, &x.ApprovedBy, &x.ApprovedAt, &x.File)
	if errors.Is(err, pgx.ErrNoRows) {
		return RefundBatch{}, fmt.Errorf("%w: refund batch %d", ErrNotFound, id)
	}
	if err != nil {
		return RefundBatch{}, fmt.Errorf("payments: refund batch %d: %w", id, err)
	}
	return x, nil
}

// matchRefund is the CODA import's hook for a debit: when the line is an
// approved refund leaving the school's account (same amount; its
// end-to-end id in the communication, or else the beneficiary's IBAN as
// counterparty, the oldest such refund), it books refunds-payable → bank
// under the line's key and marks the refund paid. It reports whether the
// line was a refund; a line already booked by an earlier import counts as
// one (nothing is booked twice).
func (b *Bank) matchRefund(ctx context.Context, tx pgx.Tx, tenantID int64, line *BankLine, acc codaAccounts, actor string) (matched, again bool, err error) {
	amount := line.Amount.Neg()
	if !amount.IsPositive() {
		return false, false, nil
	}
	var seen bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM refunds WHERE tenant_id = $1 AND paid_movement_key = $2)`, tenantID, line.Key).Scan(&seen); err != nil {
		return false, false, fmt.Errorf("payments: look up refund of %s: %w", line.Key, err)
	}
	if seen {
		return true, true, nil
	}
	var id int64
	err = tx.QueryRow(ctx, `SELECT id FROM refunds WHERE tenant_id = $1 AND status = 'approved' AND amount = $2
			AND (strpos(upper($3), upper(end_to_end_id)) > 0 OR ($4 <> '' AND iban = $4))
		ORDER BY strpos(upper($3), upper(end_to_end_id)) > 0 DESC, id LIMIT 1 FOR UPDATE`,
		tenantID, amount, line.Communication, compactIBAN(line.CounterpartyAccount)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("payments: match refund for %s: %w", line.Key, err)
	}
	payable, err := refundsPayable(ctx, b.ledger, tenantID)
	if err != nil {
		return false, false, err
	}
	tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID: tenantID, IdempotencyKey: line.Key, Kind: KindRefundPaid, OccurredAt: line.EntryDate, Actor: actor,
		Memo:     "Remboursement payé (relevé bancaire)",
		Metadata: map[string]string{"bank_movement": line.Key, "refund": strconv.FormatInt(id, 10), "iban": line.CounterpartyAccount},
		Postings: []ledger.Posting{{AccountID: payable, Amount: amount}, {AccountID: acc.bank, Amount: amount.Neg()}},
	})
	if err != nil {
		return false, false, fmt.Errorf("payments: book refund %d paid (%s): %w", id, line.Key, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE refunds SET status = 'paid', paid_movement_key = $3, paid_transfer_id = $4, paid_at = $5
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, line.Key, tr.ID, line.EntryDate); err != nil {
		return false, false, fmt.Errorf("payments: mark refund %d paid: %w", id, err)
	}
	line.TransferID = tr.ID
	return true, false, nil
}
