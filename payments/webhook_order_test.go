package payments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// deliverAll posts the payloads concurrently and returns the answers'
// status codes and outcomes by payload index.
func (e *env) deliverAll(t *testing.T, payloads [][]byte) ([]int, []Outcome) {
	t.Helper()
	codes, outs := make([]int, len(payloads)), make([]Outcome, len(payloads))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body := e.deliver(t, p, "")
			codes[i] = code
			if code == http.StatusOK {
				outs[i] = outcomeOf(t, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	return codes, outs
}

// TestWebhookCreditConfirmedWithStripe: an event whose amount differs from
// the session Tartine created, delivered concurrently with the genuine one
// and in any order, credits what Stripe confirms, once, and no delivery is
// answered 500.
func TestWebhookCreditConfirmedWithStripe(t *testing.T) {
	e := newEnv(t, "", nil)
	for round := 0; round < 4; round++ {
		id := e.insertTopUp(t, "20.00")
		wrong := e.sessionObject(id, 2500, "paid")
		payloads := [][]byte{
			event(t, fmt.Sprintf("evt_wrong_%d", round), evSessionCompleted, wrong),
			event(t, fmt.Sprintf("evt_wrong_async_%d", round), evAsyncSucceeded, wrong),
			event(t, fmt.Sprintf("evt_good_%d", round), evSessionCompleted, e.sessionObject(id, 2000, "paid")),
		}
		// The wrong event first (the failing order before), then all of
		// them, twice each, concurrently and shuffled.
		if code, body := e.deliver(t, payloads[0], ""); code != http.StatusOK {
			t.Errorf("round %d: the wrong event first answered %d %s", round, code, body)
		}
		rand.Shuffle(len(payloads), func(i, j int) { payloads[i], payloads[j] = payloads[j], payloads[i] })
		payloads = append(payloads, payloads...)
		codes, _ := e.deliverAll(t, payloads)
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("round %d delivery %d answered %d, want 200", round, i, c)
			}
		}
		rec, err := e.stripe.Get(context.Background(), e.tenant, id)
		if err != nil || rec.Status != StatusPaid || !rec.PaidAmount.Equal(dec("20")) {
			t.Errorf("round %d: top-up %+v (%v), want paid 20.00", round, rec, err)
		}
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("80")) {
		t.Errorf("wallet = %s, want 80.00 (4 × 20.00, never the event's 25.00)", got)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE kind = 'topup'`); n != 4 {
		t.Errorf("%d top-up transfers, want 4", n)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_reviews`); n != 0 {
		t.Errorf("%d reviews, want none: Stripe confirmed every top-up", n)
	}
	e.verify(t)
}

// TestWebhookMismatchGoesToReview: when Stripe itself confirms another
// amount than the top-up asked (or an unpaid or unknown session), nothing is
// credited, the top-up is listed once for the accountant, and every
// delivery is answered 200 (no endless retries).
func TestWebhookMismatchGoesToReview(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	cases := []struct {
		name   string
		stripe func(d *doubleSession) bool // false: Stripe does not know the session
		reason string
	}{
		{"amount", func(d *doubleSession) bool { d.cents, d.received = 2500, 2500; return true }, reasonAmountMismatch},
		{"currency", func(d *doubleSession) bool { d.currency = "usd"; return true }, reasonCurrencyMismatch},
		{"not paid", func(d *doubleSession) bool {
			d.paymentStatus, d.piStatus, d.received = "unpaid", "processing", 0
			return true
		}, reasonNotPaid},
		{"payment intent short", func(d *doubleSession) bool { d.received = 1500; return true }, reasonAmountMismatch},
		{"unknown to Stripe", func(d *doubleSession) bool { return false }, reasonSessionMismatch},
	}
	bank := NewBank(e.ledger, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := e.insertTopUp(t, "20.00")
			sid := "cs_" + id.String()
			d, _ := e.double.get(sid)
			if c.stripe(&d) {
				e.double.set(sid, d)
			} else {
				e.double.mu.Lock()
				delete(e.double.sessions, sid)
				e.double.mu.Unlock()
			}
			payloads := [][]byte{
				event(t, fmt.Sprintf("evt_m%d_a", i), evSessionCompleted, e.sessionObject(id, 2000, "paid")),
				event(t, fmt.Sprintf("evt_m%d_b", i), evAsyncSucceeded, e.sessionObject(id, 2000, "paid")),
			}
			codes, outs := e.deliverAll(t, append(payloads, payloads...))
			for j := range codes {
				if codes[j] != http.StatusOK || (outs[j] != OutcomeReview && outs[j] != OutcomeDuplicate) {
					t.Errorf("delivery %d: %d %s, want 200 %s", j, codes[j], outs[j], OutcomeReview)
				}
			}
			rec, _ := e.stripe.Get(ctx, e.tenant, id)
			if rec.Status == StatusPaid {
				t.Errorf("top-up credited: %+v", rec)
			}
			if n := e.count(t, `SELECT count(*) FROM stripe_reviews WHERE topup_id = $1 AND reason = $2`, id, c.reason); n != 1 {
				t.Errorf("%d reviews %s for the top-up, want 1", n, c.reason)
			}
		})
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s, want 0", got)
	}
	list, err := bank.StripeReviews(ctx, e.tenant)
	if err != nil || len(list) != len(cases) {
		t.Fatalf("StripeReviews = %d reviews (%v), want %d", len(list), err, len(cases))
	}
	if r := list[0]; r.Reason != reasonAmountMismatch || !r.Asked.Equal(dec("20")) || r.Confirmed == nil || !r.Confirmed.Equal(dec("25")) ||
		r.EventAmount == nil || !r.EventAmount.Equal(dec("20")) || r.PupilID != e.pupil {
		t.Errorf("first review = %+v, want amount_mismatch asked 20 confirmed 25", r)
	}
	if err := bank.DismissStripeReview(ctx, e.tenant, list[0].ID, "staff:9", time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := bank.DismissStripeReview(ctx, e.tenant, list[0].ID, "staff:9", time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)); err == nil {
		t.Errorf("dismissing twice succeeded")
	}
	if list, _ := bank.StripeReviews(ctx, e.tenant); len(list) != len(cases)-1 {
		t.Errorf("%d open reviews after dismissing one, want %d", len(list), len(cases)-1)
	}
	e.verify(t)
}

func disputeObject(id string, pi string, cents int64) map[string]any {
	return map[string]any{"id": id, "object": "dispute", "amount": cents, "currency": "eur",
		"charge": "ch_" + pi[3:], "payment_intent": pi, "status": "needs_response", "reason": "fraudulent"}
}

// TestWebhookEventsBeforeTheirCredit: a dispute and refunds that arrive
// before the credit of their payment are kept (200), and applied exactly
// once when the credit is booked, whatever the order and concurrency of the
// deliveries.
func TestWebhookEventsBeforeTheirCredit(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()

	// In sequence: the dispute first, delivered twice, then the credit.
	id := e.insertTopUp(t, "30.00")
	pi := "pi_" + id.String()[:8]
	for _, ev := range []string{"evt_early_d", "evt_early_d"} {
		code, body := e.deliver(t, event(t, ev, evDisputeCreated, disputeObject("dp_early", pi, 3000)), "")
		if code != 200 {
			t.Fatalf("early dispute: %d %s", code, body)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_deferred_events WHERE applied_at IS NULL`); n != 1 {
		t.Fatalf("%d events kept, want 1", n)
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Fatalf("wallet = %s before the credit", got)
	}
	e.credited(t, id, 3000)
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s after the credit and the kept dispute, want 0", got)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE kind = $1`, KindDispute); n != 1 {
		t.Errorf("%d dispute transfers, want 1", n)
	}
	var outcome string
	if err := e.pool.QueryRow(ctx, `SELECT outcome FROM stripe_events WHERE event_id = 'evt_early_d'`).Scan(&outcome); err != nil || outcome != string(OutcomeDisputed) {
		t.Errorf("event outcome %q (%v), want %s", outcome, err, OutcomeDisputed)
	}

	// Concurrently and shuffled: credit events, two refund steps and a
	// dispute of the rest, each delivered twice.
	for round := 0; round < 5; round++ {
		id := e.insertTopUp(t, "50.00")
		pi := "pi_" + id.String()[:8]
		payloads := [][]byte{
			event(t, fmt.Sprintf("evt_c_%d", round), evSessionCompleted, e.sessionObject(id, 5000, "paid")),
			event(t, fmt.Sprintf("evt_a_%d", round), evAsyncSucceeded, e.sessionObject(id, 5000, "paid")),
			event(t, fmt.Sprintf("evt_r1_%d", round), evChargeRefunded, chargeObject(id, e, 5000, 1000)),
			event(t, fmt.Sprintf("evt_r2_%d", round), evChargeRefunded, chargeObject(id, e, 5000, 2500)),
			event(t, fmt.Sprintf("evt_d_%d", round), evDisputeCreated, disputeObject(fmt.Sprintf("dp_%d", round), pi, 2500)),
		}
		rand.Shuffle(len(payloads), func(i, j int) { payloads[i], payloads[j] = payloads[j], payloads[i] })
		codes, _ := e.deliverAll(t, append(payloads, payloads...))
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("round %d delivery %d answered %d", round, i, c)
			}
		}
		rec, _ := e.stripe.Get(ctx, e.tenant, id)
		if !rec.Refunded.Equal(dec("25")) || !rec.Disputed.Equal(dec("25")) {
			t.Errorf("round %d: refunded %s disputed %s, want 25 and 25", round, rec.Refunded, rec.Disputed)
		}
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s, want 0 (every top-up refunded or disputed in full)", got)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_deferred_events WHERE applied_at IS NULL`); n != 0 {
		t.Errorf("%d kept events never applied", n)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.IsZero() {
		t.Errorf("stripe-clearing = %s, want 0", got)
	}
	e.verify(t)
}

// TestWebhookRefundsAndDisputesCappedAtPaid: no more is taken back than
// the top-up paid; the excess is listed for review.
func TestWebhookRefundsAndDisputesCappedAtPaid(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "10.00")
	e.credited(t, id, 1000)
	for _, ev := range []string{"evt_big_r", "evt_big_r2"} {
		if code, body := e.deliver(t, event(t, ev, evChargeRefunded, chargeObject(id, e, 3000, 3000)), ""); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	id2 := e.insertTopUp(t, "10.00")
	e.credited(t, id2, 1000)
	if code, body := e.deliver(t, event(t, "evt_big_d", evDisputeCreated, disputeObject("dp_big", "pi_"+id2.String()[:8], 99999)), ""); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s, want 0", got)
	}
	if a, err := e.ledger.AccountByCode(context.Background(), e.tenant, fmt.Sprintf("receivable:%d", e.pupil)); err == nil {
		if got := e.balance(t, a.ID); !got.IsZero() {
			t.Errorf("the family owes %s, want nothing: no more than was paid is taken back", got)
		}
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.IsZero() {
		t.Errorf("stripe-clearing = %s, want 0 (20.00 in, 20.00 back)", got)
	}
	for _, c := range []struct {
		id     any
		reason string
	}{{id, reasonRefundOverPaid}, {id2, reasonDisputeOverPaid}} {
		if n := e.count(t, `SELECT count(*) FROM stripe_reviews WHERE topup_id = $1 AND reason = $2`, c.id, c.reason); n != 1 {
			t.Errorf("%d reviews %s, want 1", n, c.reason)
		}
	}
	e.verify(t)
}

// TestWebhookSignatureTime: a signature dated beyond MaxClockSkew in the
// future, or older than the tolerance, is refused; within them it is
// accepted. The service's clock is fixed.
func TestWebhookSignatureTime(t *testing.T) {
	e := newEnv(t, "", nil)
	now := time.Date(2026, 12, 7, 11, 30, 0, 0, time.UTC)
	e.stripe.now = func() time.Time { return now }
	id := e.insertTopUp(t, "20.00")
	tests := []struct {
		name string
		at   time.Time
		want int
	}{
		{"10 minutes ahead", now.Add(10 * time.Minute), http.StatusBadRequest},
		{"a day ahead", now.Add(24 * time.Hour), http.StatusBadRequest},
		{"6 minutes old", now.Add(-6 * time.Minute), http.StatusBadRequest},
		{"30 seconds ahead", now.Add(30 * time.Second), http.StatusOK},
		{"4 minutes old", now.Add(-4 * time.Minute), http.StatusOK},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := event(t, fmt.Sprintf("evt_ts_%d", i), evSessionCompleted, e.sessionObject(id, 2000, "paid"))
			sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testWebhookSecret, Timestamp: tt.at})
			if code, body := e.post(t, payload, sp.Header); code != tt.want {
				t.Errorf("answered %d %s, want %d", code, body, tt.want)
			}
		})
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet = %s, want 20 (credited once by the accepted deliveries)", got)
	}
}
