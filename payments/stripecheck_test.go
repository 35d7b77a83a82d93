package payments

import (
	"context"
	"strconv"
	"testing"
	"time"

	"tartine/internal/tz"
)

// TestStripeBalanceCheck: Stripe's balance transactions of a day against
// stripe-clearing — a fee the books lack is booked once, a payment Stripe
// took that the books never credited and a payout whose transactions do not
// add up are listed; another tenant's charge is not looked at.
func TestStripeBalanceCheck(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	id := e.insertTopUp(t, "50.00")
	e.credited(t, id, 5000) // the double's fee is 0: no fee booked by the webhook
	charge := "ch_" + id.String()[:8]
	var at time.Time
	if err := e.pool.QueryRow(ctx, `SELECT occurred_at FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`,
		e.tenant, "stripe-topup:"+id.String()).Scan(&at); err != nil {
		t.Fatal(err)
	}
	missing := e.insertTopUp(t, "20.00") // paid at Stripe, never credited
	if _, err := e.pool.Exec(ctx, `UPDATE topups SET stripe_charge = 'ch_missing' WHERE tenant_id = $1 AND id = $2`, e.tenant, missing); err != nil {
		t.Fatal(err)
	}
	y, m, d := at.In(tz.Brussels).Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, tz.Brussels)
	to := from.AddDate(0, 0, 1)
	arrival := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	e.double.addBT(doubleBT{id: "txn_1", typ: "charge", source: charge, amount: 5000, fee: 90, currency: "eur", created: at.Unix(), payout: "po_check"})
	e.double.addBT(doubleBT{id: "txn_2", typ: "charge", source: "ch_missing", amount: 2000, fee: 50, currency: "eur", created: at.Unix()})
	e.double.addBT(doubleBT{id: "txn_3", typ: "charge", source: "ch_foreign", amount: 7000, fee: 100, currency: "eur", created: at.Unix()})
	e.double.addBT(doubleBT{id: "txn_4", typ: "charge", source: "ch_old", amount: 2600, fee: 100, currency: "eur", created: from.AddDate(0, 0, -30).Unix(), payout: "po_short"})
	meta := map[string]string{metaTenant: strconv.FormatInt(e.tenant, 10)}
	e.deliverPayout(t, "evt_po1", evPayoutPaid, time.Now().Unix(), payoutObject("po_check", 4910, arrival, "", "paid", meta))
	e.deliverPayout(t, "evt_po2", evPayoutPaid, time.Now().Unix(), payoutObject("po_short", 3000, arrival, "", "paid", meta))

	rep, err := e.stripe.CheckBalance(ctx, e.tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FeesBooked) != 2 {
		t.Errorf("fees booked for %v, want the two charges of this tenant", rep.FeesBooked)
	}
	if got := e.codeBalance(t, CodeStripeFees); !got.Equal(dec("1.40")) {
		t.Errorf("expense:stripe-fees = %s, want 1.40", got)
	}
	if len(rep.Days) != 1 || !rep.Days[0].StripeGross.Equal(dec("70")) || !rep.Days[0].BooksGross.Equal(dec("50")) ||
		!rep.Days[0].StripeFees.Equal(dec("1.40")) || !rep.Days[0].BooksFees.Equal(dec("1.40")) {
		t.Errorf("days = %+v", rep.Days)
	}
	want := map[string]bool{"day/" + from.Format(time.DateOnly): true, "payout/po_short": true}
	if len(rep.Differences) != len(want) {
		t.Errorf("differences = %+v, want %v", rep.Differences, want)
	}
	for _, df := range rep.Differences {
		if !want[df.Scope+"/"+df.Ref] {
			t.Errorf("unexpected difference %+v", df)
		}
		if df.Scope == "payout" && (!df.Stripe.Equal(dec("25")) || !df.Books.Equal(dec("30"))) {
			t.Errorf("payout difference %+v, want Stripe 25.00 vs 30.00", df)
		}
	}
	if len(rep.Payouts) != 2 {
		t.Errorf("payouts checked: %+v", rep.Payouts)
	}
	// Again: nothing booked twice.
	rep, err = e.stripe.CheckBalance(ctx, e.tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FeesBooked) != 0 || !e.codeBalance(t, CodeStripeFees).Equal(dec("1.40")) {
		t.Errorf("second check booked %v (fees %s)", rep.FeesBooked, e.codeBalance(t, CodeStripeFees))
	}
	// Another tenant sees none of it.
	other, err := e.ledger.EnsureTenant(ctx, "po-other", "Autre PO")
	if err != nil {
		t.Fatal(err)
	}
	orep, err := e.stripe.CheckBalance(ctx, other, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(orep.Days) != 0 || len(orep.Payouts) != 0 || len(orep.Differences) != 0 || len(orep.FeesBooked) != 0 {
		t.Errorf("another tenant's check = %+v", orep)
	}
	e.verify(t)
}

// TestPayoutFailedAfterReconciliation: a payout.failed after the payout was
// reconciled with its bank line reverses the booking once; a payout of no
// known tenant is not listed for another tenant.
func TestPayoutFailedAfterReconciliation(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	e.credited(t, e.insertTopUp(t, "50.00"), 5000)
	now := time.Now().Unix()
	e.deliverPayout(t, "evt_po", evPayoutPaid, now, payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "paid", nil))

	other, err := e.ledger.EnsureTenant(ctx, "po-other", "Autre PO")
	if err != nil {
		t.Fatal(err)
	}
	bank := NewBank(e.ledger, nil)
	for _, tn := range []int64{e.tenant, other} {
		open, err := bank.UnreconciledPayouts(ctx, tn)
		list, err2 := bank.Payouts(ctx, tn, 0)
		if err != nil || err2 != nil || len(open) != 0 || len(list) != 0 {
			t.Errorf("tenant %d sees the payout of no known tenant: %+v %+v (%v %v)", tn, open, list, err, err2)
		}
	}

	if _, err := bank.ImportCODA(ctx, e.tenant, codaWithLine(t, "STRIPE "+testPayoutID, "STRIPE TECHNOLOGY EUROPE LTD"), "staff:1"); err != nil {
		t.Fatal(err)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("10")) {
		t.Fatalf("stripe-clearing after the payout = %s, want 10", got)
	}
	if list, _ := bank.Payouts(ctx, other, 0); len(list) != 0 {
		t.Errorf("another tenant sees the reconciled payout: %+v", list)
	}
	if got := e.deliverPayout(t, "evt_po_failed", evPayoutFailed, now+10, payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "failed", nil)); got != OutcomePayoutRecorded {
		t.Fatalf("payout.failed: %s", got)
	}
	for code, want := range map[string]string{CodeStripeClearing: "50", CodeBank: "25"} {
		if got := e.codeBalance(t, code); !got.Equal(dec(want)) {
			t.Errorf("%s after the failure = %s, want %s", code, got, want)
		}
	}
	p := e.payouts(t)[testPayoutID]
	if p.Status != PayoutFailed || p.ReversalTransferID == 0 {
		t.Errorf("payout = %+v, want failed with its reversal", p)
	}
	// Re-delivered and a later canceled: reversed once.
	e.deliverPayout(t, "evt_po_failed", evPayoutFailed, now+10, payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "failed", nil))
	e.deliverPayout(t, "evt_po_canceled", evPayoutCanceled, now+20, payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "canceled", nil))
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND reverses_id = $2`, e.tenant, p.TransferID); n != 1 {
		t.Errorf("%d reversals of the payout, want 1", n)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("50")) {
		t.Errorf("stripe-clearing = %s, want 50", got)
	}
	e.verify(t)
}

// TestStripeBalanceCheckRefundsAndDisputes: a refund and a dispute's funds
// withdrawn (with its fee) are compared per day with the refunds and
// disputes the webhook booked — equal, no difference; the dispute's fee is
// booked once — and so are the funds reinstated when the dispute is won,
// which the webhook books once (funds_reinstated, closed won): no
// difference either; another tenant's refund is not looked at.
func TestStripeBalanceCheckRefundsAndDisputes(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	a := e.insertTopUp(t, "50.00")
	e.credited(t, a, 5000)
	b := e.insertTopUp(t, "30.00")
	e.credited(t, b, 3000)
	if code, body := e.deliver(t, event(t, "evt_chk_refund", evChargeRefunded, chargeObject(a, e, 5000, 1000)), ""); code != 200 {
		t.Fatalf("refund: %d %s", code, body)
	}
	piB := "pi_" + b.String()[:8]
	if code, body := e.deliver(t, event(t, "evt_chk_dispute", evDisputeCreated, disputeObject("dp_chk", piB, 3000)), ""); code != 200 {
		t.Fatalf("dispute: %d %s", code, body)
	}
	// Stripe's balance transactions at the books' instants.
	when := func(key string) int64 {
		var at time.Time
		if err := e.pool.QueryRow(ctx, `SELECT occurred_at FROM transfers WHERE tenant_id = $1 AND idempotency_key LIKE $2`,
			e.tenant, key).Scan(&at); err != nil {
			t.Fatalf("transfer %s: %v", key, err)
		}
		return at.Unix()
	}
	chA, chB := "ch_"+a.String()[:8], "ch_"+b.String()[:8]
	payA, payB := when("stripe-topup:"+a.String()), when("stripe-topup:"+b.String())
	refundAt, disputeAt := when("stripe-refund:%"), when("stripe-dispute:dp_chk")
	e.double.addBT(doubleBT{id: "txn_a", typ: "charge", source: chA, amount: 5000, currency: "eur", created: payA})
	e.double.addBT(doubleBT{id: "txn_b", typ: "charge", source: chB, amount: 3000, currency: "eur", created: payB})
	e.double.addBT(doubleBT{id: "txn_re", typ: "refund", source: "re_chk", srcObject: "refund", charge: chA, amount: -1000, currency: "eur", created: refundAt})
	e.double.addBT(doubleBT{id: "txn_re_foreign", typ: "refund", source: "re_foreign", srcObject: "refund", charge: "ch_foreign", amount: -700, currency: "eur", created: refundAt})
	e.double.addBT(doubleBT{id: "txn_dp", typ: "adjustment", source: "dp_chk", srcObject: "dispute", charge: chB, amount: -3000, fee: 1500, currency: "eur", created: disputeAt})
	first := time.Unix(min(payA, payB, refundAt, disputeAt), 0).In(tz.Brussels)
	from := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, tz.Brussels)
	to := from.AddDate(0, 0, 3)
	sums := func(rep BalanceCheck) (stripeRefunds, booksRefunds, stripeDisputes, booksDisputes string) {
		var sr, br, sd, bd = dec("0"), dec("0"), dec("0"), dec("0")
		for _, d := range rep.Days {
			sr, br, sd, bd = sr.Add(d.StripeRefunds), br.Add(d.BooksRefunds), sd.Add(d.StripeDisputes), bd.Add(d.BooksDisputes)
		}
		return sr.StringFixed(2), br.StringFixed(2), sd.StringFixed(2), bd.StringFixed(2)
	}

	rep, err := e.stripe.CheckBalance(ctx, e.tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if sr, br, sd, bd := sums(rep); sr != "-10.00" || br != "-10.00" || sd != "-30.00" || bd != "-30.00" {
		t.Errorf("refunds Stripe %s books %s, disputes Stripe %s books %s; want -10.00 both, -30.00 both", sr, br, sd, bd)
	}
	if len(rep.Differences) != 0 {
		t.Errorf("differences = %+v, want none", rep.Differences)
	}
	if len(rep.FeesBooked) != 1 || rep.FeesBooked[0] != "dp_chk" || !e.codeBalance(t, CodeStripeFees).Equal(dec("15")) {
		t.Errorf("fees booked %v (expense:stripe-fees %s), want the dispute's 15.00", rep.FeesBooked, e.codeBalance(t, CodeStripeFees))
	}
	if rep, err = e.stripe.CheckBalance(ctx, e.tenant, from, to); err != nil || len(rep.FeesBooked) != 0 || !e.codeBalance(t, CodeStripeFees).Equal(dec("15")) {
		t.Errorf("second check booked %v (fees %s), %v", rep.FeesBooked, e.codeBalance(t, CodeStripeFees), err)
	}

	// The dispute is won: Stripe gives the funds back and says so by
	// webhook (funds reinstated, then closed won, one delivered twice); the
	// books credit them back once and the day shows no difference.
	won := disputeObject("dp_chk", piB, 3000)
	won["status"] = "won"
	won["balance_transactions"] = []map[string]any{
		{"id": "txn_dp", "object": "balance_transaction", "type": "adjustment", "amount": -3000, "fee": 1500, "net": -4500, "currency": "eur", "created": disputeAt},
		{"id": "txn_dp_won", "object": "balance_transaction", "type": "adjustment", "amount": 3000, "fee": 0, "net": 3000, "currency": "eur", "created": disputeAt + 1},
	}
	for _, ev := range []struct{ id, typ string }{{"evt_chk_won", evDisputeReinstated}, {"evt_chk_won", evDisputeReinstated}, {"evt_chk_closed", evDisputeClosed}} {
		if code, body := e.deliver(t, event(t, ev.id, ev.typ, won), ""); code != 200 {
			t.Fatalf("%s: %d %s", ev.id, code, body)
		}
	}
	wonAt := when("stripe-dispute-won:txn_dp_won")
	e.double.addBT(doubleBT{id: "txn_dp_won", typ: "adjustment", source: "dp_chk", srcObject: "dispute", charge: chB, amount: 3000, currency: "eur", created: wonAt})
	if wonAt >= to.Unix() {
		to = time.Unix(wonAt, 0).In(tz.Brussels).AddDate(0, 0, 1)
	}
	rep, err = e.stripe.CheckBalance(ctx, e.tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, sd, bd := sums(rep); sd != "0.00" || bd != "0.00" {
		t.Errorf("disputes after the reinstatement: Stripe %s books %s; want 0.00 both", sd, bd)
	}
	if len(rep.Differences) != 0 {
		t.Errorf("differences = %+v, want none once the won dispute is booked", rep.Differences)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND kind = $2`, e.tenant, KindDisputeWon); n != 1 {
		t.Errorf("%d won-dispute transfers, want 1", n)
	}
	if got := e.codeBalance(t, CodeStripeFees); !got.Equal(dec("15")) {
		t.Errorf("expense:stripe-fees = %s, want 15 (the dispute fee, once)", got)
	}
	e.verify(t)
}
