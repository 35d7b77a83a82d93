package school

import (
	"context"
	"testing"
)

// TestSevereHandicap: the flag is set and cleared through PupilInput, and an
// update that does not name it (the CSV import) keeps it.
func TestSevereHandicap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pupil(t, "Emma", "Dubois")
	if p.SevereHandicap {
		t.Fatal("a new pupil has the severe-handicap flag")
	}
	in := PupilInput{SchoolID: f.school.ID, ClassID: f.class.ID, FirstName: "Emma", LastName: "Dubois"}
	on, off := true, false
	for _, tc := range []struct {
		set  *bool
		want bool
	}{{&on, true}, {nil, true}, {&off, false}, {nil, false}} {
		in.SevereHandicap = tc.set
		got, err := f.store.UpdatePupil(ctx, f.tenant.ID, p.ID, in, "staff:1")
		if err != nil || got.SevereHandicap != tc.want {
			t.Fatalf("UpdatePupil(SevereHandicap %v) = %v, %v; want %v", tc.set, got.SevereHandicap, err, tc.want)
		}
	}
	in.FirstName, in.SevereHandicap = "Lucas", &on
	q, err := f.store.CreatePupil(ctx, f.tenant.ID, in, "test")
	if err != nil || !q.SevereHandicap {
		t.Errorf("CreatePupil(SevereHandicap) = %v, %v", q.SevereHandicap, err)
	}
}
