package portal

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/ledger"
)

// childSummary is a child's card on the home page.
type childSummary struct {
	child
	Wallet booking.WalletBalance
	Low    bool
	Today  []todayBooking
}

// todayBooking is a booking of today with its service's name for people.
type todayBooking struct {
	booking.Booking
	Name string // "Potage", never the code "potage"
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
	kids, err := a.children(ctx, acct)
	if err != nil {
		a.fail(c, err)
		return
	}
	today := a.Now().In(brussels())
	data := homeData{Today: today}
	// Two queries whatever the number of children: their wallets, and
	// their bookings of today.
	wallets := make([]ledger.AccountRef, 0, len(kids))
	pupils := make([]booking.PupilRef, 0, len(kids))
	for _, k := range kids {
		wallets = append(wallets, ledger.AccountRef{TenantID: k.TenantID, ID: k.WalletID})
		pupils = append(pupils, booking.PupilRef{TenantID: k.TenantID, PupilID: k.ID})
	}
	balances, err := a.Booking.Wallets(ctx, wallets)
	if err != nil {
		a.fail(c, err)
		return
	}
	bks, err := a.Booking.BookingsOf(ctx, pupils, today, today)
	if err != nil {
		a.fail(c, err)
		return
	}
	names := a.serviceNames(a.lang(c, acct))
	for _, k := range kids {
		s := childSummary{child: k, Wallet: balances[ledger.AccountRef{TenantID: k.TenantID, ID: k.WalletID}]}
		s.Low = s.Wallet.Available.LessThan(acct.Threshold)
		for _, b := range bks {
			if b.TenantID == k.TenantID && b.PupilID == k.ID && b.Status != booking.StatusCancelled {
				name, err := names.name(ctx, a, b.TenantID, string(b.Service))
				if err != nil {
					a.fail(c, err)
					return
				}
				s.Today = append(s.Today, todayBooking{Booking: b, Name: name})
			}
		}
		data.Children = append(data.Children, s)
	}
	a.render(c, http.StatusOK, "home", "portal.home.title", data, acct)
}

// balanceOf returns the child's wallet balance (zero without a wallet).
func (a *App) balanceOf(c *gin.Context, ch child) (booking.WalletBalance, error) {
	return a.Booking.Wallet(c.Request.Context(), ch.TenantID, ch.WalletID)
}
