package backoffice

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/school"
)

// closedRun is consecutive closed weekdays with the same label (a break,
// or a single day off).
type closedRun struct {
	Kind  booking.ClosureKind
	Label string
	Days  []time.Time
}

// First and Last are the run's first and last day.
func (r closedRun) First() time.Time { return r.Days[0] }

// Last is the run's last day.
func (r closedRun) Last() time.Time { return r.Days[len(r.Days)-1] }

type calendarData struct {
	Schools []school.School
	School  school.School
	Years   []booking.SchoolYear
	Year    booking.SchoolYear
	Runs    []closedRun
	Closed  int
	Kinds   []booking.ClosureKind
	Form    closedForm
}

type closedForm struct {
	Day, To, Kind, Label string
	// Booked is the number of bookings the closing would cancel: when
	// non-zero the page asks to confirm (Confirm) before closing.
	Booked int
}

// parseDay reads a date as "2026-11-30" (HTML date field) or "30/11/2026".
func parseDay(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, "02/01/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 2000 && t.Year() < 2100 {
			return t, true
		}
	}
	return time.Time{}, false
}

// calendarData loads the school year's closed days; year is a label
// ("2026-27") or empty for the year of today (or the next one).
func (a *App) calendarData(c *gin.Context, schoolID int64, year string) (calendarData, error) {
	ctx := c.Request.Context()
	u := user(c)
	d := calendarData{Kinds: []booking.ClosureKind{booking.KindClosure, booking.KindHoliday, booking.KindBreak}}
	var err error
	if d.School, d.Schools, err = a.schoolFor(c, schoolID); err != nil {
		return d, err
	}
	if d.Years, err = a.Booking.Years(ctx, u.TenantID, d.School.ID); err != nil {
		return d, err
	}
	if len(d.Years) == 0 {
		return d, nil
	}
	today := civilDay(a.Now())
	d.Year = d.Years[len(d.Years)-1]
	picked := false
	for _, y := range d.Years {
		if y.Label == year {
			d.Year, picked = y, true
			break
		}
	}
	if !picked {
		for _, y := range d.Years {
			if !civilDay(y.End).Before(today) {
				d.Year = y
				break
			}
		}
	}
	days, err := a.Booking.Calendar(ctx, u.TenantID, d.School.ID, d.Year.Start, d.Year.End)
	if err != nil {
		return d, err
	}
	for _, day := range days {
		if day.Open || day.Kind == "" {
			continue
		}
		d.Closed++
		n := len(d.Runs)
		if n > 0 && d.Runs[n-1].Label == day.Reason && d.Runs[n-1].Kind == day.Kind && nextWeekday(d.Runs[n-1].Last()).Equal(civilDay(day.Day)) {
			d.Runs[n-1].Days = append(d.Runs[n-1].Days, civilDay(day.Day))
			continue
		}
		d.Runs = append(d.Runs, closedRun{Kind: day.Kind, Label: day.Reason, Days: []time.Time{civilDay(day.Day)}})
	}
	return d, nil
}

// civilDay is t's date at UTC midnight.
func civilDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// nextWeekday is the weekday after d (Friday → Monday).
func nextWeekday(d time.Time) time.Time {
	d = d.AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// calendar lists the closed days of a school year.
func (a *App) calendar(c *gin.Context) {
	sid, _ := strconv.ParseInt(c.Query("school"), 10, 64)
	d, err := a.calendarData(c, sid, c.Query("year"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.render(c, http.StatusOK, "calendar", "admin.calendar.title", "calendar", d)
}

func calendarURL(schoolID int64, year string) string {
	return fmt.Sprintf("/admin/calendar?school=%d&year=%s", schoolID, year)
}

// addClosedDay closes a weekday (or relabels a closed day).
func (a *App) addClosedDay(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return
	}
	f := closedForm{Day: c.PostForm("day"), To: strings.TrimSpace(c.PostForm("to")), Kind: c.PostForm("kind"), Label: strings.TrimSpace(c.PostForm("label"))}
	l := lang(c)
	reject := func(msg string) {
		d, err := a.calendarData(c, sc.ID, c.PostForm("year"))
		if err != nil {
			a.fail(c, err)
			return
		}
		d.Form = f
		a.formError(c, "calendar", "admin.calendar.title", "calendar", msg, d)
	}
	day, ok := parseDay(f.Day)
	if !ok {
		reject(a.Catalog.T(l, "admin.error.day", f.Day))
		return
	}
	if f.Label == "" || utf8.RuneCountInString(f.Label) > 80 {
		reject(a.Catalog.T(l, "admin.error.closed_label"))
		return
	}
	to := day
	if f.To != "" {
		if to, ok = parseDay(f.To); !ok {
			reject(a.Catalog.T(l, "admin.error.day", f.To))
			return
		}
	}
	if to.Before(day) || to.Sub(day) >= booking.MaxClosedRange*24*time.Hour {
		reject(a.Catalog.T(l, "admin.calendar.error_range", booking.MaxClosedRange))
		return
	}
	// Bookings on those days: show how many will be cancelled and ask to
	// confirm (the families are told by email).
	booked, err := a.Booking.BookedBetween(ctx, u.TenantID, sc.ID, day, to)
	if err != nil {
		a.fail(c, err)
		return
	}
	if booked > 0 && c.PostForm("confirm") != "yes" {
		d, err := a.calendarData(c, sc.ID, c.PostForm("year"))
		if err != nil {
			a.fail(c, err)
			return
		}
		f.Booked = booked
		d.Form = f
		a.render(c, http.StatusOK, "calendar", "admin.calendar.title", "calendar", d)
		return
	}
	cancelled, err := a.Booking.CloseDays(ctx, u.TenantID, sc.ID, day, to, booking.ClosureKind(f.Kind), f.Label, u.Actor())
	if errors.Is(err, booking.ErrInvalid) {
		if day.Equal(to) && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
			reject(a.Catalog.T(l, "admin.error.weekend", day.Format("02/01/2006")))
		} else {
			reject(a.Catalog.T(l, "admin.error.closed_kind", f.Kind))
		}
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "calendar.close", fmt.Sprint("school:", sc.ID),
		map[string]any{"day": day.Format(time.DateOnly), "to": to.Format(time.DateOnly), "kind": f.Kind, "label": f.Label, "bookings_cancelled": len(cancelled)})
	back := calendarURL(sc.ID, c.PostForm("year"))
	if a.Families != nil && len(cancelled) > 0 {
		if err := a.Families.BookingsCancelledBySchool(ctx, u.TenantID, cancelled); err != nil {
			a.Log.Error("calendar: families' email", "school_id", sc.ID, "err", err)
			a.flash(c, back, "tariffs.cancel_mail.failed")
			return
		}
	}
	if len(cancelled) > 0 {
		a.flash(c, back, "admin.calendar.flash_cancelled", day.Format("02/01/2006"), to.Format("02/01/2006"), f.Label, strconv.Itoa(len(cancelled)))
		return
	}
	if day.Equal(to) {
		a.flash(c, back, "admin.flash.day_closed", day.Format("02/01/2006"), f.Label)
		return
	}
	a.flash(c, back, "admin.calendar.flash_range", day.Format("02/01/2006"), to.Format("02/01/2006"), f.Label)
}

// removeClosedDay opens a closed day again.
func (a *App) removeClosedDay(c *gin.Context) {
	ctx := c.Request.Context()
	u := user(c)
	sid, _ := strconv.ParseInt(c.PostForm("school"), 10, 64)
	sc, _, err := a.schoolFor(c, sid)
	if err != nil || sid == 0 {
		a.notFound(c)
		return
	}
	back := calendarURL(sc.ID, c.PostForm("year"))
	day, ok := parseDay(c.PostForm("day"))
	if !ok {
		a.flash(c, back, "admin.error.day", c.PostForm("day"))
		return
	}
	removed, err := a.Booking.RemoveClosedDay(ctx, u.TenantID, sc.ID, day)
	if err != nil {
		a.fail(c, err)
		return
	}
	if !removed {
		a.flash(c, back, "admin.error.not_closed", day.Format("02/01/2006"))
		return
	}
	_ = a.School.Audit(ctx, u.TenantID, u.Actor(), "calendar.open", fmt.Sprint("school:", sc.ID), map[string]any{"day": day.Format(time.DateOnly)})
	a.flash(c, back, "admin.flash.day_opened", day.Format("02/01/2006"))
}
