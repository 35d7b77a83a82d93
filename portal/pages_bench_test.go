package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tartine/booking"
)

// BenchmarkPages serves the three GET pages of issue 17's rush loop —
// home, Lucas's bookings page (December 2026, five meals booked, a sick
// day) and his history — whole: the router, the session and account in
// memory, the access check, the statements, the rendering; through a
// router of its own (no TCP), as the running server does for each request.
// Besides ns/op, B/op and allocs/op: cpu-ns/op, the process's CPU (user +
// system) per page, and pg-cpu-ns/op, the PostgreSQL backends' CPU per page
// (Linux /proc; 0 elsewhere): at the rush both share the same two cores.
func BenchmarkPages(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	brussels, _ := time.LoadLocation("Europe/Brussels")
	for _, day := range []int{1, 3, 4, 7, 8} {
		if _, err := f.bk.Book(ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.lucas.ID, Day: time.Date(2026, 12, day, 0, 0, 0, 0, brussels), Service: "repas", Actor: "test"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.bk.ReportSick(ctx, booking.SickRequest{TenantID: f.tenant, PupilID: f.lucas.ID, From: time.Date(2026, 12, 9, 0, 0, 0, 0, brussels), Until: time.Date(2026, 12, 9, 0, 0, 0, 0, brussels), Actor: "test"}); err != nil {
		b.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	f.app.Routes(r)
	u, _ := url.Parse(f.url)
	cookies := anne.http.Jar.Cookies(u)
	lucas := childPath(f.tenant, f.lucas)
	pages := []struct{ name, path string }{
		{"home", "/portal/"},
		{"bookings", lucas + "/bookings?month=2026-12"},
		{"history", lucas + "/history?month=2026-11"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			get := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				for _, c := range cookies {
					req.AddCookie(c)
				}
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", p.path, w.Code, w.Body.String())
				}
				return w
			}
			w := get() // warm the caches (session, account, time zones) as a running server has
			if out := os.Getenv("TARTINE_BENCH_PAGES"); out != "" {
				if err := os.WriteFile(out+"."+p.name+".html", w.Body.Bytes(), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(w.Body.Len()))
			pg := f.backendCPU(b)
			cpu := processCPU()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				get()
				n++
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu)/float64(n), "cpu-ns/op")
			b.ReportMetric(float64(f.backendCPU(b)-pg)/float64(n), "pg-cpu-ns/op")
		})
	}
}

// processCPU is the process's CPU time so far, user and system, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// backendCPU is the CPU time so far of the test database's backends, in
// ns (utime + stime of /proc/<pid>/stat; 0 when unreadable).
func (f *fixture) backendCPU(b *testing.B) int64 {
	rows, err := f.led.Pool().Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(st)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		stt, _ := strconv.ParseInt(fields[12], 10, 64)
		total += (ut + stt) * int64(time.Second/100) // clock ticks of 10 ms (USER_HZ 100)
	}
	return total
}
