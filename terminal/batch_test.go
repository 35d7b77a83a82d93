package terminal

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// TestBatchSamePupilConcurrently sends one batch where the taps of a pupil
// arrive under two uids (the badge and a manual entry), so they are applied
// concurrently by ApplyBatch, next to other pupils' taps: the pupil lock
// must keep the duplicate window, the daycare toggle and the wallet floor
// exact whatever the interleaving, and a replay of the batch must charge
// nothing more.
func TestBatchSamePupilConcurrently(t *testing.T) {
	f := newFixture(t)
	at := func(hm string) time.Time {
		c, err := time.ParseInLocation("15:04:05", hm, brussels)
		must(t, err)
		return time.Date(monday.Year(), monday.Month(), monday.Day(), c.Hour(), c.Minute(), c.Second(), 0, brussels)
	}
	manual := func(station, uid string, when time.Time) Tap {
		return Tap{ID: newTapID(), Station: station, UID: fmt.Sprintf("PUPIL:%d", f.pupils[uid].ID), Tech: "manual", ReadAt: when}
	}
	taps := []Tap{
		// Emma: daycare 07:30–08:10 (2 started periods), a meal at 12:00
		// tapped twice (badge, then manual 30 s later: one is a
		// duplicate), meals at 14:00 (badge) and 16:00 (manual).
		tapAt("daycare-1", uidEmma, at("07:30:00")),
		tapAt("daycare-1", uidEmma, at("08:10:00")),
		tapAt("canteen-1", uidEmma, at("12:00:00")),
		manual("canteen-1", uidEmma, at("12:00:30")),
		tapAt("canteen-1", uidEmma, at("14:00:00")),
		manual("canteen-1", uidEmma, at("16:00:00")),
		// Nora: 0 €, grace 10 €: five meals, three by badge and two by
		// manual entry, concurrently: whatever the order, the wallet stops
		// at −10 and 11,00 is owed.
		tapAt("canteen-1", uidNora, at("09:00:00")),
		tapAt("canteen-1", uidNora, at("10:00:00")),
		tapAt("canteen-1", uidNora, at("11:00:00")),
		manual("canteen-1", uidNora, at("13:00:00")),
		manual("canteen-1", uidNora, at("15:00:00")),
		// Lucas: free meal, charged to the subsidy.
		tapAt("canteen-2", uidLucas, at("12:01:00")),
		// Unknown badge.
		tapAt("canteen-1", "0A0A0A0A0A", at("12:02:00")),
	}
	f.clk.Set(at("19:00:00"))
	st, res := f.post(taps...)
	if st != http.StatusOK || len(res) != len(taps) {
		t.Fatalf("POST: status %d, %d results", st, len(res))
	}
	charged := decimal.Zero
	verdicts := map[string]int{}
	for i, r := range res {
		if r.ID != taps[i].ID {
			t.Fatalf("result %d is for tap %s, want %s (results must keep the batch order)", i, r.ID, taps[i].ID)
		}
		verdicts[r.Verdict]++
		charged = charged.Add(dec(r.Charged))
	}
	if res[0].Action != ActionCheckIn || res[1].Action != ActionCheckOut || res[1].Charged != "1.60" {
		t.Errorf("daycare: %+v / %+v, want check-in then check-out charged 1.60", res[0], res[1])
	}
	if (res[2].Verdict == VerdictDuplicate) == (res[3].Verdict == VerdictDuplicate) {
		t.Errorf("12:00 badge %+v and 12:00:30 manual %+v: want exactly one duplicate", res[2], res[3])
	}
	if verdicts[VerdictAccepted] != 11 || verdicts[VerdictDuplicate] != 1 || verdicts[VerdictRefused] != 1 {
		t.Errorf("verdicts %v, want 11 accepted, 1 duplicate, 1 refused", verdicts)
	}
	// Emma 1.60 + 3 × 4.20; Nora 5 × 4.20; Lucas 0 (subsidy).
	if !charged.Equal(dec("35.20")) {
		t.Errorf("charged %s, want 35.20", charged)
	}
	if got := f.balance(uidEmma); !got.Equal(dec("5.80")) {
		t.Errorf("Emma's wallet %s, want 5.80", got)
	}
	if got := f.balance(uidNora); !got.Equal(dec("-10.00")) {
		t.Errorf("Nora's wallet %s, want -10.00 (the floor)", got)
	}
	recv, err := f.led.Balance(f.ctx, f.tenant, f.pupils[uidNora].ReceivableAccountID)
	must(t, err)
	if !recv.Posted.Equal(dec("11.00")) {
		t.Errorf("Nora's receivable %s, want 11.00", recv.Posted)
	}

	// The bridge resends the whole batch: the same answers, nothing more
	// charged.
	st, again := f.post(taps...)
	if st != http.StatusOK || len(again) != len(taps) {
		t.Fatalf("replay: status %d, %d results", st, len(again))
	}
	for i := range res {
		if again[i].Verdict != res[i].Verdict || again[i].Charged != res[i].Charged || again[i].Reason != res[i].Reason {
			t.Errorf("replay of tap %d: %+v, want %+v", i, again[i], res[i])
		}
	}
	if got := f.balance(uidEmma); !got.Equal(dec("5.80")) {
		t.Errorf("Emma's wallet after replay %s, want 5.80", got)
	}
	f.verify()
}

// TestBatchLargerThanAGroup sends one request with more taps than a group
// holds (a bridge's backlog): a second group runs beside the first while
// more than a group waits. Every tap is answered in order, charged once,
// and the ledger holds.
func TestBatchLargerThanAGroup(t *testing.T) {
	f := newFixture(t)
	n := 2*maxGroup + maxGroup/2 + 7 // four groups: 128, 128, 128, 7+…
	uids := f.addPupils(n, "10.00")
	noon := time.Date(monday.Year(), monday.Month(), monday.Day(), 12, 0, 0, 0, brussels)
	taps := make([]Tap, n)
	for i, uid := range uids {
		taps[i] = tapAt("canteen-1", uid, noon.Add(time.Duration(i)*time.Second))
	}
	f.clk.Set(noon.Add(time.Hour))
	before := f.svc.GroupStats()
	st, res := f.post(taps...)
	if st != http.StatusOK || len(res) != n {
		t.Fatalf("POST: status %d, %d results, want %d", st, len(res), n)
	}
	for i, r := range res {
		if r.ID != taps[i].ID || r.Verdict != VerdictAccepted || r.Charged != "4.20" {
			t.Fatalf("result %d: %+v, want tap %s accepted and charged 4.20", i, r, taps[i].ID)
		}
	}
	for _, uid := range uids {
		if got := f.balance(uid); !got.Equal(dec("5.80")) {
			t.Fatalf("wallet of %s: %s, want 5.80", uid, got)
		}
	}
	gs := f.svc.GroupStats()
	if gs.Grouped-before.Grouped != int64(n) || gs.Largest != maxGroup || gs.Groups-before.Groups < 3 {
		t.Errorf("group stats %+v (before %+v): want all %d taps grouped, groups of %d", gs, before, n, maxGroup)
	}
	f.verify()
}
