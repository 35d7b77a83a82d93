package booking

import (
	"strconv"
	"testing"
	"time"
)

// The free-meals monthly claim (FEES.md §9): in a school of the FWB
// programme, the meals served (consumed, not booked only, not cancelled)
// from M1 to P6 per day and class, the pupils enrolled at the canteen per
// class, and the amount at 3,70 € per meal; a secondary pupil, a paying
// pupil, soup (not subsidised) and another month are not claimed.
func TestFreeMealClaim(t *testing.T) {
	f := newFixture(t, "{}")
	if _, err := f.pool.Exec(f.ctx, `UPDATE schools SET free_meals = true WHERE tenant_id = $1 AND id = $2`, f.tenant, f.school); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.AddMealTariff(f.ctx, f.tenant, MealTariff{SchoolID: f.school, MealType: "repas", Level: "S", BookedPrice: dec("4.10"),
		UnbookedPrice: dec("4.50"), ValidFrom: d("2026-08-31")}); err != nil {
		t.Fatal(err)
	}
	class := func(code, level string) int64 {
		var id int64
		if err := f.pool.QueryRow(f.ctx, `INSERT INTO classes (tenant_id, school_id, code, level) VALUES ($1, $2, $3, $4) RETURNING id`,
			f.tenant, f.school, code, level).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	p5, m2, s1 := class("P5A", "P5"), class("M2B", "M2"), class("S1A", "S1")
	code := map[int64]string{p5: "P5A", m2: "M2B", s1: "S1A"}
	pupil := func(name, level string, classID int64, free bool) int64 {
		id := f.pupil(t, name, level, "0", "20.00", free)
		if _, err := f.pool.Exec(f.ctx, `UPDATE pupils SET class_id = $3 WHERE tenant_id = $1 AND id = $2`, f.tenant, id, classID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	nora := pupil("nora", "P5", p5, false) // free: the school is in the programme
	omar := pupil("omar", "P5", p5, false)
	lucas := pupil("lucas", "M2", m2, false)
	zoe := pupil("zoe", "M2", m2, false)
	sam := pupil("sam", "S1", s1, true) // free, but the programme stops at P6
	taps := 0
	serve := func(pupil int64, day string, svc Service, consume bool) {
		t.Helper()
		b, err := f.book(pupil, day, svc)
		if err != nil {
			t.Fatal(err)
		}
		if !consume {
			return
		}
		taps++
		at := time.Date(b.Day.Year(), b.Day.Month(), b.Day.Day(), 12, 0, 0, 0, f.loc)
		f.clock.set(at)
		if _, err := f.m.Consume(f.ctx, b, "tap-"+strconv.Itoa(taps), at); err != nil {
			t.Fatal(err)
		}
		f.clock.set(time.Date(2026, 11, 2, 12, 0, 0, 0, f.loc))
	}
	serve(nora, "2026-11-05", "repas", true)
	serve(nora, "2026-11-06", "repas", true)
	serve(omar, "2026-11-05", "repas", true)
	serve(omar, "2026-11-09", "repas", false) // booked, not (yet) served: enrolled, not claimed
	serve(lucas, "2026-11-05", "repas", true)
	serve(lucas, "2026-11-05", "potage", true) // soup is not a subsidised meal
	serve(sam, "2026-11-05", "repas", true)
	b, err := f.book(zoe, "2026-11-10", "repas")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Cancel(f.ctx, f.tenant, b.ID, "guardian:1"); err != nil {
		t.Fatal(err)
	}
	serve(nora, "2026-12-01", "repas", false)

	cl, err := f.m.FreeMealClaim(f.ctx, f.tenant, f.school, time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !cl.InProgramme || cl.Month.Format("2006-01-02") != "2026-11-01" {
		t.Errorf("claim = in programme %v, month %s", cl.InProgramme, cl.Month)
	}
	var rows []string
	for _, r := range cl.Rows {
		rows = append(rows, r.Day.Format("02/01")+" "+code[r.ClassID]+" "+strconv.Itoa(r.Meals))
	}
	want := []string{"05/11 P5A 2", "05/11 M2B 1", "06/11 P5A 1"} // by day, then class (in creation order)
	if len(rows) != len(want) {
		t.Fatalf("rows = %v, want %v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	var classes []string
	for _, c := range cl.Classes {
		classes = append(classes, code[c.ClassID]+" "+strconv.Itoa(c.Pupils)+" "+strconv.Itoa(c.Meals))
	}
	if len(classes) != 2 || classes[0] != "P5A 2 3" || classes[1] != "M2B 1 1" {
		t.Errorf("classes = %v, want [P5A 2 3, M2B 1 1]", classes)
	}
	if cl.Meals != 4 || cl.Pupils != 3 || !cl.Amount.Equal(dec("14.80")) {
		t.Errorf("totals: %d meals, %d pupils, %s €; want 4, 3, 14.80", cl.Meals, cl.Pupils, cl.Amount)
	}
	if _, err := f.m.FreeMealClaim(f.ctx, f.tenant+1, f.school, cl.Month); err == nil {
		t.Error("claim of another tenant's school: no error")
	}
}
