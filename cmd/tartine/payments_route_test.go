package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76/webhook"

	"tartine/internal/db"
	"tartine/internal/dbtest"
)

// The payments block mounts POST /stripe/webhook when STRIPE_SECRET_KEY is
// set: a forged event is refused, a signed one for no top-up acknowledged.
func TestStripeWebhookRoute(t *testing.T) {
	ctx := context.Background()
	pool, err := db.Open(ctx, dbtest.NewDSN(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	e := env{getenv: getenvFrom(map[string]string{
		"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": "whsec_route", "STRIPE_API_BASE": "http://127.0.0.1:9",
	}), stdout: io.Discard, stderr: io.Discard}
	h, err := newRouter(ctx, e, newLogger(e), &database{Pool: pool}, serveConfig{Addr: "127.0.0.1:0", BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	payload := []byte(`{"id":"evt_route","object":"event","api_version":"2023-10-16","created":1700000000,"type":"checkout.session.completed",
		"data":{"object":{"id":"cs_nobody","object":"checkout.session","payment_status":"paid","metadata":{}}}}`)
	post := func(secret string) (int, string) {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/stripe/webhook", bytes.NewReader(payload))
		req.Header.Set("Stripe-Signature", sp.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("whsec_forged"); code != http.StatusBadRequest {
		t.Errorf("forged: %d %s, want 400", code, body)
	}
	if code, body := post("whsec_route"); code != http.StatusOK || !strings.Contains(body, "unknown_topup") {
		t.Errorf("signed: %d %s, want 200 unknown_topup", code, body)
	}
}
