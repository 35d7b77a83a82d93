package payments

import (
	"context"
	"strconv"
	"testing"

	"tartine/fees"
	"tartine/ledger"
)

// A fee statement paid by card or Bancontact goes through Checkout like a
// top-up, and the webhook, once Stripe confirms the session, books
// stripe-clearing → the pupil's fees receivable (not the wallet), once,
// without the top-up email.
func TestStatementPaidByCheckoutBooksFeesReceivable(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	recv, err := e.ledger.EnsureAccount(ctx, e.tenant, ledger.AccountSpec{Code: fees.ReceivableAccountCode(e.pupil), Name: "Frais scolaires Emma", Type: ledger.Asset})
	if err != nil {
		t.Fatal(err)
	}
	income, err := e.ledger.EnsureAccount(ctx, e.tenant, ledger.AccountSpec{Code: "income:fees", Name: "Frais scolaires", Type: ledger.Income})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: e.tenant, IdempotencyKey: "fee:1", Kind: "fee", Actor: "test",
		Postings: []ledger.Posting{{AccountID: recv.ID, Amount: dec("62.40")}, {AccountID: income.ID, Amount: dec("-62.40")}}}); err != nil {
		t.Fatal(err)
	}

	tu, err := e.stripe.StartStatementPayment(ctx, StatementPaymentRequest{TenantID: e.tenant, PupilID: e.pupil, GuardianID: e.guardian,
		Statement: "2026-P1-000042", Amount: dec("62.40"), SuccessURL: "https://portal.test/statements/42?paid=1",
		CancelURL: "https://portal.test/statements/42", Lang: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if tu.CheckoutURL == "" {
		t.Error("no Checkout URL")
	}
	var sessID, number string
	var account int64
	if err := e.pool.QueryRow(ctx, `SELECT stripe_session_id, statement_number, wallet_account_id FROM topups WHERE tenant_id = $1 AND id = $2`,
		e.tenant, tu.ID).Scan(&sessID, &number, &account); err != nil {
		t.Fatal(err)
	}
	if number != "2026-P1-000042" || account != recv.ID {
		t.Fatalf("recorded statement %q on account %d, want 2026-P1-000042 on the fees receivable %d", number, account, recv.ID)
	}
	e.double.set(sessID, doubleSession{topup: tu.ID.String(), cents: 6240, currency: "eur", paymentStatus: "paid",
		pi: "pi_" + tu.ID.String()[:8], piStatus: "succeeded", received: 6240})
	obj := map[string]any{
		"id": sessID, "object": "checkout.session", "mode": "payment", "amount_total": 6240, "currency": "eur",
		"payment_status": "paid", "status": "complete", "payment_intent": "pi_" + tu.ID.String()[:8],
		"metadata": map[string]string{metaTenant: strconv.FormatInt(e.tenant, 10), metaPupil: strconv.FormatInt(e.pupil, 10),
			metaWallet: strconv.FormatInt(recv.ID, 10), metaTopUp: tu.ID.String()},
	}
	for i, id := range []string{"evt_st_1", "evt_st_2"} {
		if code, body := e.deliver(t, event(t, id, evSessionCompleted, obj), ""); code != 200 {
			t.Fatalf("delivery %d: %d %s", i, code, body)
		}
	}
	if got := e.balance(t, recv.ID); !got.IsZero() {
		t.Errorf("fees receivable = %s, want 0 (paid)", got)
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s, want 0 (a statement payment is not a top-up)", got)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("62.40")) {
		t.Errorf("stripe-clearing = %s, want 62.40", got)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE tenant_id = $1 AND kind = $2 AND memo = '2026-P1-000042'`, e.tenant, KindStatementStripe); n != 1 {
		t.Errorf("%d statement-stripe transfers, want 1", n)
	}
	if c := e.notifier.count(); c != 0 {
		t.Errorf("top-up notice sent %d times for a statement payment", c)
	}
	rec, err := e.stripe.Get(ctx, e.tenant, tu.ID)
	if err != nil || rec.Status != StatusPaid {
		t.Errorf("payment status %v (%v), want paid", rec.Status, err)
	}
	// A refund takes the payment back: the fees are owed again on the fees
	// receivable, not on the service debts (receivable:<pupil>) nor the wallet.
	if code, body := e.deliver(t, event(t, "evt_st_refund", evChargeRefunded, chargeObject(tu.ID, e, 6240, 6240)), ""); code != 200 {
		t.Fatalf("refund: %d %s", code, body)
	}
	if got := e.balance(t, recv.ID); !got.Equal(dec("62.40")) {
		t.Errorf("fees receivable after the refund = %s, want 62.40", got)
	}
	if a, err := e.ledger.AccountByCode(ctx, e.tenant, "receivable:"+strconv.FormatInt(e.pupil, 10)); err == nil && !e.balance(t, a.ID).IsZero() {
		t.Errorf("service debts after a statement refund = %s, want 0", e.balance(t, a.ID))
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet after the refund = %s, want 0", got)
	}
	e.verify(t)
}

// A statement payment needs a fees receivable and a guardian of the pupil.
func TestStatementPaymentRefusals(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	req := StatementPaymentRequest{TenantID: e.tenant, PupilID: e.pupil, GuardianID: e.guardian, Statement: "S1",
		Amount: dec("10"), SuccessURL: "https://x/s", CancelURL: "https://x/c"}
	if _, err := e.stripe.StartStatementPayment(ctx, req); err == nil {
		t.Error("paid a statement of a pupil without fees receivable")
	}
	if _, err := e.ledger.EnsureAccount(ctx, e.tenant, ledger.AccountSpec{Code: fees.ReceivableAccountCode(e.pupil), Name: "F", Type: ledger.Asset}); err != nil {
		t.Fatal(err)
	}
	other := req
	other.GuardianID = e.guardian + 1000
	if _, err := e.stripe.StartStatementPayment(ctx, other); err == nil {
		t.Error("a stranger paid the statement")
	}
	zero := req
	zero.Amount = dec("0")
	if _, err := e.stripe.StartStatementPayment(ctx, zero); err == nil {
		t.Error("paid nothing")
	}
}
