package backoffice

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/payments"
)

// mountStripeCheck registers the Stripe balance check on the books group.
func (a *App) mountStripeCheck(ac *gin.RouterGroup) {
	ac.GET("/stripe-check", a.stripeCheckPage)
	ac.POST("/stripe-check", a.runStripeCheck)
}

type stripeCheckData struct {
	From, To time.Time
	Enabled  bool // the deployment has a Stripe account
	Ran      bool
	Report   payments.BalanceCheck
}

func (a *App) stripeCheckForm(c *gin.Context, from, to string) stripeCheckData {
	today := civilDay(a.Now().In(brussels()))
	d := stripeCheckData{Enabled: a.Stripe != nil, From: today.AddDate(0, 0, -7), To: today}
	if day, ok := parseDay(from); ok {
		d.From = day
	}
	if day, ok := parseDay(to); ok && !day.Before(d.From) && day.Sub(d.From) <= 92*24*time.Hour {
		d.To = day
	}
	return d
}

// stripeCheckPage shows the form of the check.
func (a *App) stripeCheckPage(c *gin.Context) {
	a.render(c, http.StatusOK, "books_stripe", "admin.stripecheck.title", "books", a.stripeCheckForm(c, c.Query("from"), c.Query("to")))
}

// runStripeCheck compares stripe-clearing with Stripe's balance
// transactions over the days asked (at most 92) and shows the report. It
// books the Stripe fees the books lack (once: the webhook's key), so it
// is a POST; its answer is the report itself, not a redirect.
func (a *App) runStripeCheck(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	d := a.stripeCheckForm(c, c.PostForm("from"), c.PostForm("to"))
	if !d.Enabled {
		a.render(c, http.StatusOK, "books_stripe", "admin.stripecheck.title", "books", d)
		return
	}
	rep, err := a.Stripe.CheckBalance(ctx, u.TenantID, dayStart(d.From), dayStart(d.To.AddDate(0, 0, 1)))
	if err != nil {
		a.fail(c, err)
		return
	}
	d.Ran, d.Report = true, rep
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "payments.stripe_check", "",
		map[string]any{"from": d.From.Format(time.DateOnly), "to": d.To.Format(time.DateOnly), "differences": len(rep.Differences), "fees_booked": len(rep.FeesBooked)})
	a.render(c, http.StatusOK, "books_stripe", "admin.stripecheck.title", "books", d)
}
