package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/web"
)

// BookingsPageRenderer returns what the bookings handler does after its
// reads: render the page of the child of the account (by email) for month
// into w, with a fixed CSRF token and the account's language. The data is
// read once here, so that each call measures the rendering alone.
func BookingsPageRenderer(a *App, email string, tenantID, pupilID int64, month time.Time, w http.ResponseWriter) (func() error, error) {
	ctx := context.Background()
	acct, err := a.accountByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	ch, err := a.childByID(ctx, acct, tenantID, pupilID)
	if err != nil {
		return nil, err
	}
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, ch.Path()+"/bookings?month="+month.Format("2006-01"), nil)
	lang := a.lang(c, acct)
	d, err := a.bookingsView(ctx, ch, month)
	if err != nil {
		return nil, err
	}
	d.label(page{Page: web.Page{Lang: lang, Cat: a.Catalog}})
	p := page{Page: web.Page{Lang: lang, CSRF: "token", Cat: a.Catalog}, Account: acct, Base: "/portal", Back: "/portal/"}
	p.Title = p.T("portal.bookings.title")
	p.Data = d
	t := a.pages["bookings"]
	return func() error { return web.Render(c, http.StatusOK, t, "layout.html", p) }, nil
}
