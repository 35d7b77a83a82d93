package backoffice

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/payments"
	"tartine/school"
)

// A pupil leaving, on the pupil's page (admins): the leaving day (the
// first day the pupil is no longer at school; a day ahead is fine), which
// cancels the pupil's bookings from that day (the school's decision:
// without the families' cut-off where the school's policy refunds after
// it, otherwise the bookings past their cut-off stay and are counted in
// the message), and, once the pupil has left, what happens to the balance:
// refunded to an IBAN (a refund request that the accountant approves in a
// SEPA batch, refunds.go) or moved to a sibling's wallet; or kept. After
// the organising body's retention period (set here by its admins) the
// scheduled job pseudonymises the pupil (school/retention.go).

// leavingData is the pupil page's leaving card.
type leavingData struct {
	Today      string         // default leaving day (YYYY-MM-DD)
	Siblings   []school.Pupil // who may receive the balance
	Months     int            // the organising body's retention period
	Due        time.Time      // when the personal data goes (zero: not leaving)
	CanSetting bool           // an organising-body admin: may change Months
}

func (a *App) leavingData(c *gin.Context, p school.Pupil) (leavingData, error) {
	ctx := c.Request.Context()
	d := leavingData{Today: civilDay(a.Now().In(brussels())).Format(time.DateOnly), CanSetting: user(c).SchoolID == 0}
	var err error
	if d.Months, err = a.School.RetentionMonths(ctx, p.TenantID); err != nil {
		return d, err
	}
	d.Due = school.RetentionDue(p, d.Months)
	if !p.LeftAt.IsZero() {
		if d.Siblings, err = a.School.Siblings(ctx, p.TenantID, p.ID); err != nil {
			return d, err
		}
	}
	return d, nil
}

// leavePupil records the leaving day and cancels the bookings from it.
func (a *App) leavePupil(c *gin.Context) {
	p, ok := a.pupilParam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	on, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(c.PostForm("left_on")), time.UTC)
	if err != nil {
		a.flash(c, back, "admin.leave.bad_date")
		return
	}
	// The bookings from the leaving day on (a school year at most ahead):
	// the domain's leaving cancels those it may (school.WithBookingCanceller);
	// what is still booked after it is cancelled here when the store has no
	// canceller, or kept because its cut-off passed.
	booked, err := a.bookedFrom(c, p.ID, on)
	if err != nil {
		a.fail(c, err)
		return
	}
	if _, err := a.School.Leave(ctx, u.TenantID, p.ID, on, u.Actor()); err != nil {
		if errors.Is(err, school.ErrInvalid) {
			a.flash(c, back, "admin.leave.refused")
			return
		}
		a.fail(c, err)
		return
	}
	left, err := a.bookedFrom(c, p.ID, on)
	if err != nil {
		a.fail(c, err)
		return
	}
	kept := 0
	for _, b := range left {
		if _, err := a.Booking.Cancel(ctx, u.TenantID, b.ID, u.Actor()); err != nil {
			if errors.Is(err, booking.ErrCutoffPassed) || errors.Is(err, booking.ErrNotCancellable) {
				kept++
				continue
			}
			a.fail(c, err)
			return
		}
	}
	cancelled := len(booked) - kept
	a.flash(c, back, "admin.leave.done", p.FirstName, i18n.FormatDate(on, lang(c)), strconv.Itoa(cancelled), strconv.Itoa(kept))
}

// bookedFrom returns the pupil's bookings still booked from day on (a
// school year at most ahead).
func (a *App) bookedFrom(c *gin.Context, pupilID int64, on time.Time) ([]booking.Booking, error) {
	bks, err := a.Booking.Bookings(c.Request.Context(), user(c).TenantID, pupilID, on, on.AddDate(1, 0, 0))
	if err != nil {
		return nil, err
	}
	booked := bks[:0]
	for _, b := range bks {
		if b.Status == booking.StatusBooked {
			booked = append(booked, b)
		}
	}
	return booked, nil
}

// settleBalance refunds what a pupil who left holds to an IBAN, or moves
// it to a sibling (action=refund|sibling).
func (a *App) settleBalance(c *gin.Context) {
	p, ok := a.pupilParam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	l := lang(c)
	back := fmt.Sprintf("/admin/pupils/%d", p.ID)
	if p.Active || p.LeftAt.IsZero() {
		a.flash(c, back, "admin.balance.not_left")
		return
	}
	switch c.PostForm("action") {
	case "sibling":
		to, _ := strconv.ParseInt(c.PostForm("sibling"), 10, 64)
		amount, err := a.School.TransferToSibling(ctx, u.TenantID, p.ID, to, u.Actor())
		switch {
		case errors.Is(err, school.ErrNothingToMove):
			a.flash(c, back, "admin.balance.nothing")
		case errors.Is(err, school.ErrInvalid), errors.Is(err, school.ErrNotFound):
			a.flash(c, back, "admin.balance.not_sibling")
		case err != nil:
			a.fail(c, err)
		default:
			sib, _ := a.School.Pupil(ctx, u.TenantID, to)
			a.flash(c, back, "admin.balance.moved", i18n.FormatEUR(amount, l), sib.FirstName)
		}
	case "refund":
		r, err := a.bank.RequestRefund(ctx, payments.RefundRequest{TenantID: u.TenantID, PupilID: p.ID, Beneficiary: c.PostForm("beneficiary"),
			IBAN: c.PostForm("iban"), Reason: "Départ de " + p.FirstName + " " + p.LastName, Actor: u.Actor()}, a.Now())
		switch {
		case errors.Is(err, payments.ErrRefundIBAN):
			a.flash(c, back, "admin.refunds.error.iban")
		case errors.Is(err, payments.ErrRefundNothing):
			a.flash(c, back, "admin.balance.nothing")
		case err != nil:
			a.fail(c, err)
		default:
			_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "refund.request", refundSubject(r),
				map[string]any{"refund": r.ID, "amount": r.Amount.StringFixed(2), "iban": r.IBAN, "beneficiary": r.Beneficiary})
			a.flash(c, back, "admin.refunds.requested", i18n.FormatEUR(r.Amount, l), r.Beneficiary)
		}
	default:
		a.flash(c, back, "admin.balance.kept")
	}
}

// saveRetention sets the organising body's retention period (its admins
// only: an admin bound to a school gets 404).
func (a *App) saveRetention(c *gin.Context) {
	u := user(c)
	if u.SchoolID != 0 {
		a.notFound(c)
		return
	}
	back := "/admin/pupils"
	if id, err := strconv.ParseInt(c.PostForm("pupil"), 10, 64); err == nil && id > 0 {
		back = fmt.Sprintf("/admin/pupils/%d", id)
	}
	months, err := strconv.Atoi(strings.TrimSpace(c.PostForm("months")))
	if err == nil {
		err = a.School.SetRetentionMonths(c.Request.Context(), u.TenantID, months, u.Actor())
	}
	if err != nil && !errors.Is(err, school.ErrInvalid) {
		var ne *strconv.NumError
		if !errors.As(err, &ne) {
			a.fail(c, err)
			return
		}
	}
	if err != nil {
		a.flash(c, back, "admin.retention.bad", strconv.Itoa(school.MinRetentionMonths), strconv.Itoa(school.MaxRetentionMonths))
		return
	}
	a.flash(c, back, "admin.retention.saved", strconv.Itoa(months))
}
