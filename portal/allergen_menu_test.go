package portal_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"tartine/booking"
	"tartine/school"
)

// TestMenuMarksChildAllergen: a dish containing one of the child's
// allergens is marked on the bookings page; a dish without is not; and
// another child without that allergy sees no mark on the same menu.
func TestMenuMarksChildAllergen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := school.PupilInput{SchoolID: f.emma.SchoolID, ClassID: f.emma.ClassID, FirstName: "Emma", LastName: "Dupont",
		Allergens: []school.Allergen{school.Peanuts}}
	if _, err := f.app.School.UpdatePupil(ctx, f.tenant, f.emma.ID, in, "test"); err != nil {
		t.Fatal(err)
	}
	brussels, _ := time.LoadLocation("Europe/Brussels")
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, brussels)
	if err := f.bk.SetMenu(ctx, f.tenant, f.school, day, "repas", []booking.MenuItem{
		{Course: "plat", Dish: "Poulet satay", Allergens: []string{"peanuts", "soy"}},
		{Course: "dessert", Dish: "Compote", Allergens: nil},
	}); err != nil {
		t.Fatal(err)
	}
	anne := f.accountFor(f.anne, "anne@example.be", "correct horse battery")
	hit := regexp.MustCompile(`(?s)<li class="allergen-hit">(.*?)</li>`)
	for _, tc := range []struct {
		name  string
		child school.Pupil
		want  int
	}{{"Emma, allergic to peanuts", f.emma, 1}, {"Lucas, no allergy", f.lucas, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			code, page := anne.get(childPath(f.tenant, tc.child) + "/bookings?month=2026-12")
			if code != 200 {
				t.Fatalf("bookings page: %d", code)
			}
			got := hit.FindAllStringSubmatch(page, -1)
			if len(got) != tc.want {
				t.Fatalf("%d marked dishes, want %d", len(got), tc.want)
			}
			if tc.want == 1 {
				m := got[0][1]
				if !strings.Contains(m, "Poulet satay") || !strings.Contains(m, "contient un allergène de Emma") || !strings.Contains(m, "Arachides") {
					t.Errorf("marked dish = %q, want Poulet satay marked for Emma's peanuts", m)
				}
			}
		})
	}
}
