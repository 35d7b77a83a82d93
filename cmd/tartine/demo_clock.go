package main

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/i18n"
	"tartine/internal/tz"
)

// The demo's clock
//
// On a weekend or a holiday the demo would show only refusals (« École
// fermée ce jour ») and empty screens. `tartine demo` therefore runs its
// services on a demo clock: the real clock when today is an open school
// day, else the latest open school day before it at 11:45 (lunch), moving
// on with real time from there. Every page says so (demoBanner). Sessions
// and cookies keep the real clock: a browser must not see cookies dated in
// the past.

// demoLunch is when the demo day starts when today is not a school day.
const demoLunch = 11*time.Hour + 45*time.Minute

// openSchoolDay reports whether day (a Brussels date) is a day the demo
// school serves meals: a weekday other than Wednesday, inside the FWB
// school year and outside its breaks and days off (booking.FWBTemplate,
// the calendar the demo school is seeded with).
func openSchoolDay(day time.Time) bool {
	switch day.Weekday() {
	case time.Saturday, time.Sunday, time.Wednesday:
		return false
	}
	civil := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	year, closures := booking.FWBTemplate(booking.SchoolYearOf(civil))
	if civil.Before(year.Start) || civil.After(year.End) {
		return false
	}
	for _, c := range closures {
		if c.Day.Equal(civil) {
			return false
		}
	}
	return true
}

// latestOpenDay returns the latest open school day on or before now's
// Brussels date (searching back a year at most; now's date otherwise).
func latestOpenDay(now time.Time) time.Time {
	local := now.In(tz.Brussels)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, tz.Brussels)
	for i := 0; i < 366; i++ {
		d := day.AddDate(0, 0, -i)
		if openSchoolDay(d) {
			return d
		}
	}
	return day
}

// demoClock returns the demo's clock built on real: real itself when
// today is an open school day, else real shifted to the latest open
// school day at demoLunch.
func demoClock(real func() time.Time) func() time.Time {
	start := real()
	day := latestOpenDay(start)
	local := start.In(tz.Brussels)
	if day.Year() == local.Year() && day.YearDay() == local.YearDay() {
		return real
	}
	offset := day.Add(demoLunch).Sub(start)
	return func() time.Time { return real().Add(offset) }
}

// demoBanner inserts « Démo : jeudi 3 décembre 2026 » at the top of every
// HTML page (after <body…>), in the page's language. Other answers (JSON,
// files, server-sent events) pass untouched: the writer only holds back a
// response whose Content-Type is text/html.
func demoBanner(now func() time.Time, cat *i18n.Catalog) gin.HandlerFunc {
	return func(c *gin.Context) {
		w := &bannerWriter{ResponseWriter: c.Writer}
		c.Writer = w
		c.Next()
		if !w.held {
			return
		}
		l := i18n.Negotiate(c.GetHeader("Accept-Language"))
		if v, err := c.Cookie("lang"); err == nil && v != "" {
			l = i18n.Negotiate(v)
		}
		banner := `<p class="demo-banner" role="note" id="demo-banner"><strong>` +
			cat.T(l, "demo.banner", i18n.FormatDate(now().In(tz.Brussels), l)) + `</strong></p>`
		body := w.buf.Bytes()
		if i := bodyOpenEnd(body); i >= 0 {
			body = append(append(append([]byte{}, body[:i]...), banner...), body[i:]...)
		}
		w.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.ResponseWriter.Write(body)
	}
}

// bodyOpenEnd returns the index just after the <body…> tag, or -1.
func bodyOpenEnd(b []byte) int {
	i := bytes.Index(bytes.ToLower(b), []byte("<body"))
	if i < 0 {
		return -1
	}
	j := bytes.IndexByte(b[i:], '>')
	if j < 0 {
		return -1
	}
	return i + j + 1
}

// bannerWriter holds back an HTML response until the handler is done.
// The status goes to gin's writer, which keeps it until the first write;
// the decision to hold is taken then, when the Content-Type is known.
type bannerWriter struct {
	gin.ResponseWriter
	decided, held bool
	buf           bytes.Buffer
}

func (w *bannerWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	ct := w.ResponseWriter.Header().Get("Content-Type")
	w.held = strings.HasPrefix(ct, "text/html") && w.ResponseWriter.Status() == http.StatusOK
}

func (w *bannerWriter) WriteHeaderNow() {
	w.decide()
	if !w.held {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *bannerWriter) Write(b []byte) (int, error) {
	w.decide()
	if w.held {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *bannerWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func (w *bannerWriter) Written() bool { return w.held || w.ResponseWriter.Written() }

func (w *bannerWriter) Flush() {
	if !w.held {
		w.ResponseWriter.Flush()
	}
}
