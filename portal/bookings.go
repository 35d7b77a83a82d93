package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/mail"
)

// dayView is one school day of the bookings calendar.
type dayView struct {
	Day      time.Time
	ISO      string
	Open     bool
	Reason   string
	Past     bool // cut-off passed: no change possible
	Cutoff   time.Time
	Menu     []booking.MenuItem
	Services []serviceView
	WeekGap  bool // first day of a new week
}

// serviceView is one bookable service on a day.
type serviceView struct {
	Service booking.Service
	Booking *booking.Booking // the live booking, if any
}

type bookingsData struct {
	Child    child
	Month    time.Time
	Prev     string
	Next     string
	MonthArg string
	Days     []dayView
	Services []booking.Service
	Until    string // default end of the weekly pattern (end of term)
	From     string
	Meals    []booking.MealType
}

func (a *App) bookings(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	month := a.parseMonth(c.Query("month"))
	last := month.AddDate(0, 1, -1)
	now := a.Now()
	d := bookingsData{Child: ch, Month: month, MonthArg: month.Format("2006-01"),
		Prev: month.AddDate(0, -1, 0).Format("2006-01"), Next: month.AddDate(0, 1, 0).Format("2006-01")}
	today := now.In(brussels())
	// One round trip whatever the number of days: calendar and cut-offs,
	// meal types, menus, bookings and the end of the term.
	mo, err := a.Booking.Month(ctx, ch.TenantID, ch.SchoolID, ch.ID, month, last, today)
	if err != nil {
		a.fail(c, err)
		return
	}
	d.Meals = mo.Meals
	for _, mt := range mo.Meals {
		d.Services = append(d.Services, booking.Service(mt.Code))
	}
	d.Services = append(d.Services, booking.DaycareMorning, booking.DaycareEvening)
	bks := mo.Bookings
	prevWeek := -1
	for _, ds := range mo.Days {
		if wd := ds.Day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		iso := ds.Day.Format("2006-01-02")
		_, week := ds.Day.ISOWeek()
		v := dayView{Day: ds.Day, ISO: iso, Open: ds.Open, Reason: ds.Reason, WeekGap: prevWeek != -1 && week != prevWeek}
		prevWeek = week
		if ds.Open {
			v.Cutoff = ds.Cutoff
			v.Past = !now.Before(v.Cutoff)
			for _, m := range mo.Menus {
				if m.Day.Format("2006-01-02") == iso {
					v.Menu = append(v.Menu, m)
				}
			}
			for _, s := range d.Services {
				sv := serviceView{Service: s}
				for i := range bks {
					if bks[i].Day.Format("2006-01-02") == iso && bks[i].Service == s && bks[i].Status != booking.StatusCancelled {
						sv.Booking = &bks[i]
					}
				}
				if sv.Booking == nil && !s.IsDaycare() && ds.Day.Weekday() == time.Wednesday && !mo.Policy.WednesdayMeals {
					continue // no meals on Wednesdays: Book would refuse it
				}
				v.Services = append(v.Services, sv)
			}
		}
		d.Days = append(d.Days, v)
	}
	d.From = today.AddDate(0, 0, 1).Format("2006-01-02")
	if !mo.TermEnd.IsZero() {
		d.Until = mo.TermEnd.Format("2006-01-02")
	}
	a.render(c, http.StatusOK, "bookings", "portal.bookings.title", d, acct)
}

// parseDay reads "YYYY-MM-DD" as a school-local day.
func parseDay(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02", s, brussels())
	return t, err == nil
}

func (a *App) book(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	day, ok := parseDay(c.PostForm("day"))
	back := ch.Path() + "/bookings?month=" + day.Format("2006-01")
	if !ok {
		a.flash(c, ch.Path()+"/bookings", "portal.bookings.bad_day")
		return
	}
	ctx := c.Request.Context()
	b, err := a.Booking.Book(ctx, booking.BookRequest{TenantID: ch.TenantID, PupilID: ch.ID, Day: day,
		Service: booking.Service(c.PostForm("service")), Actor: ch.Actor()})
	if err != nil {
		a.bookingError(c, back, err)
		return
	}
	a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Link: a.BaseURL + back,
		Booked: []mail.BookingLine{{Date: b.Day, Service: serviceKind(b.Service), Price: b.Price}}})
	a.LowBalanceCheck(ctx, ch.TenantID, ch.ID)
	a.flash(c, back, "booked")
}

// bookingError shows a booking error as a flash message, or fails.
func (a *App) bookingError(c *gin.Context, back string, err error) {
	key := booking.MessageKey(err)
	if key == "error.internal" {
		a.fail(c, err)
		return
	}
	if errors.Is(err, booking.ErrInvalid) {
		a.flash(c, back, key, "")
		return
	}
	a.flash(c, back, key)
}

func (a *App) cancel(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id, err := strconv.ParseInt(c.PostForm("booking"), 10, 64)
	if err != nil {
		a.notFound(c)
		return
	}
	b, err := a.Booking.Get(ctx, ch.TenantID, id)
	if errors.Is(err, booking.ErrNotFound) || (err == nil && b.PupilID != ch.ID) {
		a.notFound(c) // another family's booking: nothing to see
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	back := ch.Path() + "/bookings?month=" + b.Day.Format("2006-01")
	if _, err := a.Booking.Cancel(ctx, ch.TenantID, id, ch.Actor()); err != nil {
		a.bookingError(c, back, err)
		return
	}
	a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Link: a.BaseURL + back,
		Cancelled: []mail.BookingLine{{Date: b.Day, Service: serviceKind(b.Service)}}})
	a.flash(c, back, "cancelled")
}

func (a *App) pattern(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	back := ch.Path() + "/bookings"
	var wds []time.Weekday
	for _, v := range c.PostFormArray("weekday") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			a.flash(c, back, "portal.bookings.bad_pattern")
			return
		}
		wds = append(wds, time.Weekday(n))
	}
	from, ok1 := parseDay(c.PostForm("from"))
	until, ok2 := parseDay(c.PostForm("until"))
	if len(wds) == 0 || !ok1 || !ok2 || until.Before(from) {
		a.flash(c, back, "portal.bookings.bad_pattern")
		return
	}
	rep, err := a.Booking.BookPattern(ctx, booking.PatternRequest{TenantID: ch.TenantID, PupilID: ch.ID,
		Service: booking.Service(c.PostForm("service")), Weekdays: wds, From: from, Until: until, Actor: ch.Actor()})
	if err != nil {
		a.bookingError(c, back, err)
		return
	}
	var booked []mail.BookingLine
	for _, d := range rep.Days {
		if d.Outcome == booking.OutcomeBooked && d.Booking != nil {
			booked = append(booked, mail.BookingLine{Date: d.Day, Service: serviceKind(d.Booking.Service), Price: d.Booking.Price})
		}
	}
	if len(booked) > 0 {
		a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Booked: booked, Link: a.BaseURL + back})
		a.LowBalanceCheck(ctx, ch.TenantID, ch.ID)
	}
	a.flash(c, back+"?month="+from.Format("2006-01"), "portal.bookings.pattern_done",
		fmt.Sprint(rep.Count(booking.OutcomeBooked)), fmt.Sprint(rep.Count(booking.OutcomeAlreadyBooked)),
		fmt.Sprint(len(rep.Days)-rep.Count(booking.OutcomeBooked)-rep.Count(booking.OutcomeAlreadyBooked)))
}

func serviceKind(s booking.Service) string {
	if s.IsDaycare() {
		return "daycare"
	}
	return "meal"
}
