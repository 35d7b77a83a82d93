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
	stripego "github.com/stripe/stripe-go/v76"

	"tartine/ledger"
)

// Stripe payout event types recorded.
const (
	evPayoutPaid     = "payout.paid"
	evPayoutFailed   = "payout.failed"
	evPayoutCanceled = "payout.canceled"
)

// KindStripePayout is the ledger kind of a payout reconciled with its bank
// line: bank ← stripe-clearing.
const KindStripePayout = "stripe-payout"

const memoPayout = "Versement Stripe"

// PayoutDateWindow is how many days the bank line's value date (else its
// entry date) may be before or after the payout's arrival date.
const PayoutDateWindow = 5

// maxPayoutBalanceTransactions bounds the balance transactions read for one
// payout (the check is informative; a bigger payout is summed partially and
// says so in the log).
const maxPayoutBalanceTransactions = 10000

// PayoutStatus is the state of a recorded Stripe payout.
type PayoutStatus string

// Payout states (from the event type: payout.paid, payout.failed,
// payout.canceled).
const (
	PayoutPaid     PayoutStatus = "paid"
	PayoutFailed   PayoutStatus = "failed"
	PayoutCanceled PayoutStatus = "canceled"
)

// Payout is a Stripe payout recorded from its webhook.
type Payout struct {
	ID                  string // po_…
	TenantID            int64  // 0 while no tenant is known (claimed by the bank statement showing it)
	MixedTenants        bool   // its balance transactions name top-ups of several tenants: never matched automatically
	Amount              decimal.Decimal
	ArrivalDate         time.Time // the date Stripe expects the money on the bank account (UTC midnight)
	StatementDescriptor string
	Status              PayoutStatus
	// BalanceTotal and BalanceCount sum the payout's balance transactions in
	// EUR (other than the payout itself) when Stripe could list them.
	BalanceTotal    *decimal.Decimal
	BalanceCount    int
	BankMovementKey string // the bank line it was reconciled with ("" when not yet)
	TransferID      int64  // the ledger transfer bank ← stripe-clearing (0 when not yet)
	// ReversalTransferID is the reversal of TransferID booked when Stripe
	// reported the payout failed or canceled after it was reconciled (0:
	// none).
	ReversalTransferID int64
	ReconciledAt       *time.Time
	RecordedAt         time.Time
}

// onPayout records a payout.paid, payout.failed or payout.canceled event:
// once per payout, the status following the most recent event. Every field
// comes from the payout object, so a re-delivered or repeated event changes
// nothing. It returns the payout's tenant when known.
func (s *Stripe) onPayout(ctx context.Context, ev stripego.Event, po *stripego.Payout) (int64, Outcome, error) {
	if !strings.HasPrefix(po.ID, "po_") {
		return 0, "", fmt.Errorf("%w: event %s: payout object without a po_ id (%q)", ErrInvalidRequest, ev.ID, po.ID)
	}
	status := map[string]PayoutStatus{evPayoutPaid: PayoutPaid, evPayoutFailed: PayoutFailed, evPayoutCanceled: PayoutCanceled}[string(ev.Type)]
	if po.Currency != stripego.CurrencyEUR || po.Amount <= 0 || po.ArrivalDate <= 0 {
		s.log.ErrorContext(ctx, "payments: payout not in EUR, without amount or arrival date; not recorded",
			"event_id", ev.ID, "payout", po.ID, "currency", po.Currency, "amount", po.Amount, "arrival_date", po.ArrivalDate)
		return 0, OutcomeRejected, nil
	}
	amount := fromCents(po.Amount)
	arrival := time.Unix(po.ArrivalDate, 0).UTC().Truncate(24 * time.Hour)
	evAt := time.Unix(ev.Created, 0)

	var known bool
	var knownTenant *int64
	var balanceKnown bool
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, balance_count IS NOT NULL FROM stripe_payouts WHERE payout_id = $1`, po.ID).
		Scan(&knownTenant, &balanceKnown)
	switch {
	case err == nil:
		known = true
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, "", fmt.Errorf("payments: look up payout %s: %w", po.ID, err)
	}

	tenant, err := s.tenantFromMetadata(ctx, po.Metadata)
	if err != nil {
		return 0, "", err
	}
	var mixed bool
	var balTotal *decimal.Decimal
	var balCount *int
	if !balanceKnown {
		// Informative: a failing list is logged and the payout recorded
		// without it (the next event of the payout tries again).
		bal, err := s.payoutBalance(ctx, po.ID)
		if err != nil {
			s.log.WarnContext(ctx, "payments: balance transactions of payout not listed; recorded without the check",
				"payout", po.ID, "err", err)
		} else {
			balTotal, balCount = &bal.total, &bal.count
			if !bal.total.Equal(amount) {
				s.log.WarnContext(ctx, "payments: payout amount differs from the sum of its balance transactions",
					"payout", po.ID, "amount", amount.StringFixed(2), "balance_total", bal.total.StringFixed(2),
					"balance_count", bal.count, "skipped_not_eur", bal.notEUR)
			}
			switch {
			case len(bal.tenants) > 1:
				mixed = true
				s.log.WarnContext(ctx, "payments: payout carries top-ups of several tenants; it will not be matched automatically",
					"payout", po.ID, "tenants", bal.tenants)
			case len(bal.tenants) == 1 && tenant == 0:
				tenant = bal.tenants[0]
			case len(bal.tenants) == 1 && tenant != bal.tenants[0]:
				mixed = true
				s.log.WarnContext(ctx, "payments: payout metadata names another tenant than its top-ups; it will not be matched automatically",
					"payout", po.ID, "metadata_tenant", tenant, "topup_tenant", bal.tenants[0])
			}
		}
	}
	if mixed {
		tenant = 0
	}
	var tenantArg *int64
	if tenant != 0 {
		tenantArg = &tenant
	}

	if !known {
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO stripe_payouts (payout_id, tenant_id, mixed_tenants, amount, currency, arrival_date, statement_descriptor,
				status, balance_total, balance_count, last_event_at, recorded_at)
			VALUES ($1, $2, $3, $4, 'EUR', $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (payout_id) DO NOTHING`,
			po.ID, tenantArg, mixed, amount, arrival, po.StatementDescriptor, string(status), balTotal, balCount, evAt, s.now())
		if err != nil {
			return 0, "", fmt.Errorf("payments: record payout %s: %w", po.ID, err)
		}
		if tag.RowsAffected() == 1 {
			s.log.InfoContext(ctx, "payments: stripe payout recorded", "payout", po.ID, "tenant_id", tenant,
				"amount", amount.StringFixed(2), "arrival_date", arrival.Format(time.DateOnly), "status", status)
			return tenant, OutcomePayoutRecorded, nil
		}
		// Recorded meanwhile by a concurrent delivery: compare with it below.
	}

	var outcome Outcome
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var curAmount decimal.Decimal
		var curArrival, lastAt time.Time
		var curStatus string
		var curTenant *int64
		var reconciled *string
		if err := tx.QueryRow(ctx, `SELECT amount, arrival_date, status, last_event_at, tenant_id, bank_movement_key
			FROM stripe_payouts WHERE payout_id = $1 FOR UPDATE`, po.ID).
			Scan(&curAmount, &curArrival, &curStatus, &lastAt, &curTenant, &reconciled); err != nil {
			return err
		}
		if curTenant != nil {
			tenant = *curTenant
		}
		if !curAmount.Equal(amount) || !curArrival.Equal(arrival) {
			s.log.ErrorContext(ctx, "payments: payout event disagrees with the recorded payout, ignored",
				"event_id", ev.ID, "payout", po.ID, "amount", amount.StringFixed(2), "recorded_amount", curAmount.StringFixed(2),
				"arrival_date", arrival.Format(time.DateOnly), "recorded_arrival_date", curArrival.Format(time.DateOnly))
			outcome = OutcomeRejected
			return nil
		}
		// Fill what an earlier delivery could not learn; never overwrite.
		if _, err := tx.Exec(ctx, `UPDATE stripe_payouts SET
				balance_total = COALESCE(balance_total, $2), balance_count = COALESCE(balance_count, $3),
				tenant_id = CASE WHEN tenant_id IS NULL AND bank_movement_key IS NULL AND NOT mixed_tenants AND NOT $5 THEN $4 ELSE tenant_id END,
				mixed_tenants = mixed_tenants OR ($5 AND bank_movement_key IS NULL)
			WHERE payout_id = $1`, po.ID, balTotal, balCount, tenantArg, mixed); err != nil {
			return err
		}
		if curStatus == string(status) || evAt.Before(lastAt) {
			outcome = OutcomePayoutUnchanged
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE stripe_payouts SET status = $2, last_event_at = $3 WHERE payout_id = $1`,
			po.ID, string(status), evAt); err != nil {
			return err
		}
		if reconciled != nil && status != PayoutPaid {
			s.log.ErrorContext(ctx, "payments: payout reported "+string(status)+" after it was reconciled with a bank line; its booking is reversed, check the bank account",
				"event_id", ev.ID, "payout", po.ID, "bank_movement", *reconciled)
		}
		outcome = OutcomePayoutRecorded
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("payments: update payout %s: %w", po.ID, err)
	}
	// A failed or canceled payout already booked on the bank is reversed
	// (on every delivery until it is: an error makes Stripe deliver again).
	if err := s.reverseFailedPayout(ctx, po.ID); err != nil {
		return 0, "", err
	}
	s.log.InfoContext(ctx, "payments: stripe payout event", "event_id", ev.ID, "payout", po.ID, "status", status, "outcome", outcome)
	return tenant, outcome, nil
}

// tenantFromMetadata returns the existing tenant named by metadata
// tenant_id, or 0.
func (s *Stripe) tenantFromMetadata(ctx context.Context, meta map[string]string) (int64, error) {
	id, err := strconv.ParseInt(meta[metaTenant], 10, 64)
	if err != nil || id <= 0 {
		return 0, nil
	}
	ok, err := s.ledger.TenantExists(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("payments: %w", err)
	}
	if !ok {
		return 0, nil
	}
	return id, nil
}

// payoutBalance is what a payout's balance transactions add up to.
type payoutBalance struct {
	total   decimal.Decimal
	count   int
	notEUR  int
	tenants []int64 // tenants of the top-ups whose charges are in the payout
}

// payoutBalance lists the payout's balance transactions
// (BalanceTransactionListParams{Payout}) and sums those in EUR other than
// the payout's own; their charges name the tenants of the top-ups.
func (s *Stripe) payoutBalance(ctx context.Context, payoutID string) (payoutBalance, error) {
	var out payoutBalance
	params := &stripego.BalanceTransactionListParams{Payout: stripego.String(payoutID)}
	params.Context = ctx
	params.Limit = stripego.Int64(100)
	it := s.api.BalanceTransactions.List(params)
	var charges []string
	n := 0
	for it.Next() {
		if n++; n > maxPayoutBalanceTransactions {
			s.log.WarnContext(ctx, "payments: payout has too many balance transactions; sum partial", "payout", payoutID)
			break
		}
		bt := it.BalanceTransaction()
		if bt.Type == stripego.BalanceTransactionTypePayout {
			continue
		}
		if bt.Currency != stripego.CurrencyEUR {
			out.notEUR++
			continue
		}
		out.total = out.total.Add(fromCents(bt.Net))
		out.count++
		if bt.Source != nil && strings.HasPrefix(bt.Source.ID, "ch_") {
			charges = append(charges, bt.Source.ID)
		}
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("payments: list balance transactions of payout %s: %w", payoutID, err)
	}
	if len(charges) > 0 {
		rows, err := s.pool.Query(ctx, `SELECT DISTINCT tenant_id FROM topups WHERE stripe_charge = ANY($1) ORDER BY tenant_id`, charges)
		if err != nil {
			return out, fmt.Errorf("payments: tenants of payout %s: %w", payoutID, err)
		}
		if out.tenants, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return out, fmt.Errorf("payments: tenants of payout %s: %w", payoutID, err)
		}
	}
	return out, nil
}

const payoutColumns = `payout_id, coalesce(tenant_id, 0), mixed_tenants, amount, arrival_date, statement_descriptor, status,
	balance_total, coalesce(balance_count, 0), coalesce(bank_movement_key, ''), coalesce(transfer_id, 0), reconciled_at, recorded_at,
	coalesce(reversal_transfer_id, 0)`

func scanPayout(r pgx.CollectableRow) (Payout, error) {
	var p Payout
	var status string
	err := r.Scan(&p.ID, &p.TenantID, &p.MixedTenants, &p.Amount, &p.ArrivalDate, &p.StatementDescriptor, &status,
		&p.BalanceTotal, &p.BalanceCount, &p.BankMovementKey, &p.TransferID, &p.ReconciledAt, &p.RecordedAt, &p.ReversalTransferID)
	p.Status = PayoutStatus(status)
	return p, err
}

// UnreconciledPayouts returns the paid Stripe payouts that no bank line has
// been matched with yet, oldest arrival first: those of the tenant, and
// those whose tenant is not known yet only when a movement of this tenant
// waiting in suspense has the payout's amount (the deployment's Stripe
// account serves every tenant: a payout of no known tenant is never shown
// to every tenant, only to one whose bank statement shows its amount, who
// may claim it with AllocatePayout). A payout listed well after its arrival
// date has not been seen on an imported statement: look for it in suspense
// (Unallocated) or at the bank.
func (b *Bank) UnreconciledPayouts(ctx context.Context, tenantID int64) ([]Payout, error) {
	rows, err := b.pool.Query(ctx, `SELECT `+payoutColumns+` FROM stripe_payouts p
		WHERE status = 'paid' AND transfer_id IS NULL AND (tenant_id = $1 OR (tenant_id IS NULL AND EXISTS (
			SELECT 1 FROM bank_movements m WHERE m.tenant_id = $1 AND m.status = 'suspense' AND m.amount = p.amount)))
		ORDER BY arrival_date, payout_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("payments: unreconciled payouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanPayout)
	if err != nil {
		return nil, fmt.Errorf("payments: unreconciled payouts: %w", err)
	}
	return out, nil
}

// Payouts returns the tenant's reconciled or unreconciled payouts, most
// recent arrival first, at most limit (≤ 0: 100). Payouts of no known
// tenant are not listed (see UnreconciledPayouts).
func (b *Bank) Payouts(ctx context.Context, tenantID int64, limit int) ([]Payout, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := b.pool.Query(ctx, `SELECT `+payoutColumns+` FROM stripe_payouts
		WHERE tenant_id = $1 ORDER BY arrival_date DESC, payout_id LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("payments: payouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanPayout)
	if err != nil {
		return nil, fmt.Errorf("payments: payouts: %w", err)
	}
	return out, nil
}

// payoutCandidate is a recorded payout a bank line may be.
type payoutCandidate struct {
	id, descriptor string
	claimed        bool // already claimed by this very line (an import stopped half-way)
}

// matchPayout books a credit line as the Stripe payout it is, if any: same
// amount as a paid payout not reconciled yet, of this tenant or of none,
// value date within PayoutDateWindow days of the arrival date, and a
// communication or counterparty naming Stripe, the payout id or its
// statement descriptor. The payout is claimed for the line first (so two
// lines never take the same payout), then booked bank ← stripe-clearing
// under the key stripe-payout:<payout id>, then marked reconciled. It
// reports whether the line was a payout.
func (b *Bank) matchPayout(ctx context.Context, tx pgx.Tx, tenantID int64, line *BankLine, acc codaAccounts, actor string) (bool, error) {
	date := line.ValueDate
	if date.IsZero() {
		date = line.EntryDate
	}
	rows, err := tx.Query(ctx, `
		SELECT payout_id, statement_descriptor, bank_movement_key IS NOT NULL FROM stripe_payouts
		WHERE status = 'paid' AND currency = 'EUR' AND NOT mixed_tenants AND amount = $2
			AND ((bank_movement_key IS NULL AND transfer_id IS NULL AND (tenant_id IS NULL OR tenant_id = $1))
				OR (tenant_id = $1 AND bank_movement_key = $3))
			AND arrival_date BETWEEN $4::date - $5::int AND $4::date + $5::int
		ORDER BY bank_movement_key IS NOT NULL DESC, abs(arrival_date - $4::date), arrival_date, payout_id`,
		tenantID, line.Amount, line.Key, date, PayoutDateWindow)
	if err != nil {
		return false, fmt.Errorf("payments: payouts for movement %s: %w", line.Key, err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (payoutCandidate, error) {
		var c payoutCandidate
		err := r.Scan(&c.id, &c.descriptor, &c.claimed)
		return c, err
	})
	if err != nil {
		return false, fmt.Errorf("payments: payouts for movement %s: %w", line.Key, err)
	}
	if len(cands) == 0 {
		return false, nil
	}
	text := strings.ToLower(line.Communication + " " + line.CounterpartyName)
	namesStripe := strings.Contains(text, "stripe")
	var pick *payoutCandidate
	for i := range cands { // the line naming the payout id wins
		if cands[i].claimed || strings.Contains(text, strings.ToLower(cands[i].id)) {
			pick = &cands[i]
			break
		}
	}
	if pick == nil {
		for i := range cands {
			d := strings.ToLower(strings.TrimSpace(cands[i].descriptor))
			if namesStripe || (len(d) >= 3 && strings.Contains(text, d)) {
				pick = &cands[i]
				break
			}
		}
	}
	if pick == nil {
		return false, nil
	}
	if !pick.claimed {
		claimed, err := b.claimPayout(ctx, tx, tenantID, pick.id, line.Key)
		if err != nil {
			return false, err
		}
		if !claimed {
			// Taken meanwhile by a concurrent import of another line.
			return false, fmt.Errorf("payments: payout %s was claimed by another movement during the import of %s; import again", pick.id, line.Key)
		}
	}
	tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: "stripe-payout:" + pick.id,
		Kind:           KindStripePayout,
		OccurredAt:     line.EntryDate,
		Actor:          actor,
		Memo:           memoPayout,
		Metadata:       map[string]string{"payout": pick.id, "bank_movement": line.Key, "counterparty": line.CounterpartyName},
		Postings: []ledger.Posting{
			{AccountID: acc.bank, Amount: line.Amount},
			{AccountID: acc.clearing, Amount: line.Amount.Neg()},
		},
	})
	if err != nil {
		return false, fmt.Errorf("payments: book payout %s from movement %s: %w", pick.id, line.Key, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE stripe_payouts SET transfer_id = $3, reconciled_at = now()
		WHERE payout_id = $1 AND bank_movement_key = $2 AND transfer_id IS NULL`, pick.id, line.Key, tr.ID); err != nil {
		return false, fmt.Errorf("payments: mark payout %s reconciled: %w", pick.id, err)
	}
	line.PayoutID, line.TransferID = pick.id, tr.ID
	b.log.InfoContext(ctx, "payments: stripe payout reconciled with its bank line", "tenant_id", tenantID, "payout", pick.id,
		"bank_movement", line.Key, "amount", line.Amount.StringFixed(2), "transfer_id", tr.ID)
	return true, nil
}

// claimPayout ties a payout not reconciled yet to bank movement key (and
// to the tenant); false when another movement holds it.
func (b *Bank) claimPayout(ctx context.Context, q dbtx, tenantID int64, payoutID, key string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE stripe_payouts SET bank_movement_key = $3, tenant_id = $2
		WHERE payout_id = $1 AND (bank_movement_key IS NULL OR bank_movement_key = $3) AND transfer_id IS NULL
			AND (tenant_id IS NULL OR tenant_id = $2)`, payoutID, tenantID, key)
	if err != nil {
		return false, fmt.Errorf("payments: claim payout %s for movement %s: %w", payoutID, key, err)
	}
	return tag.RowsAffected() > 0, nil
}

// AllocatePayout reconciles a movement waiting in suspense with a Stripe
// payout, for a payout line imported before its webhook was recorded or
// whose communication named neither Stripe nor the payout: suspense ←
// stripe-clearing under the key stripe-payout:<payout id>. The payout must
// be paid, not reconciled, of this tenant or of none, and of the movement's
// amount. It returns ErrNotFound when the movement is not in suspense or
// the payout does not fit, and the transfer id otherwise.
func (b *Bank) AllocatePayout(ctx context.Context, tenantID int64, key, payoutID, actor string) (int64, error) {
	var amount decimal.Decimal
	err := b.pool.QueryRow(ctx, `SELECT m.amount FROM bank_movements m, stripe_payouts p
		WHERE m.tenant_id = $1 AND m.key = $2 AND m.status = 'suspense' AND p.payout_id = $3 AND p.status = 'paid'
			AND p.amount = m.amount AND NOT p.mixed_tenants AND p.transfer_id IS NULL
			AND (p.bank_movement_key IS NULL OR p.bank_movement_key = $2) AND (p.tenant_id IS NULL OR p.tenant_id = $1)`,
		tenantID, key, payoutID).Scan(&amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: movement %s waiting in suspense and paid payout %s of the same amount, not reconciled", ErrNotFound, key, payoutID)
	}
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s to payout %s: %w", key, payoutID, err)
	}
	claimed, err := b.claimPayout(ctx, b.pool, tenantID, payoutID, key)
	if err != nil {
		return 0, err
	}
	if !claimed {
		return 0, fmt.Errorf("%w: payout %s was reconciled meanwhile", ErrNotFound, payoutID)
	}
	suspense, err := account(ctx, b.ledger, tenantID, CodeSuspense)
	if err != nil {
		return 0, err
	}
	clearing, err := account(ctx, b.ledger, tenantID, CodeStripeClearing)
	if err != nil {
		return 0, err
	}
	tr, err := b.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: "stripe-payout:" + payoutID,
		Kind:           KindStripePayout,
		Actor:          actor,
		Memo:           memoPayout,
		Metadata:       map[string]string{"payout": payoutID, "bank_movement": key},
		Postings: []ledger.Posting{
			{AccountID: suspense, Amount: amount},
			{AccountID: clearing, Amount: amount.Neg()},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s to payout %s: %w", key, payoutID, err)
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE stripe_payouts SET transfer_id = $3, reconciled_at = now()
			WHERE payout_id = $1 AND bank_movement_key = $2 AND transfer_id IS NULL`, payoutID, key, tr.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE bank_movements SET status = 'payout', allocation_transfer_id = $3
			WHERE tenant_id = $1 AND key = $2 AND status = 'suspense'`, tenantID, key, tr.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("payments: mark %s reconciled with payout %s: %w", key, payoutID, err)
	}
	b.log.InfoContext(ctx, "payments: movement in suspense reconciled with a stripe payout", "tenant_id", tenantID,
		"payout", payoutID, "bank_movement", key, "actor", actor, "transfer_id", tr.ID)
	return tr.ID, nil
}
