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
	// Two queries whatever the number of children: their wallets, and
	// their bookings of today.
	var wallets []ledger.AccountRef
	pupils := make([]booking.PupilRef, 0, len(kids))
	for _, k := range kids {
		if k.WalletID != 0 {
			wallets = append(wallets, ledger.AccountRef{TenantID: k.TenantID, ID: k.WalletID})
		}
		pupils = append(pupils, booking.PupilRef{TenantID: k.TenantID, PupilID: k.ID})
	}
	balances, err := a.Ledger.TrackedBalances(ctx, wallets)
	if err != nil {
		a.fail(c, err)
		return
	}
	bks, err := a.Booking.BookingsOf(ctx, pupils, today, today)
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, k := range kids {
		s := childSummary{child: k}
		if k.WalletID != 0 {
			var ok bool
			if s.Balance, ok = balances[ledger.AccountRef{TenantID: k.TenantID, ID: k.WalletID}]; !ok {
				// Not a tracked wallet: read it alone.
				if s.Balance, err = a.Ledger.Balance(ctx, k.TenantID, k.WalletID); err != nil {
					a.fail(c, err)
					return
				}
			}
		}
		s.Low = s.Balance.Available.LessThan(acct.Threshold)
		for _, b := range bks {
			if b.TenantID == k.TenantID && b.PupilID == k.ID && b.Status != booking.StatusCancelled {
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
