//go:build failover

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stripe/stripe-go/v76/webhook"

	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
)

const failoverWebhookSecret = "whsec_failover"

// fakeStripe is Stripe's API as far as a paid Checkout top-up goes: it
// records the sessions Tartine opens and answers their retrieval as paid,
// for the amount asked.
type fakeStripe struct {
	srv      *httptest.Server
	mu       sync.Mutex
	sessions map[string]fakeSession // by session id
}

type fakeSession struct {
	topup string
	cents int64
}

func newFakeStripe(t *testing.T) *fakeStripe {
	f := &fakeStripe{sessions: map[string]fakeSession{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions":
		if err := r.ParseForm(); err != nil {
			http.Error(w, `{"error":{"message":"bad form"}}`, http.StatusBadRequest)
			return
		}
		topup := r.PostForm.Get("metadata[topup_id]")
		cents, _ := strconv.ParseInt(r.PostForm.Get("line_items[0][price_data][unit_amount]"), 10, 64)
		id := "cs_test_" + strings.ReplaceAll(topup, "-", "")
		f.mu.Lock()
		f.sessions[id] = fakeSession{topup: topup, cents: cents}
		f.mu.Unlock()
		fmt.Fprintf(w, `{"id":%q,"object":"checkout.session","url":"https://checkout.stripe.test/%s","amount_total":%d,"currency":"eur"}`, id, id, cents)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/checkout/sessions/")
		f.mu.Lock()
		s, ok := f.sessions[id]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such checkout.session: '%s'"}}`, id)
			return
		}
		pi := fmt.Sprintf(`{"id":"pi_%s","object":"payment_intent","amount":%d,"amount_received":%d,"currency":"eur","status":"succeeded"}`,
			id[len("cs_test_"):], s.cents, s.cents)
		fmt.Fprintf(w, `{"id":%q,"object":"checkout.session","mode":"payment","amount_total":%d,"currency":"eur",
			"payment_status":"paid","status":"complete","payment_intent":%s,"metadata":{"topup_id":%q}}`, id, s.cents, pi, s.topup)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/payment_intents/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/payment_intents/")
		f.mu.Lock()
		s, ok := f.sessions["cs_test_"+strings.TrimPrefix(id, "pi_")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"type":"invalid_request_error","code":"resource_missing"}}`)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","amount":%d,"amount_received":%d,"currency":"eur","status":"succeeded",
			"latest_charge":{"id":"ch_%s","object":"charge","amount":%d,"currency":"eur","balance_transaction":null}}`,
			id, s.cents, s.cents, strings.TrimPrefix(id, "pi_"), s.cents)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":"not in the fake: %s %s"}}`, r.Method, r.URL.Path)
	}
}

// onlineTopUp is a top-up a guardian started, and the event Stripe sends
// when it is paid.
type onlineTopUp struct {
	id      uuid.UUID
	session string
	amount  decimal.Decimal
	event   []byte
	acked   time.Time // when the server answered the webhook 2xx
}

// startTopUps opens n Checkout top-ups (10.00 €, 10.01 €, …) for the
// tenant's first pupils, each paid by a guardian of their own.
func startTopUps(t *testing.T, pool *pgxpool.Pool, tenant int64, stripeURL string, n int) []*onlineTopUp {
	t.Helper()
	ctx := context.Background()
	led := ledger.New(pool, nil)
	st := school.New(pool, led, nil)
	svc, err := payments.NewStripe(payments.StripeConfig{SecretKey: "sk_test_failover", WebhookSecret: failoverWebhookSecret, APIBase: stripeURL},
		payments.Deps{Ledger: led, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT id, wallet_account_id FROM pupils WHERE tenant_id = $1 AND wallet_account_id IS NOT NULL ORDER BY id LIMIT $2`, tenant, n)
	if err != nil {
		t.Fatal(err)
	}
	type pupil struct{ id, wallet int64 }
	var list []pupil
	for rows.Next() {
		var p pupil
		if err := rows.Scan(&p.id, &p.wallet); err != nil {
			t.Fatal(err)
		}
		list = append(list, p)
	}
	if err := rows.Err(); err != nil || len(list) < n {
		t.Fatalf("%d pupils with a wallet (%v), want %d", len(list), err, n)
	}
	var out []*onlineTopUp
	for i, p := range list {
		g, err := st.CreateGuardian(ctx, tenant, school.GuardianInput{FirstName: "Parent", LastName: fmt.Sprint("Failover ", i),
			Email: fmt.Sprintf("parent%d@failover.example.be", i)}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.LinkGuardian(ctx, tenant, g.ID, p.id, "mère", "test"); err != nil {
			t.Fatal(err)
		}
		amount := decimal.New(int64(1000+i), -2)
		tu, err := svc.StartTopUp(ctx, payments.TopUpRequest{TenantID: tenant, PupilID: p.id, WalletAccountID: p.wallet, GuardianID: g.ID,
			Amount: amount, SuccessURL: "https://tartine.test/ok", CancelURL: "https://tartine.test/cancel"})
		if err != nil {
			t.Fatal(err)
		}
		session := "cs_test_" + strings.ReplaceAll(tu.ID.String(), "-", "")
		cents := amount.Shift(2).IntPart()
		event := fmt.Sprintf(`{"id":"evt_failover_%d_%s","object":"event","api_version":"2023-10-16","created":%d,"type":"checkout.session.completed",
			"data":{"object":{"id":%q,"object":"checkout.session","mode":"payment","amount_total":%d,"currency":"eur","payment_status":"paid","status":"complete",
			"payment_intent":"pi_%s","metadata":{"topup_id":%q,"tenant_id":"%d","pupil_id":"%d","wallet_account_id":"%d"}}}}`,
			i, tu.ID, time.Now().Unix(), session, cents, strings.TrimPrefix(session, "cs_test_"), tu.ID, tenant, p.id, p.wallet)
		out = append(out, &onlineTopUp{id: tu.ID, session: session, amount: amount, event: []byte(event)})
	}
	return out
}

// deliver posts the event signed now, again (as Stripe does, re-signed)
// until the server answers 2xx or ctx is done. It returns the failed tries.
func (tu *onlineTopUp) deliver(ctx context.Context, url string) (int, error) {
	failed := 0
	for {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: tu.event, Secret: failoverWebhookSecret})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/stripe/webhook", bytes.NewReader(tu.event))
		if err != nil {
			return failed, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", sp.Header)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				// "duplicate" or "already_credited": an earlier delivery was
				// booked, but its answer was lost with the primary.
				if !bytes.Contains(body, []byte("credited")) && !bytes.Contains(body, []byte("duplicate")) {
					return failed, fmt.Errorf("top-up %s: webhook answered %d %s, want credited", tu.id, resp.StatusCode, body)
				}
				tu.acked = time.Now()
				return failed, nil
			}
			if resp.StatusCode/100 == 4 {
				return failed, fmt.Errorf("top-up %s: webhook answered %d %s", tu.id, resp.StatusCode, body)
			}
		}
		failed++
		select {
		case <-ctx.Done():
			return failed, fmt.Errorf("top-up %s not acknowledged: %w", tu.id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkTopUps fails the test unless every acknowledged top-up is paid and
// credited by exactly one ledger transfer of its amount.
func checkTopUps(t *testing.T, pool *pgxpool.Pool, tenant int64, tus []*onlineTopUp) (acked int) {
	t.Helper()
	ctx := context.Background()
	for _, tu := range tus {
		if tu.acked.IsZero() {
			continue
		}
		acked++
		var status string
		var transfers int
		var credited decimal.Decimal
		err := pool.QueryRow(ctx, `
			SELECT (SELECT status FROM topups WHERE tenant_id = $1 AND id = $2),
			       (SELECT count(*) FROM transfers WHERE tenant_id = $1 AND idempotency_key = 'stripe-topup:' || $2::text),
			       (SELECT coalesce(sum(p.amount), 0) FROM transfers tr JOIN postings p ON p.tenant_id = tr.tenant_id AND p.transfer_id = tr.id
			        WHERE tr.tenant_id = $1 AND tr.idempotency_key = 'stripe-topup:' || $2::text AND p.amount > 0)`,
			tenant, tu.id).Scan(&status, &transfers, &credited)
		if err != nil {
			t.Fatal(err)
		}
		if status != "paid" || transfers != 1 || !credited.Equal(tu.amount) {
			t.Errorf("top-up %s acknowledged: status %q, %d transfers of %s, want paid, one transfer of %s", tu.id, status, transfers, credited, tu.amount)
		}
	}
	return acked
}
