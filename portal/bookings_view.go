package portal

import (
	"html/template"
	"strconv"

	"strings"
)

// The bookings page's words, written once in Go: each action of a
// template is a reflective call (several, with html/template's escapers),
// and the month's page has about a thousand of them — half of the
// server's CPU under a portal rush (issue 17). The month grid's rows and
// the days' details (about 90 % of the page) are written in Go as well
// (GridHTML, DaysHTML: bookings_html.go), escaped as html/template does:
// the HTML is the same, byte for byte.

// bookingsText are the words of the bookings page that every day repeats.
type bookingsText struct {
	Closed        string
	Absent        string
	Today         string
	NothingBooked string
	CutoffPassed  string
	ToCalendar    string
	SickWithdraw  string
	SickDay       string
	Book          string
	Cancel        string
	// For the days' menus (allergen names): the page's language.
	p page
	// The page's other words: its fixed ones (once per language), the
	// month's name, the child's allergens, the services' names.
	W          *bookingsWords
	MonthName  string
	Allergens  string         // the child's allergens' names, ", " between
	ServiceSet []serviceWords // d.Services, in order
}

// label writes the page's words in p's language: the repeated texts once,
// each service's name once, each day's date once.
func (d *bookingsData) label(p page) {
	d.Text = bookingsText{
		Closed:        p.T("portal.bookings.closed"),
		Absent:        p.T("portal.bookings.absent"),
		Today:         p.T("portal.bookings.today"),
		NothingBooked: p.T("portal.bookings.nothing_booked"),
		CutoffPassed:  p.T("portal.bookings.cutoff_passed"),
		ToCalendar:    p.T("portal.bookings.to_calendar"),
		SickWithdraw:  p.T("portal.bookings.sick_withdraw", d.Child.FirstName),
		SickDay:       p.T("portal.bookings.sick_day", d.Child.FirstName),
		Book:          p.T("portal.bookings.book"),
		Cancel:        p.T("portal.bookings.cancel"),
		p:             page{Page: p.Page},
	}
	p.Data = *d // ServiceLabel reads the month's meal types
	d.Text.W = bookingsWordsIn(p)
	d.Text.MonthName = p.T("portal.month." + d.Month.Month().String())
	for i, a := range d.Child.Allergens {
		if i > 0 {
			d.Text.Allergens += ", "
		}
		d.Text.Allergens += p.T("school.allergen." + a)
	}
	// The services' names and the statuses' words, once per page: a month
	// repeats the same few.
	labels := make(map[string]string, len(d.Services))
	statuses := map[string]string{}
	cutoffDay := map[string]string{} // a cut-off's day in full, by day
	for _, w := range d.Weeks {
		for _, v := range w.Cells {
			if v != nil {
				v.Num = v.Day.Day()
			}
		}
	}
	for _, s := range d.Services {
		name := p.ServiceLabel(string(s))
		labels[string(s)] = name
		d.Text.ServiceSet = append(d.Text.ServiceSet, serviceWords{Code: string(s), Mark: d.MarkOf[s], Label: name})
	}
	var label strings.Builder
	for _, v := range d.Days {
		v.Date = p.Date(v.Day)
		label.Reset()
		label.WriteString(v.Date)
		v.Marks = v.Marks[:0]
		for i := range v.Services {
			s := &v.Services[i]
			s.Code = string(s.Service)
			name, ok := labels[s.Code]
			if !ok {
				name = p.ServiceLabel(s.Code)
				labels[s.Code] = name
			}
			s.Label = name
			if s.Booking == nil {
				continue
			}
			s.Status = string(s.Booking.Status)
			text, ok := statuses[s.Status]
			if !ok {
				text = p.T("booking.status." + s.Status)
				statuses[s.Status] = text
			}
			s.StatusText = text
			s.Mark = "✓"
			if s.Status == "noshow" {
				s.Mark = "!"
			}
			if s.Booking.Price.IsPositive() {
				s.Price = p.EUR(s.Booking.Price)
			}
			s.Cancel = !v.Past && s.Status == "booked"
			label.WriteString(" · ")
			label.WriteString(name)
			label.WriteString(" : ")
			label.WriteString(text)
			v.Marks = append(v.Marks, *s)
		}
		if v.Absent {
			label.WriteString(" · ")
			label.WriteString(d.Text.Absent)
		}
		v.Label = label.String()
		if !v.Ended && !v.Past {
			// Only a day still open shows its cut-off (the template's
			// CutoffNote); most days' cut-off is the school day before.
			iso := v.Cutoff.Format("2006-01-02")
			day, ok := cutoffDay[iso]
			if !ok {
				day = p.Date(v.Cutoff)
				cutoffDay[iso] = day
			}
			v.CutoffNote = p.T("portal.bookings.cutoff_at", day, v.Cutoff.Format("15:04"))
		}
		v.SickForm = !v.Ended && !v.Absent
		v.UnsickForm = !v.Ended && v.Absent
	}
}

// GridHTML is the month grid's rows (the template's <tbody>).
func (d bookingsData) GridHTML() template.HTML {
	w := htmlWriter{}
	w.Grow(256 * len(d.Weeks) * 5)
	d.writeGrid(&w)
	return template.HTML(w.String())
}

// DaysHTML is the days' details, with their forms carrying csrf.
func (d bookingsData) DaysHTML(csrf string) template.HTML {
	w := htmlWriter{}
	w.Grow(1024 + 700*len(d.Days)*(1+len(d.Services)))
	d.writeDays(&w, csrf)
	return template.HTML(w.String())
}

// bookingsWords are the bookings page's fixed words in one language.
type bookingsWords struct {
	Title, Months, PrevMonth, NextMonth, AllergensChild, Calendar string
	Weekdays                                                      [5]weekdayWords
	LegendConsumed, LegendNoshow, Absent, FamilyLink              string
	Days, TapDay, AllDays                                         string
	SickTitle, SickHelp, SickFrom, Until, SickSubmit              string
	PatternTitle, Service, WeekdaysLegend, From, UntilHelp        string
	PatternSubmit, Back                                           string
	Mon, Tue, Wed, Thu, Fri                                       string // the weekdays' names
}

// weekdayWords are a weekday's name and its column's short name.
type weekdayWords struct{ Name, Short string }

// bookingsWordsIn are the bookings page's fixed words in p's language.
func bookingsWordsIn(p page) *bookingsWords {
	return cachedWords(p.Cat, p.Lang, "bookings", func(t func(string) string) *bookingsWords {
		w := &bookingsWords{Title: t("portal.bookings.title"), Months: t("portal.history.months"),
			PrevMonth: t("portal.prev_month"), NextMonth: t("portal.next_month"),
			AllergensChild: t("portal.bookings.allergens_child"), Calendar: t("portal.bookings.calendar"),
			LegendConsumed: t("portal.bookings.legend_consumed"), LegendNoshow: t("portal.bookings.legend_noshow"),
			Absent: t("portal.bookings.absent"), FamilyLink: t("portal.bookings.family_link"),
			Days: t("portal.bookings.days"), TapDay: t("portal.bookings.tap_day"), AllDays: t("portal.bookings.all_days"),
			SickTitle: t("portal.bookings.sick_title"), SickHelp: t("portal.bookings.sick_help"),
			SickFrom: t("portal.bookings.sick_from"), Until: t("portal.bookings.until"), SickSubmit: t("portal.bookings.sick_submit"),
			PatternTitle: t("portal.bookings.pattern_title"), Service: t("portal.bookings.service"),
			WeekdaysLegend: t("portal.bookings.weekdays"), From: t("portal.bookings.from"),
			UntilHelp: t("portal.bookings.until_help"), PatternSubmit: t("portal.bookings.pattern_submit"), Back: t("common.back")}
		for i := range w.Weekdays {
			n := strconv.Itoa(i + 1)
			w.Weekdays[i] = weekdayWords{Name: t("portal.weekday." + n), Short: t("portal.bookings.wd." + n)}
		}
		w.Mon, w.Tue, w.Wed, w.Thu, w.Fri = w.Weekdays[0].Name, w.Weekdays[1].Name, w.Weekdays[2].Name, w.Weekdays[3].Name, w.Weekdays[4].Name
		return w
	})
}

// serviceWords are a service's code, mark and name (the legend, the
// weekly pattern's choices).
type serviceWords struct{ Code, Mark, Label string }
