package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76/webhook"

	"tartine/ledger"
)

// outcomeOf decodes the handler's JSON answer.
func outcomeOf(t *testing.T, body string) Outcome {
	t.Helper()
	var v struct {
		Outcome Outcome `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return v.Outcome
}

func TestWebhookSameEventFiftyTimesConcurrentlyCreditsOnce(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "20.00")
	payload := event(t, "evt_same", evSessionCompleted, e.sessionObject(id, 2000, "paid"))

	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[Outcome]int{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body := e.deliver(t, payload, "")
			if code != http.StatusOK {
				t.Errorf("delivery answered %d %s", code, body)
				return
			}
			mu.Lock()
			outcomes[outcomeOf(t, body)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()

	if outcomes[OutcomeCredited] != 1 {
		t.Errorf("outcomes %v: want exactly one %q", outcomes, OutcomeCredited)
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet = %s, want 20.00", got)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("20")) {
		t.Errorf("stripe-clearing = %s, want 20.00", got)
	}
	if k := e.count(t, `SELECT count(*) FROM transfers WHERE kind = 'topup'`); k != 1 {
		t.Errorf("%d top-up transfers, want 1", k)
	}
	if k := e.count(t, `SELECT count(*) FROM stripe_events WHERE event_id = 'evt_same'`); k != 1 {
		t.Errorf("event recorded %d times", k)
	}
	if c := e.notifier.count(); c != 1 {
		t.Errorf("notified %d times, want 1", c)
	}
	rec, err := e.stripe.Get(context.Background(), e.tenant, id)
	if err != nil || rec.Status != StatusPaid || !rec.PaidAmount.Equal(dec("20")) || rec.PaidAt == nil {
		t.Errorf("top-up = %+v, %v; want paid 20.00", rec, err)
	}
	e.verify(t)

	// A later re-delivery is a duplicate without effect.
	if code, body := e.deliver(t, payload, ""); code != 200 || outcomeOf(t, body) != OutcomeDuplicate {
		t.Errorf("re-delivery: %d %s", code, body)
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet after re-delivery = %s", got)
	}
}

func TestWebhookDistinctEventsForOnePaymentCreditOnce(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "35.50")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		typ := evSessionCompleted
		if i%2 == 1 {
			typ = evAsyncSucceeded
		}
		payload := event(t, fmt.Sprintf("evt_%d", i), typ, e.sessionObject(id, 3550, "paid"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := e.deliver(t, payload, ""); code != 200 {
				t.Errorf("delivery: %d %s", code, body)
			}
		}()
	}
	wg.Wait()
	if got := e.balance(t, e.wallet); !got.Equal(dec("35.50")) {
		t.Errorf("wallet = %s, want 35.50", got)
	}
	if c := e.notifier.count(); c != 1 {
		t.Errorf("notified %d times, want 1", c)
	}
	e.verify(t)
}

func TestWebhookOrderings(t *testing.T) {
	tests := []struct {
		name  string
		steps []struct {
			typ, status string
			want        Outcome
		}
		wantBalance string
		wantStatus  TopUpStatus
	}{
		{"async succeeded then completed", []struct {
			typ, status string
			want        Outcome
		}{{evAsyncSucceeded, "paid", OutcomeCredited}, {evSessionCompleted, "paid", OutcomeAlreadyCredited}}, "20", StatusPaid},
		{"completed unpaid then async succeeded", []struct {
			typ, status string
			want        Outcome
		}{{evSessionCompleted, "unpaid", OutcomeProcessing}, {evAsyncSucceeded, "paid", OutcomeCredited}}, "20", StatusPaid},
		{"completed unpaid then async failed", []struct {
			typ, status string
			want        Outcome
		}{{evSessionCompleted, "unpaid", OutcomeProcessing}, {evAsyncFailed, "unpaid", OutcomeFailed}}, "0", StatusFailed},
		{"failure after credit is refused", []struct {
			typ, status string
			want        Outcome
		}{{evSessionCompleted, "paid", OutcomeCredited}, {evAsyncFailed, "unpaid", OutcomeRejected}}, "20", StatusPaid},
		{"expired", []struct {
			typ, status string
			want        Outcome
		}{{evSessionExpired, "unpaid", OutcomeFailed}}, "0", StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "", nil)
			id := e.insertTopUp(t, "20.00")
			for i, st := range tt.steps {
				code, body := e.deliver(t, event(t, fmt.Sprintf("evt_%d", i), st.typ, e.sessionObject(id, 2000, st.status)), "")
				if code != 200 || outcomeOf(t, body) != st.want {
					t.Errorf("step %d %s/%s: %d %s, want outcome %s", i, st.typ, st.status, code, body, st.want)
				}
			}
			if got := e.balance(t, e.wallet); !got.Equal(dec(tt.wantBalance)) {
				t.Errorf("wallet = %s, want %s", got, tt.wantBalance)
			}
			rec, err := e.stripe.Get(context.Background(), e.tenant, id)
			if err != nil || rec.Status != tt.wantStatus {
				t.Errorf("status = %s (%v), want %s", rec.Status, err, tt.wantStatus)
			}
			e.verify(t)
		})
	}
}

// nothingWritten fails when the webhook left a trace.
func (e *env) nothingWritten(t *testing.T) {
	t.Helper()
	if n := e.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers written", n)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 0 {
		t.Errorf("%d stripe events recorded", n)
	}
	if n := e.count(t, `SELECT count(*) FROM topups WHERE status <> 'pending'`); n != 0 {
		t.Errorf("%d top-ups changed", n)
	}
}

func TestWebhookRefusesBadSignatures(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "20.00")
	payload := event(t, "evt_forged", evSessionCompleted, e.sessionObject(id, 2000, "paid"))
	good := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testWebhookSecret})
	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testWebhookSecret,
		Timestamp: time.Now().Add(-10 * time.Minute)})
	forged := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_attacker"})
	tampered := bytes.Replace(payload, []byte(`"amount_total":2000`), []byte(`"amount_total":200000`), 1)
	if bytes.Equal(tampered, payload) {
		t.Fatal("tampering did not change the payload")
	}
	tests := []struct {
		name    string
		payload []byte
		header  string
	}{
		{"other secret", payload, forged.Header},
		{"tampered body", tampered, good.Header},
		{"no header", payload, ""},
		{"garbage header", payload, "t=abc,v1=zz"},
		{"too old", payload, old.Header},
		{"v0 scheme only", payload, strings.Replace(good.Header, "v1=", "v0=", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.post(t, tt.payload, tt.header)
			if code != http.StatusBadRequest {
				t.Errorf("answered %d %s, want 400", code, body)
			}
		})
	}
	e.nothingWritten(t)
	if !strings.Contains(e.logs.String(), "webhook refused") {
		t.Errorf("refusal not logged:\n%s", e.logs)
	}
}

func TestWebhookRefusesOtherAPIVersion(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "20.00")
	payload := event(t, "evt_v", evSessionCompleted, e.sessionObject(id, 2000, "paid"))
	payload = bytes.Replace(payload, []byte(`"api_version":"2023-10-16"`), []byte(`"api_version":"2024-06-20"`), 1)
	code, body := e.deliver(t, payload, "")
	if code != http.StatusBadRequest || !strings.Contains(body, "api version") {
		t.Errorf("answered %d %s, want 400 api version mismatch", code, body)
	}
	e.nothingWritten(t)
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "API VERSION MISMATCH") {
		t.Errorf("mismatch not logged as an error:\n%s", logs)
	}
}

func TestWebhookUnknownTopUp(t *testing.T) {
	e := newEnv(t, "", nil)
	e.insertTopUp(t, "20.00") // a real top-up that must stay untouched
	stranger := uuid.New()
	objects := map[string]map[string]any{
		"unknown id":       e.sessionObject(stranger, 2000, "paid"),
		"no metadata":      {"id": "cs_other", "object": "checkout.session", "amount_total": 2000, "currency": "eur", "payment_status": "paid"},
		"garbage metadata": {"id": "cs_x", "object": "checkout.session", "payment_status": "paid", "metadata": map[string]string{"tenant_id": "x", "topup_id": "y"}},
	}
	i := 0
	for name, obj := range objects {
		t.Run(name, func(t *testing.T) {
			i++
			code, body := e.deliver(t, event(t, fmt.Sprintf("evt_unknown_%d", i), evSessionCompleted, obj), "")
			if code != 200 || outcomeOf(t, body) != OutcomeUnknownTopUp {
				t.Errorf("answered %d %s, want 200 %s", code, body, OutcomeUnknownTopUp)
			}
		})
	}
	code, body := e.deliver(t, event(t, "evt_refund_unknown", evChargeRefunded, map[string]any{
		"id": "ch_nobody", "object": "charge", "amount": 2000, "amount_refunded": 2000, "currency": "eur", "payment_intent": "pi_nobody"}), "")
	if code != 200 || outcomeOf(t, body) != OutcomeDeferred {
		t.Errorf("refund of unknown charge: %d %s, want 200 %s (kept until its credit)", code, body, OutcomeDeferred)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers written", n)
	}
	if n := e.count(t, `SELECT count(*) FROM topups WHERE status <> 'pending'`); n != 0 {
		t.Errorf("top-up changed")
	}
	if !strings.Contains(e.logs.String(), "unknown top-up") {
		t.Errorf("unknown top-up not logged:\n%s", e.logs)
	}
	// Unhandled types are acknowledged.
	code, body = e.deliver(t, event(t, "evt_other", "customer.created", map[string]any{"id": "cus_1", "object": "customer"}), "")
	if code != 200 || outcomeOf(t, body) != OutcomeIgnored {
		t.Errorf("unhandled type: %d %s", code, body)
	}
}

func TestWebhookRequestLimits(t *testing.T) {
	e := newEnv(t, "", nil)
	big := bytes.Repeat([]byte("x"), maxWebhookBody+1)
	if code, _ := e.deliver(t, big, ""); code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body answered %d, want 413", code)
	}
	if code, _ := e.deliver(t, []byte("{not json"), ""); code != http.StatusBadRequest {
		t.Errorf("bad JSON answered %d, want 400", code)
	}
	resp, err := http.Get(e.server.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
}

// spend books a purchase from the wallet.
func (e *env) spend(t *testing.T, amount string) {
	t.Helper()
	ctx := context.Background()
	rev, err := e.ledger.EnsureAccount(ctx, e.tenant, ledger.AccountSpec{Code: "revenue:meals", Type: ledger.Income})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: e.tenant, IdempotencyKey: "meal-" + uuid.NewString(),
		Kind: "meal", Actor: "test", Memo: "Repas", Postings: []ledger.Posting{
			{AccountID: e.wallet, Amount: dec(amount)}, {AccountID: rev.ID, Amount: dec(amount).Neg()}}}); err != nil {
		t.Fatal(err)
	}
}

// lines returns the statement lines of an account, oldest first.
func (e *env) lines(t *testing.T, account int64) []ledger.StatementLine {
	t.Helper()
	st, err := e.ledger.Statement(context.Background(), e.tenant, account,
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return st.Lines
}

func (e *env) credited(t *testing.T, id uuid.UUID, cents int64) {
	t.Helper()
	code, body := e.deliver(t, event(t, "evt_pay_"+id.String(), evSessionCompleted, e.sessionObject(id, cents, "paid")), "")
	if code != 200 || outcomeOf(t, body) != OutcomeCredited {
		t.Fatalf("credit: %d %s", code, body)
	}
}

func chargeObject(id uuid.UUID, e *env, amount, refunded int64) map[string]any {
	return map[string]any{
		"id": "ch_" + id.String()[:8], "object": "charge", "amount": amount, "amount_refunded": refunded,
		"currency": "eur", "refunded": refunded == amount, "payment_intent": "pi_" + id.String()[:8],
	}
}

func TestWebhookRefunds(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "20.00")
	e.credited(t, id, 2000)
	e.spend(t, "5.00") // wallet 15

	steps := []struct {
		event    string
		refunded int64
		wallet   string
		owed     string
	}{
		{"evt_r1", 1000, "5", "0"},    // partial refund of 10: wallet 15 → 5
		{"evt_r1", 1000, "5", "0"},    // re-delivery
		{"evt_r1b", 1000, "5", "0"},   // another event for the same refund step
		{"evt_r0", 500, "5", "0"},     // an older step arriving late
		{"evt_r2", 2000, "0", "5.00"}, // full refund: 10 more, 5 from the wallet, 5 owed
		{"evt_r3", 2000, "0", "5.00"},
	}
	for _, st := range steps {
		code, body := e.deliver(t, event(t, st.event, evChargeRefunded, chargeObject(id, e, 2000, st.refunded)), "")
		if code != 200 {
			t.Fatalf("%s: %d %s", st.event, code, body)
		}
		if got := e.balance(t, e.wallet); !got.Equal(dec(st.wallet)) {
			t.Errorf("after %s (refunded %d): wallet = %s, want %s", st.event, st.refunded, got, st.wallet)
		}
		owed := dec("0")
		if a, err := e.ledger.AccountByCode(context.Background(), e.tenant, fmt.Sprintf("receivable:%d", e.pupil)); err == nil {
			owed = e.balance(t, a.ID)
		}
		if !owed.Equal(dec(st.owed)) {
			t.Errorf("after %s: owed = %s, want %s", st.event, owed, st.owed)
		}
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.IsZero() {
		t.Errorf("stripe-clearing = %s, want 0 after a full refund", got)
	}
	lines := e.lines(t, e.wallet)
	var refunds int
	for _, l := range lines {
		if l.Kind == KindRefund {
			refunds++
			if l.Memo != "Remboursement Stripe" {
				t.Errorf("refund line memo %q", l.Memo)
			}
		}
	}
	if refunds != 2 {
		t.Errorf("%d refund lines on the wallet, want 2: %+v", refunds, lines)
	}
	rec, _ := e.stripe.Get(context.Background(), e.tenant, id)
	if !rec.Refunded.Equal(dec("20")) {
		t.Errorf("refunded = %s", rec.Refunded)
	}
	e.verify(t)
}

func TestWebhookDispute(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "30.00")
	e.credited(t, id, 3000)
	dispute := map[string]any{"id": "dp_1", "object": "dispute", "amount": 3000, "currency": "eur",
		"charge": "ch_unknown_to_us", "payment_intent": "pi_" + id.String()[:8], "status": "needs_response", "reason": "fraudulent"}
	for _, ev := range []string{"evt_d1", "evt_d1", "evt_d2"} {
		code, body := e.deliver(t, event(t, ev, evDisputeCreated, dispute), "")
		if code != 200 {
			t.Fatalf("%s: %d %s", ev, code, body)
		}
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s, want 0", got)
	}
	lines := e.lines(t, e.wallet)
	last := lines[len(lines)-1]
	if last.Kind != KindDispute || last.Memo != "Litige bancaire" || !last.Amount.Equal(dec("-30")) {
		t.Errorf("last line = %+v, want a dispute of -30 with memo Litige bancaire", last)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE kind = $1`, KindDispute); n != 1 {
		t.Errorf("%d dispute transfers, want 1", n)
	}
	e.verify(t)
}

func TestWebhookBooksStripeFee(t *testing.T) {
	e := newEnv(t, "", nil)
	e.double.fee, e.double.feeCurrency = 54, "eur"
	id := e.insertTopUp(t, "20.00")
	payload := event(t, "evt_fee", evSessionCompleted, e.sessionObject(id, 2000, "paid"))
	for i := 0; i < 3; i++ {
		if code, body := e.deliver(t, payload, ""); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	// A second event for the same payment re-reads the fee: booked once.
	if code, body := e.deliver(t, event(t, "evt_fee2", evAsyncSucceeded, e.sessionObject(id, 2000, "paid")), ""); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if got := e.codeBalance(t, CodeStripeFees); !got.Equal(dec("0.54")) {
		t.Errorf("expense:stripe-fees = %s, want 0.54", got)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("19.46")) {
		t.Errorf("stripe-clearing = %s, want 19.46 (20.00 − fee)", got)
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet = %s, want 20 (the family does not pay the fee)", got)
	}
	if n := e.count(t, `SELECT count(*) FROM topups WHERE stripe_charge = $1`, "ch_"+id.String()[:8]); n != 1 {
		t.Errorf("charge id not stored on the top-up")
	}
	e.verify(t)
}

func TestWebhookFeeInOtherCurrencyIsSkipped(t *testing.T) {
	e := newEnv(t, "", nil)
	e.double.fee, e.double.feeCurrency = 60, "usd"
	id := e.insertTopUp(t, "20.00")
	e.credited(t, id, 2000)
	if _, err := e.ledger.AccountByCode(context.Background(), e.tenant, CodeStripeFees); err == nil {
		if got := e.codeBalance(t, CodeStripeFees); !got.IsZero() {
			t.Errorf("fee in USD booked: %s", got)
		}
	}
	if !strings.Contains(e.logs.String(), "not in EUR") {
		t.Errorf("skipped fee not logged")
	}
}

// TestWebhookStripeDownIsRetried: while Stripe cannot be asked, a credit
// is not booked and the event is answered 500 (Stripe delivers it again);
// once Stripe answers, the same event credits once.
func TestWebhookStripeDownIsRetried(t *testing.T) {
	e := newEnv(t, "", nil)
	id := e.insertTopUp(t, "20.00")
	payload := event(t, "evt_down", evSessionCompleted, e.sessionObject(id, 2000, "paid"))
	e.double.down.Store(true)
	for i := 0; i < 2; i++ {
		if code, _ := e.deliver(t, payload, ""); code != http.StatusInternalServerError {
			t.Errorf("answered %d, want 500 so that Stripe retries", code)
		}
	}
	if got := e.balance(t, e.wallet); !got.IsZero() {
		t.Errorf("wallet = %s while Stripe could not confirm, want 0", got)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 0 {
		t.Errorf("failed event recorded as handled")
	}
	e.double.down.Store(false)
	for i := 0; i < 2; i++ {
		if code, body := e.deliver(t, payload, ""); code != http.StatusOK {
			t.Errorf("after Stripe is back: %d %s", code, body)
		}
	}
	if got := e.balance(t, e.wallet); !got.Equal(dec("20")) {
		t.Errorf("wallet = %s, want 20", got)
	}
	e.verify(t)
}
