package portal

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tartine/fees"
	"tartine/internal/websession"
)

// Facultatif fees (/portal/c/:tenant/:pupil/fees): the facultatif fees the
// school proposes for a child (a magazine, a group purchase, an optional
// outing), each with its object, date and amount, and the guardian's
// answer — yes or no, which the family may change until the fee is on an
// issued statement. A yes charges the fee on the child's next statement; a
// fee nobody answered is never charged (fees.RecordOptIn, channel portal,
// kept as proof with the guardian and the time). Nothing here is shown to
// the child: these pages are the guardian's.

// feePages serves the opt-in pages on the fee service.
type feePages struct {
	a    *App
	fees *fees.Service
}

// FeeRoutes mounts the facultatif fee pages of a guardian's children on
// svc (package fees). They live beside Routes' child pages, with the same
// session, access check and policy (websession.Guardian).
func (a *App) FeeRoutes(r gin.IRouter, svc *fees.Service) {
	p := &feePages{a: a, fees: svc}
	g := r.Group("/portal/c/:tenant/:pupil/fees", a.Sessions.Middleware(), securityHeaders,
		websession.Require(websession.KindGuardian, a.toLogin), websession.Guardian)
	g.GET("", p.offers)
	g.POST("/:fee", p.answer)
}

type feeOffersData struct {
	Child  child
	Offers []fees.Offer
}

// offers lists the facultatif fees proposed for the child.
func (p *feePages) offers(c *gin.Context) {
	acct, ch, ok := p.a.child(c)
	if !ok {
		return
	}
	offers, err := p.fees.Offers(c.Request.Context(), ch.TenantID, []int64{ch.ID})
	if err != nil {
		p.a.fail(c, err)
		return
	}
	p.a.render(c, http.StatusOK, "fees", "portal.fees.title", feeOffersData{Child: ch, Offers: offers}, acct)
}

// answer records the guardian's yes or no to a facultatif fee.
func (p *feePages) answer(c *gin.Context) {
	acct, ch, ok := p.a.child(c)
	if !ok {
		return
	}
	feeID, err := strconv.ParseInt(c.Param("fee"), 10, 64)
	if err != nil {
		p.a.notFound(c)
		return
	}
	accepted := c.PostForm("answer") == "yes"
	_, err = p.fees.RecordOptIn(c.Request.Context(), ch.TenantID, fees.OptInInput{FeeID: feeID, PupilID: ch.ID, Accepted: accepted,
		Channel: fees.ChannelPortal, GuardianID: ch.GuardianID}, ch.Actor())
	var msg string
	switch {
	case err == nil:
		key := "portal.fees.declined"
		if accepted {
			key = "portal.fees.accepted"
		}
		p.a.flash(c, ch.Path()+"/fees", key)
		return
	case errors.Is(err, fees.ErrNotFound), errors.Is(err, fees.ErrNotFacultatif):
		p.a.notFound(c)
		return
	case errors.Is(err, fees.ErrIssued):
		msg = p.a.Catalog.T(p.a.lang(c, acct), "portal.fees.error.issued")
	case errors.Is(err, fees.ErrCancelled):
		msg = p.a.Catalog.T(p.a.lang(c, acct), "portal.fees.error.cancelled")
	case errors.Is(err, fees.ErrRefused):
		msg = p.a.Catalog.T(p.a.lang(c, acct), "portal.fees.error.refused")
	default:
		p.a.fail(c, err)
		return
	}
	offers, lerr := p.fees.Offers(c.Request.Context(), ch.TenantID, []int64{ch.ID})
	if lerr != nil {
		p.a.fail(c, lerr)
		return
	}
	p.a.formError(c, http.StatusUnprocessableEntity, "fees", "portal.fees.title", msg, feeOffersData{Child: ch, Offers: offers}, acct)
}
