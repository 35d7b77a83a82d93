package payments

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"

	"tartine/ledger"
)

// onDisputeWon handles charge.dispute.funds_reinstated and
// charge.dispute.closed: when the dispute is won, Stripe gives the funds
// back (a balance transaction of type adjustment, positive, among the
// dispute's balance_transactions), and the wallet gets back what the
// dispute took. Each reinstatement is booked once under the key
// stripe-dispute-won:<balance transaction id>, so that both events (and
// their replays) book it once, capped at what the dispute itself booked.
// A closed dispute that is not won books nothing.
//
// The dispute is applied first (once, as charge.dispute.created would), so
// that a reinstatement never arrives before the debit it gives back; a
// dispute of a top-up not credited yet is kept like the dispute itself.
func (s *Stripe) onDisputeWon(ctx context.Context, ev stripego.Event, d *stripego.Dispute) (topup, Outcome, error) {
	if ev.Type == evDisputeClosed && d.Status != stripego.DisputeStatusWon {
		s.log.InfoContext(ctx, "payments: dispute closed, not won: nothing given back", "event_id", ev.ID, "dispute", d.ID, "status", d.Status)
		return topup{}, OutcomeIgnored, nil
	}
	t, out, err := s.onDispute(ctx, ev, d)
	if err != nil || out != OutcomeDisputed {
		return t, out, err
	}
	// What the dispute booked (capped at what was paid and not refunded).
	var booked decimal.Decimal
	var transfer *int64
	err = s.pool.QueryRow(ctx, `SELECT amount, transfer_id FROM topup_adjustments
		WHERE tenant_id = $1 AND topup_id = $2 AND kind = 'dispute' AND ref = $3`, t.TenantID, t.ID, d.ID).Scan(&booked, &transfer)
	if errors.Is(err, pgx.ErrNoRows) {
		s.log.WarnContext(ctx, "payments: won dispute that booked nothing: nothing given back", "event_id", ev.ID, "topup_id", t.ID, "dispute", d.ID)
		return t, OutcomeDisputeWon, nil
	}
	if err != nil {
		return t, "", fmt.Errorf("payments: dispute %s of top-up %s: %w", d.ID, t.ID, err)
	}
	if transfer == nil {
		return t, "", fmt.Errorf("payments: dispute %s of top-up %s is not booked yet", d.ID, t.ID)
	}
	debit, err := s.ledger.GetTransfer(ctx, t.TenantID, *transfer)
	if err != nil {
		return t, "", fmt.Errorf("payments: transfer of dispute %s: %w", d.ID, err)
	}
	owed, _ := decimal.NewFromString(debit.Metadata["owed"])

	// The reinstatements, in Stripe's order: every event carries them all,
	// so each delivery caps each one the same way.
	var back []*stripego.BalanceTransaction
	for _, bt := range d.BalanceTransactions {
		if bt != nil && bt.ID != "" && bt.Amount > 0 {
			back = append(back, bt)
		}
	}
	sort.SliceStable(back, func(i, j int) bool {
		if back[i].Created != back[j].Created {
			return back[i].Created < back[j].Created
		}
		return back[i].ID < back[j].ID
	})
	if len(back) == 0 {
		s.log.InfoContext(ctx, "payments: won dispute without funds reinstated yet", "event_id", ev.ID, "topup_id", t.ID, "dispute", d.ID)
	}
	room := booked
	for _, bt := range back {
		if bt.Currency != stripego.CurrencyEUR {
			s.log.ErrorContext(ctx, "payments: funds reinstated not in EUR, not booked", "event_id", ev.ID, "topup_id", t.ID,
				"dispute", d.ID, "balance_transaction", bt.ID, "currency", bt.Currency)
			continue
		}
		amount := decimal.Min(fromCents(bt.Amount), room)
		if !amount.IsPositive() {
			s.log.ErrorContext(ctx, "payments: funds reinstated beyond what the dispute booked, not booked", "event_id", ev.ID,
				"topup_id", t.ID, "dispute", d.ID, "balance_transaction", bt.ID, "amount", fromCents(bt.Amount).StringFixed(2),
				"dispute_booked", booked.StringFixed(2))
			continue
		}
		room = room.Sub(amount)
		if err := s.creditBack(ctx, t, d.ID, bt.ID, amount, owed); err != nil {
			return t, "", err
		}
		owed = decimal.Max(owed.Sub(amount), decimal.Zero)
	}
	return t, OutcomeDisputeWon, nil
}

// creditBack books a won dispute's reinstated funds, the reverse of
// debitWallet: stripe-clearing gets amount back; the pupil's receivable is
// relieved first of what the dispute put on it (owed) and is still owed,
// the wallet gets the rest. The ledger key is stripe-dispute-won:<balance
// transaction id>; a replay whose split differs (the receivable moved
// since) keeps the first booking.
func (s *Stripe) creditBack(ctx context.Context, t topup, dispute, bt string, amount, owed decimal.Decimal) error {
	key := "stripe-dispute-won:" + bt
	clearing, err := account(ctx, s.ledger, t.TenantID, CodeStripeClearing)
	if err != nil {
		return err
	}
	toReceivable := decimal.Zero
	var receivable int64
	if owed.IsPositive() {
		if receivable, err = receivableAccount(ctx, s.ledger, t.TenantID, t.PupilID); err != nil {
			return err
		}
		bal, err := s.ledger.Balance(ctx, t.TenantID, receivable)
		if err != nil {
			return fmt.Errorf("payments: balance of receivable %d: %w", receivable, err)
		}
		toReceivable = decimal.Max(decimal.Min(amount, decimal.Min(owed, bal.Posted)), decimal.Zero)
	}
	toWallet := amount.Sub(toReceivable)
	postings := []ledger.Posting{{AccountID: clearing, Amount: amount}}
	if toWallet.IsPositive() {
		postings = append(postings, ledger.Posting{AccountID: t.Wallet, Amount: toWallet.Neg()})
	}
	if toReceivable.IsPositive() {
		postings = append(postings, ledger.Posting{AccountID: receivable, Amount: toReceivable.Neg()})
	}
	tr, err := s.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       t.TenantID,
		IdempotencyKey: key,
		Kind:           KindDisputeWon,
		Actor:          "stripe",
		Memo:           memoDisputeWon,
		Metadata: map[string]string{
			"topup_id":            t.ID.String(),
			"pupil_id":            strconv.FormatInt(t.PupilID, 10),
			"dispute":             dispute,
			"balance_transaction": bt,
			"to_wallet":           toWallet.StringFixed(2),
			"owed_relieved":       toReceivable.StringFixed(2),
		},
		Postings: postings,
	})
	switch {
	case errors.Is(err, ledger.ErrIdempotencyConflict):
		return nil // booked before with another split: the first booking stands
	case err != nil:
		return fmt.Errorf("payments: credit back won dispute %s (%s): %w", dispute, bt, err)
	}
	s.log.InfoContext(ctx, "payments: won dispute credited back", "tenant_id", t.TenantID, "topup_id", t.ID, "dispute", dispute,
		"balance_transaction", bt, "amount", amount.StringFixed(2), "to_wallet", toWallet.StringFixed(2),
		"owed_relieved", toReceivable.StringFixed(2), "transfer_id", tr.ID)
	return nil
}
