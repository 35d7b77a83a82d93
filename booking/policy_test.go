package booking

import (
	"errors"
	"testing"

	"tartine/internal/policy"
)

// The rules themselves are tested in internal/policy; booking reads them
// through package school, with its own ErrInvalid.
func TestSchoolPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `{"booking_cutoff": "17:30", "sick_day_after_cutoff": "release"}`)
	p, err := f.m.Policy(f.ctx, f.tenant, f.school)
	if h, m := p.CutoffClock(); err != nil || h != 17 || m != 30 || p.SickDayAfterCutoff != policy.NoShowRelease {
		t.Errorf("Policy = %+v, %v", p, err)
	}
	for _, bad := range []string{`{"booking_cutoff": "9h"}`, `{"sick_day_after_cutoff": "free"}`} {
		if _, err := f.pool.Exec(f.ctx, `UPDATE schools SET settings = $2 WHERE id = $1`, f.school, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := f.m.Policy(f.ctx, f.tenant, f.school); !errors.Is(err, ErrInvalid) || !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("Policy with %s: err = %v, want ErrInvalid", bad, err)
		}
	}
}
