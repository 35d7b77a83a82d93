package staff

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/payments"
	"tartine/school"
)

// Remittance screens (kiosk cashier or accountant): the "Remettre à la
// banque" form with the day's remittances of the drawer, and the printed
// remittance slip (bordereau de dépôt) with the reference as text and QR
// code. Routes are registered by mountKiosk (routes.go).

// remitData is the data of the remittance form.
type remitData struct {
	Station    school.Station
	Token      string
	Amount     string
	Carrier    string
	MaxCarrier int
	Today      []remitRow
	Total      decimal.Decimal
}

// remitRow is one of the day's remittances.
type remitRow struct {
	payments.Remittance
	Time    string
	Cashier string
}

func (w *Web) kioskRemitPage(c *gin.Context) {
	w.renderRemit(c, http.StatusOK, "", "", "")
}

// renderRemit renders the remittance form, keeping what was typed after a
// refusal.
func (w *Web) renderRemit(c *gin.Context, status int, amount, carrier, errMsg string) {
	s, ok := w.atStation(c, school.RoleKiosk, school.RoleAccountant)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	d := remitData{Station: st, Amount: amount, Carrier: carrier, MaxCarrier: payments.MaxCarrierLen, Total: decimal.Zero}
	var err error
	if d.Token, err = newFormToken(); err != nil {
		w.fail(c, err)
		return
	}
	from, to := kiosk.DayBounds(w.now(), loc)
	list, err := w.kiosk.StationRemittances(ctx, u.TenantID, st.ID, from, to)
	if err != nil {
		w.fail(c, err)
		return
	}
	for _, r := range list {
		d.Today = append(d.Today, remitRow{Remittance: r, Time: i18n.FormatTime(r.CreatedAt.In(loc), l), Cashier: w.kiosk.StaffName(ctx, u.TenantID, r.Actor)})
		d.Total = d.Total.Add(r.Amount)
	}
	w.render(c, status, "kiosk_remit.html", page{Title: w.cat.T(l, "terminal.kiosk.remit_title", st.Name), User: &u, Data: d, Error: errMsg})
}

func (w *Web) kioskRemitPost(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.kioskFor(c, school.RoleKiosk, school.RoleAccountant)
	if err != nil {
		w.fail(c, err)
		return
	}
	l := lang(c)
	token := c.PostForm("form_token")
	if !kiosk.ValidFormToken(token) {
		c.String(http.StatusBadRequest, w.cat.T(l, "error.invalid_form", "form_token"))
		return
	}
	typed, carrier := c.PostForm("amount"), c.PostForm("carrier")
	again := func(msg string) { w.renderRemit(c, http.StatusUnprocessableEntity, typed, carrier, msg) }
	amount, ok := w.typedAmount(c, typed, again)
	if !ok {
		return
	}
	r, err := w.kiosk.Remit(ctx, kiosk.RemitRequest{TenantID: u.TenantID, Station: st.Code, Amount: amount, Carrier: carrier, FormToken: token, Actor: u.Actor()})
	var short *payments.DrawerShortError
	switch {
	case errors.As(err, &short):
		// The cashier counts blind at closing: only an accountant is told
		// what the drawer holds by the books.
		if u.Can(school.RoleAccountant) {
			again(w.cat.T(l, "terminal.kiosk.remit_short_amount", i18n.FormatEUR(short.Amount, l), i18n.FormatEUR(short.Holds, l)))
		} else {
			again(w.cat.T(l, "terminal.kiosk.remit_short", i18n.FormatEUR(short.Amount, l)))
		}
		return
	case errors.Is(err, kiosk.ErrAmountRange):
		again(w.cat.T(l, "terminal.kiosk.remit_range", i18n.FormatEUR(kiosk.Cents(kiosk.KioskMaxCountCents), l)))
		return
	case errors.Is(err, payments.ErrInvalidRequest):
		again(w.cat.T(l, "terminal.kiosk.remit_carrier", payments.MaxCarrierLen))
		return
	case errors.Is(err, kiosk.ErrFormUsed):
		again(w.cat.T(l, "terminal.kiosk.form_used"))
		return
	case errors.Is(err, ledger.ErrPeriodClosed):
		again(w.cat.T(l, "terminal.reason.period_closed"))
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	if !r.Replay {
		_ = w.store.Audit(ctx, u.TenantID, u.Actor(), "kiosk.remit", "station:"+st.Code,
			map[string]any{"reference": r.Reference, "amount": r.Amount.StringFixed(2), "carrier": r.Carrier, "transfer": r.TransferID})
	}
	c.Redirect(http.StatusSeeOther, "/staff/kiosk/"+url.PathEscape(st.Code)+"/remittances/"+url.PathEscape(r.Reference)+"?print=1")
}

// remitSlip is the data of the printed remittance slip.
type remitSlip struct {
	payments.Remittance
	School      string
	StationName string
	Amount      string
	When        string
	Cashier     string
	Arrived     string // when the bank showed it ("" while in transit)
	QR          template.URL
	AutoPrint   bool
	Back        string
}

func (w *Web) kioskRemitSlip(c *gin.Context) {
	r, s, ok := ofStation(w, c, func(ctx context.Context, tenantID int64) (payments.Remittance, int64, error) {
		r, err := w.kiosk.RemittanceByReference(ctx, tenantID, c.Param("ref"))
		return r, r.StationID, err
	}, school.RoleKiosk, school.RoleAccountant)
	if !ok {
		return
	}
	ctx, st, u, loc, l := c.Request.Context(), s.st, s.u, s.loc, lang(c)
	v := remitSlip{Remittance: r, School: s.school, StationName: st.Name, Amount: i18n.FormatEUR(r.Amount, l),
		When: localWhen(r.CreatedAt, loc, l), Cashier: w.kiosk.StaffName(ctx, u.TenantID, r.Actor),
		AutoPrint: c.Query("print") == "1", Back: "/staff/kiosk/" + url.PathEscape(st.Code) + "/remit"}
	if r.ArrivedAt != nil {
		v.Arrived = localWhen(*r.ArrivedAt, loc, l)
	}
	var err error
	if v.QR, err = qrDataURI(r.Reference, 192); err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "kiosk_remit_slip.html", page{Title: r.Reference, User: &u, Data: v})
}
