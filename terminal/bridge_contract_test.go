package terminal

import (
	"strings"
	"testing"

	bridge "tartine/firmware-bridge"
)

// TestBridgeBatchLimit: the bridge refuses an uplink.batch_size above its
// MaxBatch, which must be the server's.
func TestBridgeBatchLimit(t *testing.T) {
	if bridge.MaxBatch != MaxBatch {
		t.Errorf("bridge.MaxBatch = %d, terminal.MaxBatch = %d", bridge.MaxBatch, MaxBatch)
	}
}

// TestTapByPrintedNumber: a decimal reader's bridge sends the ten digits
// printed on the badge (firmware-bridge, driver line-dec); a badge
// registered without its printed number (as the fixture's) is found by
// them, as by its uid.
func TestTapByPrintedNumber(t *testing.T) {
	f := newFixture(t)
	for _, uid := range []string{uidEmma, "0013477100"} {
		res := f.one(tapAt("kiosk-1", uid, f.clk.Now()))
		if res.Verdict != VerdictAccepted || res.Display == nil || !strings.HasPrefix(res.Display.Name, "Emma") {
			t.Errorf("tap %s at the kiosk = %+v, want Emma's badge", uid, res)
		}
	}
}
