package terminal

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// debitRecorder is a WalletWatcher that records what it is told.
type debitRecorder chan walletDebit

func (r debitRecorder) WalletDebited(_ context.Context, tenantID, pupilID int64, available decimal.Decimal) {
	r <- walletDebit{tenantID, pupilID, available}
}

// watchWallets records the Service's wallet notices until the test ends.
func (f *fixture) watchWallets() debitRecorder {
	rec := make(debitRecorder, 16)
	ctx, cancel := context.WithCancel(f.ctx)
	f.t.Cleanup(cancel)
	f.svc.WatchWallets(ctx, rec)
	return rec
}

// TestWalletWatcher: the taps that charged a wallet, and only those, are
// told to the watcher after their commit, with what the wallet has left —
// alone or in a group, down into the grace.
func TestWalletWatcher(t *testing.T) {
	f := newFixture(t)
	rec := f.watchWallets()

	noon := monday
	f.one(tapAt("canteen-1", uidEmma, noon))                                          // 20,00 − 4,20
	f.one(tapAt("canteen-1", uidEmma, noon.Add(10*time.Second)))                      // duplicate: nothing charged
	f.one(tapAt("canteen-1", uidLucas, noon))                                         // free meal: the subsidy pays
	f.post(tapAt("canteen-1", uidNora, noon), tapAt("canteen-1", "0A0A0A0A0A", noon)) // into the grace; unknown badge
	f.clk.Set(noon.Add(5 * time.Hour))
	if r := f.one(tapAt("daycare-1", uidEmma, noon.Add(3*time.Hour))); r.Action != ActionCheckIn { // nothing charged yet
		t.Fatalf("check-in: %+v", r)
	}

	want := []struct {
		uid       string
		available string
	}{{uidEmma, "15.80"}, {uidNora, "-4.20"}}
	for i, w := range want {
		select {
		case d := <-rec:
			if d.tenantID != f.tenant || d.pupilID != f.pupils[w.uid].ID || !d.available.Equal(dec(w.available)) {
				t.Errorf("notice %d: %+v, want pupil %d with %s left", i, d, f.pupils[w.uid].ID, w.available)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("notice %d (%s) not received", i, w.uid)
		}
	}
	// Notices come in the order of the taps: a check-out's charge comes
	// after anything the taps above would have sent.
	if r := f.one(tapAt("daycare-1", uidEmma, noon.Add(4*time.Hour))); r.Action != ActionCheckOut || r.Charged == "0.00" {
		t.Fatalf("check-out: %+v", r)
	}
	select {
	case d := <-rec:
		if d.pupilID != f.pupils[uidEmma].ID || !d.available.LessThan(dec("15.80")) {
			t.Errorf("after the check-out: %+v, want Emma with less than 15,80 left", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("check-out notice not received")
	}
}
