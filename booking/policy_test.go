package booking

import (
	"errors"
	"testing"

	"tartine/internal/policy"
)

// The rules themselves are tested in internal/policy; booking reads them
// with its own ErrInvalid.
func TestDecodePolicy(t *testing.T) {
	p, err := decodePolicy([]byte(`{"booking_cutoff": "17:30", "sick_day_after_cutoff": "release"}`))
	if h, m := p.CutoffClock(); err != nil || h != 17 || m != 30 || p.SickDayAfterCutoff != policy.NoShowRelease {
		t.Errorf("decodePolicy = %+v, %v", p, err)
	}
	for _, bad := range []string{`{"booking_cutoff": "9h"}`, `{"sick_day_after_cutoff": "free"}`, `[`} {
		if _, err := decodePolicy([]byte(bad)); !errors.Is(err, ErrInvalid) || !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("decodePolicy(%s) err = %v, want ErrInvalid", bad, err)
		}
	}
}
