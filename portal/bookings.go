package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/mail"
	"tartine/internal/web"
)

// dayView is one school day of the bookings calendar: a cell of the
// month grid and, for an open day, its detail (menu, services, forms).
type dayView struct {
	Day      time.Time
	ISO      string
	Open     bool
	Reason   string
	Past     bool // cut-off passed: no change possible
	Ended    bool // the day is over (before today): what was booked, served or not taken
	Today    bool
	Absent   bool // reported sick
	Cutoff   time.Time
	Menu     []booking.MenuItem
	Services []serviceView
	// Its words and numbers, written once in Go (bookings_view.go: label):
	// the template reads fields rather than calling functions (issue 17).
	Num        int           // the day of the month
	Date       string        // the day in full
	Label      string        // the grid cell's accessible name
	Marks      []serviceView // the services with a booking that stands (booked, consumed, no-show): the grid cell's marks
	CutoffNote string        // "changes until …"
	SickLabel  string        // the sick-day button's accessible name
	SickForm   bool          // a day to come not reported sick
	UnsickForm bool          // a day to come reported sick
}

// serviceView is one bookable service on a day.
type serviceView struct {
	Service booking.Service
	Short   string           // its mark in the grid: "R" (repas), "☀" (morning daycare)
	Booking *booking.Booking // the live booking, if any
	// Written once in Go (bookings_view.go: label).
	Code       string // the service's code
	Label      string // its name for people (page.ServiceLabel)
	Status     string // the booking's status
	StatusText string // the booking's status for people
	Mark       string // "✓", "!" for a no-show
	Price      string // the booking's price when positive, else ""
	Cancel     bool   // a booking that can still be cancelled
}

// serviceMarks are the grid's one-character marks of the services: a meal
// type's initial, a sun and a moon for the daycare sessions.
func serviceMarks(meals []booking.MealType) map[booking.Service]string {
	out := map[booking.Service]string{booking.DaycareMorning: "☀", booking.DaycareEvening: "☾"}
	for _, mt := range meals {
		name := []rune(strings.TrimSpace(mt.Name))
		if len(name) == 0 {
			name = []rune(mt.Code)
		}
		out[booking.Service(mt.Code)] = strings.ToUpper(string(name[:1]))
	}
	return out
}

// weekRow is a week of the month grid, Monday to Friday; a nil cell is
// outside the month.
type weekRow struct {
	Cells [5]*dayView
}

type bookingsData struct {
	Child    child
	Month    time.Time
	Prev     string
	Next     string
	MonthArg string
	Days     []*dayView // open days of the month, for the details
	Weeks    []weekRow
	Services []booking.Service
	Until    string // default end of the weekly pattern (end of term)
	From     string
	Today    string // the sick-day form's default
	Meals    []booking.MealType
	MarkOf   map[booking.Service]string // the grid's marks (legend)
	Weekdays []int                      // the grid's columns, 1 (Monday) to 5
	Text     bookingsText               // the words every day repeats (label)
}

func (a *App) bookings(c *gin.Context) {
	acct, ch, ok := a.child(c)
	if !ok {
		return
	}
	d, err := a.bookingsView(c.Request.Context(), ch, a.parseMonth(c.Query("month")))
	if err != nil {
		a.fail(c, err)
		return
	}
	d.label(page{Page: web.Page{Lang: a.lang(c, acct), Cat: a.Catalog}})
	a.render(c, http.StatusOK, "bookings", "portal.bookings.title", d, acct)
}

// bookingsView is the bookings page's data for a child's month.
func (a *App) bookingsView(ctx context.Context, ch child, month time.Time) (bookingsData, error) {
	last := month.AddDate(0, 1, -1)
	now := a.Now()
	d := bookingsData{Child: ch, Month: month, MonthArg: month.Format("2006-01"),
		Prev: month.AddDate(0, -1, 0).Format("2006-01"), Next: month.AddDate(0, 1, 0).Format("2006-01")}
	today := now.In(brussels())
	todayISO := today.Format("2006-01-02")
	// One round trip whatever the number of days: calendar, cut-offs and
	// sick days, meal types, menus, bookings and the end of the term.
	mo, err := a.Booking.Month(ctx, ch.TenantID, ch.SchoolID, ch.ID, month, last, today)
	if err != nil {
		return bookingsData{}, err
	}
	d.Meals = mo.Meals
	for _, mt := range mo.Meals {
		d.Services = append(d.Services, booking.Service(mt.Code))
	}
	d.Services = append(d.Services, booking.DaycareMorning, booking.DaycareEvening)
	marks := serviceMarks(mo.Meals)
	d.MarkOf, d.Weekdays = marks, []int{1, 2, 3, 4, 5}
	absent := map[string]bool{}
	for _, day := range mo.Absent {
		absent[day.Format("2006-01-02")] = true
	}
	bks := mo.Bookings
	var week *weekRow
	for _, ds := range mo.Days {
		wd := ds.Day.Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		iso := ds.Day.Format("2006-01-02")
		v := &dayView{Day: ds.Day, ISO: iso, Open: ds.Open, Reason: ds.Reason, Today: iso == todayISO,
			Ended: iso < todayISO, Absent: absent[iso]}
		if week == nil || wd == time.Monday {
			d.Weeks = append(d.Weeks, weekRow{})
			week = &d.Weeks[len(d.Weeks)-1]
		}
		week.Cells[wd-time.Monday] = v
		if !ds.Open {
			continue
		}
		v.Cutoff = ds.Cutoff
		v.Past = !now.Before(v.Cutoff)
		v.Services = make([]serviceView, 0, len(d.Services)) // grown by appending: a tenth of the page's bytes allocated (issue 17)
		for _, m := range mo.Menus {
			if m.Day.Format("2006-01-02") == iso {
				v.Menu = append(v.Menu, m)
			}
		}
		for _, s := range d.Services {
			sv := serviceView{Service: s, Short: marks[s]}
			for i := range bks {
				if bks[i].Day.Format("2006-01-02") == iso && bks[i].Service == s && bks[i].Status != booking.StatusCancelled {
					sv.Booking = &bks[i]
				}
			}
			if sv.Booking == nil && !s.IsDaycare() && wd == time.Wednesday && !mo.Policy.WednesdayMeals {
				continue // no meals on Wednesdays: Book would refuse it
			}
			if sv.Booking == nil && v.Past {
				continue // nothing booked and nothing to do any more
			}
			v.Services = append(v.Services, sv)
		}
		d.Days = append(d.Days, v)
	}
	d.From = today.AddDate(0, 0, 1).Format("2006-01-02")
	d.Today = todayISO
	if !mo.TermEnd.IsZero() {
		d.Until = mo.TermEnd.Format("2006-01-02")
	}
	return d, nil
}

// dayAnchor is the address of a day on the child's bookings page: the
// month and the day's fragment, so that the page opens where the family
// acted (no jump to the top after each booking).
func dayAnchor(ch child, day time.Time) string {
	return ch.Path() + "/bookings?month=" + day.Format("2006-01") + "#day-" + day.Format("2006-01-02")
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
	back := dayAnchor(ch, day)
	if !ok {
		a.flash(c, ch.Path()+"/bookings", "portal.bookings.bad_day")
		return
	}
	ctx := c.Request.Context()
	names := a.mealNames(ctx, ch.TenantID) // before the booking's transaction
	confirmation := func(b booking.Booking) mail.BookingConfirmation {
		return mail.BookingConfirmation{Child: ch.FirstName, Link: a.BaseURL + back,
			Booked: []mail.BookingLine{names.line(b.Day, b.Service, b.Price)}}
	}
	// A new booking's confirmation is enqueued and its wallet read in the
	// booking's own transaction (issue 17: no round trips of their own).
	var (
		queued bool
		wallet *booking.WalletBalance
	)
	b, err := a.Booking.Book(ctx, booking.BookRequest{TenantID: ch.TenantID, PupilID: ch.ID, Day: day,
		Service: booking.Service(c.PostForm("service")), Actor: ch.Actor(),
		InTx: func(ctx context.Context, tx pgx.Tx, b booking.Booking) error {
			var err error
			if queued, err = a.enqueueInTx(ctx, tx, acct, confirmation(b)); err != nil {
				return err
			}
			if ch.WalletID != 0 {
				w, err := a.Booking.WalletTx(ctx, tx, ch.TenantID, ch.WalletID)
				if err != nil {
					return err
				}
				wallet = &w
			}
			return nil
		}})
	if err != nil {
		a.bookingError(c, back, err)
		return
	}
	if !queued { // booked before (or no queue): as always, sent after
		a.sendToAccount(ctx, acct, confirmation(b))
	}
	if wallet != nil {
		a.lowBalanceAfter(ctx, ch, acct, *wallet)
	} else {
		a.lowBalanceCheckChild(ctx, ch)
	}
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
	names := a.mealNames(ctx, ch.TenantID) // before the booking's transaction
	confirmation := func(b booking.Booking) mail.BookingConfirmation {
		return mail.BookingConfirmation{Child: ch.FirstName, Link: a.BaseURL + dayAnchor(ch, b.Day),
			Cancelled: []mail.BookingLine{names.line(b.Day, b.Service, decimal.Zero)}}
	}
	// The booking is read, checked to be the child's and cancelled in one
	// transaction (issue 17: no read of its own before), the confirmation
	// enqueued in it.
	queued := false
	b, err := a.Booking.CancelBooking(ctx, booking.CancelRequest{TenantID: ch.TenantID, BookingID: id, PupilID: ch.ID,
		SchoolID: ch.SchoolID, Actor: ch.Actor(),
		InTx: func(ctx context.Context, tx pgx.Tx, b booking.Booking) error {
			var err error
			queued, err = a.enqueueInTx(ctx, tx, acct, confirmation(b))
			return err
		}})
	if b.ID == 0 { // not found, or another family's booking: nothing to see
		if errors.Is(err, booking.ErrNotFound) {
			a.notFound(c)
		} else {
			a.fail(c, err)
		}
		return
	}
	back := dayAnchor(ch, b.Day)
	if err != nil {
		a.bookingError(c, back, err)
		return
	}
	if !queued { // cancelled before (or no queue): as always, sent after
		a.sendToAccount(ctx, acct, confirmation(b))
	}
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
	names := a.mealNames(ctx, ch.TenantID)
	for _, d := range rep.Days {
		if d.Outcome == booking.OutcomeBooked && d.Booking != nil {
			booked = append(booked, names.line(d.Day, d.Booking.Service, d.Booking.Price))
		}
	}
	if len(booked) > 0 {
		a.sendToAccount(ctx, acct, mail.BookingConfirmation{Child: ch.FirstName, Booked: booked, Link: a.BaseURL + back})
		a.lowBalanceCheckChild(ctx, ch)
	}
	a.flash(c, back+"?month="+from.Format("2006-01")+"#calendar", "portal.bookings.pattern_done",
		fmt.Sprint(rep.Count(booking.OutcomeBooked)), fmt.Sprint(rep.Count(booking.OutcomeAlreadyBooked)),
		fmt.Sprint(len(rep.Days)-rep.Count(booking.OutcomeBooked)-rep.Count(booking.OutcomeAlreadyBooked)))
}

func serviceKind(s booking.Service) string {
	if s.IsDaycare() {
		return "daycare"
	}
	return "meal"
}
