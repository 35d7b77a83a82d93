package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/booking"
	"tartine/internal/dbtest"
	"tartine/ledger"
	"tartine/school"
)

// addPupils creates n pupils with badges "0200000000"+i in the fixture's
// school, each topped up with amount.
func (f *fixture) addPupils(n int, amount string) []string {
	f.t.Helper()
	cls, err := f.store.EnsureClass(f.ctx, f.tenant, f.school, "P4B", "P4")
	must(f.t, err)
	var uids []string
	for i := range n {
		p, err := f.store.CreatePupil(f.ctx, f.tenant, school.PupilInput{SchoolID: f.school, ClassID: cls.ID,
			FirstName: fmt.Sprintf("Élève%d", i), LastName: "Groupe"}, "test")
		must(f.t, err)
		uid := fmt.Sprintf("02%08X", i)
		_, err = f.store.CreateBadge(f.ctx, f.tenant, school.BadgeInput{UID: uid, Tech: school.TechEM4100, PupilID: p.ID}, "test")
		must(f.t, err)
		f.pupils[uid] = p
		f.topUp(uid, amount)
		uids = append(uids, uid)
	}
	return uids
}

// TestGroupCommitConcurrentRequests sends, from many goroutines at once,
// one tap per request — each pupil's daycare check-in and check-out, a meal
// (booked for every second pupil: its hold is posted) and a second tap of
// the meal in the duplicate window, in that order — as readers online do:
// the taps of different pupils are applied together in groups, and every
// answer, balance and ledger invariant is that of taps applied one by one.
// The same tap sent twice at once is charged once.
func TestGroupCommitConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	uids := f.addPupils(24, "10.00")
	at := func(h, m, s int) time.Time {
		return time.Date(monday.Year(), monday.Month(), monday.Day(), h, m, s, 0, brussels)
	}
	f.clk.Set(monday.AddDate(0, 0, -14)) // booked before the cut-off
	booked := map[string]bool{}
	for i, uid := range uids {
		if i%2 == 0 {
			_, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.pupils[uid].ID, Day: monday, Service: "repas", Actor: "test"})
			must(t, err)
			booked[uid] = true
		}
	}
	f.clk.Set(at(19, 0, 0))
	type outcome struct {
		uid string
		res []Result
	}
	results := make(chan outcome, len(uids)+2)
	twice := tapAt("canteen-2", uidEmma, at(12, 30, 0))
	var wg sync.WaitGroup
	for _, uid := range uids {
		wg.Go(func() {
			out := outcome{uid: uid}
			for _, tap := range []Tap{
				tapAt("daycare-1", uid, at(7, 30, 0)),
				tapAt("daycare-1", uid, at(8, 10, 0)),
				tapAt("canteen-1", uid, at(12, 0, 0)),
				tapAt("canteen-1", uid, at(12, 0, 10)),
			} {
				st, res := f.post(tap)
				if st != http.StatusOK || len(res) != 1 {
					t.Errorf("%s: status %d, %d results", uid, st, len(res))
					return
				}
				out.res = append(out.res, res[0])
			}
			results <- out
		})
	}
	for range 2 {
		wg.Go(func() {
			st, res := f.post(twice)
			if st != http.StatusOK || len(res) != 1 {
				t.Errorf("tap sent twice: status %d, %d results", st, len(res))
				return
			}
			results <- outcome{uid: uidEmma, res: res}
		})
	}
	wg.Wait()
	close(results)
	emma := 0
	for o := range results {
		if o.uid == uidEmma {
			emma++
			if r := o.res[0]; r.Verdict != VerdictAccepted || r.Charged != "4.20" {
				t.Errorf("tap sent twice: %+v, want accepted and charged 4.20 both times", r)
			}
			continue
		}
		meal, wallet := "4.20", "4.20" // unbooked: 10 − 1.60 − 4.20
		if booked[o.uid] {
			meal, wallet = "3.70", "4.70" // the booked price, through the hold
		}
		want := []struct{ verdict, action, charged string }{
			{VerdictAccepted, ActionCheckIn, "0.00"},
			{VerdictAccepted, ActionCheckOut, "1.60"},
			{VerdictAccepted, ActionMeal, meal},
			{VerdictDuplicate, "", "0.00"},
		}
		for i, w := range want {
			if r := o.res[i]; r.Verdict != w.verdict || r.Action != w.action || r.Charged != w.charged {
				t.Errorf("%s tap %d: %+v, want %s %s %s", o.uid, i, r, w.verdict, w.action, w.charged)
			}
		}
		if got := f.balance(o.uid); !got.Equal(dec(wallet)) {
			t.Errorf("%s: wallet %s, want %s", o.uid, got, wallet)
		}
	}
	if emma != 2 {
		t.Fatalf("%d answers for the tap sent twice", emma)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("15.80")) {
		t.Errorf("Emma's wallet %s, want 15.80 (one meal)", got)
	}
	var taps int
	must(t, f.svc.pool.QueryRow(f.ctx, `SELECT count(*) FROM taps WHERE tenant_id = $1`, f.tenant).Scan(&taps))
	if want := 4*len(uids) + 1; taps != want {
		t.Errorf("%d tap rows, want %d", taps, want)
	}
	gs := f.svc.GroupStats()
	if gs.Grouped == 0 || gs.Largest < 2 {
		t.Errorf("group stats %+v: want taps applied together", gs)
	}
	f.verify()
}

// TestGroupFailsAsAWhole closes the books over the taps' day: the group's
// transfers are refused by the database, the whole group is rolled back,
// and each of its taps is applied alone — charges refused period_closed,
// the taps without money (an unknown badge, a daycare check-in) recorded
// as usual.
func TestGroupFailsAsAWhole(t *testing.T) {
	f := newFixture(t)
	uids := f.addPupils(6, "10.00")
	noon := time.Date(monday.Year(), monday.Month(), monday.Day(), 12, 0, 0, 0, brussels)
	f.clk.Set(noon.Add(6 * time.Hour))
	must(t, f.led.ClosePeriod(f.ctx, f.tenant, noon.Add(time.Hour), "test"))
	var taps []Tap
	for i, uid := range uids {
		taps = append(taps, tapAt("canteen-1", uid, noon.Add(time.Duration(i)*time.Second)))
	}
	taps = append(taps, tapAt("canteen-1", "0A0A0A0A0A", noon), tapAt("daycare-1", uidEmma, noon))
	st, res := f.post(taps...)
	if st != http.StatusOK || len(res) != len(taps) {
		t.Fatalf("POST: status %d, %d results", st, len(res))
	}
	for i, r := range res[:len(uids)] {
		if r.Verdict != VerdictRefused || r.Reason != "period_closed" {
			t.Errorf("meal %d: %+v, want refused period_closed", i, r)
		}
	}
	if r := res[len(uids)]; r.Reason != ReasonUnknownBadge {
		t.Errorf("unknown badge: %+v", r)
	}
	if r := res[len(uids)+1]; r.Action != ActionCheckIn {
		t.Errorf("daycare: %+v, want a check-in", r)
	}
	if gs := f.svc.GroupStats(); gs.Failed == 0 {
		t.Errorf("group stats %+v: want a failed group", gs)
	}
	for _, uid := range uids {
		if got := f.balance(uid); !got.Equal(dec("10.00")) {
			t.Errorf("%s: wallet %s, want 10.00", uid, got)
		}
	}
	f.verify()
}

// TestGroupRandomWorkload is the bank's test of the group commit: devices
// send random taps (canteen and daycare, pupils with little money, batches
// of one to five, some requests sent again), while guardians book and
// cancel meals of the next days (holds that move the wallets under the
// taps' feet) and top up. Afterwards the ledger's invariants hold, every
// tap is recorded once and answered the same when sent again, and the
// revenue booked equals what the taps say they charged.
func TestGroupRandomWorkload(t *testing.T) {
	f := newFixture(t)
	uids := f.addPupils(12, "3.00")
	day := func(h, m, s int) time.Time {
		return time.Date(monday.Year(), monday.Month(), monday.Day(), h, m, s, 0, brussels)
	}
	f.clk.Set(monday.AddDate(0, 0, -14))
	for i, uid := range uids {
		if i%3 == 0 {
			_, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.pupils[uid].ID, Day: monday, Service: "repas", Actor: "test"})
			must(t, err)
		}
	}
	f.clk.Set(day(19, 0, 0))

	var mu sync.Mutex
	answers := map[string]Result{} // first answer per tap id
	check := func(rs []Result) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			if first, ok := answers[r.ID]; ok && (first.Verdict != r.Verdict || first.Charged != r.Charged || first.Reason != r.Reason) {
				t.Errorf("tap %s answered %+v, then %+v", r.ID, first, r)
			}
			answers[r.ID] = r
		}
	}
	var wg sync.WaitGroup
	for dev := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(dev), 42))
			for range 25 {
				var batch []Tap
				for range 1 + rng.IntN(5) {
					station := []string{"canteen-1", "canteen-2", "daycare-1"}[rng.IntN(3)]
					at := day(7+rng.IntN(10), rng.IntN(60), rng.IntN(60))
					batch = append(batch, tapAt(station, uids[rng.IntN(len(uids))], at))
				}
				st, res := f.post(batch...)
				if st != http.StatusOK || len(res) != len(batch) {
					t.Errorf("device %d: status %d, %d results for %d taps", dev, st, len(res), len(batch))
					return
				}
				check(res)
				if rng.IntN(4) == 0 { // the bridge did not get the answer: sent again
					if st, again := f.post(batch...); st == http.StatusOK {
						check(again)
					}
				}
			}
		})
	}
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range 40 {
			uid := uids[rng.IntN(len(uids))]
			p := f.pupils[uid]
			switch i % 3 {
			case 0, 1:
				d := monday.AddDate(0, 0, []int{7, 8, 10, 11}[rng.IntN(4)]) // no meals on Wednesdays
				b, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: p.ID, Day: d, Service: "repas", Actor: "guardian:1"})
				if err == nil && rng.IntN(2) == 0 {
					_, err = f.book.Cancel(f.ctx, f.tenant, b.ID, "guardian:1")
				}
				if err != nil && !errors.Is(err, ledger.ErrFloorBreach) {
					t.Errorf("booking: %v", err)
				}
			case 2:
				f.topUp(uid, "2.00")
			}
		}
	})
	wg.Wait()

	f.verify()
	var rows, distinct int
	var charged decimal.Decimal
	must(t, f.svc.pool.QueryRow(f.ctx, `SELECT count(*), count(DISTINCT tap_id), coalesce(sum(charged), 0) FROM taps WHERE tenant_id = $1`,
		f.tenant).Scan(&rows, &distinct, &charged))
	if rows != len(answers) || distinct != len(answers) {
		t.Errorf("%d tap rows (%d ids) for %d taps sent", rows, distinct, len(answers))
	}
	var revenue decimal.Decimal
	must(t, f.svc.pool.QueryRow(f.ctx, `SELECT coalesce(-sum(p.amount), 0) FROM postings p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
		WHERE p.tenant_id = $1 AND a.code IN ('revenue:meals', 'revenue:daycare')`, f.tenant).Scan(&revenue))
	if !revenue.Equal(charged) {
		t.Errorf("revenue booked %s, taps charged %s", revenue, charged)
	}
	gs := f.svc.GroupStats()
	t.Logf("%d taps, charged %s; groups %+v", len(answers), charged, gs)
	if gs.Grouped == 0 {
		t.Errorf("no tap applied in a group: %+v", gs)
	}
}

// TestPupilLockKeyInSQL: the statements that lock a pupil in SQL (the
// group's, the one-tap pipeline's) take the lock pupilLockKey names, so
// that a group and a tap applied alone exclude each other.
func TestPupilLockKeyInSQL(t *testing.T) {
	pool := dbtest.New(t)
	ids := []int64{1, 42, 2147483646, 2147483647, 2147483648, 9007199254740993}
	rows, err := pool.Query(context.Background(), `SELECT x.id, `+pupilLockKeySQL("x.id")+` FROM unnest($1::bigint[]) AS x(id)`, ids)
	must(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var key int32
		must(t, rows.Scan(&id, &key))
		if key != pupilLockKey(id) {
			t.Errorf("pupil %d: lock key %d in SQL, %d in Go", id, key, pupilLockKey(id))
		}
		n++
	}
	must(t, rows.Err())
	if n != len(ids) {
		t.Fatalf("%d rows, want %d", n, len(ids))
	}
}

// A flood of taps (bridges replaying their outboxes at once) does not grow
// the queue of taps waiting for a group without bound: past its bound the
// device API answers 503 with Retry-After before queueing anything, and the
// bridges' retries get every tap applied exactly once.
func TestTapFloodIsShedNotQueued(t *testing.T) {
	f := newFixture(t)
	const bound, senders, batches, perBatch = 8, 12, 4, 20
	f.svc.groups.max = bound
	uids := []string{uidEmma, uidLucas, uidNora}
	var wg sync.WaitGroup
	var busy atomic.Int64
	errs := make(chan error, senders)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var taps []Tap
				for i := range perBatch {
					taps = append(taps, tapAt("canteen-1", uids[(s+b+i)%len(uids)], f.clk.Now()))
				}
				body, _ := json.Marshal(map[string]any{"taps": taps})
				deadline := time.Now().Add(2 * time.Minute) // a wall-clock bound on retries, not a date
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/taps", bytes.NewReader(body))
					req.Header.Set("Authorization", Authorization(devID, []byte(devSecret), http.MethodPost, "/api/v1/taps", f.clk.Now(), body))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
					if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Now().After(deadline) {
						errs <- fmt.Errorf("status %d, Retry-After %q after %d attempts", resp.StatusCode, resp.Header.Get("Retry-After"), attempt)
						return
					}
					busy.Add(1)
					// A bridge waits Retry-After; the test only needs another try, with
					// jitter so that no sender is starved by the others' timing (a fixed
					// 1 ms sleep let one sender lose 2,000 races in a row under -race on CI).
					time.Sleep(time.Duration(1+rand.IntN(4)) * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := f.svc.GroupStats()
	if busy.Load() == 0 || st.Shed == 0 {
		t.Errorf("no request was shed (%d busy answers, %d taps shed): the flood did not reach the bound", busy.Load(), st.Shed)
	}
	if st.Peak > bound+perBatch {
		t.Errorf("peak queue %d taps, want at most %d", st.Peak, bound+perBatch)
	}
	var rows, ids int
	must(t, f.svc.pool.QueryRow(f.ctx, `SELECT count(*), count(DISTINCT tap_id) FROM taps WHERE tenant_id = $1`, f.tenant).Scan(&rows, &ids))
	if want := senders * batches * perBatch; rows != want || ids != want {
		t.Errorf("%d tap rows, %d tap ids; want %d of each", rows, ids, want)
	}
	f.verify()
}
