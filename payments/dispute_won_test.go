package payments

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/internal/tz"
	"tartine/ledger"
)

// wonDisputeObject is a dispute of pi as Stripe sends it once decided:
// its balance transactions are the funds withdrawn (txn_<id>_out, −cents)
// and, when reinstated, the funds given back (txn_<id>_back, +cents).
func wonDisputeObject(id, pi string, cents int64, status string, reinstated bool) map[string]any {
	d := disputeObject(id, pi, cents)
	d["status"] = status
	bts := []map[string]any{{"id": "txn_" + id + "_out", "object": "balance_transaction", "type": "adjustment",
		"amount": -cents, "fee": 1500, "net": -cents - 1500, "currency": "eur", "created": 1767225600}}
	if reinstated {
		bts = append(bts, map[string]any{"id": "txn_" + id + "_back", "object": "balance_transaction", "type": "adjustment",
			"amount": cents, "fee": 0, "net": cents, "currency": "eur", "created": 1769904000})
	}
	d["balance_transactions"] = bts
	return d
}

// TestWebhookDisputeWon: a won dispute gives back what the dispute took —
// first what it put on the pupil's receivable, then the wallet — once,
// whether it comes as charge.dispute.funds_reinstated or
// charge.dispute.closed (won), delivered again or both; a dispute closed
// lost gives nothing back, and a reinstatement arriving before the dispute
// itself applies the dispute first.
func TestWebhookDisputeWon(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	id := e.insertTopUp(t, "30.00")
	e.credited(t, id, 3000)
	// 20.00 spent: the dispute of 30.00 takes 10.00 from the wallet and
	// puts 20.00 on the receivable.
	canteen, err := e.ledger.EnsureAccount(ctx, e.tenant, ledger.AccountSpec{Code: "income:test-canteen", Name: "Cantine", Type: ledger.Income})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: e.tenant, IdempotencyKey: "meal:test", Kind: "meal", Actor: "test",
		Postings: []ledger.Posting{{AccountID: e.wallet, Amount: dec("20")}, {AccountID: canteen.ID, Amount: dec("-20")}}}); err != nil {
		t.Fatal(err)
	}
	pi := "pi_" + id.String()[:8]
	if code, body := e.deliver(t, event(t, "evt_dw_created", evDisputeCreated, disputeObject("dp_won", pi, 3000)), ""); code != 200 {
		t.Fatalf("dispute: %d %s", code, body)
	}
	receivable := func() decimal.Decimal {
		rid, err := receivableAccount(ctx, e.ledger, e.tenant, e.pupil)
		if err != nil {
			t.Fatal(err)
		}
		return e.balance(t, rid)
	}
	if w, r := e.balance(t, e.wallet), receivable(); !w.IsZero() || !r.Equal(dec("20")) {
		t.Fatalf("after the dispute: wallet %s, receivable %s; want 0 and 20", w, r)
	}

	won := wonDisputeObject("dp_won", pi, 3000, "won", true)
	for _, d := range []struct {
		ev, typ string
		obj     map[string]any
	}{
		{"evt_dw_back", evDisputeReinstated, won},
		{"evt_dw_back", evDisputeReinstated, won}, // the same event again
		{"evt_dw_closed", evDisputeClosed, won},   // the other event of the same reinstatement
	} {
		code, body := e.deliver(t, event(t, d.ev, d.typ, d.obj), "")
		if code != 200 {
			t.Fatalf("%s: %d %s", d.ev, code, body)
		}
		if o := outcomeOf(t, body); o != OutcomeDisputeWon && o != OutcomeDuplicate {
			t.Errorf("%s: outcome %s", d.ev, o)
		}
	}
	if w, r := e.balance(t, e.wallet), receivable(); !w.Equal(dec("10")) || !r.IsZero() {
		t.Errorf("after the dispute won: wallet %s, receivable %s; want 10 and 0", w, r)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("15")) {
		t.Errorf("stripe-clearing = %s, want 15 (the payment, the dispute given back, its fee of 15 kept by Stripe)", got)
	}
	if got := e.codeBalance(t, CodeStripeFees); !got.Equal(dec("15")) {
		t.Errorf("expense:stripe-fees = %s, want 15 (the dispute fee, once)", got)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND kind = $2 AND idempotency_key = $3`,
		e.tenant, KindDisputeWon, "stripe-dispute-won:txn_dp_won_back"); n != 1 {
		t.Errorf("%d won-dispute transfers under stripe-dispute-won:txn_dp_won_back, want 1", n)
	}
	lines := e.lines(t, e.wallet)
	if last := lines[len(lines)-1]; last.Kind != KindDisputeWon || !last.Amount.Equal(dec("10")) {
		t.Errorf("last wallet line = %+v, want the dispute won, +10", last)
	}

	// A dispute closed lost books nothing; a won one whose funds are not
	// reinstated yet neither.
	lost := e.insertTopUp(t, "25.00")
	e.credited(t, lost, 2500)
	piLost := "pi_" + lost.String()[:8]
	e.deliver(t, event(t, "evt_dl_created", evDisputeCreated, disputeObject("dp_lost", piLost, 2500)), "")
	code, body := e.deliver(t, event(t, "evt_dl_closed", evDisputeClosed, wonDisputeObject("dp_lost", piLost, 2500, "lost", false)), "")
	if code != 200 || outcomeOf(t, body) != OutcomeIgnored {
		t.Errorf("dispute lost: %d %s", code, body)
	}
	e.deliver(t, event(t, "evt_dl_closed_w", evDisputeClosed, wonDisputeObject("dp_lost", piLost, 2500, "won", false)), "")
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND kind = $2`, e.tenant, KindDisputeWon); n != 1 {
		t.Errorf("%d won-dispute transfers, want still 1", n)
	}

	// The reinstatement before the dispute: the dispute is applied, then
	// given back; the dispute created afterwards books nothing more.
	early := e.insertTopUp(t, "15.00")
	e.credited(t, early, 1500)
	piEarly := "pi_" + early.String()[:8]
	before := e.balance(t, e.wallet)
	e.deliver(t, event(t, "evt_de_back", evDisputeReinstated, wonDisputeObject("dp_early_won", piEarly, 1500, "won", true)), "")
	e.deliver(t, event(t, "evt_de_created", evDisputeCreated, disputeObject("dp_early_won", piEarly, 1500)), "")
	if got := e.balance(t, e.wallet); !got.Equal(before) {
		t.Errorf("wallet = %s, want %s (the dispute and its reinstatement)", got, before)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND kind = $2`, e.tenant, KindDispute); n != 3 {
		t.Errorf("%d dispute transfers, want 3 (one each)", n)
	}
	e.verify(t)
}

// TestWebhookDisputeWonFeeBack: a won dispute whose fee Stripe gives back
// (the reinstatement's balance transaction has a negative fee) books the
// dispute fee and its return once each — funds_reinstated delivered twice,
// then closed won — so expense:stripe-fees ends at zero and the balance
// check's day agrees with Stripe; a fee given back that the webhook did not
// see is booked by the check, once; and once the dispute is won the top-up
// no longer counts as disputed: a full refund is booked, not sent to review.
func TestWebhookDisputeWonFeeBack(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	id := e.insertTopUp(t, "30.00")
	e.credited(t, id, 3000)
	pi, ch := "pi_"+id.String()[:8], "ch_"+id.String()[:8]
	if code, body := e.deliver(t, event(t, "evt_fb_created", evDisputeCreated, disputeObject("dp_fb", pi, 3000)), ""); code != 200 {
		t.Fatalf("dispute: %d %s", code, body)
	}
	when := func(key string) int64 {
		var at time.Time
		if err := e.pool.QueryRow(ctx, `SELECT occurred_at FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`,
			e.tenant, key).Scan(&at); err != nil {
			t.Fatalf("transfer %s: %v", key, err)
		}
		return at.Unix()
	}
	payAt, disputeAt := when("stripe-topup:"+id.String()), when("stripe-dispute:dp_fb")
	// Stripe reinstates now: the webhook books the funds at its own clock,
	// so the balance transaction is dated alike (the same day).
	backAt := time.Now().Unix()
	won := disputeObject("dp_fb", pi, 3000)
	won["status"] = "won"
	won["balance_transactions"] = []map[string]any{
		{"id": "txn_fb_out", "object": "balance_transaction", "type": "adjustment", "amount": -3000, "fee": 1500, "net": -4500, "currency": "eur", "created": disputeAt},
		{"id": "txn_fb_back", "object": "balance_transaction", "type": "adjustment", "amount": 3000, "fee": -1500, "net": 4500, "currency": "eur", "created": backAt},
	}
	for _, ev := range []struct{ id, typ string }{{"evt_fb_back", evDisputeReinstated}, {"evt_fb_back", evDisputeReinstated}, {"evt_fb_closed", evDisputeClosed}} {
		code, body := e.deliver(t, event(t, ev.id, ev.typ, won), "")
		if code != 200 {
			t.Fatalf("%s: %d %s", ev.id, code, body)
		}
		if o := outcomeOf(t, body); o != OutcomeDisputeWon && o != OutcomeDuplicate {
			t.Errorf("%s: outcome %s", ev.id, o)
		}
	}
	for _, key := range []string{"stripe-dispute-fee:txn_fb_out", "stripe-dispute-fee:txn_fb_back", "stripe-dispute-won:txn_fb_back"} {
		if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND idempotency_key = $2`, e.tenant, key); n != 1 {
			t.Errorf("%d transfers under %s, want 1", n, key)
		}
	}
	if got := e.codeBalance(t, CodeStripeFees); !got.IsZero() {
		t.Errorf("expense:stripe-fees = %s, want 0 (the dispute fee taken, then given back)", got)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("30")) {
		t.Errorf("stripe-clearing = %s, want 30 (paid, disputed, reinstated; the fee taken and given back)", got)
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("30")) {
		t.Errorf("wallet = %s, want 30", got)
	}
	var memo string
	if err := e.pool.QueryRow(ctx, `SELECT memo FROM transfers WHERE tenant_id = $1 AND idempotency_key = 'stripe-dispute-fee:txn_fb_back'`, e.tenant).Scan(&memo); err != nil || memo != memoDisputeFeeBack {
		t.Errorf("memo of the fee given back = %q (%v), want %q", memo, err, memoDisputeFeeBack)
	}

	// Stripe's balance: the same day, nothing to book, no difference.
	e.double.addBT(doubleBT{id: "txn_fb_pay", typ: "charge", source: ch, amount: 3000, currency: "eur", created: payAt})
	e.double.addBT(doubleBT{id: "txn_fb_out", typ: "adjustment", source: "dp_fb", srcObject: "dispute", charge: ch, amount: -3000, fee: 1500, currency: "eur", created: disputeAt})
	e.double.addBT(doubleBT{id: "txn_fb_back", typ: "adjustment", source: "dp_fb", srcObject: "dispute", charge: ch, amount: 3000, fee: -1500, currency: "eur", created: backAt})
	first := time.Unix(min(payAt, disputeAt), 0).In(tz.Brussels)
	from := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, tz.Brussels)
	to := time.Unix(backAt, 0).In(tz.Brussels).AddDate(0, 0, 1)
	check := func(label string, wantBooked int) {
		t.Helper()
		rep, err := e.stripe.CheckBalance(ctx, e.tenant, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Differences) != 0 {
			t.Errorf("%s: differences = %+v, want none", label, rep.Differences)
		}
		if len(rep.FeesBooked) != wantBooked {
			t.Errorf("%s: fees booked by the check %v, want %d", label, rep.FeesBooked, wantBooked)
		}
		var sf, bf decimal.Decimal
		for _, d := range rep.Days {
			sf, bf = sf.Add(d.StripeFees), bf.Add(d.BooksFees)
		}
		if !sf.IsZero() || !bf.IsZero() {
			t.Errorf("%s: fees Stripe %s, books %s; want 0 both", label, sf, bf)
		}
	}
	check("webhook booked all", 0)

	// A second dispute, won, whose events listed no fee given back: the
	// check finds it at Stripe and books it once.
	other := e.insertTopUp(t, "20.00")
	e.credited(t, other, 2000)
	piO, chO := "pi_"+other.String()[:8], "ch_"+other.String()[:8]
	e.deliver(t, event(t, "evt_fb2_created", evDisputeCreated, disputeObject("dp_fb2", piO, 2000)), "")
	payO, disputeO := when("stripe-topup:"+other.String()), when("stripe-dispute:dp_fb2")
	wonO := wonDisputeObject("dp_fb2", piO, 2000, "won", true) // reinstated, fee 0 in the event
	backO := time.Now().Unix()
	wonO["balance_transactions"].([]map[string]any)[0]["created"] = disputeO
	wonO["balance_transactions"].([]map[string]any)[1]["created"] = backO
	if code, body := e.deliver(t, event(t, "evt_fb2_back", evDisputeReinstated, wonO), ""); code != 200 {
		t.Fatalf("second reinstatement: %d %s", code, body)
	}
	e.double.addBT(doubleBT{id: "txn_fb2_pay", typ: "charge", source: chO, amount: 2000, currency: "eur", created: payO})
	e.double.addBT(doubleBT{id: "txn_dp_fb2_out", typ: "adjustment", source: "dp_fb2", srcObject: "dispute", charge: chO, amount: -2000, fee: 1500, currency: "eur", created: disputeO})
	e.double.addBT(doubleBT{id: "txn_dp_fb2_back", typ: "adjustment", source: "dp_fb2", srcObject: "dispute", charge: chO, amount: 2000, fee: -1500, currency: "eur", created: backO})
	if end := time.Unix(backO, 0).In(tz.Brussels).AddDate(0, 0, 1); end.After(to) {
		to = end
	}
	check("the check books the fee given back", 1)
	check("checked again", 0)
	if got := e.codeBalance(t, CodeStripeFees); !got.IsZero() {
		t.Errorf("expense:stripe-fees = %s, want 0 after both disputes were won", got)
	}

	// Won: the top-up is no longer disputed, a full refund is booked.
	var disputed decimal.Decimal
	if err := e.pool.QueryRow(ctx, `SELECT disputed_amount FROM topups WHERE tenant_id = $1 AND id = $2`, e.tenant, id).Scan(&disputed); err != nil || !disputed.IsZero() {
		t.Errorf("disputed amount after the dispute won = %s (%v), want 0", disputed, err)
	}
	if code, body := e.deliver(t, event(t, "evt_fb_refund", evChargeRefunded, chargeObject(id, e, 3000, 3000)), ""); code != 200 || outcomeOf(t, body) != OutcomeRefunded {
		t.Fatalf("refund after the dispute won: %d %s", code, body)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_reviews WHERE topup_id = $1`, id); n != 0 {
		t.Errorf("%d reviews for the top-up, want none: the won dispute gave the money back", n)
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet = %s, want 20 (30 refunded of the first top-up, 20 of the second left)", got)
	}
	e.verify(t)
}
