package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tartine/internal/jobs"
	"tartine/internal/mail"
)

// useQueue makes the fixture's portal send its emails through the job
// queue, as the server does (the confirmation is a job insert, counted with
// the request's statements). The queue is not started: nothing but the
// request queries the database.
func useQueue(t testing.TB, f *fixture) {
	t.Helper()
	direct, err := mail.NewSMTP(mail.Config{Addr: f.smtp.Addr, From: "Tartine <noreply@ecole.be>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(jobs.Config{Pool: f.app.Pool, Mail: direct})
	if err != nil {
		t.Fatal(err)
	}
	f.app.Mail = q
}

// postOnly sends a form and returns its answer without following the
// redirect (the bookings page it leads to is counted by
// TestPagesQueryCount): the status and where it leads.
func (c *client) postOnly(path string, vals url.Values) (int, string) {
	c.t.Helper()
	vals.Set("csrf_token", c.csrf)
	req, _ := http.NewRequest(http.MethodPost, c.f.url+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := &http.Client{Jar: c.http.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// statements returns how many statements a form's POST sent (its redirect
// not followed), with its status and location.
func (c *client) statements(path string, vals url.Values) (int64, int, string) {
	c.t.Helper()
	before := c.f.guard.Queries()
	code, loc := c.postOnly(path, vals)
	return c.f.guard.Queries() - before, code, loc
}

// bookingID returns the id of the live booking of pupil on day (service
// repas).
func (f *fixture) bookingID(pupil int64, day string) int64 {
	f.t.Helper()
	var id int64
	if err := f.app.Pool.QueryRow(context.Background(), `SELECT id FROM bookings WHERE tenant_id = $1 AND pupil_id = $2 AND day = $3 AND service = 'repas' AND status <> 'cancelled'`,
		f.tenant, pupil, day).Scan(&id); err != nil {
		f.t.Fatalf("booking of %s: %v", day, err)
	}
	return id
}

// TestBookCancelStatements (issue 17, fifth pass): booking and cancelling a
// meal from the portal, the confirmation email enqueued and the low-balance
// check included, send at most a fixed number of statements, the session
// and the account in memory. Before this pass: book 20 (of which 15 round
// trips of their own), cancel 18. After: book 15 — the access check, the
// pupil and school, the calendar, meal type and tariff and existing
// booking (one round trip), then one transaction with the row, the hold,
// the confirmation job and the wallet's balance; cancel 13 — the access
// check, then one transaction: the booking locked with its school and
// calendar (one round trip), the hold voided (the ledger's 4), the row,
// the confirmation job. The job queue adds a notification to either (one
// statement) at most once per interval of its own: the budgets allow it
// (a fresh-clone run saw book at 16).
func TestBookCancelStatements(t *testing.T) {
	const bookBudget, cancelBudget = 15 + 1, 13 + 1
	f := newFixture(t)
	useQueue(t, f)
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	lucas := childPath(f.tenant, f.lucas)
	anne.get(lucas + "/bookings?month=2026-12") // warm the caches as a running server has; the form's token
	// Warm the package's caches with a first booking and cancellation.
	if _, code, _ := anne.statements(lucas+"/bookings/book", url.Values{"day": {"2026-12-03"}, "service": {"repas"}}); code != http.StatusSeeOther {
		t.Fatalf("book: %d", code)
	}
	if _, code, _ := anne.statements(lucas+"/bookings/cancel", url.Values{"booking": {strconv.FormatInt(f.bookingID(f.lucas.ID, "2026-12-03"), 10)}}); code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", code)
	}
	var queued0 int
	if err := f.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'email'`).Scan(&queued0); err != nil {
		t.Fatal(err)
	}

	n, code, loc := anne.statements(lucas+"/bookings/book", url.Values{"day": {"2026-12-04"}, "service": {"repas"}})
	t.Logf("book: %d statements", n)
	if code != http.StatusSeeOther || !strings.Contains(loc, "#day-2026-12-04") {
		t.Fatalf("book: %d → %q", code, loc)
	}
	if n > bookBudget {
		t.Errorf("book: %d statements, want at most %d", n, bookBudget)
	}
	id := f.bookingID(f.lucas.ID, "2026-12-04")
	n, code, loc = anne.statements(lucas+"/bookings/cancel", url.Values{"booking": {strconv.FormatInt(id, 10)}})
	t.Logf("cancel: %d statements", n)
	if code != http.StatusSeeOther || !strings.Contains(loc, "#day-2026-12-04") {
		t.Fatalf("cancel: %d → %q", code, loc)
	}
	if n > cancelBudget {
		t.Errorf("cancel: %d statements, want at most %d", n, cancelBudget)
	}
	// Both confirmations were enqueued.
	var queued int
	if err := f.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'email'`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued-queued0 != 2 {
		t.Errorf("%d emails enqueued, want 2 (the booking's and the cancellation's confirmations)", queued-queued0)
	}
	// Re-booking a booked day and cancelling a cancelled booking cost no
	// more.
	anne.statements(lucas+"/bookings/book", url.Values{"day": {"2026-12-07"}, "service": {"repas"}})
	if n, code, _ := anne.statements(lucas+"/bookings/book", url.Values{"day": {"2026-12-07"}, "service": {"repas"}}); code != http.StatusSeeOther || n > bookBudget {
		t.Errorf("book again: %d statements, status %d", n, code)
	} else {
		t.Logf("book again: %d statements", n)
	}
	if n, code, _ := anne.statements(lucas+"/bookings/cancel", url.Values{"booking": {strconv.FormatInt(id, 10)}}); code != http.StatusSeeOther || n > cancelBudget {
		t.Errorf("cancel again: %d statements, status %d", n, code)
	} else {
		t.Logf("cancel again: %d statements", n)
	}
}

// backendCPU returns the CPU time used so far by the PostgreSQL backends of
// the fixture's database (from /proc), and ok false where /proc cannot say.
func backendCPU(f *fixture) (time.Duration, bool) {
	rows, _ := f.app.Pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, false
	}
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(fields[11], 10, 64) // utime, field 14
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true // USER_HZ = 100
}

// selfCPU is the CPU time of this process (the server's side: handler,
// pgx, and the HTTP client, the same for both builds).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBookCancel books and cancels a meal from the portal (POST, the
// redirect not followed), with the confirmation emails enqueued and the
// low-balance check, as a parent of issue 17's rush does: per op, one book
// and one cancel. Reports the statements per op and the CPU per op of this
// process (go-cpu-ms/op) and of the database's backends (pg-cpu-ms/op).
func BenchmarkBookCancel(b *testing.B) {
	f := newFixture(b)
	useQueue(b, f)
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	lucas := childPath(f.tenant, f.lucas)
	anne.get(lucas + "/bookings?month=2026-12")
	days := []string{"2026-12-01", "2026-12-03", "2026-12-04", "2026-12-07", "2026-12-08"}
	round := func(day string) {
		if _, code, _ := anne.statements(lucas+"/bookings/book", url.Values{"day": {day}, "service": {"repas"}}); code != http.StatusSeeOther {
			b.Fatalf("book: %d", code)
		}
		var id int64
		if err := f.app.Pool.QueryRow(context.Background(), `SELECT id FROM bookings WHERE tenant_id = $1 AND pupil_id = $2 AND day = $3 AND status = 'booked'`,
			f.tenant, f.lucas.ID, day).Scan(&id); err != nil {
			b.Fatal(err)
		}
		if _, code, _ := anne.statements(lucas+"/bookings/cancel", url.Values{"booking": {strconv.FormatInt(id, 10)}}); code != http.StatusSeeOther {
			b.Fatalf("cancel: %d", code)
		}
	}
	round(days[0]) // warm the caches
	q0, go0 := f.guard.Queries(), selfCPU()
	pg0, pgOK := backendCPU(f)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		round(days[i%len(days)])
		i++
	}
	b.StopTimer()
	// The id lookup of each round (1 statement) is the benchmark's own.
	b.ReportMetric(float64(f.guard.Queries()-q0-int64(i))/float64(i), "stmts/op")
	b.ReportMetric(float64(selfCPU()-go0)/float64(time.Millisecond)/float64(i), "go-cpu-ms/op")
	if pg1, ok := backendCPU(f); ok && pgOK {
		b.ReportMetric(float64(pg1-pg0)/float64(time.Millisecond)/float64(i), "pg-cpu-ms/op")
	}
}

// TestBookLowBalanceInTx: with the job queue, a booking's confirmation is
// enqueued with the booking and its low-balance alert decided on the
// balance read in its transaction: below the threshold one alert (and not
// again within 24 hours), above it none, a refused booking enqueues
// nothing, and a threshold just raised by the family counts at once
// (WalletDebited's filter, read at most once a minute, is not asked then).
func TestBookLowBalanceInTx(t *testing.T) {
	f := newFixture(t)
	useQueue(t, f)
	ctx := context.Background()
	anne := f.accountFor(f.anne, "anne@example.be", "un mot de passe assez long")
	counts := func() (jobs, alerts, marks int) {
		t.Helper()
		if err := f.app.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_job WHERE kind = 'email'),
			(SELECT count(*) FROM river_job WHERE kind = 'email' AND args::text LIKE '%seuil%'),
			(SELECT count(*) FROM portal_low_balance_alerts)`).Scan(&jobs, &alerts, &marks); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := func(what string, jobs, alerts, marks int) {
		t.Helper()
		if j, a, m := counts(); j != jobs || a != alerts || m != marks {
			t.Errorf("%s: %d email jobs, %d alerts, %d marks; want %d, %d, %d", what, j, a, m, jobs, alerts, marks)
		}
	}
	book := func(ch, day string) {
		t.Helper()
		if _, code, loc := anne.statements(ch+"/bookings/book", url.Values{"day": {day}, "service": {"repas"}}); code != http.StatusSeeOther {
			t.Fatalf("book %s: %d → %s", day, code, loc)
		}
	}
	emma, lucas := childPath(f.tenant, f.emma), childPath(f.tenant, f.lucas)
	anne.get(emma + "/bookings")
	book(emma, "2026-12-01") // 8,00 − 3,70 = 4,30 < 5,00
	want("Emma below her threshold", 2, 1, 1)
	book(emma, "2026-12-03") // 0,60: alerted already
	want("Emma again", 3, 1, 1)
	book(emma, "2026-12-02") // a Wednesday: refused, nothing enqueued
	want("a refused booking", 3, 1, 1)
	book(lucas, "2026-12-01") // 30,00 − 3,70 = 26,30
	want("Lucas above it", 4, 1, 1)
	// Anne raises her threshold to 40 €: Lucas's next booking alerts at
	// once.
	anne.get("/portal/settings")
	if code, _ := anne.post("/portal/settings", url.Values{"threshold": {"40,00"}, "alert": {"on"}, "language": {"fr"}, "email_topups": {"on"}, "email_bookings": {"on"}}); code != http.StatusOK {
		t.Fatalf("settings: %d", code)
	}
	book(lucas, "2026-12-03")
	want("Lucas below the new threshold", 6, 2, 2)
}
