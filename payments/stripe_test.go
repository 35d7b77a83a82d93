package payments

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

// recorder is a RoundTripper that keeps the requests sent to Stripe.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	form         url.Values
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Clone(), form})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestStartTopUp(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, "", &http.Client{Transport: rec})
	ctx := context.Background()

	top, err := e.stripe.StartTopUp(ctx, TopUpRequest{
		TenantID: e.tenant, PupilID: e.pupil, WalletAccountID: e.wallet, GuardianID: e.guardian,
		Amount: dec("20.00"), SuccessURL: "https://tartine.test/ok", CancelURL: "https://tartine.test/ko", Lang: "fr",
	})
	if err != nil {
		t.Fatalf("StartTopUp: %v", err)
	}
	if top.CheckoutURL == "" {
		t.Errorf("CheckoutURL is empty")
	}
	got, err := e.stripe.Get(ctx, e.tenant, top.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusPending || !got.Amount.Equal(dec("20")) || got.PupilID != e.pupil || got.GuardianID != e.guardian {
		t.Errorf("recorded top-up = %+v, want pending 20.00 for pupil %d", got, e.pupil)
	}
	if n := e.count(t, `SELECT count(*) FROM topups WHERE id = $1 AND stripe_session_id LIKE 'cs_%'`, top.ID); n != 1 {
		t.Errorf("session id not stored")
	}

	if len(rec.reqs) != 1 {
		t.Fatalf("%d requests to Stripe, want 1", len(rec.reqs))
	}
	r := rec.reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/checkout/sessions" {
		t.Errorf("request %s %s, want POST /v1/checkout/sessions", r.method, r.path)
	}
	if k := r.header.Get("Idempotency-Key"); k != top.ID.String() {
		t.Errorf("Idempotency-Key = %q, want the top-up id %s", k, top.ID)
	}
	if v := r.header.Get("Stripe-Version"); v != "2023-10-16" {
		t.Errorf("Stripe-Version = %q", v)
	}
	want := map[string]string{
		"mode":                                             "payment",
		"currency":                                         "eur",
		"payment_method_types[0]":                          "card",
		"payment_method_types[1]":                          "bancontact",
		"line_items[0][price_data][currency]":              "eur",
		"line_items[0][price_data][unit_amount]":           "2000",
		"line_items[0][price_data][product_data][name]":    "Rechargement repas/garderie — Emma",
		"line_items[0][quantity]":                          "1",
		"metadata[topup_id]":                               top.ID.String(),
		"metadata[tenant_id]":                              strconv.FormatInt(e.tenant, 10),
		"metadata[pupil_id]":                               strconv.FormatInt(e.pupil, 10),
		"metadata[wallet_account_id]":                      strconv.FormatInt(e.wallet, 10),
		"payment_intent_data[metadata][topup_id]":          top.ID.String(),
		"payment_intent_data[metadata][tenant_id]":         strconv.FormatInt(e.tenant, 10),
		"payment_intent_data[metadata][pupil_id]":          strconv.FormatInt(e.pupil, 10),
		"payment_intent_data[metadata][wallet_account_id]": strconv.FormatInt(e.wallet, 10),
		"customer_email":                                   "claire@example.be",
		"client_reference_id":                              top.ID.String(),
		"locale":                                           "fr",
		"success_url":                                      "https://tartine.test/ok",
		"cancel_url":                                       "https://tartine.test/ko",
	}
	for k, v := range want {
		if got := r.form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
}

func TestStartTopUpRefusals(t *testing.T) {
	e := newEnv(t, "", nil)
	ctx := context.Background()
	other, otherWallet := addPupil(t, e.pool, e.ledger, e.tenant, "Lucas", "")
	base := TopUpRequest{TenantID: e.tenant, PupilID: e.pupil, WalletAccountID: e.wallet, GuardianID: e.guardian,
		Amount: dec("20"), SuccessURL: "https://t/ok", CancelURL: "https://t/ko"}
	tests := []struct {
		name   string
		change func(*TopUpRequest)
		want   error
	}{
		{"below minimum", func(r *TopUpRequest) { r.Amount = dec("4.99") }, ErrAmountOutOfRange},
		{"above maximum", func(r *TopUpRequest) { r.Amount = dec("500.01") }, ErrAmountOutOfRange},
		{"negative", func(r *TopUpRequest) { r.Amount = dec("-20") }, ErrAmountOutOfRange},
		{"three decimals", func(r *TopUpRequest) { r.Amount = dec("10.005") }, ErrAmountOutOfRange},
		{"no success URL", func(r *TopUpRequest) { r.SuccessURL = "" }, ErrInvalidRequest},
		{"no guardian", func(r *TopUpRequest) { r.GuardianID = 0 }, ErrInvalidRequest},
		{"unknown pupil", func(r *TopUpRequest) { r.PupilID = 999999 }, ErrPupilNotFound},
		{"other tenant", func(r *TopUpRequest) { r.TenantID++ }, ErrPupilNotFound},
		{"another pupil's wallet", func(r *TopUpRequest) { r.WalletAccountID = otherWallet }, ErrWalletMismatch},
		{"guardian not linked", func(r *TopUpRequest) { r.PupilID, r.WalletAccountID = other, otherWallet }, ErrNotGuardian},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			tt.change(&req)
			_, err := e.stripe.StartTopUp(ctx, req)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM topups`); n != 0 {
		t.Errorf("%d top-ups recorded by refused requests", n)
	}
	for _, ok := range []string{"5", "5.00", "500", "123.45"} {
		if err := e.stripe.checkAmount(dec(ok)); err != nil {
			t.Errorf("checkAmount(%s) = %v, want nil", ok, err)
		}
	}
}

func TestAmountErrorMessage(t *testing.T) {
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &AmountError{Amount: dec("2"), Min: dec("5"), Max: dec("500")}
	if got, want := e.Message(c, "fr"), "Le montant doit être compris entre 5,00\u00a0€ et 500,00\u00a0€."; got != want {
		t.Errorf("fr message = %q, want %q", got, want)
	}
	if got := (&AmountError{Decimals: true}).Message(c, "en"); got != "The amount cannot have more than two decimals." {
		t.Errorf("en message = %q", got)
	}
}

func TestStartTopUpStripeUnreachable(t *testing.T) {
	port, err := freePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "http://127.0.0.1:"+strconv.Itoa(port), nil)
	_, err = e.stripe.StartTopUp(context.Background(), TopUpRequest{TenantID: e.tenant, PupilID: e.pupil,
		WalletAccountID: e.wallet, GuardianID: e.guardian, Amount: decimal.NewFromInt(10), SuccessURL: "https://t/ok", CancelURL: "https://t/ko"})
	if !errors.Is(err, ErrCheckout) {
		t.Fatalf("err = %v, want ErrCheckout", err)
	}
	if n := e.count(t, `SELECT count(*) FROM topups WHERE status = 'error' AND stripe_session_id IS NULL`); n != 1 {
		t.Errorf("top-up not kept with status error")
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1",
		"STRIPE_API_BASE": "http://127.0.0.1:12111", "STRIPE_TOPUP_MIN": "2.50", "STRIPE_TOPUP_MAX": "250"}
	c, err := StripeConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.Validate() != nil {
		t.Fatalf("config %+v: %v / %v", c, err, c.Validate())
	}
	if lo, hi := c.limits(); !lo.Equal(dec("2.5")) || !hi.Equal(dec("250")) {
		t.Errorf("limits %s–%s", lo, hi)
	}
	bad := []map[string]string{
		{"STRIPE_WEBHOOK_SECRET": "whsec_1"},
		{"STRIPE_SECRET_KEY": "sk"},
		{"STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "w", "STRIPE_API_BASE": "localhost:12111"},
		{"STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "w", "STRIPE_TOPUP_MIN": "50", "STRIPE_TOPUP_MAX": "10"},
	}
	for _, b := range bad {
		c, err := StripeConfigFromEnv(func(k string) string { return b[k] })
		if err == nil && c.Validate() == nil {
			t.Errorf("config %v accepted", b)
		}
	}
	if _, err := StripeConfigFromEnv(func(k string) string { return map[string]string{"STRIPE_TOPUP_MIN": "cinq"}[k] }); err == nil {
		t.Errorf("STRIPE_TOPUP_MIN=cinq accepted")
	}
}
