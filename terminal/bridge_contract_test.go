package terminal

import (
	"strings"
	"testing"
)

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
