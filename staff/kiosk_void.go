package staff

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
	"tartine/kiosk"
	"tartine/ledger"
	"tartine/school"
)

// confirmData is the confirmation step before the cash is taken.
type confirmData struct {
	Station school.Station
	PupilID int64
	Pupil   string // full name, so that a wrong pupil is caught
	Class   string
	Amount  string // for people: "20,00 €"
	Typed   string // sent again: "20.00"
	Token   string
	Back    string
}

// confirmTopUp shows what is about to be recorded; « Confirmer » posts the
// same form with confirm=1.
func (w *Web) confirmTopUp(c *gin.Context, st school.Station, u school.StaffUser, pupilID int64, amount decimal.Decimal, token string) {
	l := lang(c)
	p, err := w.store.Pupil(c.Request.Context(), u.TenantID, pupilID)
	if errors.Is(err, school.ErrNotFound) || (err == nil && (!p.Active || p.SchoolID != st.SchoolID || p.WalletAccountID == 0)) {
		w.renderKiosk(c, http.StatusUnprocessableEntity, kioskData{}, w.cat.T(l, "terminal.kiosk.pupil_unavailable"), "")
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	d := confirmData{Station: st, PupilID: p.ID, Pupil: strings.TrimSpace(p.FirstName + " " + p.LastName), Class: p.ClassCode,
		Amount: i18n.FormatEUR(amount, l), Typed: amount.StringFixed(2), Token: token,
		Back: "/staff/kiosk/" + url.PathEscape(st.Code) + "?pupil=" + strconv.FormatInt(p.ID, 10)}
	w.render(c, http.StatusOK, "kiosk_confirm.html", page{Title: w.cat.T(l, "terminal.kiosk.confirm_title"), User: &u, Data: d})
}

// voidView fills the receipt page's void part: what happened, or the form
// when the user may void it (the cashier on the receipt's day, the
// accountant any day, by a correcting entry).
func (w *Web) voidView(c *gin.Context, v *receiptView, u school.StaffUser, loc *time.Location) error {
	l := lang(c)
	if v.VoidedAt != nil {
		v.VoidedWhen = localWhen(*v.VoidedAt, loc, l)
		v.VoidedBy = w.kiosk.StaffName(c.Request.Context(), u.TenantID, v.Receipt.VoidedBy)
		return nil
	}
	from, to := kiosk.DayBounds(w.now(), loc)
	sameDay := !v.CreatedAt.Before(from) && v.CreatedAt.Before(to)
	switch {
	case u.Can(school.RoleAccountant):
		v.CanVoid, v.Correction = true, !sameDay
	case u.Can(school.RoleKiosk):
		v.CanVoid = sameDay
	}
	tok, err := w.sessions.Token(c)
	v.CSRF = tok
	return err
}

// kioskVoidPost voids a receipt with a reason (audited), then shows it.
func (w *Web) kioskVoidPost(c *gin.Context) {
	ctx := c.Request.Context()
	st, u, err := w.kioskFor(c, school.RoleKiosk, school.RoleAccountant)
	if err != nil {
		w.fail(c, err)
		return
	}
	l := lang(c)
	ref := c.Param("ref")
	reason := strings.TrimSpace(c.PostForm("reason"))
	rc, err := w.kiosk.VoidReceipt(ctx, kiosk.VoidRequest{TenantID: u.TenantID, Station: st.Code, Reference: ref, Reason: reason,
		Actor: u.Actor(), Correction: u.Can(school.RoleAccountant)})
	refuse := func(key string) { w.renderReceipt(c, http.StatusUnprocessableEntity, "", w.cat.T(l, key)) }
	switch {
	case errors.Is(err, kiosk.ErrVoidReason):
		refuse("terminal.kiosk.void_reason_needed")
		return
	case errors.Is(err, kiosk.ErrVoidTooLate):
		refuse("terminal.kiosk.void_too_late")
		return
	case errors.Is(err, kiosk.ErrAlreadyVoided):
		refuse("terminal.kiosk.void_already")
		return
	case errors.Is(err, kiosk.ErrVoidFunds):
		refuse("terminal.kiosk.void_funds")
		return
	case errors.Is(err, ledger.ErrPeriodClosed):
		refuse("terminal.reason.period_closed")
		return
	case err != nil:
		w.fail(c, err)
		return
	}
	action := "kiosk.receipt_void"
	if u.Can(school.RoleAccountant) {
		action = "kiosk.receipt_correct"
	}
	if err := w.store.Audit(ctx, u.TenantID, u.Actor(), action, "pupil:"+strconv.FormatInt(rc.PupilID, 10),
		map[string]any{"station": st.Code, "reference": rc.Reference, "amount": rc.Amount.StringFixed(2), "reason": rc.VoidReason,
			"reversal": rc.VoidTransferID}); err != nil {
		w.log.Error("audit receipt void", "reference", rc.Reference, "err", err)
	}
	c.Redirect(http.StatusSeeOther, "/staff/kiosk/"+url.PathEscape(st.Code)+"/receipts/"+url.PathEscape(rc.Reference)+"?notice=voided")
}
