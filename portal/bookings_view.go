package portal

// The bookings page's words, written once in Go: each action of a
// template is a reflective call (several, with html/template's escapers),
// and the month's page has about a thousand of them — half of the
// server's CPU under a portal rush (issue 17). The HTML is the same.

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
	}
	p.Data = *d // ServiceLabel reads the month's meal types
	labels := map[string]string{}
	statuses := map[string]string{}
	for _, w := range d.Weeks {
		for _, v := range w.Cells {
			if v != nil {
				v.Num = v.Day.Day()
			}
		}
	}
	for _, v := range d.Days {
		v.Date = p.Date(v.Day)
		v.Label = v.Date
		v.Marks = v.Marks[:0]
		for i := range v.Services {
			s := &v.Services[i]
			s.Code = string(s.Service)
			label, ok := labels[s.Code]
			if !ok {
				label = p.ServiceLabel(s.Code)
				labels[s.Code] = label
			}
			s.Label = label
			s.Action = v.ISO + "-" + s.Code
			s.BookText = d.Text.Book + " " + label
			s.BookLabel = s.BookText + " " + v.Date
			s.CancelLabel = d.Text.Cancel + " " + label + " " + v.Date
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
			v.Label += " · " + label + " : " + text
			v.Marks = append(v.Marks, *s)
		}
		if v.Absent {
			v.Label += " · " + d.Text.Absent
		}
		v.CutoffNote = p.T("portal.bookings.cutoff_at", p.Date(v.Cutoff), v.Cutoff.Format("15:04"))
		v.SickLabel = d.Text.SickDay + " " + v.Date
		v.SickForm = !v.Ended && !v.Absent
		v.UnsickForm = !v.Ended && v.Absent
	}
}
