package portal_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"tartine/booking"
	"tartine/portal"
)

// discard is a ResponseWriter that keeps only the last body written.
type discard struct {
	h    http.Header
	body bytes.Buffer
}

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discard) Write(b []byte) (int, error) { return d.body.Write(b) }
func (d *discard) WriteHeader(int)             {}

// BenchmarkBookingsPage renders Lucas's bookings page for December 2026
// (every school day open and ahead of the fixture's 26 November, five of
// them booked): the template and view data of issue 17's heaviest page,
// without the request and the database. TARTINE_BENCH_HTML=file writes the
// page once, to compare the HTML of two builds.
func BenchmarkBookingsPage(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	brussels, _ := time.LoadLocation("Europe/Brussels")
	for _, day := range []int{1, 3, 4, 7, 8} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: time.Date(2026, 12, day, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"}); err != nil {
			b.Fatal(err)
		}
	}
	// A sick day reported (its day's forms differ).
	if _, err := f.bk.ReportSick(ctx, booking.SickRequest{TenantID: f.tenant, PupilID: f.lucas.ID, From: time.Date(2026, 12, 9, 0, 0, 0, 0, brussels), Until: time.Date(2026, 12, 9, 0, 0, 0, 0, brussels), Actor: "test"}); err != nil {
		b.Fatal(err)
	}
	month := time.Date(2026, 12, 1, 0, 0, 0, 0, brussels)
	if m := os.Getenv("TARTINE_BENCH_MONTH"); m != "" { // to compare the HTML of another month
		month, _ = time.ParseInLocation("2006-01", m, brussels)
	}
	w := &discard{}
	render, err := portal.BookingsPageRenderer(f.app, "anne@example.be", f.tenant, f.lucas.ID, month, w)
	if err != nil {
		b.Fatal(err)
	}
	if err := render(); err != nil {
		b.Fatal(err)
	}
	if out := os.Getenv("TARTINE_BENCH_HTML"); out != "" {
		if err := os.WriteFile(out, w.body.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(w.body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.body.Reset()
		if err := render(); err != nil {
			b.Fatal(err)
		}
	}
}
