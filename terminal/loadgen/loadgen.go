// Package loadgen drives the device API of a running Tartine server with
// signed tap batches from simulated devices, and prepares a "loadgen"
// tenant (devices, pupils with badges, stations, tariffs, an open
// calendar) to drive it against.
//
// The mix per tap: 70 % canteen, 20 % daycare (check-in/check-out
// toggles), 5 % an immediate second tap of the same badge (a duplicate) and
// 5 % unknown badges. Taps carry read_at on a virtual school day (the last
// weekday before today that is not a Wednesday, from 08:00, written in the
// setup file), advancing two minutes per tap and pupil, so that only the
// intended duplicates fall in the 90 s window. Half of the pupils booked
// their meal that day (Prepare): their first canteen tap posts the booking's
// hold, later ones are "already served"; the other half pay every canteen
// tap at the unbooked price, down to the floor and then on the receivable.
//
// Each run starts the virtual day at 08:00 again: against a database that
// already took a run, taps fall in earlier runs' duplicate windows and
// booked meals are already served. Measure on a fresh copy of the setup.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/school"
	"tartine/terminal"
)

// Device is a device's credentials.
type Device struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// Setup is what Prepare created and Run needs.
type Setup struct {
	Devices  []Device `json:"devices"`
	Badges   []string `json:"badges"`
	Canteen  []string `json:"canteen"`
	Daycare  []string `json:"daycare"`
	TenantID int64    `json:"tenant_id"`
	// Day is the virtual school day (YYYY-MM-DD, Europe/Brussels) the
	// bookings were made for and the taps are read on.
	Day string `json:"day,omitempty"`
}

// VirtualDay returns the virtual school day for a run at now: the last
// weekday before now that is not a Wednesday (no meals on Wednesdays by
// default), at midnight in loc.
func VirtualDay(now time.Time, loc *time.Location) time.Time {
	d := now.In(loc).AddDate(0, 0, -1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || d.Weekday() == time.Wednesday {
		d = d.AddDate(0, 0, -1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}

func brussels() *time.Location { return tz.Brussels }

// Prepare creates (idempotently) the "loadgen" tenant with one school,
// devices, pupils each with a badge and 50 € in the wallet, canteen and
// daycare stations, tariffs, a calendar where every weekday from last
// January to three years on is open (no holidays: a load tenant), and a
// meal booking on the virtual day (VirtualDay) for every second pupil.
func Prepare(ctx context.Context, pool *pgxpool.Pool, devices, pupils int) (Setup, error) {
	const actor = "system:loadgen"
	led := ledger.New(pool, nil)
	st := school.New(pool, led, nil)
	bk := booking.New(pool, led, nil)
	var out Setup
	ten, err := st.EnsureTenant(ctx, "loadgen", "PO de charge")
	if err != nil {
		return out, err
	}
	out.TenantID = ten.ID
	sch, err := st.EnsureSchool(ctx, ten.ID, school.SchoolInput{Code: "loadgen", Name: "École de charge"})
	if err != nil {
		return out, err
	}
	cls, err := st.EnsureClass(ctx, ten.ID, sch.ID, "P3A", "P3")
	if err != nil {
		return out, err
	}
	for i := range max(1, devices/4) {
		for kind, list := range map[school.StationKind]*[]string{school.Canteen: &out.Canteen, school.Daycare: &out.Daycare} {
			code := fmt.Sprintf("lg-%s-%d", kind, i+1)
			if _, err := st.EnsureStation(ctx, ten.ID, school.StationInput{SchoolID: sch.ID, Code: code, Name: code, Kind: kind}, actor); err != nil {
				return out, err
			}
			*list = append(*list, code)
		}
	}
	slices.Sort(out.Canteen)
	slices.Sort(out.Daycare)
	for i := range devices {
		d := Device{ID: fmt.Sprintf("lg-dev-%d", i+1), Secret: fmt.Sprintf("loadgen-secret-%04d-0123456789abcdef0123456789abcdef", i+1)}
		if err := st.EnrolDeviceWithSecret(ctx, ten.ID, d.ID, d.ID, d.Secret, actor); err != nil {
			return out, err
		}
		out.Devices = append(out.Devices, d)
	}
	if err := bk.EnsureMealType(ctx, ten.ID, booking.MealType{Code: "repas", Name: "Repas complet", Subsidised: true}); err != nil {
		return out, err
	}
	from := time.Date(time.Now().Year()-1, 1, 1, 0, 0, 0, 0, time.UTC)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM meal_tariffs WHERE tenant_id = $1`, ten.ID).Scan(&n); err != nil {
		return out, err
	}
	if n == 0 {
		if _, err := bk.AddMealTariff(ctx, ten.ID, booking.MealTariff{SchoolID: sch.ID, MealType: "repas", Level: "*",
			BookedPrice: decimal.RequireFromString("3.70"), UnbookedPrice: decimal.RequireFromString("4.20"), ValidFrom: from}); err != nil {
			return out, err
		}
		if _, err := bk.AddDaycareTariff(ctx, ten.ID, booking.DaycareTariff{SchoolID: sch.ID, Level: "*", PeriodMinutes: 30,
			PeriodPrice: decimal.RequireFromString("0.80"), ValidFrom: from}); err != nil {
			return out, err
		}
		if err := bk.SetYear(ctx, ten.ID, sch.ID, booking.SchoolYear{Label: "loadgen", Start: from, End: from.AddDate(3, 0, 0)}, nil, false); err != nil {
			return out, err
		}
	}
	bank, err := led.AccountByCode(ctx, ten.ID, school.AccountBank)
	if err != nil {
		return out, err
	}
	existing, err := st.PupilsOfSchool(ctx, ten.ID, sch.ID, true)
	if err != nil {
		return out, err
	}
	for i := len(existing); i < pupils; i++ {
		p, err := st.CreatePupil(ctx, ten.ID, school.PupilInput{SchoolID: sch.ID, ClassID: cls.ID, FirstName: fmt.Sprintf("Élève%d", i+1), LastName: "Charge"}, actor)
		if err != nil {
			return out, err
		}
		uid := fmt.Sprintf("%010X", 0xE000000000+int64(i))
		if _, err := st.CreateBadge(ctx, ten.ID, school.BadgeInput{UID: uid, Tech: school.TechEM4100, PupilID: p.ID}, actor); err != nil {
			return out, err
		}
		amount := decimal.RequireFromString("50.00")
		if _, err := led.Transfer(ctx, ledger.TransferRequest{TenantID: ten.ID, IdempotencyKey: fmt.Sprint("loadgen-topup:", p.ID), Kind: "topup", Actor: actor,
			Postings: []ledger.Posting{{AccountID: bank.ID, Amount: amount}, {AccountID: p.WalletAccountID, Amount: amount.Neg()}}}); err != nil {
			return out, err
		}
	}
	for i := range pupils {
		out.Badges = append(out.Badges, fmt.Sprintf("%010X", 0xE000000000+int64(i)))
	}
	// Bookings of the virtual day, made "two weeks before" (before the
	// cut-off) by a booking manager on that clock.
	day := VirtualDay(time.Now(), brussels())
	out.Day = day.Format(time.DateOnly)
	before := booking.New(pool, led, func() time.Time { return day.AddDate(0, 0, -14) })
	all, err := st.PupilsOfSchool(ctx, ten.ID, sch.ID, true)
	if err != nil {
		return out, err
	}
	slices.SortFunc(all, func(a, b school.Pupil) int { return int(a.ID - b.ID) })
	for i, p := range all {
		if i%2 != 0 || i >= pupils {
			continue
		}
		if _, err := before.Book(ctx, booking.BookRequest{TenantID: ten.ID, PupilID: p.ID, Day: day, Service: "repas", Actor: actor}); err != nil {
			return out, fmt.Errorf("book pupil %d on %s: %w", p.ID, out.Day, err)
		}
	}
	return out, nil
}

// Config is a load run.
type Config struct {
	URL      string
	Setup    Setup
	Duration time.Duration
	// Batch is the taps per request in a closed-loop run (default 1:
	// online taps), the most taps per request in an open-loop one
	// (default 500, as firmware-bridge).
	Batch int
	// Rate, when positive, makes the run open-loop: taps arrive at Rate
	// per second in all, at random (Poisson) instants spread evenly over
	// the devices, whether or not the server has answered; each device
	// sends like firmware-bridge's uplink, one request at a time with every
	// tap that arrived meanwhile. Latency is then per tap, from its arrival
	// to its answer, waiting at the device included. Zero: closed loop,
	// each device sends Batch taps and waits for the answer before the
	// next request; latency is per request.
	Rate float64
	// Warmup is sent before Duration and not measured: the server's first
	// requests open its database connections and plan its statements.
	Warmup time.Duration
	Client *http.Client
	// Requests, when not nil, receives one line per measured request:
	// device, when it was sent and how long its answer took (µs since the
	// start of the run), its taps, and how long its oldest tap had waited
	// at the device before it was sent (µs). For finding where a tail
	// comes from: stalls of every device at once, or of one.
	Requests io.Writer
}

// Report is the outcome of a run.
type Report struct {
	Devices int     `json:"devices"`
	Batch   int     `json:"batch"`
	Rate    float64 `json:"rate,omitempty"` // offered taps/s (open loop)
	Warmup  float64 `json:"warmup_s,omitempty"`
	// Latency says what P50ms… measure: "request" (closed loop) or "tap"
	// (open loop: arrival to answer).
	Latency  string  `json:"latency"`
	Duration float64 `json:"duration_s"`
	Requests int64   `json:"requests"`
	Taps     int64   `json:"taps"`
	TapsPerS float64 `json:"taps_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
	// Open loop: the requests' own round trips (sent to answered), apart
	// from the taps' waiting at their device before it.
	RequestP50ms float64 `json:"request_p50_ms,omitempty"`
	RequestP99ms float64 `json:"request_p99_ms,omitempty"`
	RequestMaxms float64 `json:"request_max_ms,omitempty"`
	// Open loop: how late the generator itself sent a request, from the
	// instant it could have (its oldest tap's arrival, or the answer to
	// the previous request if later) — a device's own delay, which a real
	// reader on its own processor would not add. Part of each tap's
	// latency; large when the generator shares busy processors.
	SendLateP99ms float64 `json:"send_late_p99_ms,omitempty"`
	SendLateMaxms float64 `json:"send_late_max_ms,omitempty"`
	// Backlog is the taps (open loop) that had arrived but were not sent
	// yet when the duration ended; they are sent afterwards and counted.
	Backlog   int64          `json:"backlog,omitempty"`
	Errors    int64          `json:"errors"`
	Verdicts  map[string]int `json:"verdicts"`
	LastError string         `json:"last_error,omitempty"`
}

// drainTimeout bounds the time an open-loop run takes, after its
// duration, to send the taps that had arrived.
const drainTimeout = 10 * time.Second

// Run sends signed batches from every device in parallel until the
// duration ends, and measures latency.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if len(cfg.Setup.Devices) == 0 || len(cfg.Setup.Badges) == 0 || len(cfg.Setup.Canteen) == 0 {
		return Report{}, errors.New("loadgen: no devices, badges or stations (run with --setup first)")
	}
	open := cfg.Rate > 0
	if cfg.Batch <= 0 {
		cfg.Batch = 1
		if open {
			cfg.Batch = 500
		}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: len(cfg.Setup.Devices) + 4}}
	}
	// The virtual school day of the setup (where the bookings are), or
	// the one of today, at 08:00, Brussels.
	loc := brussels()
	d := VirtualDay(time.Now(), loc)
	if day, err := time.ParseInLocation(time.DateOnly, cfg.Setup.Day, loc); err == nil && day.Before(time.Now()) {
		d = day
	}
	m := &mix{setup: cfg.Setup, base: time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, loc),
		counters: make([]atomic.Int64, len(cfg.Setup.Badges)), runID: time.Now().UnixNano()}

	rep := Report{Devices: len(cfg.Setup.Devices), Batch: cfg.Batch, Rate: cfg.Rate, Warmup: cfg.Warmup.Seconds(), Latency: "request", Verdicts: map[string]int{}}
	if open {
		rep.Latency = "tap"
	}
	var mu sync.Mutex
	var lat, rtt, late []time.Duration
	var reqs []request
	var lastAnswer time.Time
	begin := time.Now()
	start := begin.Add(cfg.Warmup)
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for di, dev := range cfg.Setup.Devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := &uplink{cfg: cfg, dev: dev, index: di, src: m.source(di), from: start, verdicts: map[string]int{}}
			if open {
				u.open(ctx, begin, end, cfg.Rate/float64(len(cfg.Setup.Devices)))
			} else {
				u.closed(ctx, end)
			}
			mu.Lock()
			lat = append(lat, u.lat...)
			rtt = append(rtt, u.rtt...)
			late = append(late, u.late...)
			reqs = append(reqs, u.reqs...)
			for k, v := range u.verdicts {
				rep.Verdicts[k] += v
				rep.Taps += int64(v)
			}
			rep.Requests += u.requests
			rep.Errors += u.errs
			rep.Backlog += u.backlog
			if u.lastErr != "" {
				rep.LastError = u.lastErr
			}
			if u.lastAnswer.After(lastAnswer) {
				lastAnswer = u.lastAnswer
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Throughput over the run, or until the last answer when an open-loop
	// run's backlog took longer.
	el := cfg.Duration
	if lastAnswer.After(end) {
		el = lastAnswer.Sub(start)
	}
	rep.Duration = el.Seconds()
	rep.TapsPerS = float64(rep.Taps) / el.Seconds()
	rep.P50ms, rep.P99ms, rep.Maxms = percentiles(lat)
	if open {
		rep.RequestP50ms, rep.RequestP99ms, rep.RequestMaxms = percentiles(rtt)
		_, rep.SendLateP99ms, rep.SendLateMaxms = percentiles(late)
	}
	if cfg.Requests != nil {
		slices.SortFunc(reqs, func(a, b request) int { return a.sent.Compare(b.sent) })
		for _, r := range reqs {
			if _, err := fmt.Fprintf(cfg.Requests, "%d %d %d %d %d\n", r.device, r.sent.Sub(begin).Microseconds(), r.rtt.Microseconds(), r.taps, r.waited.Microseconds()); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// percentiles returns the median, 99th percentile and maximum of d in
// milliseconds (sorting d).
func percentiles(d []time.Duration) (p50, p99, maxi float64) {
	n := len(d)
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(d[n/2]), ms(d[min(n-1, n*99/100)]), ms(d[n-1])
}

// request is one measured request, for Config.Requests.
type request struct {
	device int
	sent   time.Time
	rtt    time.Duration
	taps   int
	waited time.Duration // by its oldest tap, before it was sent
}

// mix makes the taps of a run (see the package documentation).
type mix struct {
	setup    Setup
	base     time.Time      // 08:00 on the virtual day
	counters []atomic.Int64 // taps per badge: each advances its read_at
	runID    int64
	seq      atomic.Int64
}

// source is one device's share of the mix.
type source struct {
	m                *mix
	rng              *rand.Rand
	canteen, daycare string
}

func (m *mix) source(device int) *source {
	return &source{m: m, rng: rand.New(rand.NewPCG(uint64(m.runID), uint64(device))),
		canteen: m.setup.Canteen[device%len(m.setup.Canteen)], daycare: m.setup.Daycare[device%len(m.setup.Daycare)]}
}

// next appends the taps of one badge presentation: one tap, or a tap and
// its duplicate 10 s later.
func (s *source) next(taps []terminal.Tap) []terminal.Tap {
	m := s.m
	id := fmt.Sprintf("lg-%d-%d", m.runID, m.seq.Add(1))
	r := s.rng.IntN(100)
	if r < 5 {
		return append(taps, terminal.Tap{ID: id, Station: s.canteen, UID: fmt.Sprintf("%010X", 0xF000000000+s.rng.Int64N(1<<20)), Tech: "em4100", ReadAt: m.base})
	}
	i := s.rng.IntN(len(m.setup.Badges))
	at := m.base.Add(time.Duration(m.counters[i].Add(1)) * 2 * time.Minute)
	station := s.canteen
	if r >= 75 {
		station = s.daycare
	}
	taps = append(taps, terminal.Tap{ID: id, Station: station, UID: m.setup.Badges[i], Tech: "em4100", ReadAt: at})
	if r < 10 { // the same badge again 10 s later: a duplicate
		taps = append(taps, terminal.Tap{ID: id + "d", Station: station, UID: m.setup.Badges[i], Tech: "em4100", ReadAt: at.Add(10 * time.Second)})
	}
	return taps
}

// uplink is one device sending, and what it measured.
type uplink struct {
	cfg        Config
	dev        Device
	src        *source
	index      int
	from       time.Time // end of the warm-up: what starts earlier is not measured
	lat        []time.Duration
	rtt        []time.Duration // open loop: per request
	late       []time.Duration // open loop: per request, the generator's own delay in sending it
	reqs       []request       // when Config.Requests is set
	verdicts   map[string]int
	requests   int64
	errs       int64
	backlog    int64
	lastErr    string
	lastAnswer time.Time
}

// send posts taps and returns the answers by tap id (nil after an error,
// counted); it reports false when ctx ended first.
func (u *uplink) send(ctx context.Context, taps []terminal.Tap) (map[string]terminal.Result, bool) {
	body, _ := json.Marshal(map[string]any{"taps": taps})
	res, err := post(ctx, u.cfg, u.dev, body)
	if ctx.Err() != nil {
		return nil, false
	}
	u.lastAnswer = time.Now()
	if err != nil {
		u.errs++
		u.lastErr = err.Error()
		return nil, true
	}
	byID := make(map[string]terminal.Result, len(res))
	for _, r := range res {
		byID[r.ID] = r
	}
	return byID, true
}

// count records the answer to a measured tap.
func (u *uplink) count(res map[string]terminal.Result, tap terminal.Tap) {
	if r, ok := res[tap.ID]; ok {
		u.verdicts[r.Verdict+"/"+r.Reason]++
	}
}

// closed sends Batch taps at a time, each request after the answer to the
// previous one, until end.
func (u *uplink) closed(ctx context.Context, end time.Time) {
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	for ctx.Err() == nil {
		taps := make([]terminal.Tap, 0, u.cfg.Batch+1)
		for len(taps) < u.cfg.Batch {
			taps = u.src.next(taps)
		}
		t0 := time.Now()
		res, ok := u.send(ctx, taps)
		if !ok {
			return
		}
		if t0.Before(u.from) || res == nil {
			continue
		}
		u.requests++
		u.lat = append(u.lat, u.lastAnswer.Sub(t0))
		for _, t := range taps {
			u.count(res, t)
		}
	}
}

// open lets taps arrive at rate per second (exponential gaps) until end
// and sends, one request at a time, every tap arrived (up to Batch); the
// taps that arrived before end are sent after it too, within drainTimeout.
func (u *uplink) open(ctx context.Context, begin, end time.Time, rate float64) {
	ctx, cancel := context.WithDeadline(ctx, end.Add(drainTimeout))
	defer cancel()
	gap := func() time.Duration { return time.Duration(u.src.rng.ExpFloat64() / rate * float64(time.Second)) }
	next := begin.Add(gap())
	var taps []terminal.Tap
	var arrived []time.Time
	answered := begin // the previous request's answer
	for {
		now := time.Now()
		for next.Before(end) && !next.After(now) && len(taps) < u.cfg.Batch {
			n := len(taps)
			taps = u.src.next(taps)
			for range len(taps) - n {
				arrived = append(arrived, next)
				next = next.Add(gap())
			}
		}
		if !now.Before(end) { // arrived in time, sent late
			u.backlog += int64(len(taps))
		}
		if len(taps) == 0 {
			if !next.Before(end) {
				return
			}
			select { // nothing waiting: until the next arrival
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			continue
		}
		sent := time.Now()
		ready := arrived[0]
		if answered.After(ready) {
			ready = answered
		}
		res, ok := u.send(ctx, taps)
		answered = u.lastAnswer
		if !ok {
			u.errs++
			u.lastErr = fmt.Sprintf("%d taps not answered within %s after the run", len(taps), drainTimeout)
			return
		}
		if res != nil && !arrived[len(arrived)-1].Before(u.from) {
			u.requests++
			u.rtt = append(u.rtt, u.lastAnswer.Sub(sent))
			u.late = append(u.late, max(sent.Sub(ready), 0))
			if u.cfg.Requests != nil {
				u.reqs = append(u.reqs, request{device: u.index, sent: sent, rtt: u.lastAnswer.Sub(sent), taps: len(taps), waited: sent.Sub(arrived[0])})
			}
		}
		for i, at := range arrived {
			if res != nil && !at.Before(u.from) {
				u.lat = append(u.lat, u.lastAnswer.Sub(at))
				u.count(res, taps[i])
			}
		}
		taps, arrived = taps[:0], arrived[:0]
	}
}

func post(ctx context.Context, cfg Config, dev Device, body []byte) ([]terminal.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+"/api/v1/taps", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", terminal.Authorization(dev.ID, []byte(dev.Secret), http.MethodPost, "/api/v1/taps", time.Now(), body))
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out struct {
		Results []terminal.Result `json:"results"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// historyDays is how many school days of past taps seedHistory writes.
const historyDays = 30

// SeedHistory writes, once, the taps and daycare sessions of the
// historyDays days before the setup's virtual day (a canteen tap per pupil
// and day, a daycare session for one pupil in four), then analyses the
// database, so that the load meets the tables of a school in the middle of
// its year, with planner statistics to match, rather than empty ones. The
// history carries no money: the ledger is not touched.
func SeedHistory(ctx context.Context, pool *pgxpool.Pool, s Setup) error {
	if err := seedHistory(ctx, pool, s); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

func seedHistory(ctx context.Context, pool *pgxpool.Pool, s Setup) error {
	tenantID, canteen, daycare := s.TenantID, s.Canteen[0], s.Daycare[0]
	day, err := time.ParseInLocation(time.DateOnly, s.Day, brussels())
	if err != nil {
		return fmt.Errorf("virtual day %q: %w", s.Day, err)
	}
	var seeded bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM taps WHERE tenant_id = $1 AND tap_id LIKE 'hist-%')`, tenantID).Scan(&seeded); err != nil || seeded {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `
		INSERT INTO taps (tenant_id, tap_id, device_id, station_id, badge_uid, pupil_id, read_at, received_at, verdict, charged, result)
		SELECT $1, 'hist-' || d || '-' || b.uid, 'device:lg-dev-1', s.id, b.uid, b.pupil_id, t.at, t.at, 'accepted', 3.70,
			'{"verdict": "accepted"}'::jsonb
		FROM generate_series(1, $4::int) AS d
		CROSS JOIN badges b
		JOIN stations s ON s.tenant_id = b.tenant_id AND s.code = $3
		CROSS JOIN LATERAL (SELECT $2::timestamptz - make_interval(days => d) + make_interval(hours => 12, secs => b.id % 1800) AS at) t
		WHERE b.tenant_id = $1 AND b.pupil_id IS NOT NULL`, tenantID, day, canteen, historyDays)
	if err != nil {
		return fmt.Errorf("seed past taps: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO daycare_sessions (tenant_id, school_id, station_id, pupil_id, day, check_in_at, check_in_tap,
			check_out_at, check_out_tap, closed_by, charged)
		SELECT $1, s.school_id, s.id, p.id, (t.at)::date, t.at, 'hist-in-' || d || '-' || p.id,
			t.at + interval '1 hour', 'hist-out-' || d || '-' || p.id, 'tap', 0
		FROM generate_series(1, $4::int) AS d
		CROSS JOIN pupils p
		JOIN stations s ON s.tenant_id = p.tenant_id AND s.code = $3
		CROSS JOIN LATERAL (SELECT $2::timestamptz - make_interval(days => d) + make_interval(hours => 15, secs => p.id % 1800) AS at) t
		WHERE p.tenant_id = $1 AND p.id % 4 = 0`, tenantID, day, daycare, historyDays)
	if err != nil {
		return fmt.Errorf("seed past daycare sessions: %w", err)
	}
	return tx.Commit(ctx)
}
