package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// The credit line 0003 of statement_ogm.cod: 40.00 €, value date
// 2026-11-30, entry date 2026-12-01.
var payoutArrival = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

const testPayoutID = "po_1TartinePayout0001"

// payoutEvent renders a payout.* event created at the given Unix time.
func payoutEvent(t testing.TB, id, typ string, created int64, object map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripego.APIVersion, "created": created,
		"type": typ, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payoutObject is a payout as Stripe sends it.
func payoutObject(id string, cents int64, arrival time.Time, descriptor, status string, meta map[string]string) map[string]any {
	return map[string]any{
		"id": id, "object": "payout", "amount": cents, "currency": "eur", "arrival_date": arrival.Unix(),
		"automatic": true, "method": "standard", "type": "bank", "source_type": "card",
		"statement_descriptor": descriptor, "status": status, "metadata": meta,
		"balance_transaction": "txn_" + id, "destination": "ba_1Tartine",
	}
}

// codaWithLine returns statement_ogm.cod with the communication and the
// counterparty name of its 40.00 € credit (movement 0003) replaced.
func codaWithLine(t *testing.T, communication, counterparty string) []byte {
	t.Helper()
	lines := bytes.Split(codaFile(t, "statement_ogm.cod"), []byte("\n"))
	put := func(prefix string, from, to int, s string) {
		t.Helper()
		for _, l := range lines {
			if bytes.HasPrefix(l, []byte(prefix)) {
				copy(l[from-1:to], fmt.Sprintf("%-*s", to-from+1, s))
				return
			}
		}
		t.Fatalf("no line %q in statement_ogm.cod", prefix)
	}
	put("21000300", 63, 115, communication)
	put("22000300", 11, 63, "")
	put("23000300", 48, 82, counterparty)
	return bytes.Join(lines, []byte("\n"))
}

func (e *env) deliverPayout(t *testing.T, eventID, typ string, created int64, obj map[string]any) Outcome {
	t.Helper()
	code, body := e.deliver(t, payoutEvent(t, eventID, typ, created, obj), "")
	if code != http.StatusOK {
		t.Fatalf("%s %s answered %d %s", typ, eventID, code, body)
	}
	return outcomeOf(t, body)
}

// payouts returns every recorded payout, of any tenant or none (Payouts
// lists a tenant's own only).
func (e *env) payouts(t *testing.T) map[string]Payout {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT `+payoutColumns+` FROM stripe_payouts`)
	if err != nil {
		t.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, scanPayout)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Payout{}
	for _, p := range list {
		out[p.ID] = p
	}
	return out
}

func TestPayoutWebhookRecordsOnce(t *testing.T) {
	e := newEnv(t, "", nil)
	now := time.Now().Unix()
	obj := payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE CANTINE", "paid", nil)

	if got := e.deliverPayout(t, "evt_po1", evPayoutPaid, now, obj); got != OutcomePayoutRecorded {
		t.Errorf("first delivery: %s, want %s", got, OutcomePayoutRecorded)
	}
	if got := e.deliverPayout(t, "evt_po1", evPayoutPaid, now, obj); got != OutcomeDuplicate {
		t.Errorf("re-delivery: %s, want %s", got, OutcomeDuplicate)
	}
	if got := e.deliverPayout(t, "evt_po1b", evPayoutPaid, now+1, obj); got != OutcomePayoutUnchanged {
		t.Errorf("another event for the same paid payout: %s, want %s", got, OutcomePayoutUnchanged)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_payouts`); n != 1 {
		t.Fatalf("%d payouts recorded, want 1", n)
	}
	p := e.payouts(t)[testPayoutID]
	if !p.Amount.Equal(dec("40")) || !p.ArrivalDate.Equal(payoutArrival) || p.StatementDescriptor != "TARTINE CANTINE" ||
		p.Status != PayoutPaid || p.TenantID != 0 || p.TransferID != 0 {
		t.Errorf("payout = %+v", p)
	}
	// stripe-mock answered the balance transactions (one in USD): listed,
	// nothing in EUR, and the difference is logged.
	if p.BalanceTotal == nil || !p.BalanceTotal.IsZero() || p.BalanceCount != 0 {
		t.Errorf("balance check = %v/%d, want 0.00 in 0 EUR transactions", p.BalanceTotal, p.BalanceCount)
	}
	if !strings.Contains(e.logs.String(), "differs from the sum of its balance transactions") {
		t.Errorf("balance difference not logged:\n%s", e.logs)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("a payout event booked %d transfers; only the bank line books", n)
	}

	// A later failure wins; an older event arriving after it does not.
	if got := e.deliverPayout(t, "evt_po2", evPayoutFailed, now+10, payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE CANTINE", "failed", nil)); got != OutcomePayoutRecorded {
		t.Errorf("payout.failed: %s", got)
	}
	if got := e.deliverPayout(t, "evt_po_old", evPayoutPaid, now+5, obj); got != OutcomePayoutUnchanged {
		t.Errorf("older payout.paid after the failure: %s, want %s", got, OutcomePayoutUnchanged)
	}
	if p := e.payouts(t)[testPayoutID]; p.Status != PayoutFailed {
		t.Errorf("status = %s, want failed", p.Status)
	}
	// Another amount for the same payout is refused and changes nothing.
	if got := e.deliverPayout(t, "evt_po3", evPayoutCanceled, now+20, payoutObject(testPayoutID, 9999, payoutArrival, "", "canceled", nil)); got != OutcomeRejected {
		t.Errorf("other amount: %s, want %s", got, OutcomeRejected)
	}
	if p := e.payouts(t)[testPayoutID]; p.Status != PayoutFailed || !p.Amount.Equal(dec("40")) {
		t.Errorf("payout changed by a disagreeing event: %+v", p)
	}
}

func TestPayoutWebhookRefusals(t *testing.T) {
	e := newEnv(t, "", nil)
	now := time.Now().Unix()
	good := payoutEvent(t, "evt_forged", evPayoutPaid, now, payoutObject(testPayoutID, 4000, payoutArrival, "", "paid", nil))

	forged := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: good, Secret: "whsec_attacker"})
	if code, body := e.post(t, good, forged.Header); code != http.StatusBadRequest {
		t.Errorf("forged payout event answered %d %s, want 400", code, body)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: good, Secret: testWebhookSecret})
	tampered := bytes.Replace(good, []byte(`"amount":4000`), []byte(`"amount":400000`), 1)
	if code, body := e.post(t, tampered, signed.Header); code != http.StatusBadRequest {
		t.Errorf("tampered payout event answered %d %s, want 400", code, body)
	}
	for name, obj := range map[string]map[string]any{
		"no id":     {"object": "payout", "amount": 4000, "currency": "eur", "arrival_date": payoutArrival.Unix()},
		"not po_":   payoutObject("ch_123", 4000, payoutArrival, "", "paid", nil),
		"id only":   {"id": 12},
		"not a map": {"id": []int{1}},
	} {
		code, body := e.deliver(t, payoutEvent(t, "evt_bad_"+strings.ReplaceAll(name, " ", "_"), evPayoutPaid, now, obj), "")
		if code != http.StatusBadRequest {
			t.Errorf("%s: answered %d %s, want 400", name, code, body)
		}
	}
	for name, obj := range map[string]map[string]any{
		"usd": func() map[string]any {
			o := payoutObject("po_usd", 4000, payoutArrival, "", "paid", nil)
			o["currency"] = "usd"
			return o
		}(),
		"zero": payoutObject("po_zero", 0, payoutArrival, "", "paid", nil),
		"no arrival": func() map[string]any {
			o := payoutObject("po_noarr", 4000, payoutArrival, "", "paid", nil)
			delete(o, "arrival_date")
			return o
		}(),
	} {
		if got := e.deliverPayout(t, "evt_rej_"+strings.ReplaceAll(name, " ", "_"), evPayoutPaid, now, obj); got != OutcomeRejected {
			t.Errorf("%s: %s, want %s", name, got, OutcomeRejected)
		}
	}
	if got := e.deliverPayout(t, "evt_created", "payout.created", now, payoutObject("po_new", 4000, payoutArrival, "", "pending", nil)); got != OutcomeIgnored {
		t.Errorf("payout.created: %s, want %s", got, OutcomeIgnored)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_payouts`); n != 0 {
		t.Errorf("%d payouts recorded from refused events", n)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers`); n != 0 {
		t.Errorf("%d transfers written", n)
	}
	// Only the signed, readable events are acknowledged: the three rejected
	// payouts (logged) and payout.created, which is not kept.
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 3 {
		t.Errorf("%d events recorded, want the 3 rejected ones", n)
	}
}

func TestPayoutReconciledFromCODA(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	e.credited(t, e.insertTopUp(t, "50.00"), 5000) // stripe-clearing 50
	if got := e.deliverPayout(t, "evt_po", evPayoutPaid, time.Now().Unix(),
		payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "paid", nil)); got != OutcomePayoutRecorded {
		t.Fatalf("payout: %s", got)
	}
	bank := NewBank(e.ledger, nil)
	// Its tenant is not known yet (stripe-mock's balance transactions name
	// no top-up) and no bank line of its amount is here: not shown.
	open, err := bank.UnreconciledPayouts(ctx, e.tenant)
	if err != nil || len(open) != 0 {
		t.Fatalf("unreconciled before import = %+v, %v; want none", open, err)
	}

	file := codaWithLine(t, "STRIPE "+testPayoutID, "STRIPE TECHNOLOGY EUROPE LTD")
	rep, err := bank.ImportCODA(ctx, e.tenant, file, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Payouts) != 1 || rep.Payouts[0].PayoutID != testPayoutID || !rep.PayoutsTotal.Equal(dec("40")) || rep.Payouts[0].TransferID == 0 {
		t.Fatalf("payouts = %+v (total %s), want %s for 40.00", rep.Payouts, rep.PayoutsTotal, testPayoutID)
	}
	// The OGM line names no pupil of this tenant: suspense, as before.
	if len(rep.Suspense) != 1 || !rep.SuspenseTotal.Equal(dec("25")) {
		t.Errorf("suspense = %+v, want the 25.00 line only", rep.Suspense)
	}
	for code, want := range map[string]string{CodeStripeClearing: "10", CodeBank: "65", CodeSuspense: "25"} {
		if got := e.codeBalance(t, code); !got.Equal(dec(want)) {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	p := e.payouts(t)[testPayoutID]
	if p.TenantID != e.tenant || p.BankMovementKey != rep.Payouts[0].Key || p.TransferID != rep.Payouts[0].TransferID || p.ReconciledAt == nil {
		t.Errorf("payout after import = %+v", p)
	}
	var key, kind string
	if err := e.pool.QueryRow(ctx, `SELECT idempotency_key, kind FROM transfers WHERE tenant_id = $1 AND id = $2`,
		e.tenant, p.TransferID).Scan(&key, &kind); err != nil || key != "stripe-payout:"+testPayoutID || kind != KindStripePayout {
		t.Errorf("transfer = %q %q, %v", key, kind, err)
	}
	if n := e.count(t, `SELECT count(*) FROM bank_movements WHERE status = 'payout' AND transfer_id = $1`, p.TransferID); n != 1 {
		t.Errorf("bank movement of the payout recorded %d times", n)
	}
	if open, err := bank.UnreconciledPayouts(ctx, e.tenant); err != nil || len(open) != 0 {
		t.Errorf("unreconciled after import = %+v, %v", open, err)
	}
	e.verify(t)

	transfers := e.count(t, `SELECT count(*) FROM transfers`)
	rep, err = bank.ImportCODA(ctx, e.tenant, file, "staff:1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.AlreadyImported != 2 || len(rep.Payouts) != 0 || len(rep.Suspense) != 0 {
		t.Errorf("re-import = %+v, want 2 already imported and nothing booked", rep)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers`); n != transfers {
		t.Errorf("re-import booked %d transfers", n-transfers)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("10")) {
		t.Errorf("stripe-clearing after re-import = %s", got)
	}
	e.verify(t)

	// A later payout.failed is recorded and shouted about, not reversed.
	e.deliverPayout(t, "evt_po_failed", evPayoutFailed, time.Now().Unix()+60,
		payoutObject(testPayoutID, 4000, payoutArrival, "TARTINE", "failed", nil))
	if !strings.Contains(e.logs.String(), "after it was reconciled") {
		t.Errorf("failure after reconciliation not logged")
	}
}

func TestPayoutMatching(t *testing.T) {
	stripeLine := func(t *testing.T) []byte {
		return codaWithLine(t, "STRIPE "+testPayoutID, "STRIPE TECHNOLOGY EUROPE LTD")
	}
	tests := []struct {
		name      string
		cents     int64
		arrival   time.Time
		status    string // event type
		desc      string
		otherPO   bool // the payout's metadata names another tenant
		file      func(t *testing.T) []byte
		wantMatch bool
	}{
		{"amount, date and Stripe named", 4000, payoutArrival, evPayoutPaid, "", false, stripeLine, true},
		{"payout id in the communication only", 4000, payoutArrival, evPayoutPaid, "", false,
			func(t *testing.T) []byte { return codaWithLine(t, "/ref "+testPayoutID, "ACME PAYMENTS") }, true},
		{"statement descriptor in the communication", 4000, payoutArrival, evPayoutPaid, "TARTINE ECOLE", false,
			func(t *testing.T) []byte { return codaWithLine(t, "TARTINE ECOLE 30/11", "PAYMENTS EUROPE") }, true},
		{"arrival five days before the value date", 4000, payoutArrival.AddDate(0, 0, -5), evPayoutPaid, "", false, stripeLine, true},
		{"another amount", 4001, payoutArrival, evPayoutPaid, "", false, stripeLine, false},
		{"arrival a week before", 4000, payoutArrival.AddDate(0, 0, -7), evPayoutPaid, "", false, stripeLine, false},
		{"arrival a week after", 4000, payoutArrival.AddDate(0, 0, 8), evPayoutPaid, "", false, stripeLine, false},
		{"a family's transfer of the same amount", 4000, payoutArrival, evPayoutPaid, "TARTINE ECOLE", false,
			func(t *testing.T) []byte { return codaFile(t, "statement_ogm.cod") }, false},
		{"failed payout", 4000, payoutArrival, evPayoutFailed, "", false, stripeLine, false},
		{"canceled payout", 4000, payoutArrival, evPayoutCanceled, "", false, stripeLine, false},
		{"payout of another tenant", 4000, payoutArrival, evPayoutPaid, "", true, stripeLine, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "", nil)
			ctx := context.Background()
			var meta map[string]string
			if tt.otherPO {
				other, err := e.ledger.EnsureTenant(ctx, "po-other", "Autre PO")
				if err != nil {
					t.Fatal(err)
				}
				meta = map[string]string{metaTenant: strconv.FormatInt(other, 10)}
			}
			e.deliverPayout(t, "evt_po", tt.status, time.Now().Unix(), payoutObject(testPayoutID, tt.cents, tt.arrival, tt.desc, "paid", meta))
			rep, err := NewBank(e.ledger, nil).ImportCODA(ctx, e.tenant, tt.file(t), "")
			if err != nil {
				t.Fatal(err)
			}
			matched := len(rep.Payouts) == 1 && rep.Payouts[0].PayoutID == testPayoutID
			if matched != tt.wantMatch {
				t.Fatalf("matched = %v, want %v (payouts %+v, suspense %+v)", matched, tt.wantMatch, rep.Payouts, rep.Suspense)
			}
			wantSuspense, wantClearing := "65", "0"
			if tt.wantMatch {
				wantSuspense, wantClearing = "25", "-40"
			}
			if got := e.codeBalance(t, CodeSuspense); !got.Equal(dec(wantSuspense)) {
				t.Errorf("suspense = %s, want %s", got, wantSuspense)
			}
			if a, err := e.ledger.AccountByCode(ctx, e.tenant, CodeStripeClearing); err == nil {
				if got := e.balance(t, a.ID); !got.Equal(dec(wantClearing)) {
					t.Errorf("stripe-clearing = %s, want %s", got, wantClearing)
				}
			} else if tt.wantMatch {
				t.Errorf("no stripe-clearing account: %v", err)
			}
			open, err := NewBank(e.ledger, nil).UnreconciledPayouts(ctx, e.tenant)
			if err != nil {
				t.Fatal(err)
			}
			wantOpen := 0
			// A payout of no known tenant is shown only to a tenant with a
			// movement of its amount waiting in suspense.
			if !tt.wantMatch && tt.status == evPayoutPaid && !tt.otherPO && tt.cents == 4000 {
				wantOpen = 1
			}
			if len(open) != wantOpen {
				t.Errorf("unreconciled = %+v, want %d", open, wantOpen)
			}
			e.verify(t)
		})
	}
}

// TestPayoutTwoLinesOnePayout: two statements each with a Stripe line of the
// payout's amount reconcile it once; the second line goes to suspense.
func TestPayoutTwoLinesOnePayout(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	e.deliverPayout(t, "evt_po", evPayoutPaid, time.Now().Unix(), payoutObject(testPayoutID, 4000, payoutArrival, "", "paid", nil))
	bank := NewBank(e.ledger, nil)
	first := codaWithLine(t, "STRIPE", "STRIPE")
	// The same movement on another paper statement number: another bank line.
	second := bytes.Replace(first, []byte("12012BE68"), []byte("12013BE68"), 1)
	if _, err := bank.ImportCODA(ctx, e.tenant, first, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := bank.ImportCODA(ctx, e.tenant, second, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Payouts) != 0 || !rep.SuspenseTotal.Equal(dec("65")) {
		t.Errorf("second line: payouts %+v, suspense %s; want none and 65.00", rep.Payouts, rep.SuspenseTotal)
	}
	if n := e.count(t, `SELECT count(*) FROM transfers WHERE kind = $1`, KindStripePayout); n != 1 {
		t.Errorf("%d payout transfers, want 1", n)
	}
	e.verify(t)
}

// balanceStripe answers the balance transactions of a payout like Stripe:
// a charge (net of its fee), a refund and the payout itself.
func balanceStripe(t *testing.T, charge string, fail bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			http.Error(w, `{"error":{"type":"api_error","message":"boom"}}`, http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/v1/balance_transactions" || !strings.HasPrefix(r.URL.Query().Get("payout"), "po_") {
			http.Error(w, `{"error":{"message":"unexpected request"}}`, http.StatusBadRequest)
			return
		}
		po := r.URL.Query().Get("payout")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","url":"/v1/balance_transactions","has_more":false,"data":[
			{"id":"txn_1","object":"balance_transaction","type":"charge","currency":"eur","amount":5000,"fee":104,"net":4896,"source":%q},
			{"id":"txn_2","object":"balance_transaction","type":"refund","currency":"eur","amount":-896,"fee":0,"net":-896,"source":"re_1"},
			{"id":"txn_3","object":"balance_transaction","type":"payout","currency":"eur","amount":-4000,"fee":0,"net":-4000,"source":%q}]}`,
			charge, po)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPayoutBalanceTransactionsNameTheTenant(t *testing.T) {
	e := newEnv(t, balanceStripe(t, "ch_tartine1", false).URL, nil)
	id := e.insertTopUp(t, "50.00")
	if _, err := e.pool.Exec(context.Background(), `UPDATE topups SET stripe_charge = 'ch_tartine1' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	code, body := e.deliver(t, payoutEvent(t, "evt_po", evPayoutPaid, time.Now().Unix(),
		payoutObject(testPayoutID, 4000, payoutArrival, "", "paid", nil)), "")
	if code != 200 || outcomeOf(t, body) != OutcomePayoutRecorded {
		t.Fatalf("%d %s", code, body)
	}
	p := e.payouts(t)[testPayoutID]
	if p.TenantID != e.tenant || p.BalanceTotal == nil || !p.BalanceTotal.Equal(dec("40")) || p.BalanceCount != 2 {
		t.Errorf("payout = %+v (balance %v), want tenant %d and 40.00 in 2 transactions", p, p.BalanceTotal, e.tenant)
	}
	if strings.Contains(e.logs.String(), "differs from the sum") {
		t.Errorf("a matching sum was reported as a difference")
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events WHERE event_id = 'evt_po' AND tenant_id = $1`, e.tenant); n != 1 {
		t.Errorf("event not recorded with its tenant")
	}
}

func TestPayoutRecordedWhenStripeListFails(t *testing.T) {
	e := newEnv(t, balanceStripe(t, "", true).URL, nil)
	obj := payoutObject(testPayoutID, 4000, payoutArrival, "", "paid", nil)
	if got := e.deliverPayout(t, "evt_po", evPayoutPaid, time.Now().Unix(), obj); got != OutcomePayoutRecorded {
		t.Fatalf("payout: %s", got)
	}
	p := e.payouts(t)[testPayoutID]
	if p.Status != PayoutPaid || p.BalanceTotal != nil {
		t.Errorf("payout = %+v, want paid without a balance check", p)
	}
	if !strings.Contains(e.logs.String(), "recorded without the check") {
		t.Errorf("list failure not logged:\n%s", e.logs)
	}
}

// TestAllocatePayoutFromSuspense: a payout line imported before its webhook
// lands in suspense, then is reconciled by hand, once.
func TestAllocatePayoutFromSuspense(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	bank := NewBank(e.ledger, nil)
	rep, err := bank.ImportCODA(ctx, e.tenant, codaWithLine(t, "VIREMENT", "ACME"), "")
	if err != nil || !rep.SuspenseTotal.Equal(dec("65")) {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	var key string
	for _, l := range rep.Suspense {
		if l.Amount.Equal(dec("40")) {
			key = l.Key
		}
	}
	e.deliverPayout(t, "evt_po", evPayoutPaid, time.Now().Unix(), payoutObject(testPayoutID, 4000, payoutArrival, "", "paid", nil))
	e.deliverPayout(t, "evt_po2", evPayoutPaid, time.Now().Unix(), payoutObject("po_other", 4100, payoutArrival, "", "paid", nil))

	if _, err := bank.AllocatePayout(ctx, e.tenant, key, "po_other", "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("payout of another amount: %v, want ErrNotFound", err)
	}
	if _, err := bank.AllocatePayout(ctx, e.tenant, key, testPayoutID, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := bank.AllocatePayout(ctx, e.tenant, key, testPayoutID, "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second allocation: %v, want ErrNotFound", err)
	}
	if got := e.codeBalance(t, CodeSuspense); !got.Equal(dec("25")) {
		t.Errorf("suspense = %s, want 25", got)
	}
	if got := e.codeBalance(t, CodeStripeClearing); !got.Equal(dec("-40")) {
		t.Errorf("stripe-clearing = %s, want -40", got)
	}
	// po_other has no tenant and no movement of its amount here: not shown.
	open, err := bank.UnreconciledPayouts(ctx, e.tenant)
	if err != nil || len(open) != 0 {
		t.Errorf("unreconciled = %+v, %v; want none", open, err)
	}
	if list, _ := bank.Unallocated(ctx, e.tenant); len(list) != 1 {
		t.Errorf("unallocated = %+v, want the 25.00 line only", list)
	}
	e.verify(t)
}
