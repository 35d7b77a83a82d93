package portal

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/web"
	"tartine/ledger"
)

// childSummary is a child's card on the home page: its words and numbers
// written in Go (issue 17: each template call costs; the same HTML).
type childSummary struct {
	ID                                     int64
	FirstName, LastName, SchoolName, Level string
	Path                                   string // the child's pages
	Balance, Available                     string // the wallet, for people
	Low                                    string // the low-balance warning, "" when not low
	Today                                  []todayBooking
}

// todayBooking is a booking of today: its service's name and status for
// people.
type todayBooking struct {
	Name   string // "Potage", never the code "potage"
	Status string // « réservé »
}

type homeData struct {
	Children []childSummary
	Date     string // today in full
	W        *homeWords
}

// homeWords are the home page's fixed words in one language.
type homeWords struct {
	Title, WalletHelp, Balance, Available, Today, NothingToday          string
	Bookings, Topup, History, Transfer, Fees, Statements, Taxcert, Link string
	NoChildren                                                          string
}

func homeWordsIn(p page) *homeWords {
	return cachedWords(p.Cat, p.Lang, "home", func(t func(string) string) *homeWords {
		return &homeWords{Title: t("portal.home.title"), WalletHelp: t("wallet.help"), Balance: t("wallet.balance"),
			Available: t("wallet.available"), Today: t("portal.home.today"), NothingToday: t("portal.home.nothing_today"),
			Bookings: t("portal.bookings.title"), Topup: t("portal.topup.title"), History: t("portal.history.title"),
			Transfer: t("portal.transfer.title"), Fees: t("portal.fees.link"), Statements: t("portal.statements.link"),
			Taxcert: t("portal.taxcert.link"), Link: t("portal.link.title"), NoChildren: t("portal.home.no_children")}
	})
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
	lang := a.lang(c, acct)
	p := page{Page: web.Page{Lang: lang, Cat: a.Catalog}}
	data := homeData{Date: p.Date(today), W: homeWordsIn(p)}
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
	names := a.serviceNames(lang)
	low := ""
	for _, k := range kids {
		w := balances[ledger.AccountRef{TenantID: k.TenantID, ID: k.WalletID}]
		s := childSummary{ID: k.ID, FirstName: k.FirstName, LastName: k.LastName, SchoolName: k.SchoolName, Level: k.Level,
			Path: k.Path(), Balance: p.EUR(w.Balance), Available: p.EUR(w.Available)}
		if w.Available.LessThan(acct.Threshold) {
			if low == "" {
				low = p.T("portal.home.low", p.EUR(acct.Threshold))
			}
			s.Low = low
		}
		for _, b := range bks {
			if b.TenantID == k.TenantID && b.PupilID == k.ID && b.Status != booking.StatusCancelled {
				name, err := names.name(ctx, a, b.TenantID, string(b.Service))
				if err != nil {
					a.fail(c, err)
					return
				}
				s.Today = append(s.Today, todayBooking{Name: name, Status: p.T("booking.status." + string(b.Status))})
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
