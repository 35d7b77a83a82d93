package terminal

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"tartine/booking"
	"tartine/internal/policy"
	"tartine/school"
)

func TestCanteenVerdicts(t *testing.T) {
	f := newFixture(t)
	closed := time.Date(2026, 11, 11, 12, 0, 0, 0, brussels) // 11 November: holiday
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, brussels)
	tests := []struct {
		name                     string
		tap                      Tap
		verdict, reason, charged string
		feedback                 string
	}{
		{"unbooked meal at the unbooked price", tapAt("canteen-1", uidEmma, monday), VerdictAccepted, ReasonNotBooked, "4.20", FeedbackOK},
		{"free meal pupil pays nothing", tapAt("canteen-1", uidLucas, monday), VerdictAccepted, "", "0.00", FeedbackOK},
		{"unknown badge", tapAt("canteen-1", "0A0A0A0A0A", monday), VerdictRefused, ReasonUnknownBadge, "0.00", FeedbackDeny},
		{"badge in stock, not assigned", tapAt("canteen-1", uidStock, monday), VerdictRefused, ReasonUnknownBadge, "0.00", FeedbackDeny},
		{"blocked badge", tapAt("canteen-1", uidBlocked, monday), VerdictRefused, ReasonBlockedBadge, "0.00", FeedbackDeny},
		{"inactive pupil", tapAt("canteen-1", uidGone, monday), VerdictRefused, ReasonInactivePupil, "0.00", FeedbackDeny},
		{"holiday", tapAt("canteen-1", uidEmma, closed), VerdictRefused, ReasonClosedDay, "0.00", FeedbackDeny},
		{"weekend", tapAt("canteen-1", uidEmma, saturday), VerdictRefused, ReasonClosedDay, "0.00", FeedbackDeny},
		{"unknown station", tapAt("canteen-9", uidEmma, monday), VerdictRefused, ReasonUnknownStation, "0.00", FeedbackDeny},
		{"lower-case uid is canonicalised", tapAt("canteen-2", "0100cda4ec", monday), VerdictAccepted, ReasonNotBooked, "4.20", FeedbackOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.one(tc.tap)
			if r.ID != tc.tap.ID || r.Verdict != tc.verdict || r.Reason != tc.reason || r.Charged != tc.charged || r.Feedback != tc.feedback {
				t.Errorf("got %+v, want verdict %s reason %q charged %s feedback %s", r, tc.verdict, tc.reason, tc.charged, tc.feedback)
			}
		})
	}
	if got := f.balance(uidEmma); !got.Equal(dec("11.60")) { // 20 − 2 × 4.20
		t.Errorf("Emma's wallet = %s, want 11.60", got)
	}
	if got := f.balance(uidLucas); !got.Equal(dec("20.00")) {
		t.Errorf("Lucas's wallet = %s, want 20.00 (free meal)", got)
	}
	if got := f.accountBalance(school.AccountSubsidyFWBMeals); !got.Equal(dec("3.70")) {
		t.Errorf("subsidy:fwb-meals = %s, want 3.70", got)
	}
	if got := f.accountBalance(school.AccountRevenueMeals); !got.Equal(dec("12.10")) {
		t.Errorf("revenue:meals = %s, want 12.10", got)
	}
	f.verify()
}

func TestCanteenDisplay(t *testing.T) {
	f := newFixture(t)
	r := f.one(tapAt("canteen-1", uidEmma, monday))
	if r.Display == nil || r.Display.Name != "Emma D." || r.Display.Class != "P3A" {
		t.Fatalf("display = %+v, want Emma D. in P3A", r.Display)
	}
	want := map[string]bool{"allergy:peanuts": true, "diet:vegetarian": true}
	for _, fl := range r.Display.Flags {
		delete(want, fl)
	}
	if len(want) > 0 {
		t.Errorf("flags %v miss %v", r.Display.Flags, want)
	}
}

func TestBookedMealPostsHold(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(monday.AddDate(0, 0, -7)) // book before the cut-off
	b, err := f.book.Book(f.ctx, booking.BookRequest{TenantID: f.tenant, PupilID: f.emma.ID, Day: monday, Service: "repas", Actor: "test"})
	must(t, err)
	if got := f.balance(uidEmma); !got.Equal(dec("16.30")) {
		t.Fatalf("available after booking = %s, want 16.30", got)
	}
	f.clk.Set(monday)
	r := f.one(tapAt("canteen-1", uidEmma, monday))
	if r.Verdict != VerdictAccepted || r.Reason != "" || r.Charged != "3.70" {
		t.Fatalf("booked meal: %+v, want accepted 3.70", r)
	}
	got, err := f.book.Get(f.ctx, f.tenant, b.ID)
	must(t, err)
	if got.Status != booking.StatusConsumed {
		t.Errorf("booking status %s, want consumed", got.Status)
	}
	if bal := f.balance(uidEmma); !bal.Equal(dec("16.30")) {
		t.Errorf("wallet = %s, want 16.30", bal)
	}
	// Another line later the same day: already served, not charged.
	f.clk.Set(monday.Add(10 * time.Minute))
	r = f.one(tapAt("canteen-2", uidEmma, monday.Add(10*time.Minute)))
	if r.Verdict != VerdictDuplicate || r.Reason != "already_served" {
		t.Errorf("second meal: %+v, want duplicate already_served", r)
	}
	f.verify()
}

func TestDuplicateWindow(t *testing.T) {
	f := newFixture(t)
	first := f.one(tapAt("canteen-1", uidEmma, monday))
	if first.Verdict != VerdictAccepted {
		t.Fatalf("first tap: %+v", first)
	}
	tests := []struct {
		name    string
		tap     Tap
		verdict string
	}{
		{"same station 89 s later", tapAt("canteen-1", uidEmma, monday.Add(89*time.Second)), VerdictDuplicate},
		{"same station, offline tap 30 s before", tapAt("canteen-1", uidEmma, monday.Add(-30*time.Second)), VerdictDuplicate},
		{"other station", tapAt("canteen-2", uidEmma, monday.Add(10*time.Second)), VerdictAccepted},
		{"same station 91 s later", tapAt("canteen-1", uidEmma, monday.Add(91*time.Second)), VerdictAccepted},
	}
	for _, tc := range tests {
		f.clk.Set(tc.tap.ReadAt)
		r := f.one(tc.tap)
		if r.Verdict != tc.verdict {
			t.Errorf("%s: got %+v, want %s", tc.name, r, tc.verdict)
		}
		if tc.verdict == VerdictDuplicate && r.Charged != "0.00" {
			t.Errorf("%s: duplicate charged %s", tc.name, r.Charged)
		}
	}
	if got := f.balance(uidEmma); !got.Equal(dec("7.40")) { // 20 − 3 × 4.20
		t.Errorf("wallet = %s, want 7.40", got)
	}
}

func setPolicy(t *testing.T, f *fixture, mut func(*policy.Policy)) {
	t.Helper()
	p := policy.Default()
	mut(&p)
	_, err := f.store.SetPolicy(f.ctx, f.tenant, f.school, p, "test")
	must(t, err)
	f.svc.schools.clear()
}

func TestUnbookedPolicies(t *testing.T) {
	tests := []struct {
		policy  policy.UnbookedMeal
		verdict string
		charged string
	}{
		{policy.UnbookedRefuse, VerdictRefused, "0.00"},
		{policy.UnbookedNormal, VerdictAccepted, "4.20"},
		{policy.UnbookedSurcharge, VerdictAccepted, "5.20"},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			f := newFixture(t)
			setPolicy(t, f, func(p *policy.Policy) {
				p.UnbookedMeal, p.UnbookedSurcharge = tc.policy, dec("1.00")
			})
			r := f.one(tapAt("canteen-1", uidEmma, monday))
			if r.Verdict != tc.verdict || r.Reason != ReasonNotBooked || r.Charged != tc.charged {
				t.Errorf("got %+v, want %s not_booked %s", r, tc.verdict, tc.charged)
			}
		})
	}
}

func TestNeverRefuseFood(t *testing.T) {
	f := newFixture(t)
	// Nora has 0 €, the grace is 10 €: two meals fit (−8.40), the third
	// goes beyond the floor and is served anyway, owed on the receivable.
	for i, want := range []struct{ reason, feedback string }{{ReasonNotBooked, FeedbackOK}, {ReasonNotBooked, FeedbackOK}, {ReasonLowBalance, FeedbackWarn}} {
		at := monday.Add(time.Duration(i) * time.Hour)
		f.clk.Set(at)
		r := f.one(tapAt("canteen-1", uidNora, at))
		if r.Verdict != VerdictAccepted || r.Reason != want.reason || r.Feedback != want.feedback || r.Charged != "4.20" {
			t.Errorf("meal %d: got %+v, want accepted %s %s", i+1, r, want.reason, want.feedback)
		}
	}
	if got := f.balance(uidNora); !got.Equal(dec("-10.00")) {
		t.Errorf("wallet = %s, want -10.00 (the floor)", got)
	}
	recv, err := f.led.Balance(f.ctx, f.tenant, f.pupils[uidNora].ReceivableAccountID)
	must(t, err)
	if !recv.Posted.Equal(dec("2.60")) {
		t.Errorf("receivable = %s, want 2.60", recv.Posted)
	}
	f.verify()
}

func TestHardFloor(t *testing.T) {
	f := newFixture(t)
	setPolicy(t, f, func(p *policy.Policy) { p.HardFloor = true })
	r := f.one(tapAt("canteen-1", uidNora, monday))
	if r.Verdict != VerdictRefused || r.Reason != ReasonInsufficientFunds || r.Feedback != FeedbackDeny {
		t.Errorf("got %+v, want refused insufficient_funds", r)
	}
	if got := f.balance(uidNora); !got.IsZero() {
		t.Errorf("wallet = %s, want 0", got)
	}
}

func TestReplayReturnsFirstResult(t *testing.T) {
	f := newFixture(t)
	tap := tapAt("canteen-1", uidEmma, monday)
	first := f.one(tap)
	f.topUp(uidEmma, "50.00") // the state changes; the answer must not
	f.clk.Set(monday.Add(time.Hour))
	again := f.one(tap)
	if again != (Result{}) && (again.Verdict != first.Verdict || again.Charged != first.Charged || again.Reason != first.Reason) {
		t.Errorf("replay = %+v, want %+v", again, first)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("65.80")) {
		t.Errorf("wallet = %s, want 65.80 (one charge)", got)
	}
}

func TestConcurrentDuplicateTapIDs(t *testing.T) {
	f := newFixture(t)
	tap := tapAt("canteen-1", uidEmma, monday)
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, res := f.post(tap)
			if st == http.StatusOK && len(res) == 1 {
				results[i] = res[0]
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Verdict != VerdictAccepted || r.Charged != "4.20" {
			t.Errorf("request %d: %+v, want the one accepted result", i, r)
		}
	}
	if got := f.balance(uidEmma); !got.Equal(dec("15.80")) {
		t.Errorf("wallet = %s, want 15.80 (one charge)", got)
	}
	f.verify()
}

func TestMalformedTapsInBatch(t *testing.T) {
	f := newFixture(t)
	good := tapAt("canteen-1", uidEmma, monday)
	body := []byte(`{"taps": [
		{"id": "t-bad-time", "station": "canteen-1", "uid": "0100CDA4EC", "tech": "em4100", "read_at": "yesterday"},
		{"id": "t-bad-tech", "station": "canteen-1", "uid": "0100CDA4EC", "tech": "laser", "read_at": "2026-11-30T11:52:03+01:00"},
		{"station": "canteen-1"},
		42,
		{"id": "t-future", "station": "canteen-1", "uid": "0100CDA4EC", "tech": "em4100", "read_at": "2027-11-30T11:52:03+01:00"},
		` + string(mustJSON(t, good)) + `]}`)
	st, raw := f.postRaw("/api/v1/taps", body, f.clk.Now(), devID, devSecret)
	if st != http.StatusOK {
		t.Fatalf("status %d: %s", st, raw)
	}
	res := decodeResults(t, raw)
	wantIDs := []string{"t-bad-time", "t-bad-tech", "", "", "t-future", good.ID}
	if len(res) != len(wantIDs) {
		t.Fatalf("%d results, want %d", len(res), len(wantIDs))
	}
	for i, r := range res[:5] {
		if r.ID != wantIDs[i] || r.Verdict != VerdictRefused || r.Reason != ReasonInvalid {
			t.Errorf("result %d = %+v, want refused invalid for %q", i, r, wantIDs[i])
		}
	}
	if res[5].Verdict != VerdictAccepted {
		t.Errorf("good tap: %+v", res[5])
	}
	for _, tc := range []struct{ name, body string }{
		{"not JSON", `{"taps": [`},
		{"no taps", `{"tapz": []}`},
	} {
		if st, _ := f.postRaw("/api/v1/taps", []byte(tc.body), f.clk.Now(), devID, devSecret); st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, st)
		}
	}
}

func TestKioskAndEnrolmentLookups(t *testing.T) {
	f := newFixture(t)
	r := f.one(tapAt("kiosk-1", uidEmma, monday))
	if r.Verdict != VerdictAccepted || r.Action != ActionLookup || r.Charged != "0.00" {
		t.Errorf("kiosk: %+v", r)
	}
	r = f.one(tapAt("enrol-1", "0A0A0A0A0A", monday))
	if r.Verdict != VerdictRefused || r.Reason != ReasonUnknownBadge {
		t.Errorf("enrolment of an unknown badge: %+v", r)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("20.00")) {
		t.Errorf("wallet = %s, want untouched", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

func decodeResults(t *testing.T, raw []byte) []Result {
	t.Helper()
	var out struct {
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return out.Results
}
