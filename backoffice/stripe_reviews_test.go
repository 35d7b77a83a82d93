package backoffice

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestStripeReviewsPage lists a top-up whose credit Stripe contradicted,
// linked from the bank page, and closes it once.
func TestStripeReviewsPage(t *testing.T) {
	f := newFixture(t)
	emma := f.pupil("Emma")
	pool := f.led.Pool()
	id := uuid.New()
	if _, err := pool.Exec(f.ctx, `INSERT INTO topups (tenant_id, id, pupil_id, wallet_account_id, amount, stripe_session_id)
		VALUES ($1, $2, $3, $4, 20, $5)`, f.demo.TenantID, id, emma.ID, emma.WalletAccountID, "cs_review_"+id.String()); err != nil {
		t.Fatal(err)
	}
	var review int64
	if err := pool.QueryRow(f.ctx, `INSERT INTO stripe_reviews (tenant_id, topup_id, reason, event_id, session_id, asked, confirmed, event_amount, detail, created_at)
		VALUES ($1, $2, 'amount_mismatch', 'evt_review', $3, 20, 25, 20, 'Stripe''s session is of 25.00 EUR', '2026-12-07 10:00+01') RETURNING id`,
		f.demo.TenantID, id, "cs_review_"+id.String()).Scan(&review); err != nil {
		t.Fatal(err)
	}
	c := f.login("accountant", "demo-accountant")
	if _, bank := c.get("/admin/books/bank"); !strings.Contains(bank, `href="/admin/books/bank/stripe-reviews"`) {
		t.Errorf("the bank page has no link to the Stripe reviews")
	}
	st, body := c.get(stripeReviewsPath)
	text := html.UnescapeString(body)
	for _, want := range []string{"Paiements Stripe à vérifier", "Montant payé différent du rechargement", "Dubois Emma", eur("20"), eur("25"), "cs_review_"} {
		if st != http.StatusOK || !strings.Contains(text, want) {
			t.Errorf("GET %s: %d, lacks %q", stripeReviewsPath, st, want)
		}
	}
	st, body = c.follow(stripeReviewsPath+"/dismiss", url.Values{"review": {itoa(review)}})
	if st != http.StatusOK || !strings.Contains(body, `id="no-stripe-reviews"`) || !strings.Contains(html.UnescapeString(body), "Vérification clôturée.") {
		t.Errorf("dismiss: %d\n%.600s", st, body)
	}
	var by string
	if err := pool.QueryRow(f.ctx, `SELECT resolved_by FROM stripe_reviews WHERE id = $1`, review).Scan(&by); err != nil || by == "" {
		t.Errorf("review not resolved (%q, %v)", by, err)
	}
	if st, _ := f.login("canteen", "demo-canteen").get(stripeReviewsPath); st == http.StatusOK {
		t.Errorf("canteen staff sees the Stripe reviews")
	}
}
