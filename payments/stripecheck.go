package payments

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"

	"tartine/internal/tz"
	"tartine/ledger"
)

// Difference is one disagreement between Stripe's balance and the books,
// listed for the accountant.
type Difference struct {
	Scope  string // "day", "payout" or "charge"
	Ref    string // the day (2026-03-02), the payout id or the charge id
	Stripe decimal.Decimal
	Books  decimal.Decimal
	Note   string // what differs, in English (the page shows the figures)
}

// DayCheck is one Brussels day of a tenant's card payments as Stripe and
// the books see them. Refunds and disputes are what they take from the
// balance (negative), a refund that failed or a dispute won giving back
// (positive): Stripe's balance transactions of type refund, payment_refund
// and refund_failure, and the adjustments of a dispute (funds withdrawn,
// funds reinstated); the books' topup-refund, topup-dispute and
// topup-dispute-won transfers on stripe-clearing.
type DayCheck struct {
	Day                           time.Time // midnight, Brussels
	StripeGross, BooksGross       decimal.Decimal
	StripeFees, BooksFees         decimal.Decimal
	StripeRefunds, BooksRefunds   decimal.Decimal
	StripeDisputes, BooksDisputes decimal.Decimal
	StripeCharges, BooksPays      int
}

// PayoutCheck is one of the tenant's payouts against its balance
// transactions and the books.
type PayoutCheck struct {
	Payout
	StripeNet decimal.Decimal // sum of its balance transactions (net), EUR
	Listed    bool            // Stripe could list them
}

// BalanceCheck is the result of CheckBalance.
type BalanceCheck struct {
	From, To    time.Time
	Days        []DayCheck
	Payouts     []PayoutCheck
	FeesBooked  []string // charges whose Stripe fee the check booked
	Differences []Difference
}

// CheckBalance compares the tenant's stripe-clearing with Stripe's balance
// transactions created in [from, to), per day and per payout:
//
//   - Stripe's charges are the tenant's when their id is a top-up's
//     stripe_charge; their gross amounts and fees are summed per Brussels
//     day and compared with the top-ups credited (kind topup) and the fees
//     booked (kind stripe-fee) on stripe-clearing that day;
//   - so are the refunds of those charges (refund, payment_refund,
//     refund_failure) and their disputes' adjustments (funds withdrawn,
//     funds reinstated, with the dispute fee), read with their source
//     expanded to find the charge, against the refunds (topup-refund) and
//     disputes (topup-dispute, and topup-dispute-won for the funds
//     reinstated when a dispute is won) booked on stripe-clearing that day;
//   - a fee Stripe charged that the books lack is booked now,
//     expense:stripe-fees / stripe-clearing under the webhook's key
//     stripe-fee:<charge id> (so it is never booked twice), or for a
//     dispute's fee stripe-dispute-fee:<balance transaction id> with the
//     webhook's request (disputeFeeRequest) — including the fee given back
//     when a dispute is won, a negative fee booked stripe-clearing /
//     expense:stripe-fees — dated at the balance transaction; in a closed
//     period it is listed instead;
//   - each payout of the tenant (never one whose tenant is unknown) arriving
//     in the window is compared with the net of its balance transactions;
//     a failed or canceled payout still booked on the bank is listed.
//
// Charges of other tenants and of no known top-up are not looked at. It
// returns an error when Stripe cannot be reached.
func (s *Stripe) CheckBalance(ctx context.Context, tenantID int64, from, to time.Time) (BalanceCheck, error) {
	out := BalanceCheck{From: from, To: to}
	params := &stripego.BalanceTransactionListParams{}
	params.Context = ctx
	params.CreatedRange = &stripego.RangeQueryParams{GreaterThanOrEqual: from.Unix(), LesserThan: to.Unix()}
	params.Limit = stripego.Int64(100)
	params.AddExpand("data.source") // a refund's or a dispute's charge
	type charge struct {
		kind     string // "charge", "refund" or "dispute"
		id, bt   string // the charge, refund or dispute id; the balance transaction
		charge   string // the charge it belongs to
		at       time.Time
		gross    decimal.Decimal
		fee      decimal.Decimal
		currency stripego.Currency
	}
	var charges []charge
	it := s.api.BalanceTransactions.List(params)
	for n := 0; it.Next(); n++ {
		if n >= maxPayoutBalanceTransactions {
			return out, fmt.Errorf("payments: more than %d balance transactions in the window; check a shorter period", maxPayoutBalanceTransactions)
		}
		bt := it.BalanceTransaction()
		if bt.Source == nil {
			continue
		}
		c := charge{id: bt.Source.ID, bt: bt.ID, at: time.Unix(bt.Created, 0).In(tz.Brussels),
			gross: fromCents(bt.Amount), fee: fromCents(bt.Fee), currency: bt.Currency}
		switch bt.Type {
		case stripego.BalanceTransactionTypeCharge, stripego.BalanceTransactionTypePayment:
			if !strings.HasPrefix(bt.Source.ID, "ch_") && !strings.HasPrefix(bt.Source.ID, "py_") {
				continue
			}
			c.kind, c.charge = "charge", bt.Source.ID
		case stripego.BalanceTransactionTypeRefund, stripego.BalanceTransactionTypePaymentRefund, stripego.BalanceTransactionTypeRefundFailure:
			if bt.Source.Refund == nil || bt.Source.Refund.Charge == nil {
				continue // not expanded: its charge, hence its tenant, is unknown
			}
			c.kind, c.charge = "refund", bt.Source.Refund.Charge.ID
		case stripego.BalanceTransactionTypeAdjustment:
			if bt.Source.Dispute == nil || bt.Source.Dispute.Charge == nil {
				continue // an adjustment of no dispute (or not expanded)
			}
			c.kind, c.charge = "dispute", bt.Source.Dispute.Charge.ID
		default:
			continue
		}
		charges = append(charges, c)
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("payments: list Stripe balance transactions: %w", err)
	}
	ids := make([]string, len(charges))
	for i, c := range charges {
		ids[i] = c.charge
	}
	rows, err := s.pool.Query(ctx, `SELECT stripe_charge FROM topups WHERE tenant_id = $1 AND stripe_charge = ANY($2)`, tenantID, ids)
	if err != nil {
		return out, fmt.Errorf("payments: charges of tenant %d: %w", tenantID, err)
	}
	mine, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return out, fmt.Errorf("payments: charges of tenant %d: %w", tenantID, err)
	}
	isMine := map[string]bool{}
	for _, id := range mine {
		isMine[id] = true
	}

	// The books: stripe-clearing's top-ups and fees, per day, and the fees
	// booked by charge (a day either side: the webhook books when it runs).
	day := func(t time.Time) time.Time {
		y, m, d := t.In(tz.Brussels).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, tz.Brussels)
	}
	days := map[time.Time]*DayCheck{}
	dc := func(t time.Time) *DayCheck {
		k := day(t)
		if days[k] == nil {
			days[k] = &DayCheck{Day: k}
		}
		return days[k]
	}
	feeBooked := map[string]bool{}
	err = s.ledger.Journal(ctx, tenantID, from.AddDate(0, 0, -2), to.AddDate(0, 0, 2), func(l ledger.JournalLine) error {
		if l.AccountCode != CodeStripeClearing {
			return nil
		}
		if l.Kind == KindFee && l.ReversesID == nil {
			if l.Metadata["dispute"] == "" { // a dispute's fee is not its charge's
				feeBooked[l.Metadata["charge"]] = true
			}
			if bt := l.Metadata["balance_transaction"]; bt != "" {
				feeBooked["bt:"+bt] = true
			}
		}
		if l.OccurredAt.Before(from) || !l.OccurredAt.Before(to) {
			return nil
		}
		switch l.OriginKind {
		case KindTopUp:
			d := dc(l.OccurredAt)
			d.BooksGross = d.BooksGross.Add(l.Amount)
			if l.ReversesID == nil {
				d.BooksPays++
			}
		case KindFee:
			d := dc(l.OccurredAt)
			d.BooksFees = d.BooksFees.Sub(l.Amount)
		case KindRefund:
			d := dc(l.OccurredAt)
			d.BooksRefunds = d.BooksRefunds.Add(l.Amount)
		case KindDispute, KindDisputeWon:
			d := dc(l.OccurredAt)
			d.BooksDisputes = d.BooksDisputes.Add(l.Amount)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("payments: books of stripe-clearing: %w", err)
	}

	var clearing, fees int64
	for _, c := range charges {
		if !isMine[c.charge] {
			continue
		}
		if c.currency != stripego.CurrencyEUR {
			out.Differences = append(out.Differences, Difference{Scope: "charge", Ref: c.id, Stripe: c.gross, Note: c.kind + " not in EUR (" + string(c.currency) + ")"})
			continue
		}
		d := dc(c.at)
		d.StripeFees = d.StripeFees.Add(c.fee)
		switch c.kind {
		case "charge":
			d.StripeGross = d.StripeGross.Add(c.gross)
			d.StripeCharges++
		case "refund":
			d.StripeRefunds = d.StripeRefunds.Add(c.gross)
		case "dispute":
			d.StripeDisputes = d.StripeDisputes.Add(c.gross)
		}
		// A fee to book: positive, or for a dispute negative too (the fee
		// given back when the dispute is won).
		if c.fee.IsZero() || (c.fee.IsNegative() && c.kind != "dispute") ||
			(c.kind == "charge" && feeBooked[c.id]) || feeBooked["bt:"+c.bt] {
			continue
		}
		if clearing == 0 {
			if clearing, err = account(ctx, s.ledger, tenantID, CodeStripeClearing); err != nil {
				return out, err
			}
			if fees, err = account(ctx, s.ledger, tenantID, CodeStripeFees); err != nil {
				return out, err
			}
		}
		// The webhook's request, so that a fee it booked meanwhile is
		// returned, not booked again (OccurredAt is not part of the hash).
		req := ledger.TransferRequest{
			TenantID: tenantID, IdempotencyKey: "stripe-fee:" + c.id, Kind: KindFee, Actor: "stripe", Memo: memoFee,
			OccurredAt: c.at, Metadata: map[string]string{"charge": c.id, "balance_transaction": c.bt},
			Postings: []ledger.Posting{{AccountID: fees, Amount: c.fee}, {AccountID: clearing, Amount: c.fee.Neg()}},
		}
		if c.kind == "dispute" {
			req = disputeFeeRequest(tenantID, fees, clearing, c.id, c.charge, c.bt, c.fee, c.at)
		}
		_, err := s.ledger.Transfer(ctx, req)
		switch {
		case errors.Is(err, ledger.ErrPeriodClosed):
			out.Differences = append(out.Differences, Difference{Scope: "charge", Ref: c.id, Stripe: c.fee, Books: decimal.Zero,
				Note: "Stripe fee not booked: its day is in a closed period"})
			continue
		case err != nil:
			return out, fmt.Errorf("payments: book Stripe fee of charge %s: %w", c.id, err)
		}
		out.FeesBooked = append(out.FeesBooked, c.id)
		d.BooksFees = d.BooksFees.Add(c.fee)
		s.log.InfoContext(ctx, "payments: Stripe fee booked by the balance check", "tenant_id", tenantID, "charge", c.id, "fee", c.fee.StringFixed(2))
	}
	for _, d := range days {
		if !d.StripeGross.Equal(d.BooksGross) {
			out.Differences = append(out.Differences, Difference{Scope: "day", Ref: d.Day.Format(time.DateOnly), Stripe: d.StripeGross, Books: d.BooksGross,
				Note: "card payments at Stripe differ from the top-ups credited"})
		}
		if !d.StripeFees.Equal(d.BooksFees) {
			out.Differences = append(out.Differences, Difference{Scope: "day", Ref: d.Day.Format(time.DateOnly), Stripe: d.StripeFees, Books: d.BooksFees,
				Note: "Stripe fees differ from the fees booked"})
		}
		if !d.StripeRefunds.Equal(d.BooksRefunds) {
			out.Differences = append(out.Differences, Difference{Scope: "day", Ref: d.Day.Format(time.DateOnly), Stripe: d.StripeRefunds, Books: d.BooksRefunds,
				Note: "refunds at Stripe differ from the refunds booked"})
		}
		if !d.StripeDisputes.Equal(d.BooksDisputes) {
			out.Differences = append(out.Differences, Difference{Scope: "day", Ref: d.Day.Format(time.DateOnly), Stripe: d.StripeDisputes, Books: d.BooksDisputes,
				Note: "disputes at Stripe (funds withdrawn or reinstated) differ from the disputes booked"})
		}
		out.Days = append(out.Days, *d)
	}
	sort.Slice(out.Days, func(i, j int) bool { return out.Days[i].Day.Before(out.Days[j].Day) })

	// Payouts of this tenant only.
	prow, err := s.pool.Query(ctx, `SELECT `+payoutColumns+` FROM stripe_payouts
		WHERE tenant_id = $1 AND arrival_date >= $2::date AND arrival_date < $3::date ORDER BY arrival_date, payout_id`,
		tenantID, from.In(tz.Brussels).Format(time.DateOnly), to.In(tz.Brussels).Format(time.DateOnly))
	if err != nil {
		return out, fmt.Errorf("payments: payouts of tenant %d: %w", tenantID, err)
	}
	pos, err := pgx.CollectRows(prow, scanPayout)
	if err != nil {
		return out, fmt.Errorf("payments: payouts of tenant %d: %w", tenantID, err)
	}
	for _, p := range pos {
		pc := PayoutCheck{Payout: p}
		bal, err := s.payoutBalance(ctx, p.ID)
		if err != nil {
			return out, err
		}
		pc.StripeNet, pc.Listed = bal.total, true
		if !bal.total.Equal(p.Amount) {
			out.Differences = append(out.Differences, Difference{Scope: "payout", Ref: p.ID, Stripe: bal.total, Books: p.Amount,
				Note: "payout amount differs from the net of its balance transactions"})
		}
		if p.Status != PayoutPaid && p.TransferID != 0 && p.ReversalTransferID == 0 {
			out.Differences = append(out.Differences, Difference{Scope: "payout", Ref: p.ID, Stripe: decimal.Zero, Books: p.Amount,
				Note: "payout " + string(p.Status) + " at Stripe but still booked on the bank"})
		}
		out.Payouts = append(out.Payouts, pc)
	}
	sort.SliceStable(out.Differences, func(i, j int) bool {
		if out.Differences[i].Scope != out.Differences[j].Scope {
			return out.Differences[i].Scope < out.Differences[j].Scope
		}
		return out.Differences[i].Ref < out.Differences[j].Ref
	})
	return out, nil
}

// reverseFailedPayout reverses, once, the bank ← stripe-clearing transfer of
// a payout Stripe reports failed or canceled after a bank line was
// reconciled with it: the money is back at Stripe, not on the bank account.
// The reversal's key is stripe-payout-reversal:<payout id>.
func (s *Stripe) reverseFailedPayout(ctx context.Context, payoutID string) error {
	var tenant *int64
	var transfer, reversal *int64
	var status string
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, transfer_id, reversal_transfer_id, status FROM stripe_payouts WHERE payout_id = $1`, payoutID).
		Scan(&tenant, &transfer, &reversal, &status)
	if err != nil {
		return fmt.Errorf("payments: payout %s: %w", payoutID, err)
	}
	if PayoutStatus(status) == PayoutPaid || tenant == nil || transfer == nil || reversal != nil {
		return nil
	}
	tr, err := s.ledger.Reverse(ctx, *tenant, *transfer, "stripe-payout-reversal:"+payoutID, "stripe",
		"Versement Stripe "+payoutID+" "+status+" après rapprochement")
	if errors.Is(err, ledger.ErrAlreadyReversed) {
		// Reversed by an earlier delivery that stopped before recording it.
		return nil
	}
	if err != nil {
		return fmt.Errorf("payments: reverse payout %s: %w", payoutID, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE stripe_payouts SET reversal_transfer_id = $2 WHERE payout_id = $1 AND reversal_transfer_id IS NULL`,
		payoutID, tr.ID); err != nil {
		return fmt.Errorf("payments: record reversal of payout %s: %w", payoutID, err)
	}
	s.log.WarnContext(ctx, "payments: payout reversed after Stripe reported it "+status+"; the bank line is no longer a payout",
		"tenant_id", *tenant, "payout", payoutID, "transfer_id", *transfer, "reversal_transfer_id", tr.ID)
	return nil
}
