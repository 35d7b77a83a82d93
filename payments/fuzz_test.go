package payments

import (
	"context"
	"errors"
	"testing"

	"github.com/stripe/stripe-go/v76/webhook"
)

// FuzzProcessWebhook feeds correctly signed but arbitrary bodies to the
// webhook: it must never panic, answer only with the documented errors, and
// leave the ledger consistent.
func FuzzProcessWebhook(f *testing.F) {
	e := newEnv(f, "", nil)
	id := e.insertTopUp(f, "20.00")
	f.Add(event(f, "evt_f1", evSessionCompleted, e.sessionObject(id, 2000, "paid")))
	f.Add(event(f, "evt_f2", evAsyncSucceeded, e.sessionObject(id, 2000, "paid")))
	f.Add(event(f, "evt_f3", evChargeRefunded, map[string]any{"id": "ch_f", "object": "charge", "amount": 2000,
		"amount_refunded": 700, "currency": "eur", "payment_intent": "pi_" + id.String()[:8]}))
	f.Add(event(f, "evt_f4", evDisputeCreated, map[string]any{"id": "dp_f", "object": "dispute", "amount": 99999,
		"currency": "eur", "payment_intent": "pi_" + id.String()[:8]}))
	f.Add(event(f, "evt_f6", evPayoutPaid, map[string]any{"id": "po_f", "object": "payout", "amount": 4000,
		"currency": "eur", "arrival_date": 1796083200, "status": "paid", "metadata": map[string]string{"tenant_id": "999999"}}))
	f.Add(event(f, "evt_f7", evPayoutFailed, map[string]any{"id": "po_f", "object": "payout", "amount": -1, "currency": "eur"}))
	f.Add(event(f, "evt_f5", evSessionCompleted, map[string]any{"id": 12, "metadata": []int{1}}))
	f.Add([]byte(`{"id":"evt_x","api_version":"2023-10-16","type":"charge.refunded","data":{"object":null}}`))
	f.Add([]byte(`{"id":"","api_version":"2023-10-16","type":"checkout.session.completed"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: testWebhookSecret})
		_, err := e.stripe.ProcessWebhook(context.Background(), body, sp.Header)
		if err != nil && !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrAPIVersion) && !errors.Is(err, ErrNotCreditedYet) {
			t.Errorf("unexpected error kind: %v", err)
		}
		e.verify(t)
	})
}
