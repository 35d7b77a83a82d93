package portal

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
	"tartine/internal/dbtest"
	"tartine/internal/i18n"
	"tartine/internal/mail"
	"tartine/internal/websession"
	"tartine/ledger"
	"tartine/school"
)

// TestShedding: with every slot taken, a portal request waits MaxWait in
// line and then gets the « réessayez dans un instant » page — 503 with
// Retry-After, read from nothing in the database — and once a slot frees
// up the portal answers again. While the canteen is busy, fewer requests
// run at once (MaxInFlightBusy); while the taps need the processors, each
// is followed by a pause of three times its duration (at most busyIdleMax).
func TestShedding(t *testing.T) {
	var canteen, heavy atomic.Bool
	pool := dbtest.New(t)
	led := ledger.New(pool, nil)
	sessions, err := websession.New(pool, websession.Config{BaseURL: "http://127.0.0.1", CookieName: "tartine_portal"})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Deps{Pool: pool, Ledger: led, School: school.New(pool, led, nil), Booking: booking.New(pool, led, nil),
		Sessions: sessions, Catalog: cat, Mail: mail.LogSender{Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxInFlight: 2, MaxInFlightBusy: 1, MaxWait: 50 * time.Millisecond,
		CanteenBusy: canteen.Load, CanteenHeavy: heavy.Load})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	a.Routes(r)
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/portal/login", nil)
		req.Header.Set("Accept-Language", "fr-BE")
		r.ServeHTTP(w, req)
		return w
	}
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("login page with a free slot: %d", w.Code)
	}
	a.shedder.slots.tryAcquire() // two requests in flight
	a.shedder.slots.tryAcquire()
	start := time.Now()
	w := get()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("with every slot taken: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("shed after %v, want after waiting MaxWait (50ms) in line", waited)
	}
	if body := w.Body.String(); !strings.Contains(body, "Réessayez dans un instant") {
		t.Errorf("busy page without « Réessayez dans un instant »:\n%s", body)
	}
	a.shedder.slots.release()
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("login page once a slot is free: %d", w.Code)
	}
	// While the canteen's taps are served, one portal request at a time.
	canteen.Store(true)
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("login page while the canteen is busy, nothing else in flight: %d", w.Code)
	}
	a.shedder.busySlots <- struct{}{} // a portal request in flight during taps
	if w := get(); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("second portal request while the canteen is busy: %d, want 503", w.Code)
	}
	canteen.Store(false)
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("login page once the canteen is quiet: %d", w.Code)
	}
	<-a.shedder.busySlots

	// The pause after a busy request: three times its duration, at most
	// busyIdleMax — only while the canteen is heavy.
	canteen.Store(true)
	heavy.Store(true)
	a.shedder.busySlots <- struct{}{}
	a.shedder.slots.tryAcquire()
	a.shedder.releaseBusy(time.Now().Add(-10 * time.Millisecond))
	if p := time.Until(a.shedder.nextStart); p < 25*time.Millisecond || p > 60*time.Millisecond {
		t.Errorf("after a 10 ms request while busy, the next starts in %v, want 30 ms", p)
	}
	start = time.Now()
	if w := get(); w.Code != http.StatusOK || time.Since(start) < 20*time.Millisecond {
		t.Errorf("request during the pause: %d after %v, want 200 after the pause", w.Code, time.Since(start))
	}
	a.shedder.busySlots <- struct{}{}
	a.shedder.slots.tryAcquire()
	a.shedder.releaseBusy(time.Now().Add(-time.Second))
	if p := time.Until(a.shedder.nextStart); p > busyIdleMax || p < busyIdleMax-50*time.Millisecond {
		t.Errorf("after a 1 s request while busy, the next starts in %v, want busyIdleMax (%v)", p, busyIdleMax)
	}
	if w := get(); w.Code != http.StatusServiceUnavailable {
		t.Errorf("request during a pause longer than MaxWait: %d, want 503", w.Code)
	}
	heavy.Store(false) // busy, not heavy: no pause
	if w := get(); w.Code != http.StatusOK {
		t.Errorf("request during the pause, the canteen busy but not heavy: %d, want 200 at once", w.Code)
	}
	canteen.Store(false)
	if w := get(); w.Code != http.StatusOK {
		t.Fatalf("login page once the canteen is quiet again: %d", w.Code)
	}
}
