package portal

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/ledger"
)

// childSummary is a child's card on the home page.
type childSummary struct {
	child
	Balance ledger.Balance
	Low     bool
	Today   []booking.Booking
}

type homeData struct {
	Children []childSummary
	Today    time.Time
}

func (a *App) home(c *gin.Context) {
	acct, ok := a.mustAccount(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	kids, err := a.children(ctx, acct.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	today := a.Now().In(brussels())
	data := homeData{Today: today}
	for _, k := range kids {
		s := childSummary{child: k}
		if k.WalletID != 0 {
			if s.Balance, err = a.Ledger.Balance(ctx, k.TenantID, k.WalletID); err != nil {
				a.fail(c, err)
				return
			}
		}
		s.Low = s.Balance.Available.LessThan(acct.Threshold)
		bs, err := a.Booking.Bookings(ctx, k.TenantID, k.ID, today, today)
		if err != nil {
			a.fail(c, err)
			return
		}
		for _, b := range bs {
			if b.Status != booking.StatusCancelled {
				s.Today = append(s.Today, b)
			}
		}
		data.Children = append(data.Children, s)
	}
	a.render(c, http.StatusOK, "home", "portal.home.title", data, acct)
}

// balanceOf returns the child's wallet balance (zero without a wallet).
func (a *App) balanceOf(c *gin.Context, ch child) (ledger.Balance, error) {
	if ch.WalletID == 0 {
		return ledger.Balance{Posted: decimal.Zero, Pending: decimal.Zero, Available: decimal.Zero}, nil
	}
	return a.Ledger.Balance(c.Request.Context(), ch.TenantID, ch.WalletID)
}
