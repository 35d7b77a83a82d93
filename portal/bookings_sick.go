package portal

import (
	"errors"
	"fmt"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/mail"
)

// reportSick records the child absent (sick) from "from" to "until" (one
// day when until is empty); the school's policy decides what happens to
// those days' bookings (booking.ReportSick). The family gets the released
// bookings by email, and the page opens at the first day. With "withdraw"
// set it removes the sick day "from" instead (the child is back; released
// bookings stay cancelled).
func (a *App) reportSick(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	back := ch.Path() + "/bookings#sick"
	from, ok1 := parseDay(c.PostForm("from"))
	until, ok2 := from, true
	if v := c.PostForm("until"); v != "" {
		until, ok2 = parseDay(v)
	}
	if !ok1 || !ok2 {
		a.flash(c, back, "portal.bookings.bad_sick")
		return
	}
	ctx := c.Request.Context()
	if c.PostForm("withdraw") != "" {
		// The child is back: the same form with withdraw set.
		err := a.Booking.WithdrawSick(ctx, ch.TenantID, ch.ID, from)
		switch {
		case errors.Is(err, booking.ErrInvalid), errors.Is(err, booking.ErrNotFound):
			a.flash(c, dayAnchor(ch, from), "portal.bookings.bad_sick")
		case err != nil:
			a.fail(c, err)
		default:
			a.flash(c, dayAnchor(ch, from), "portal.bookings.sick_withdrawn", ch.FirstName)
		}
		return
	}
	rep, err := a.Booking.ReportSick(ctx, booking.SickRequest{TenantID: ch.TenantID, PupilID: ch.ID, From: from, Until: until, Actor: ch.Actor()})
	switch {
	case errors.Is(err, booking.ErrInvalid):
		a.flash(c, back, "portal.bookings.bad_sick")
		return
	case errors.Is(err, booking.ErrClosedDay):
		a.flash(c, back, "portal.bookings.sick_closed")
		return
	case err != nil:
		a.bookingError(c, back, err)
		return
	}
	var released []mail.BookingLine
	names := a.mealNames(ctx, ch.TenantID)
	for _, b := range rep.Bookings {
		if b.Outcome == booking.SickReleased {
			released = append(released, names.line(b.Booking.Day, b.Booking.Service, decimal.Zero))
		}
	}
	to := dayAnchor(ch, rep.Days[0])
	if len(released) > 0 {
		a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Cancelled: released, Link: a.BaseURL + to})
	}
	args := []string{ch.FirstName, fmt.Sprint(len(rep.Days)), fmt.Sprint(rep.Count(booking.SickReleased))}
	if kept := rep.Count(booking.SickKept); kept > 0 {
		a.flash(c, to, "portal.bookings.sick_done_kept", append(args, fmt.Sprint(kept))...)
		return
	}
	a.flash(c, to, "portal.bookings.sick_done", args...)
}
