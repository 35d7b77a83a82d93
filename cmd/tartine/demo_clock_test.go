package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/internal/i18n"
	"tartine/internal/tz"
)

func TestLatestOpenDay(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, tz.Brussels) }
	for _, tc := range []struct {
		name string
		now  time.Time
		want string
	}{
		{"Saturday: the Friday before", at(2026, 12, 5, 10), "2026-12-04"},
		{"Thursday: that day", at(2026, 12, 3, 20), "2026-12-03"},
		{"Wednesday (no meals): Tuesday", at(2026, 12, 2, 10), "2026-12-01"},
		{"winter break: the Friday before it", at(2026, 12, 30, 10), "2026-12-18"},
		{"Sunday in the autumn break: the Friday before it", at(2026, 10, 25, 10), "2026-10-16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := latestOpenDay(tc.now).Format(time.DateOnly); got != tc.want {
				t.Errorf("latestOpenDay(%s) = %s, want %s", tc.now.Format(time.DateOnly), got, tc.want)
			}
		})
	}
	// On a Saturday the demo clock is Friday 11:45 and moves on with real time.
	real := at(2026, 12, 5, 10)
	clock := demoClock(func() time.Time { return real })
	if got := clock().In(tz.Brussels).Format("2006-01-02 15:04"); got != "2026-12-04 11:45" {
		t.Errorf("demo clock = %s, want 2026-12-04 11:45", got)
	}
	real = real.Add(90 * time.Minute)
	if got := clock().In(tz.Brussels).Format("15:04"); got != "13:15" {
		t.Errorf("demo clock 90 min later = %s, want 13:15", got)
	}
	// On a school day it is the real clock.
	real = at(2026, 12, 3, 8)
	if got := demoClock(func() time.Time { return real })(); !got.Equal(real) {
		t.Errorf("demo clock on a school day = %s, want the real time", got)
	}
}

// TestDemoBanner: every HTML page says which day the demo shows; JSON,
// redirects and event streams pass untouched.
func TestDemoBanner(t *testing.T) {
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	day := time.Date(2026, 12, 3, 11, 45, 0, 0, tz.Brussels)
	r.Use(demoBanner(func() time.Time { return day }, cat))
	r.GET("/page", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><html><body class="x"><h1>Bonjour</h1></body></html>`))
	})
	r.GET("/json", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	r.GET("/go", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/page") })
	r.GET("/events", func(c *gin.Context) {
		c.Header("Content-Type", "text/event-stream")
		c.Status(http.StatusOK)
		_, _ = c.Writer.WriteString("data: <body>\n\n")
		c.Writer.Flush()
	})
	get := func(path, lang string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept-Language", lang)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	w := get("/page", "fr-BE")
	want := `<body class="x"><p class="demo-banner" role="note" id="demo-banner"><strong>Démo : jeudi 3 décembre 2026</strong></p><h1>`
	if !strings.Contains(w.Body.String(), want) {
		t.Errorf("page = %s\nwant the banner after <body>", w.Body.String())
	}
	if w.Header().Get("Content-Length") != "" && w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length %s for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
	}
	if w := get("/page", "en"); !strings.Contains(w.Body.String(), "Demo: ") {
		t.Errorf("English page lacks the banner: %s", w.Body.String())
	}
	if w := get("/json", "fr"); strings.Contains(w.Body.String(), "demo-banner") || w.Code != http.StatusOK {
		t.Errorf("JSON touched: %d %s", w.Code, w.Body.String())
	}
	if w := get("/go", "fr"); w.Code != http.StatusSeeOther || strings.Contains(w.Body.String(), "demo-banner") {
		t.Errorf("redirect: %d %s", w.Code, w.Body.String())
	}
	if w := get("/events", "fr"); w.Body.String() != "data: <body>\n\n" || !w.Flushed {
		t.Errorf("event stream held or changed: %q flushed=%v", w.Body.String(), w.Flushed)
	}
}
