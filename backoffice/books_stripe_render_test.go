package backoffice

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/internal/testclock"
	"tartine/internal/web"
	"tartine/internal/websession"
	"tartine/payments"
)

// The Stripe check's report shows, per day, the refunds and the disputes
// (funds withdrawn or reinstated) at Stripe and in the books.
func TestStripeCheckReportShowsRefundsAndDisputes(t *testing.T) {
	f := newFixture(t)
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := websession.New(f.pool, websession.Config{BaseURL: "http://localhost", CookieName: StaffCookie, Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Deps{Pool: f.pool, School: f.store, Booking: f.book, Ledger: f.led, Sessions: sessions, Catalog: cat, BaseURL: "http://localhost", Now: testclock.Now})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 16, 0, 0, 0, 0, brussels())
	d := stripeCheckData{Enabled: true, Ran: true, From: day, To: day, Report: payments.BalanceCheck{Days: []payments.DayCheck{{Day: day,
		StripeRefunds: decimal.RequireFromString("-12.34"), BooksRefunds: decimal.RequireFromString("-12.34"),
		StripeDisputes: decimal.RequireFromString("-56.78"), BooksDisputes: decimal.RequireFromString("-98.76")}}}}
	rec := httptest.NewRecorder()
	ctx, _ := gin.CreateTestContext(rec)
	ctx.Request = httptest.NewRequest(http.MethodGet, "/admin/books/stripe-check", nil)
	p := page{Page: web.Page{Lang: "fr", Data: d, Cat: a.Catalog}, app: a}
	if err := web.Render(ctx, http.StatusOK, a.pages["books_stripe"], "layout.html", p); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, want := range []string{"Remboursements", "Litiges", "-12,34", "-56,78", "-98,76"} {
		if !strings.Contains(body, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
