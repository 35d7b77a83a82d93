package terminal

import (
	"fmt"
	"testing"
	"time"
)

// TestOnePathForEveryTap: the taps that once needed a path of their own — a
// daycare tap that first closes a session forgotten on an earlier day, a
// manual entry (a pupil named by id) — are applied in their group by the
// one tap transaction, with the same answers and money.
func TestOnePathForEveryTap(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(at(16, 0))
	f.one(tapAt("daycare-1", uidEmma, at(16, 0)))
	before := f.svc.GroupStats()
	tue := time.Date(2026, 12, 1, 12, 0, 0, 0, brussels)
	f.clk.Set(tue)
	if r := f.one(tapAt("daycare-1", uidEmma, tue)); r.Action != ActionCheckIn {
		t.Errorf("next day: %+v, want check_in", r)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("16.80")) { // the day before closed at 18:00: 3.20
		t.Errorf("Emma's wallet = %s, want 16.80", got)
	}
	manual := Tap{ID: newTapID(), Station: "canteen-1", UID: fmt.Sprintf("PUPIL:%d", f.pupils[uidLucas].ID), Tech: "manual", ReadAt: tue}
	sub := f.accountBalance("subsidy:fwb-meals")
	r := f.one(manual) // Lucas eats free: the subsidy pays the booked price
	if r.Verdict != VerdictAccepted || r.Action != ActionMeal || r.Display == nil || r.Charged != "0.00" {
		t.Errorf("manual entry: %+v, want an accepted free meal with the pupil shown", r)
	}
	if got := f.accountBalance("subsidy:fwb-meals").Sub(sub).Abs(); !got.Equal(dec("3.70")) {
		t.Errorf("subsidy charged %s, want 3.70", got)
	}
	if again := f.one(manual); again.Verdict != r.Verdict || again.Charged != r.Charged {
		t.Errorf("manual entry sent again: %+v, want %+v", again, r)
	}
	// The day-crossing tap and the manual entry go through a group; the
	// manual entry sent again may be answered from its stored result
	// without a group (seen under -race on a loaded machine), never alone.
	if gs := f.svc.GroupStats(); gs.Alone != before.Alone || gs.Grouped < before.Grouped+2 {
		t.Errorf("group stats %+v (before %+v): want every tap applied in a group", gs, before)
	}
	f.verify()
}
