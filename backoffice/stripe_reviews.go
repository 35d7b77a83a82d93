package backoffice

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/payments"
)

// Stripe payments to review (/admin/books/bank/stripe-reviews, accountants):
// the top-ups whose credit Stripe's own record contradicts (amount,
// currency, an unpaid or unknown session) and the refunds or disputes that
// asked to take back more than was paid (payments.Bank.StripeReviews).
// Nothing was booked for the difference; the accountant settles it with
// Stripe or by a manual entry, then closes the review
// (payments.Bank.DismissStripeReview).

// stripeReviewsPath is the page's path.
const stripeReviewsPath = "/admin/books/bank/stripe-reviews"

// stripeReviewView is a review ready for the page.
type stripeReviewView struct {
	payments.StripeReview
	Pupil string // "Dupont Emma", or "" when unknown
}

type stripeReviewsData struct {
	Reviews []stripeReviewView
	Done    bool
}

// stripeReviewsPage lists the open reviews, oldest first.
func (a *App) stripeReviewsPage(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	list, err := a.bank.StripeReviews(ctx, u.TenantID)
	if err != nil {
		a.fail(c, err)
		return
	}
	d := stripeReviewsData{Done: c.Query("done") == "dismissed"}
	for _, r := range list {
		v := stripeReviewView{StripeReview: r}
		if p, err := a.School.Pupil(ctx, u.TenantID, r.PupilID); err == nil {
			v.Pupil = p.LastName + " " + p.FirstName
		}
		d.Reviews = append(d.Reviews, v)
	}
	a.render(c, http.StatusOK, "stripe_reviews", "stripe_reviews.title", "bank", d)
}

// dismissStripeReview closes a review the accountant has dealt with.
func (a *App) dismissStripeReview(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	id, err := strconv.ParseInt(c.PostForm("review"), 10, 64)
	if err == nil {
		err = a.bank.DismissStripeReview(ctx, u.TenantID, id, u.Actor(), a.Now())
	}
	if err != nil && !errors.Is(err, payments.ErrNotFound) {
		a.fail(c, err)
		return
	}
	if err == nil {
		_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "stripe.review.dismiss", strconv.FormatInt(id, 10), nil)
	}
	c.Redirect(http.StatusSeeOther, stripeReviewsPath+"?done=dismissed")
}
