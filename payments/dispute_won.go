package payments

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

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
// A closed dispute that is not won books nothing. The dispute's fees are
// booked too (bookDisputeFees): the fee Stripe took, and the fee it gives
// back with the funds, so that expense:stripe-fees and the balance check's
// day agree with Stripe.
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
		return t, OutcomeDisputeWon, s.bookDisputeFees(ctx, ev, t, d)
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
	if err := s.bookDisputeFees(ctx, ev, t, d); err != nil {
		return t, "", err
	}
	return t, OutcomeDisputeWon, nil
}

// creditBack books a won dispute's reinstated funds, the reverse of
// debitWallet: stripe-clearing gets amount back; the pupil's receivable is
// relieved first of what the dispute put on it (owed) and is still owed,
// the wallet gets the rest. The ledger key is stripe-dispute-won:<balance
// transaction id>. In the same transaction, under the top-up's lock, the
// top-up's disputed amount goes down by amount, so that a refund may again
// take back what the won dispute gave back; a replay (the key is booked)
// changes nothing.
func (s *Stripe) creditBack(ctx context.Context, t topup, dispute, bt string, amount, owed decimal.Decimal) error {
	key := "stripe-dispute-won:" + bt
	clearing, err := account(ctx, s.ledger, t.TenantID, CodeStripeClearing)
	if err != nil {
		return err
	}
	var receivable int64
	if owed.IsPositive() {
		if receivable, err = receivableAccount(ctx, s.ledger, t.TenantID, t.PupilID); err != nil {
			return err
		}
	}
	var tr ledger.Transfer
	var toWallet, toReceivable decimal.Decimal
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := getTopUp(ctx, tx, t.TenantID, t.ID, true); err != nil {
			return err
		}
		done, err := s.ledger.TransferIDsByKeyTx(ctx, tx, t.TenantID, []string{key})
		if err != nil || done[key] != 0 {
			return err // booked before (with its disputed amount): nothing more
		}
		toReceivable = decimal.Zero
		if receivable != 0 {
			bal, err := s.ledger.BalanceTx(ctx, tx, t.TenantID, receivable)
			if err != nil {
				return fmt.Errorf("balance of receivable %d: %w", receivable, err)
			}
			toReceivable = decimal.Max(decimal.Min(amount, decimal.Min(owed, bal.Posted)), decimal.Zero)
		}
		toWallet = amount.Sub(toReceivable)
		postings := []ledger.Posting{{AccountID: clearing, Amount: amount}}
		if toWallet.IsPositive() {
			postings = append(postings, ledger.Posting{AccountID: t.Wallet, Amount: toWallet.Neg()})
		}
		if toReceivable.IsPositive() {
			postings = append(postings, ledger.Posting{AccountID: receivable, Amount: toReceivable.Neg()})
		}
		if tr, err = s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
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
		}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE topups SET disputed_amount = GREATEST(disputed_amount - $3, 0) WHERE tenant_id = $1 AND id = $2`,
			t.TenantID, t.ID, amount)
		return err
	})
	if err != nil {
		return fmt.Errorf("payments: credit back won dispute %s (%s) of top-up %s: %w", dispute, bt, t.ID, err)
	}
	if tr.ID != 0 {
		s.log.InfoContext(ctx, "payments: won dispute credited back", "tenant_id", t.TenantID, "topup_id", t.ID, "dispute", dispute,
			"balance_transaction", bt, "amount", amount.StringFixed(2), "to_wallet", toWallet.StringFixed(2),
			"owed_relieved", toReceivable.StringFixed(2), "transfer_id", tr.ID)
	}
	return nil
}

// bookDisputeFees books the fees of a dispute's balance transactions, once
// each under the balance check's key stripe-dispute-fee:<balance
// transaction id> and with its very request (disputeFeeRequest), dated at
// the balance transaction: the fee Stripe takes when the funds are
// withdrawn (expense:stripe-fees / stripe-clearing) and the fee it gives
// back when they are reinstated, a negative fee (stripe-clearing /
// expense:stripe-fees). A fee whose day is in a closed period is left to
// the balance check, which lists it for the accountant.
func (s *Stripe) bookDisputeFees(ctx context.Context, ev stripego.Event, t topup, d *stripego.Dispute) error {
	var charge string
	if d.Charge != nil {
		charge = d.Charge.ID
	}
	var clearing, fees int64
	for _, bt := range d.BalanceTransactions {
		if bt == nil || bt.ID == "" || bt.Fee == 0 {
			continue
		}
		if bt.Currency != stripego.CurrencyEUR {
			s.log.ErrorContext(ctx, "payments: dispute fee not in EUR, not booked", "event_id", ev.ID, "dispute", d.ID,
				"balance_transaction", bt.ID, "currency", bt.Currency)
			continue
		}
		if clearing == 0 {
			var err error
			if clearing, err = account(ctx, s.ledger, t.TenantID, CodeStripeClearing); err != nil {
				return err
			}
			if fees, err = account(ctx, s.ledger, t.TenantID, CodeStripeFees); err != nil {
				return err
			}
		}
		fee := fromCents(bt.Fee)
		_, err := s.ledger.Transfer(ctx, disputeFeeRequest(t.TenantID, fees, clearing, d.ID, charge, bt.ID, fee, time.Unix(bt.Created, 0)))
		switch {
		case errors.Is(err, ledger.ErrPeriodClosed):
			s.log.WarnContext(ctx, "payments: dispute fee not booked: its day is in a closed period (the balance check lists it)",
				"event_id", ev.ID, "dispute", d.ID, "balance_transaction", bt.ID, "fee", fee.StringFixed(2))
		case errors.Is(err, ledger.ErrIdempotencyConflict):
			// booked before under this key with another request: it stands
		case err != nil:
			return fmt.Errorf("payments: book fee of dispute %s (%s): %w", d.ID, bt.ID, err)
		}
	}
	return nil
}

// disputeFeeRequest is the transfer of a dispute's fee (positive: Stripe
// takes it) or of a dispute fee given back (negative), the same request
// from the webhook and from the balance check so that either books it once.
func disputeFeeRequest(tenantID, fees, clearing int64, dispute, charge, bt string, fee decimal.Decimal, at time.Time) ledger.TransferRequest {
	memo := memoFee
	if fee.IsNegative() {
		memo = memoDisputeFeeBack
	}
	return ledger.TransferRequest{
		TenantID: tenantID, IdempotencyKey: "stripe-dispute-fee:" + bt, Kind: KindFee, Actor: "stripe", Memo: memo,
		OccurredAt: at, Metadata: map[string]string{"dispute": dispute, "charge": charge, "balance_transaction": bt},
		Postings: []ledger.Posting{{AccountID: fees, Amount: fee}, {AccountID: clearing, Amount: fee.Neg()}},
	}
}

// memoDisputeFeeBack is the history line of a dispute fee Stripe gives
// back with a won dispute's funds.
const memoDisputeFeeBack = "Frais de litige Stripe rendus (litige gagné)"
