// Package loadgen drives the parent portal of a running Tartine server as
// a school lives its 8:00 rush (issue 17): many parents at once, each
// logged in and looping home → bookings page → book or cancel a meal →
// history, with no think time. Prepare creates a demo-like "portalgen"
// tenant (one school with the FWB calendar, meal tariffs, N families of a
// guardian with a portal account and a child with a funded wallet) to drive
// it against.
//
// Run measures each request type apart (login, home, bookings, book,
// cancel, history): rate, p50/p99/max latency and failures — a transport
// error, a timeout, a 5xx or any unexpected status; the portal's « réessayez
// dans un instant » answers (503 or 429) are failures too, counted apart as
// shed. A booking or a cancellation the portal refuses with a message (cut-off
// passed, insufficient funds) is an answer, counted as refused. Optionally
// it samples the server's resident memory (/proc/<pid>/status) for its peak.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/password"
	"tartine/ledger"
	"tartine/portal"
	"tartine/school"
)

// Parent is a parent's login and child.
type Parent struct {
	Email string `json:"email"`
	Child string `json:"child"` // "/portal/c/<tenant>/<pupil>"
}

// Setup is what Prepare created and Run needs.
type Setup struct {
	TenantID int64    `json:"tenant_id"`
	Password string   `json:"password"` // every parent's
	Parents  []Parent `json:"parents"`
}

// Password is the loadgen parents' password.
const Password = "portalgen-password"

// Prepare creates (idempotently) the "portalgen" tenant: one school with
// the FWB calendar of this school year and the next, meal types repas and
// potage with tariffs, and parents families of one guardian with a portal
// account (password Password) and one P3 child whose wallet holds 200 €.
// now dates the calendar.
func Prepare(ctx context.Context, pool *pgxpool.Pool, parents int, now time.Time) (Setup, error) {
	const actor = "system:portalgen"
	led := ledger.New(pool, nil)
	st := school.New(pool, led, nil)
	bk := booking.New(pool, led, nil)
	out := Setup{Password: Password}
	ten, err := st.EnsureTenant(ctx, "portalgen", "PO de charge du portail")
	if err != nil {
		return out, err
	}
	out.TenantID = ten.ID
	sch, err := st.EnsureSchool(ctx, ten.ID, school.SchoolInput{Code: "portalgen", Name: "École de la rentrée", IBAN: "BE68539007547034", Beneficiary: "PO de charge"})
	if err != nil {
		return out, err
	}
	cls, err := st.EnsureClass(ctx, ten.ID, sch.ID, "P3A", "P3")
	if err != nil {
		return out, err
	}
	year := booking.SchoolYearOf(now)
	for _, y := range []int{year, year + 1} {
		if _, err := bk.GenerateYear(ctx, ten.ID, sch.ID, y); err != nil {
			return out, err
		}
	}
	for _, mt := range []booking.MealType{{Code: "repas", Name: "Repas complet", Subsidised: true, Position: 1}, {Code: "potage", Name: "Potage", Position: 2}} {
		if err := bk.EnsureMealType(ctx, ten.ID, mt); err != nil {
			return out, err
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM meal_tariffs WHERE tenant_id = $1`, ten.ID).Scan(&n); err != nil {
		return out, err
	}
	if n == 0 {
		from := time.Date(year, time.August, 1, 0, 0, 0, 0, time.UTC)
		for _, t := range []booking.MealTariff{
			{SchoolID: sch.ID, MealType: "repas", Level: "*", BookedPrice: decimal.RequireFromString("3.70"), UnbookedPrice: decimal.RequireFromString("4.20"), ValidFrom: from},
			{SchoolID: sch.ID, MealType: "potage", Level: "*", BookedPrice: decimal.RequireFromString("0.60"), UnbookedPrice: decimal.RequireFromString("0.80"), ValidFrom: from},
		} {
			if _, err := bk.AddMealTariff(ctx, ten.ID, t); err != nil {
				return out, err
			}
		}
	}
	bank, err := led.AccountByCode(ctx, ten.ID, school.AccountBank)
	if err != nil {
		return out, err
	}
	// One hash for every parent: the setup of 1,000 parents takes seconds.
	hash, err := password.Hash(Password)
	if err != nil {
		return out, err
	}
	existing, err := st.PupilsOfSchool(ctx, ten.ID, sch.ID, true)
	if err != nil {
		return out, err
	}
	slices.SortFunc(existing, func(a, b school.Pupil) int { return int(a.ID - b.ID) })
	for i := 0; i < parents; i++ {
		email := fmt.Sprintf("parent%04d@portalgen.example", i+1)
		var p school.Pupil
		if i < len(existing) {
			p = existing[i]
		} else {
			p, err = st.CreatePupil(ctx, ten.ID, school.PupilInput{SchoolID: sch.ID, ClassID: cls.ID, FirstName: fmt.Sprintf("Enfant%d", i+1), LastName: "Charge"}, actor)
			if err != nil {
				return out, err
			}
			g, err := st.CreateGuardian(ctx, ten.ID, school.GuardianInput{FirstName: fmt.Sprintf("Parent%d", i+1), LastName: "Charge", Email: email}, actor)
			if err != nil {
				return out, err
			}
			if err := st.LinkGuardian(ctx, ten.ID, g.ID, p.ID, "parent", actor); err != nil {
				return out, err
			}
			amount := decimal.RequireFromString("200.00")
			if _, err := led.Transfer(ctx, ledger.TransferRequest{TenantID: ten.ID, IdempotencyKey: fmt.Sprint("portalgen-topup:", p.ID), Kind: "bank-transfer", Actor: actor,
				Postings: []ledger.Posting{{AccountID: bank.ID, Amount: amount}, {AccountID: p.WalletAccountID, Amount: amount.Neg()}}}); err != nil {
				return out, err
			}
			if err := portal.EnsureAccount(ctx, pool, ten.ID, g.ID, email, hash); err != nil {
				return out, err
			}
		}
		out.Parents = append(out.Parents, Parent{Email: email, Child: fmt.Sprintf("/portal/c/%d/%d", ten.ID, p.ID)})
	}
	return out, nil
}

// Request types, in the order of a parent's loop.
const (
	ReqLogin    = "login"
	ReqHome     = "home"
	ReqBookings = "bookings"
	ReqBook     = "book"
	ReqCancel   = "cancel"
	ReqHistory  = "history"
)

var reqTypes = []string{ReqLogin, ReqHome, ReqBookings, ReqBook, ReqCancel, ReqHistory}

// Config is a load run.
type Config struct {
	URL      string
	Setup    Setup
	Parents  int           // parents at once (≤ len(Setup.Parents))
	Duration time.Duration // measured loop time after the logins
	// LoginOnly: every parent logs in at the same instant, nothing else
	// (the 200 simultaneous logins of issue 17).
	LoginOnly bool
	// ServerPID, when positive, is sampled every 100 ms for the server's
	// resident memory (peak in the report).
	ServerPID int
	// Timeout bounds each request (default 60 s: a hang is a failure).
	Timeout time.Duration
}

// Stats are the measures of one request type.
type Stats struct {
	Count    int64            `json:"count"`
	PerS     float64          `json:"per_s"`
	P50ms    float64          `json:"p50_ms"`
	P99ms    float64          `json:"p99_ms"`
	Maxms    float64          `json:"max_ms"`
	Failures int64            `json:"failures"`
	Shed     int64            `json:"shed"`    // 503/429 answers (counted in Failures)
	Refused  int64            `json:"refused"` // book/cancel answered with a refusal message
	Statuses map[string]int64 `json:"statuses,omitempty"`
	Refusals map[string]int64 `json:"refusals,omitempty"` // message keys of the refusals
}

// Report is the outcome of a run.
type Report struct {
	Parents  int              `json:"parents"`
	Duration float64          `json:"duration_s"`
	Requests int64            `json:"requests"`
	PerS     float64          `json:"requests_per_s"`
	Failures int64            `json:"failures"`
	Types    map[string]Stats `json:"types"`
	// LoginMaxs is the time until the last parent was logged in (its
	// retries included, before a loop run).
	LoginMaxs float64 `json:"login_max_s"`
	// LoginPhase measures the logins before a loop run (retries included).
	LoginPhase *Stats `json:"login_phase,omitempty"`
	// PeakRSSMB is the most resident memory of the server sampled during
	// the run; HWMMB its lifetime peak (VmHWM) at the end.
	PeakRSSMB float64 `json:"server_peak_rss_mb,omitempty"`
	HWMMB     float64 `json:"server_hwm_mb,omitempty"`
	LastError string  `json:"last_error,omitempty"`
}

// recorder collects the measures of every parent.
type recorder struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration
	stats   map[string]*Stats
	lastErr string
}

func newRecorder() *recorder {
	r := &recorder{lat: map[string][]time.Duration{}, stats: map[string]*Stats{}}
	for _, t := range reqTypes {
		r.stats[t] = &Stats{Statuses: map[string]int64{}, Refusals: map[string]int64{}}
	}
	return r
}

// outcome of a request.
type outcome int

const (
	ok outcome = iota
	refused
	shed
	failed
)

func (r *recorder) refusal(typ, key string) {
	r.mu.Lock()
	r.stats[typ].Refusals[key]++
	r.mu.Unlock()
}

func (r *recorder) add(typ string, d time.Duration, status int, o outcome, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats[typ]
	s.Count++
	r.lat[typ] = append(r.lat[typ], d)
	key := strconv.Itoa(status)
	if err != nil {
		key = "error"
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
			key = "timeout"
		}
		r.lastErr = fmt.Sprintf("%s: %v", typ, err)
	}
	s.Statuses[key]++
	switch o {
	case refused:
		s.Refused++
	case shed:
		s.Shed++
		s.Failures++
	case failed:
		s.Failures++
		if err == nil {
			r.lastErr = fmt.Sprintf("%s: status %d", typ, status)
		}
	}
}

// parent is one simulated parent: a cookie jar and the last CSRF token.
type parent struct {
	cfg      Config
	who      Parent
	http     *http.Client
	csrf     string
	rec      *recorder
	rnd      *rand.Rand
	month    string // bookings page month with bookable days ("2006-01")
	n        int    // the parent's number
	loggedIn bool
}

var (
	csrfRe   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	bookRe   = regexp.MustCompile(`data-action="book-(\d{4}-\d{2}-\d{2})-repas"`)
	cancelRe = regexp.MustCompile(`name="booking" value="(\d+)">\s*<button type="submit" class="secondary" data-action="cancel-[0-9-]+-repas"`)
)

// do sends req and returns the status and body (read to the end).
func (p *parent) do(req *http.Request) (int, string, time.Duration, error) {
	p.address(req)
	start := time.Now()
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return resp.StatusCode, "", d, err
	}
	body := string(b)
	if m := csrfRe.FindStringSubmatch(body); m != nil {
		p.csrf = m[1]
	}
	return resp.StatusCode, body, d, nil
}

func (p *parent) get(ctx context.Context, typ, path string) (string, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL+path, nil)
	status, body, d, err := p.do(req)
	if ctx.Err() != nil {
		return "", false // the run ended during the request: not measured
	}
	p.rec.add(typ, d, status, classify(status, err, http.StatusOK), err)
	if status == http.StatusSeeOther && typ != ReqLogin {
		p.loggedIn = false // session lost: log in again
	}
	return body, err == nil && status == http.StatusOK
}

// post sends a form and expects 303; a flash cookie naming an error is a
// refusal.
func (p *parent) post(ctx context.Context, typ, path string, vals url.Values, success string) bool {
	vals.Set("csrf_token", p.csrf)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.cfg.URL)
	p.address(req)
	start := time.Now()
	resp, err := p.http.Do(req)
	var status int
	o := failed
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
		o = classify(status, nil, http.StatusSeeOther)
		if o == ok && success != "" {
			o = refused
			flash := "(none)"
			for _, ck := range resp.Cookies() {
				if ck.Name == "flash" {
					flash, _, _ = strings.Cut(ck.Value, "|")
				}
			}
			if flash == success {
				o = ok
			} else if ctx.Err() == nil {
				p.rec.refusal(typ, flash)
			}
		}
	}
	d := time.Since(start)
	if ctx.Err() != nil {
		return false
	}
	p.rec.add(typ, d, status, o, err)
	return o == ok || o == refused
}

// address gives each parent its own address, as families reach a school's
// server from their homes, through the reverse proxy's X-Forwarded-For
// (the server honours it with TARTINE_TRUSTED_PROXIES=127.0.0.1): the
// login throttle per address then sees each family apart, not every
// parent behind one address.
func (p *parent) address(req *http.Request) {
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.17.%d.%d", p.n/250, 1+p.n%250))
}

func classify(status int, err error, want int) outcome {
	switch {
	case err != nil:
		return failed
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		return shed
	case status == want:
		return ok
	}
	return failed
}

// login opens the login page (session and CSRF token) and logs in.
func (p *parent) login(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL+"/portal/login", nil)
	if _, _, _, err := p.do(req); err != nil {
		if ctx.Err() == nil {
			p.rec.add(ReqLogin, 0, 0, failed, err)
		}
		return false
	}
	p.loggedIn = p.post(ctx, ReqLogin, "/portal/login", url.Values{"email": {p.who.Email}, "password": {p.cfg.Setup.Password}}, "")
	return p.loggedIn
}

// loop runs the parent's loop until ctx ends.
func (p *parent) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if !p.loggedIn {
			if !p.login(ctx) {
				pause(ctx, loginRetry)
				continue
			}
		}
		if _, ok := p.get(ctx, ReqHome, "/portal/"); !ok {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		page, ok := p.get(ctx, ReqBookings, p.who.Child+"/bookings?month="+p.month)
		if !ok {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		days := bookRe.FindAllStringSubmatch(page, -1)
		bookings := cancelRe.FindAllStringSubmatch(page, -1)
		switch {
		case len(bookings) > 0 && (len(days) == 0 || p.rnd.IntN(2) == 0):
			b := bookings[p.rnd.IntN(len(bookings))][1]
			p.post(ctx, ReqCancel, p.who.Child+"/bookings/cancel", url.Values{"booking": {b}}, "portal.flash.cancelled")
		case len(days) > 0:
			day := days[p.rnd.IntN(len(days))][1]
			p.post(ctx, ReqBook, p.who.Child+"/bookings/book", url.Values{"day": {day}, "service": {"repas"}}, "portal.flash.booked")
		}
		p.get(ctx, ReqHistory, p.who.Child+"/history")
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// bookableMonth returns the month ("2006-01") of the bookings page that
// has days to book: this month, or the next one when this month's cut-offs
// have all passed.
func bookableMonth(ctx context.Context, p *parent, now time.Time) string {
	this := now.Format("2006-01")
	for _, m := range []string{this, now.AddDate(0, 1, 0).Format("2006-01")} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL+p.who.Child+"/bookings?month="+m, nil)
		if _, body, _, err := p.do(req); err == nil && bookRe.MatchString(body) {
			return m
		}
	}
	return this
}

// loginRetry is how long a parent waits before logging in again after a
// « réessayez » (the portal's Retry-After).
const loginRetry = 2 * time.Second

// Run logs every parent in at once, then (unless LoginOnly) runs their
// loops for the duration and reports.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Parents <= 0 || cfg.Parents > len(cfg.Setup.Parents) {
		return Report{}, fmt.Errorf("loadgen: %d parents asked, %d prepared (run with --setup --parents N first)", cfg.Parents, len(cfg.Setup.Parents))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Parents + 8, MaxIdleConns: cfg.Parents + 8}
	rec := newRecorder()
	ps := make([]*parent, cfg.Parents)
	for i := range ps {
		jar, _ := cookiejar.New(nil)
		ps[i] = &parent{cfg: cfg, who: cfg.Setup.Parents[i], n: i, rec: rec, rnd: rand.New(rand.NewPCG(uint64(i), 17)),
			http: &http.Client{Jar: jar, Transport: transport, Timeout: cfg.Timeout,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	var peak, hwm float64
	rssCtx, stopRSS := context.WithCancel(ctx)
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		for cfg.ServerPID > 0 {
			if rss, h, err := memory(cfg.ServerPID); err == nil {
				peak, hwm = max(peak, rss), h
			}
			select {
			case <-rssCtx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	// Every parent logs in at the same instant; before a loop run, a
	// parent told to retry (503, Retry-After) tries again after the
	// Retry-After, as a person would, for up to a minute, so that the
	// loops start logged in.
	start := time.Now()
	var wg sync.WaitGroup
	var loginMax time.Duration
	var mu sync.Mutex
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			for !p.login(ctx) && !cfg.LoginOnly && time.Since(t) < time.Minute && ctx.Err() == nil {
				pause(ctx, loginRetry+time.Duration(p.rnd.IntN(1000))*time.Millisecond)
			}
			mu.Lock()
			loginMax = max(loginMax, time.Since(t))
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep := Report{Parents: cfg.Parents, LoginMaxs: loginMax.Seconds()}
	elapsed := time.Since(start)
	if !cfg.LoginOnly {
		if st, ok := rec.summary(elapsed)[ReqLogin]; ok {
			rep.LoginPhase = &st
		}
		month := bookableMonth(ctx, ps[0], time.Now())
		rec = newRecorder()
		for _, p := range ps {
			p.rec, p.month = rec, month
		}
		runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
		start = time.Now()
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.loop(runCtx)
			}()
		}
		wg.Wait()
		cancel()
		elapsed = time.Since(start)
	}
	stopRSS()
	<-rssDone
	rep.Duration = elapsed.Seconds()
	rep.PeakRSSMB, rep.HWMMB = peak, hwm
	rep.Types = rec.summary(elapsed)
	for _, st := range rep.Types {
		rep.Requests += st.Count
		rep.Failures += st.Failures
	}
	rep.PerS = float64(rep.Requests) / elapsed.Seconds()
	rep.LastError = rec.lastErr
	return rep, nil
}

// summary returns the measures of each request type seen, over elapsed.
func (r *recorder) summary(elapsed time.Duration) map[string]Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Stats{}
	for _, t := range reqTypes {
		s := *r.stats[t]
		if s.Count == 0 {
			continue
		}
		lat := slices.Clone(r.lat[t])
		slices.Sort(lat)
		s.PerS = float64(s.Count) / elapsed.Seconds()
		s.P50ms = ms(lat[len(lat)/2])
		s.P99ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
		s.Maxms = ms(lat[len(lat)-1])
		out[t] = s
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// memory returns the resident memory (VmRSS) and its peak (VmHWM) of a
// process, in MB.
func memory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm, nil
}
