package payments

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

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
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("30")) {
		t.Errorf("stripe-clearing = %s, want 30 (the payment, the dispute given back)", got)
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
