package portal

import (
	"strconv"
	"strings"
)

// The bookings page's month grid and days, written in Go (issue 17): the
// template's loops over the weeks, the days and their services ran about
// a thousand actions per page, each a reflective call through
// html/template's escapers — most of the page's CPU at a portal rush.
// These functions write the same HTML, byte for byte, as the template
// wrote (its text, its white space, its escaping); the template keeps the
// rest of the page. A change of the days' markup is made here.

// htmlWriter builds HTML: raw text (the markup) and escaped values.
type htmlWriter struct{ strings.Builder }

// raw writes markup as is.
func (w *htmlWriter) raw(s string) { w.WriteString(s) }

// esc writes a value escaped as html/template escapes a string in text
// and in a quoted attribute (its htmlEscaper and attrEscaper): NUL, ", &,
// ', +, < and > replaced, every other byte kept (the bytes replaced are
// ASCII, so never part of a multi-byte character).
func (w *htmlWriter) esc(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(repl)
		last = i + 1
	}
	w.WriteString(s[last:])
}

// form opens a POST form to action (with class, unless "") after lead,
// its CSRF token the first field, on a line of its own indented as its
// first field's lead (lead's indent plus two spaces).
func (w *htmlWriter) form(lead, action, class, csrf string) {
	w.raw(lead)
	w.raw(`<form method="post" action="`)
	w.esc(action)
	if class != "" {
		w.raw(`" class="`)
		w.esc(class)
	}
	w.raw(`">`)
	w.hidden(lead+"  ", "csrf_token", csrf)
}

// hidden writes a hidden field after lead.
func (w *htmlWriter) hidden(lead, name, value string) {
	w.raw(lead)
	w.raw(`<input type="hidden" name="`)
	w.esc(name)
	w.raw(`" value="`)
	w.esc(value)
	w.raw(`">`)
}

// writeGrid writes the grid's rows: a row per week, Monday to Friday.
func (d *bookingsData) writeGrid(w *htmlWriter) {
	tx := &d.Text
	for _, wk := range d.Weeks {
		w.raw("<tr>")
		for _, v := range wk.Cells {
			if v == nil {
				w.raw(`<td class="out"></td>`)
				continue
			}
			if v.Open {
				w.raw(`<td class="open`)
			} else {
				w.raw(`<td class="closed`)
			}
			if v.Today {
				w.raw(" today")
			}
			if v.Ended {
				w.raw(" ended")
			}
			if v.Absent {
				w.raw(" sick")
			}
			w.raw(`">`)
			if v.Open {
				w.raw(`<a href="#day-`)
				w.esc(v.ISO)
				w.raw(`" id="cell-`)
				w.esc(v.ISO)
				w.raw(`" aria-label="`)
				w.esc(v.Label)
				w.raw(`"><span class="num">`)
				w.raw(strconv.Itoa(v.Num))
				w.raw(`</span><span class="marks" aria-hidden="true">`)
				for i := range v.Marks {
					m := &v.Marks[i]
					w.raw(`<span class="mark st-`)
					w.esc(m.Status)
					w.raw(`" data-mark="`)
					w.esc(m.Code)
					w.raw(`">`)
					w.esc(m.Short)
					w.raw(`</span>`)
				}
				if v.Absent {
					w.raw(`<span class="mark st-sick">✚</span>`)
				}
				w.raw(`</span></a>`)
			} else {
				w.raw(`<span class="cell"><span class="num">`)
				w.raw(strconv.Itoa(v.Num))
				w.raw(`</span><span class="sr">`)
				w.esc(tx.Closed)
				if v.Reason != "" {
					w.raw(" — ")
					w.esc(v.Reason)
				}
				w.raw(`</span></span>`)
			}
			w.raw("</td>")
		}
		w.raw("</tr>\n")
	}
}

// writeDays writes each open day's detail: its date, menu, services and
// their forms (carrying csrf), the sick-day forms.
func (d *bookingsData) writeDays(w *htmlWriter, csrf string) {
	tx := &d.Text
	path := d.Child.Path()
	for _, v := range d.Days {
		w.raw("\n<div class=\"day card")
		if v.Today {
			w.raw(" today")
		}
		w.raw(`" id="day-`)
		w.esc(v.ISO)
		w.raw("\">\n  <h3>")
		w.esc(v.Date)
		if v.Today {
			w.raw(` <span class="pill">`)
			w.esc(tx.Today)
			w.raw(`</span>`)
		}
		w.raw("</h3>\n  ")
		if v.Absent {
			w.raw(`<p class="sick-note" role="note">✚ `)
			w.esc(tx.Absent)
			w.raw(`</p>`)
		}
		w.raw("\n  ")
		if len(v.Menu) > 0 {
			d.writeMenu(w, v)
		}
		w.raw("\n  ")
		switch {
		case v.Ended:
			if len(v.Services) == 0 {
				w.raw(`<p class="muted">`)
				w.esc(tx.NothingBooked)
				w.raw(`</p>`)
			}
			w.raw("\n  ")
		case v.Past:
			w.raw(`<p class="muted">`)
			w.esc(tx.CutoffPassed)
			w.raw(`</p>`)
		default:
			w.raw(`<p class="muted"><small>`)
			w.esc(v.CutoffNote)
			w.raw(`</small></p>`)
		}
		w.raw("\n  <div class=\"services\">\n  \n  ")
		for i := range v.Services {
			s := &v.Services[i]
			w.raw("\n    ")
			switch {
			case s.Booking != nil:
				w.raw("\n      <span class=\"booked st-")
				w.esc(s.Status)
				w.raw(`" data-service="`)
				w.esc(s.Code)
				w.raw(`">`)
				w.esc(s.Mark)
				w.raw(" ")
				w.esc(s.Label)
				w.raw(" (")
				w.esc(s.StatusText)
				if s.Price != "" {
					w.raw(", ")
					w.esc(s.Price)
				}
				w.raw(")</span>\n      ")
				if s.Cancel {
					w.form("\n      ", path+"/bookings/cancel", "", csrf)
					w.hidden("\n        ", "booking", strconv.FormatInt(s.Booking.ID, 10))
					w.raw("\n        <button type=\"submit\" class=\"secondary\" data-action=\"cancel-")
					w.esc(v.ISO)
					w.raw("-")
					w.esc(s.Code)
					w.raw(`" aria-label="`)
					w.esc(tx.Cancel)
					w.raw(" ")
					w.esc(s.Label)
					w.raw(" ")
					w.esc(v.Date)
					w.raw(`">`)
					w.esc(tx.Cancel)
					w.raw("</button>\n      </form>")
				}
				w.raw("\n    ")
			case v.Past:
			default:
				w.form("\n      ", path+"/bookings/book", "", csrf)
				w.hidden("\n        ", "day", v.ISO)
				w.hidden("\n        ", "service", s.Code)
				w.raw("\n        <button type=\"submit\" data-action=\"book-")
				w.esc(v.ISO)
				w.raw("-")
				w.esc(s.Code)
				w.raw(`" aria-label="`)
				w.esc(tx.Book)
				w.raw(" ")
				w.esc(s.Label)
				w.raw(" ")
				w.esc(v.Date)
				w.raw(`">`)
				w.esc(tx.Book)
				w.raw(" ")
				w.esc(s.Label)
				w.raw("</button>\n      </form>\n    ")
			}
			w.raw("\n  ")
		}
		w.raw("\n  </div>\n  ")
		if v.UnsickForm {
			w.form("\n  ", path+"/bookings/sick", "sick-day noprint", csrf)
			w.hidden("\n    ", "from", v.ISO)
			w.raw("\n    <button type=\"submit\" name=\"withdraw\" value=\"1\" class=\"secondary\" data-action=\"unsick-")
			w.esc(v.ISO)
			w.raw(`">`)
			w.esc(tx.SickWithdraw)
			w.raw("</button>\n  </form>")
		}
		w.raw("\n  ")
		if v.SickForm {
			w.form("\n  ", path+"/bookings/sick", "sick-day noprint", csrf)
			w.hidden("\n    ", "from", v.ISO)
			w.hidden("\n    ", "until", v.ISO)
			w.raw("\n    <button type=\"submit\" class=\"secondary\" data-action=\"sick-")
			w.esc(v.ISO)
			w.raw(`" aria-label="`)
			w.esc(tx.SickDay)
			w.raw(" ")
			w.esc(v.Date)
			w.raw(`">✚ `)
			w.esc(tx.SickDay)
			w.raw("</button>\n  </form>")
		}
		w.raw("\n  <p class=\"noprint\"><small><a href=\"#calendar\">↑ ")
		w.esc(tx.ToCalendar)
		w.raw("</a></small></p>\n</div>\n")
	}
}

// writeMenu writes a day's menu, each dish containing one of the child's
// allergens marked.
func (d *bookingsData) writeMenu(w *htmlWriter, v *dayView) {
	p := d.Text.p
	allergen := func(a string) string { return p.T("school.allergen." + a) }
	w.raw(`<ul class="menu">`)
	for _, m := range v.Menu {
		hit := m.Contains(d.Child.Allergens)
		if len(hit) > 0 {
			w.raw(`<li class="allergen-hit">`)
			w.raw(`<strong class="warn">⚠ `)
			w.esc(p.T("portal.bookings.allergen_hit", d.Child.FirstName))
			w.raw(" ")
			for i, a := range hit {
				if i > 0 {
					w.raw(", ")
				}
				w.esc(allergen(a))
			}
			w.raw(`</strong> `)
		} else {
			w.raw(`<li>`)
		}
		if m.Course != "" {
			w.esc(m.Course)
			w.raw(" : ")
		}
		w.esc(m.Dish)
		if len(m.Allergens) > 0 {
			w.raw(" <small>(")
			w.esc(p.T("portal.bookings.allergens"))
			w.raw(" ")
			for i, a := range m.Allergens {
				if i > 0 {
					w.raw(", ")
				}
				w.esc(allergen(a))
			}
			w.raw(")</small>")
		}
		w.raw(`</li>`)
	}
	w.raw(`</ul>`)
}
